//! The fixed `error_type` vocabulary.
//!
//! Every Lambda reports failures as one of these names (the `errorType` of the Lambda error
//! response). State machines' `Retry` and `Catch` match on them verbatim, so the strings are a
//! public contract: add new ones, never rename. `docs/errors.md` documents each one.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorType {
    /// The event or request is malformed or fails validation. Not retryable.
    ValidationError,
    /// Configuration is missing or invalid. Not retryable until redeployed.
    ConfigError,
    /// A referenced item (account, ticket, request, version) does not exist. Not retryable.
    NotFound,
    /// A concurrent writer won a conditional write. Retry re-reads state and converges.
    Conflict,
    /// An audit record could not be written; the action was not taken (fail closed). Retryable.
    AuditWriteFailed,
    /// An audit chain failed verification. Never retry: page a human.
    AuditTamperDetected,
    /// Throttling, timeouts, 5xx or network failures talking to AWS. Retryable.
    TransientAwsError,
    /// AWS refused the call for a non-transient reason (access denied, invalid state). Not retryable.
    AwsError,
    /// A bug: something that should be impossible. Not retryable.
    InternalError,
    /// The caller (as AWS identified it) is not allowed this action by the access policy, or
    /// the action is refused in the request's state (self-approval, expired approval). Audited.
    /// Not retryable.
    AccessDenied,
    /// A `pending` root password left by a rotation that no longer runs may already be live:
    /// an operator must `rotation confirm` or `rotation reject` it before a new rotation starts.
    /// Not retryable.
    PendingDecisionRequired,
    /// The newest valid signed audit digest is older than allowed: the digest job stopped (or its
    /// newest digests were deleted). Never retry: page a human.
    AuditDigestStale,
    /// The address a root email change asked for belongs to another AWS account
    /// (`ConflictException`). Terminal for that address. Not retryable.
    EmailConflict,
    /// AWS refused a one-time code (wrong or expired). A workflow resends, within its bound.
    WrongCode,
    /// No usable one-time code arrived, after every resend allowed. Not retryable.
    CodeNotReceived,
    /// The root user has no MFA device, or its seed is not in the vault. Not retryable until an
    /// operator enrols one.
    MfaNotEnrolled,
    /// An operator cancelled a release before its point of no return; the release workflow's
    /// `Catch` restores custody. Not retryable.
    Cancelled,
    /// `organizations:CloseAccount` refused: the rolling 30-day closure quota is used up. The
    /// message says when closing becomes possible again. Not retryable until then.
    CloseQuotaExceeded,
    /// A transfer's precondition does not hold (the message names which). Not retryable until
    /// the operator or the customer fixes it.
    TransferPreconditionFailed,
    /// AWS has not finished a change (closure, email propagation, departure) within the bound
    /// the workflow polls for. The release stops resumable. Not retryable.
    StillPending,
}

/// The name of the error that ended a workflow execution, as its `fail` step records it: one of
/// ours ([`ErrorType`]), one of Step Functions' or Lambda's (`States.*`, `Lambda.*`,
/// `Sandbox.*`, `Runtime.*`), or a rotation rejected by an operator; anything else (the
/// execution's input is not ours to trust) is `InternalError`. At most 64 characters.
pub fn workflow_error_name(error: &str) -> String {
    let known = ErrorType::ALL.iter().any(|e| e.as_str() == error)
        || error == crate::rotation::REJECTED_ERROR
        || ["States.", "Lambda.", "Sandbox.", "Runtime."]
            .iter()
            .any(|p| error.starts_with(p));
    let name = if known { error } else { "InternalError" };
    name.chars().take(64).collect()
}

impl ErrorType {
    pub const ALL: [ErrorType; 20] = [
        ErrorType::ValidationError,
        ErrorType::ConfigError,
        ErrorType::NotFound,
        ErrorType::Conflict,
        ErrorType::AuditWriteFailed,
        ErrorType::AuditTamperDetected,
        ErrorType::TransientAwsError,
        ErrorType::AwsError,
        ErrorType::InternalError,
        ErrorType::AccessDenied,
        ErrorType::PendingDecisionRequired,
        ErrorType::AuditDigestStale,
        ErrorType::EmailConflict,
        ErrorType::WrongCode,
        ErrorType::CodeNotReceived,
        ErrorType::MfaNotEnrolled,
        ErrorType::Cancelled,
        ErrorType::CloseQuotaExceeded,
        ErrorType::TransferPreconditionFailed,
        ErrorType::StillPending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::ValidationError => "ValidationError",
            ErrorType::ConfigError => "ConfigError",
            ErrorType::NotFound => "NotFound",
            ErrorType::Conflict => "Conflict",
            ErrorType::AuditWriteFailed => "AuditWriteFailed",
            ErrorType::AuditTamperDetected => "AuditTamperDetected",
            ErrorType::TransientAwsError => "TransientAwsError",
            ErrorType::AwsError => "AwsError",
            ErrorType::InternalError => "InternalError",
            ErrorType::AccessDenied => "AccessDenied",
            ErrorType::PendingDecisionRequired => "PendingDecisionRequired",
            ErrorType::AuditDigestStale => "AuditDigestStale",
            ErrorType::EmailConflict => "EmailConflict",
            ErrorType::WrongCode => "WrongCode",
            ErrorType::CodeNotReceived => "CodeNotReceived",
            ErrorType::MfaNotEnrolled => "MfaNotEnrolled",
            ErrorType::Cancelled => "Cancelled",
            ErrorType::CloseQuotaExceeded => "CloseQuotaExceeded",
            ErrorType::TransferPreconditionFailed => "TransferPreconditionFailed",
            ErrorType::StillPending => "StillPending",
        }
    }

    /// Whether a workflow may retry the same input and expect a different outcome.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorType::Conflict | ErrorType::AuditWriteFailed | ErrorType::TransientAwsError
        )
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by every library error a Lambda can surface.
pub trait Classify {
    fn error_type(&self) -> ErrorType;
}

/// The error a handler returns: a vocabulary name and a message that never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct LambdaError {
    pub error_type: ErrorType,
    pub message: String,
}

impl LambdaError {
    pub fn new(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self {
            error_type,
            message: message.into(),
        }
    }

    /// Wraps any classified library error, keeping its display text as the message.
    pub fn from_classified<E: Classify + fmt::Display>(err: &E) -> Self {
        Self::new(err.error_type(), err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workflow_error_name_is_ours_aws_or_internal() {
        for known in [
            "TransientAwsError",
            "States.Timeout",
            "Lambda.Unknown",
            "Sandbox.Timedout",
            "Runtime.ExitError",
            "RotationRejected",
        ] {
            assert_eq!(workflow_error_name(known), known);
        }
        for hostile in ["", "rm -rf /", "Rotation", "\u{202e}States.Timeout"] {
            assert_eq!(workflow_error_name(hostile), "InternalError", "{hostile:?}");
        }
        assert_eq!(
            workflow_error_name(&format!("States.{}", "x".repeat(200))).len(),
            64
        );
    }

    #[test]
    fn names_are_stable_and_unique() {
        let names: std::collections::HashSet<_> =
            ErrorType::ALL.iter().map(|e| e.as_str()).collect();
        assert_eq!(names.len(), ErrorType::ALL.len());
        for e in ErrorType::ALL {
            // Display, serde and as_str agree: state machines match on this exact text.
            assert_eq!(e.to_string(), e.as_str());
            assert_eq!(
                serde_json::to_value(e).unwrap(),
                serde_json::json!(e.as_str())
            );
        }
    }
}
