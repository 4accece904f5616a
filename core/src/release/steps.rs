//! The release Lambda's payloads (`action` selects the step). The three state machines
//! (`infra/statemachines/release-{close,handback,transfer}.asl.json`) send them; the scheduled
//! `shred-due` comes from EventBridge Scheduler. Every field is hostile until checked: the
//! terms of a release (exit, customer, organization) are read from the approved access
//! request, never from this payload.

use serde::{Deserialize, Serialize};

/// What the access function passes as the execution input when a release request is
/// approved (and `begin` checks against the request it names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartInput {
    pub account_id: String,
    /// `close`, `handback`, `transfer`: must match the state machine and the request.
    pub exit: String,
    /// The approved access request (reason `release`).
    pub request_id: String,
    /// Base interval of every poll, doubled per poll up to an hour (default 60 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_seconds: Option<u64>,
    /// How long to wait for the customer's code (default 72 h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_timeout_seconds: Option<u64>,
    /// How long to wait for the customer's invitation (default 14 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_timeout_seconds: Option<u64>,
}

/// One step of a release state machine, or the scheduled sweep.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// Checks the approval and stops custody (status `releasing`, check-outs revoked).
    Begin {
        execution: String,
        execution_arn: String,
        input: StartInput,
    },
    /// Transfer: status, age in our organization, Control Tower.
    CheckTransfer {
        account_id: String,
        execution: String,
    },
    /// Closure: `CloseAccount` (the point of no return).
    CloseAccount {
        account_id: String,
        execution: String,
    },
    /// Closure: registers the wait for AWS's "account closed" mail (completes the task).
    AwaitClosureMail {
        account_id: String,
        execution: String,
        task_token: String,
        timeout_seconds: Option<u64>,
    },
    /// Closure: `DescribeAccount`; `{"done", "wait_seconds"}`.
    CheckClosure {
        account_id: String,
        execution: String,
    },
    /// Closure: the account is `closed`, its vault sealed until `shred_after`.
    Closed {
        account_id: String,
        execution: String,
    },
    StartEmailUpdate {
        account_id: String,
        execution: String,
    },
    /// Registers the wait for the customer's code (`release otp` completes it).
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
    /// `AcceptPrimaryEmailUpdate` with the relayed code (the point of no return).
    AcceptEmailUpdate {
        account_id: String,
        execution: String,
    },
    /// `GetPrimaryEmail` until it is the customer's; `{"done", "wait_seconds"}`.
    CheckEmail {
        account_id: String,
        execution: String,
    },
    PutContacts {
        account_id: String,
        execution: String,
    },
    RemoveRootCredentials {
        account_id: String,
        execution: String,
    },
    CreateLoginProfile {
        account_id: String,
        execution: String,
    },
    /// Transfer: an open invitation from the customer's organization; `{"found", "wait_seconds"}`.
    CheckInvitation {
        account_id: String,
        execution: String,
    },
    AcceptInvitation {
        account_id: String,
        execution: String,
    },
    /// Transfer: `DescribeAccount` until the account is gone; `{"done", "wait_seconds"}`.
    CheckDeparture {
        account_id: String,
        execution: String,
    },
    /// Crypto-shreds the vault; the account is `released`.
    Shred {
        account_id: String,
        execution: String,
    },
    /// Signs and stores the handover certificate.
    Certify {
        account_id: String,
        execution: String,
    },
    /// The `Catch` of `Cancelled`: restores custody (before the point of no return).
    Cancel {
        account_id: String,
        execution: String,
        error: serde_json::Value,
    },
    /// The `Catch` of everything else: records why the release stopped (resumable).
    Fail {
        account_id: String,
        execution: String,
        error: serde_json::Value,
    },
    /// Scheduled: shreds closed accounts past their window; reopens custody of a reinstated one.
    ShredDue {},
}

/// Default base interval of every poll (seconds).
pub const DEFAULT_POLL_SECONDS: u64 = 60;
/// Default wait for the customer's code: 72 hours.
pub const DEFAULT_CODE_TIMEOUT_SECONDS: u64 = 72 * 3600;
/// Default wait for the customer's invitation: 14 days.
pub const DEFAULT_INVITATION_TIMEOUT_SECONDS: u64 = 14 * 86_400;
/// Bounds of the poll interval: a second to an hour.
pub const POLL_BOUNDS: std::ops::RangeInclusive<u64> = 1..=3600;
/// Bounds of the code wait: a minute to 14 days.
pub const CODE_TIMEOUT_BOUNDS: std::ops::RangeInclusive<u64> = 60..=1_209_600;
/// Bounds of the invitation wait: an hour to 90 days.
pub const INVITATION_TIMEOUT_BOUNDS: std::ops::RangeInclusive<u64> = 3600..=7_776_000;
/// Bounds of the closure mail wait (the poll's back-off): a second to an hour.
pub const WAIT_BOUNDS: std::ops::RangeInclusive<u64> = 1..=3600;

pub use crate::takeover::steps::{account_id, execution, execution_arn, task_token};

/// `raw` (or `default`) within `bounds`.
pub fn timeout(
    raw: Option<u64>,
    default: u64,
    bounds: std::ops::RangeInclusive<u64>,
) -> Result<u64, crate::LambdaError> {
    let t = raw.unwrap_or(default);
    bounds.contains(&t).then_some(t).ok_or_else(|| {
        crate::takeover::steps::invalid(format!(
            "a wait or poll interval must be {} to {} seconds",
            bounds.start(),
            bounds.end()
        ))
    })
}

/// An access request id: 1-48 of `[A-Za-z0-9-]`.
pub fn request_id(raw: &str) -> Result<&str, crate::LambdaError> {
    let ok = (1..=48).contains(&raw.len())
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then_some(raw)
        .ok_or_else(|| crate::takeover::steps::invalid("request_id must be an access request id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse_by_action_and_refuse_strangers() {
        let s: Step = serde_json::from_value(serde_json::json!({
            "action": "check-closure", "account_id": "111122223333", "execution": "e"
        }))
        .unwrap();
        assert!(matches!(s, Step::CheckClosure { .. }));
        let s: Step = serde_json::from_value(serde_json::json!({"action": "shred-due"})).unwrap();
        assert_eq!(s, Step::ShredDue {});
        assert!(serde_json::from_value::<Step>(serde_json::json!({
            "action": "shred", "account_id": "1", "execution": "e", "extra": 1
        }))
        .is_err());
        assert!(serde_json::from_value::<StartInput>(serde_json::json!({
            "account_id": "111122223333", "exit": "close", "request_id": "AR-1", "customer": {}
        }))
        .is_err());
    }

    #[test]
    fn bounds_are_checked() {
        assert_eq!(timeout(None, 60, POLL_BOUNDS).unwrap(), 60);
        assert!(timeout(Some(0), 60, POLL_BOUNDS).is_err());
        assert!(timeout(Some(3601), 60, POLL_BOUNDS).is_err());
        assert!(request_id("AR-20261201-0011223344").is_ok());
        assert!(request_id("AR 1").is_err());
        assert!(request_id("").is_err());
    }
}
