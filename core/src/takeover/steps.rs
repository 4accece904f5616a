//! The takeover Lambda's payloads (`action` selects the step) and the checks on what a starter
//! or the state machine passes in. Every field is hostile until checked here.

use serde::{Deserialize, Serialize};

use crate::registry::AccountMode;
use crate::{AccountId, ErrorType, LambdaError};

/// Default wait for AWS's verification code (seconds).
pub const DEFAULT_CODE_TIMEOUT_SECONDS: u64 = 900;
/// Default wait for a human step (the reset link, the MFA enrolment): a day.
pub const DEFAULT_HUMAN_TIMEOUT_SECONDS: u64 = 86_400;
/// Bounds of any wait's timeout: a minute to a week (a human enrols MFA at their pace).
pub const TIMEOUT_BOUNDS: std::ops::RangeInclusive<u64> = 10..=604_800;

/// What the CLI passes as the execution input (and `allocate` reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartInput {
    pub account_id: String,
    pub mode: String,
    pub reason: String,
    pub ticket: String,
    /// The starter's ARN, from STS `GetCallerIdentity` in the CLI (never typed by anyone).
    pub requested_by: String,
    /// How long to wait for each code (default 900 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_timeout_seconds: Option<u64>,
    /// How long to wait for the reset link (default a day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_timeout_seconds: Option<u64>,
    /// How long to wait for the MFA seed (default a day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_timeout_seconds: Option<u64>,
}

/// One step of the takeover state machine.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    Allocate {
        execution: String,
        execution_arn: String,
        input: StartInput,
    },
    StartEmailUpdate {
        account_id: String,
        execution: String,
    },
    AwaitCode {
        account_id: String,
        execution: String,
        task_token: String,
        timeout_seconds: Option<u64>,
    },
    Resend {
        account_id: String,
        execution: String,
    },
    AcceptEmailUpdate {
        account_id: String,
        execution: String,
    },
    EnableRecovery {
        account_id: String,
        execution: String,
    },
    AwaitResetLink {
        account_id: String,
        execution: String,
        task_token: String,
        timeout_seconds: Option<u64>,
    },
    AwaitMfa {
        account_id: String,
        execution: String,
        task_token: String,
        timeout_seconds: Option<u64>,
    },
    VerifyMfa {
        account_id: String,
        execution: String,
    },
    DeleteRootCredentials {
        account_id: String,
        execution: String,
    },
    DeleteKeys {
        account_id: String,
        execution: String,
    },
    Activate {
        account_id: String,
        execution: String,
    },
    /// A `Catch` landed here: record why the execution stops (`error` is the Catch's
    /// `{"Error", "Cause"}`).
    Fail {
        account_id: String,
        execution: String,
        error: serde_json::Value,
    },
}

pub(crate) fn invalid(msg: impl Into<String>) -> LambdaError {
    LambdaError::new(ErrorType::ValidationError, msg)
}

pub fn account_id(raw: &str) -> Result<AccountId, LambdaError> {
    AccountId::parse(raw).map_err(|e| invalid(format!("account_id: {e}")))
}

pub fn mode(raw: &str) -> Result<AccountMode, LambdaError> {
    AccountMode::parse(raw).ok_or_else(|| invalid("mode must be vaulted or credential-less"))
}

/// `what` is 1..=`max` printable characters.
pub fn text(what: &str, raw: &str, max: usize) -> Result<String, LambdaError> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{what} must be 1-{max} printable characters"
        )));
    }
    Ok(t.to_owned())
}

/// An execution name as Step Functions allows it (1-80 of `[A-Za-z0-9_-]`).
pub fn execution(raw: &str) -> Result<&str, LambdaError> {
    let ok = (1..=80).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(raw)
        .ok_or_else(|| invalid("execution must be a Step Functions execution name"))
}

pub fn execution_arn(raw: &str, name: &str) -> Result<String, LambdaError> {
    let ok = raw.starts_with("arn:") && raw.ends_with(&format!(":{name}")) && raw.len() <= 256;
    ok.then(|| raw.to_owned())
        .ok_or_else(|| invalid("execution_arn must be the ARN of the execution named"))
}

pub fn requested_by(raw: &str) -> Result<String, LambdaError> {
    let ok = raw.starts_with("arn:") && raw.len() <= 512 && !raw.chars().any(char::is_control);
    ok.then(|| raw.to_owned())
        .ok_or_else(|| invalid("requested_by must be the starter's ARN"))
}

pub fn timeout(raw: Option<u64>, default: u64) -> Result<u64, LambdaError> {
    let t = raw.unwrap_or(default);
    TIMEOUT_BOUNDS
        .contains(&t)
        .then_some(t)
        .ok_or_else(|| invalid("timeout_seconds must be 10 to 604800"))
}

pub fn task_token(raw: &str) -> Result<&str, LambdaError> {
    (!raw.is_empty() && raw.len() <= 8192)
        .then_some(raw)
        .ok_or_else(|| invalid("task_token must be 1-8192 characters"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse_by_action_and_refuse_strangers() {
        let s: Step = serde_json::from_value(serde_json::json!({
            "action": "await-code", "account_id": "111122223333", "execution": "e",
            "task_token": "t", "timeout_seconds": 900
        }))
        .unwrap();
        assert!(matches!(s, Step::AwaitCode { .. }));
        assert!(serde_json::from_value::<Step>(serde_json::json!({
            "action": "activate", "account_id": "1", "execution": "e", "extra": 1
        }))
        .is_err());
        assert!(serde_json::from_value::<Step>(serde_json::json!({"action": "nope"})).is_err());
    }

    #[test]
    fn fields_are_checked() {
        assert!(execution("takeover-1_A").is_ok());
        assert!(execution("a b").is_err());
        assert!(execution_arn("arn:aws:states:r:1:execution:sm:e1", "e1").is_ok());
        assert!(execution_arn("arn:aws:states:r:1:execution:sm:e2", "e1").is_err());
        assert!(requested_by("bob").is_err());
        assert!(text("reason", " ", 10).is_err());
        assert!(text("reason", "a\nb", 10).is_err());
        assert_eq!(timeout(None, 900).unwrap(), 900);
        assert!(timeout(Some(5), 900).is_err());
        assert!(mode("vaulted").is_ok() && mode("x").is_err());
    }
}
