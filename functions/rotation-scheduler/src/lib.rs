//! `rotation-scheduler`: the scheduled sweep. Starts one rotation execution per account whose
//! root password is due (maximum age reached, or marked after a check-out), found through the
//! registry's due-date index, with deterministic execution names and bounded concurrency. See
//! `rootwarden::rotation::sweep`.
//!
//! Input: `{}` (EventBridge Scheduler), or `{"now": "<RFC 3339>"}` to sweep as of another time
//! (operators catching up; tests).
//! Output: the sweep report `{"due", "started", "already_started", "restarted", "superseded",
//! "failed", "pages"}` (`restarted`: of `started`, accounts whose earlier execution had ended
//! without rescheduling them).
//! Errors (`error_type`): `ValidationError`, `ConfigError`, `TransientAwsError`, `AwsError`
//! (after every due account was tried, when any could not be started).

use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use rootwarden::registry::DynamoAccountRegistry;
use rootwarden::rotation::sweep::{self, SweepReport};
use rootwarden::{Clock, ErrorType, LambdaError};
use serde::Deserialize;
use tracing::Instrument;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub now: Option<DateTime<Utc>>,
}

pub fn parse(payload: serde_json::Value) -> Result<Request, LambdaError> {
    if payload.is_null() {
        return Ok(Request::default());
    }
    serde_json::from_value(payload)
        .map_err(|e| LambdaError::new(ErrorType::ValidationError, format!("bad sweep input: {e}")))
}

pub struct Deps<'a> {
    pub registry: &'a DynamoAccountRegistry,
    pub sfn: &'a aws_sdk_sfn::Client,
    pub state_machine_arn: &'a str,
    pub clock: &'a dyn Clock,
    pub concurrency: usize,
}

pub async fn handle(
    deps: &Deps<'_>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<SweepReport, LambdaError> {
    let span = rootwarden_bootstrap::telemetry::invocation_span(
        &event.context.request_id,
        &event.context.request_id,
    );
    run(deps, event.payload).instrument(span).await
}

pub async fn run(deps: &Deps<'_>, payload: serde_json::Value) -> Result<SweepReport, LambdaError> {
    let request = parse(payload)?;
    let now = request.now.unwrap_or_else(|| deps.clock.now());
    let report = sweep::sweep(
        deps.registry,
        deps.sfn,
        deps.state_machine_arn,
        now,
        deps.concurrency,
    )
    .await?;
    if let Some((account, error)) = report.failed.first() {
        return Err(LambdaError::new(
            ErrorType::AwsError,
            format!(
                "{} of {} due accounts could not be started (first: {account}: {error})",
                report.failed.len(),
                report.due
            ),
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn scheduler_payloads_parse() {
        assert!(parse(fixture("scheduler.json")).unwrap().now.is_none());
        let r = parse(fixture("catch-up.json")).unwrap();
        assert_eq!(r.now.unwrap().to_rfc3339(), "2026-11-24T10:00:00+00:00");
        assert!(parse(serde_json::Value::Null).unwrap().now.is_none());
    }

    #[test]
    fn other_payloads_are_rejected_by_name() {
        for bad in [
            serde_json::json!({"account": "111122223333"}),
            serde_json::json!({"now": "yesterday"}),
            serde_json::json!([]),
        ] {
            assert_eq!(
                parse(bad).unwrap_err().error_type,
                ErrorType::ValidationError
            );
        }
    }
}
