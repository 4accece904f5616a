//! `access-expiry`: the scheduled automatic check-in of break-glass access. EventBridge
//! Scheduler invokes it every 5 minutes with `{}`; it expires every check-out past its end and
//! records each in the account's audit chain under this function's name.
//!
//! It acts as nobody but itself: its only input is the schedule's `{}` (or null); anything else,
//! in particular a function URL request naming a caller, is refused with `ValidationError`
//! before anything is read. The break-glass actions themselves are the `access` function's,
//! behind its IAM-authenticated function URL; the schedule's role may invoke this function only.
//!
//! Output: the expiry report. Errors (`error_type`): `ValidationError` (not the schedule's input),
//! `TransientAwsError`, `AwsError` (any check-out that could not be expired, after trying all),
//! `AuditWriteFailed`.

use lambda_runtime::LambdaEvent;
use rootwarden::access::{self, Deps};
use rootwarden::{ErrorType, LambdaError};
use serde_json::Value;
use tracing::Instrument;

/// Only the schedule's input: `{}` or null.
pub fn check_input(payload: &Value) -> Result<(), LambdaError> {
    if rootwarden_bootstrap::is_empty(payload) {
        Ok(())
    } else {
        Err(LambdaError::new(
            ErrorType::ValidationError,
            "access-expiry takes only the schedule's {}: it acts as nobody but itself \
             (break-glass actions go to the access function URL)",
        ))
    }
}

/// Expires every check-out past its end; `actor` names this function in the audit records.
pub async fn expire(deps: &Deps, payload: &Value, actor: &str) -> Result<Value, LambdaError> {
    check_input(payload)?;
    let report = access::expire_due(deps, actor).await?;
    if let Some((id, e)) = report.failed.first() {
        return Err(LambdaError::new(
            ErrorType::AwsError,
            format!(
                "{} check-outs could not be expired (first: {id}: {e})",
                report.failed.len()
            ),
        ));
    }
    serde_json::to_value(&report)
        .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))
}

pub async fn handle(
    deps: &Deps,
    actor: &str,
    event: LambdaEvent<Value>,
) -> Result<Value, LambdaError> {
    let request_id = event.context.request_id.clone();
    let span = rootwarden_bootstrap::telemetry::invocation_span(&request_id, &request_id);
    async move { expire(deps, &event.payload, actor).await }
        .instrument(span)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_schedules_input_is_accepted() {
        let fixture = std::fs::read_to_string(format!(
            "{}/fixtures/scheduler.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert!(check_input(&serde_json::from_str(&fixture).unwrap()).is_ok());
        assert!(check_input(&Value::Null).is_ok());
        let url = std::fs::read_to_string(format!(
            "{}/../access/fixtures/url-request.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        for bad in [
            serde_json::from_str(&url).unwrap(),
            serde_json::json!({"action": "approve", "request_id": "AR-1"}),
            serde_json::json!([]),
        ] {
            assert_eq!(
                check_input(&bad).unwrap_err().error_type,
                ErrorType::ValidationError
            );
        }
    }
}
