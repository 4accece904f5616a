//! `root-enforcement`: the daily root-credential job. For every active account (or one), an
//! `sts:AssumeRoot` session scoped to `IAMAuditRootUserCredentials` records the root user's
//! posture; root access keys and signing certificates are deleted in a session scoped to
//! `IAMDeleteRootUserCredentials` (credential-less accounts also lose any root password and
//! MFA device), with audit records and a ticket. See `rootwarden::enforcement`.
//!
//! Input: `{}` (EventBridge Scheduler) or `{"account_id": "<12 digits>"}` (one account).
//! Output: the run report `{"run", "checked", "compliant", "remediated", "drift", "skipped",
//! "failed", "accounts": [...]}` (only accounts that were not compliant are listed).
//! Errors (`error_type`): `ValidationError`, `NotFound` (the one account is not registered),
//! `ConfigError`, `TransientAwsError`, `AwsError`, `AuditWriteFailed` (after every account was
//! tried, the first failure's type, when any account failed).

use lambda_runtime::LambdaEvent;
use rootwarden::enforcement::{self, Deps, EnforcementReport};
use rootwarden::{AccountId, ErrorType, LambdaError};
use serde::Deserialize;
use tracing::Instrument;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub account_id: Option<String>,
}

/// The validated request: which account, or all.
pub fn parse(payload: serde_json::Value) -> Result<Option<AccountId>, LambdaError> {
    if payload.is_null() {
        return Ok(None);
    }
    let request: Request = serde_json::from_value(payload).map_err(|e| {
        LambdaError::new(
            ErrorType::ValidationError,
            format!("bad enforcement input: {e}"),
        )
    })?;
    request
        .account_id
        .map(|a| {
            AccountId::parse(&a)
                .map_err(|e| LambdaError::new(ErrorType::ValidationError, e.to_string()))
        })
        .transpose()
}

pub async fn handle(
    deps: &Deps,
    event: LambdaEvent<serde_json::Value>,
) -> Result<EnforcementReport, LambdaError> {
    let request_id = event.context.request_id.clone();
    let span = rootwarden_bootstrap::telemetry::invocation_span(&request_id, &request_id);
    run(deps, event.payload, &format!("enforcement-{request_id}"))
        .instrument(span)
        .await
}

pub async fn run(
    deps: &Deps,
    payload: serde_json::Value,
    run_id: &str,
) -> Result<EnforcementReport, LambdaError> {
    let only = parse(payload)?;
    let report = enforcement::enforce(deps, only.as_ref(), run_id).await?;
    match report.failure() {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn scheduler_and_single_account_payloads_parse() {
        assert_eq!(parse(fixture("scheduler.json")).unwrap(), None);
        assert_eq!(parse(serde_json::Value::Null).unwrap(), None);
        assert_eq!(
            parse(fixture("one-account.json"))
                .unwrap()
                .unwrap()
                .as_str(),
            "314159265358"
        );
    }

    #[test]
    fn other_payloads_are_rejected_by_name() {
        for bad in [
            serde_json::json!({"account_id": "12345"}),
            serde_json::json!({"account": "314159265358"}),
            serde_json::json!("314159265358"),
            serde_json::json!({"account_id": 314159265358u64}),
        ] {
            assert_eq!(
                parse(bad).unwrap_err().error_type,
                ErrorType::ValidationError
            );
        }
    }
}
