//! `root-enforcement`: the daily root-credential job. For every active account (or one), an
//! `sts:AssumeRoot` session scoped to `IAMAuditRootUserCredentials` records the root user's
//! posture; root access keys and signing certificates are deleted in a session scoped to
//! `IAMDeleteRootUserCredentials` (credential-less accounts also lose any root password and
//! MFA device), with audit records and a ticket. See `rootwarden::enforcement`.
//!
//! Over the fleet it runs as the three steps of the enforcement state machine
//! (`infra/statemachines/enforcement.asl.json`, a Distributed Map; see
//! `rootwarden::enforcement::fleet`):
//! - `{"action": "plan", "run": "<execution name>"}`: every registered account into the run's
//!   manifest in the fleet bucket; returns `{"run", "manifest": {"Bucket", "Key"}, "pages",
//!   "items"}`.
//! - `{"action": "enforce_page", "run", "page", "items": [<account ids>], "attempt"?, "result"?,
//!   ...}` (a manifest item, then the previous attempt's output): one attempt of one page;
//!   returns the next attempt's input (`"retry_needed": true`, `"wait_seconds"`) or
//!   `{"page", "retry_needed": false}` once the page's result is stored.
//! - `{"action": "summarize", "run"}`: every page's result into `summary.json`; returns the
//!   counts, the summary's location and the first failed account ids.
//!
//! And directly (an operator): `{}` enforces every account in this one invocation (small
//! estates only) and `{"account_id": "<12 digits>"}` one account; output the run report
//! `{"run", "checked", "compliant", "remediated", "drift", "skipped", "failed", "accounts"}`.
//!
//! Errors (`error_type`): `ValidationError`, `NotFound` (the one account is not registered),
//! `ConfigError` (a fleet step without `ROOTWARDEN_FLEET_BUCKET`), `TransientAwsError`,
//! `AwsError`, `AuditWriteFailed` (direct runs: after every account was tried, the first
//! failure's type, when any account failed), `InternalError`.

use lambda_runtime::LambdaEvent;
use rootwarden::enforcement::fleet::{self as fleet_steps, PageOutcome, PageStep};
use rootwarden::enforcement::{self, Deps};
use rootwarden::fleet::S3FleetStore;
use rootwarden::{AccountId, ErrorType, LambdaError};
use serde::Deserialize;
use tracing::Instrument;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub account_id: Option<String>,
}

/// A fleet step, as the enforcement state machine sends it.
#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FleetStep {
    Plan(Run),
    EnforcePage(PageStep),
    Summarize(Run),
}

/// The input of the plan and summary steps: the run (execution name) only.
#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    pub run: String,
}

/// The validated request.
#[derive(Debug)]
pub enum Input {
    /// Every account (`None`) or one, in this invocation.
    Direct(Option<AccountId>),
    Fleet(FleetStep),
}

fn invalid(e: impl std::fmt::Display) -> LambdaError {
    LambdaError::new(
        ErrorType::ValidationError,
        format!("bad enforcement input: {e}"),
    )
}

/// The validated request: a fleet step (it has an `action`), or which account, or all.
pub fn parse(payload: serde_json::Value) -> Result<Input, LambdaError> {
    if payload.is_null() {
        return Ok(Input::Direct(None));
    }
    if payload.get("action").is_some() {
        return serde_json::from_value(payload)
            .map(Input::Fleet)
            .map_err(invalid);
    }
    let request: Request = serde_json::from_value(payload).map_err(invalid)?;
    request
        .account_id
        .map(|a| {
            AccountId::parse(&a)
                .map_err(|e| LambdaError::new(ErrorType::ValidationError, e.to_string()))
        })
        .transpose()
        .map(Input::Direct)
}

/// What the function talks to: enforcement's adapters and, for the fleet steps, the fleet
/// bucket (`None` when `ROOTWARDEN_FLEET_BUCKET` is not set).
pub struct Handler {
    pub deps: Deps,
    pub store: Option<S3FleetStore>,
}

impl Handler {
    fn store(&self) -> Result<&S3FleetStore, LambdaError> {
        self.store.as_ref().ok_or_else(|| {
            LambdaError::new(
                ErrorType::ConfigError,
                format!(
                    "{} is not set: fleet steps need it",
                    rootwarden::config::vars::FLEET_BUCKET
                ),
            )
        })
    }
}

pub async fn handle(
    handler: &Handler,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, LambdaError> {
    let request_id = event.context.request_id.clone();
    let span = rootwarden_bootstrap::telemetry::invocation_span(&request_id, &request_id);
    run(handler, event.payload, &format!("enforcement-{request_id}"))
        .instrument(span)
        .await
}

fn json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, LambdaError> {
    serde_json::to_value(value)
        .map_err(|e| LambdaError::new(ErrorType::InternalError, format!("serializing: {e}")))
}

pub async fn run(
    handler: &Handler,
    payload: serde_json::Value,
    run_id: &str,
) -> Result<serde_json::Value, LambdaError> {
    let deps = &handler.deps;
    match parse(payload)? {
        Input::Direct(only) => {
            let report = enforcement::enforce(deps, only.as_ref(), run_id).await?;
            match report.failure() {
                Some(e) => Err(e),
                None => json(&report),
            }
        }
        Input::Fleet(FleetStep::Plan(Run { run })) => {
            json(&fleet_steps::plan(deps, handler.store()?, &run).await?)
        }
        Input::Fleet(FleetStep::EnforcePage(step)) => {
            match fleet_steps::enforce_page(deps, handler.store()?, step).await? {
                // The next attempt's input, as the next invocation parses it.
                PageOutcome::Again(next) => json(&FleetStep::EnforcePage(next)),
                done @ PageOutcome::Done { .. } => json(&done),
            }
        }
        Input::Fleet(FleetStep::Summarize(Run { run })) => {
            json(&fleet_steps::summarize(handler.store()?, &run).await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn direct(v: serde_json::Value) -> Option<AccountId> {
        match parse(v).unwrap() {
            Input::Direct(a) => a,
            other => panic!("not a direct run: {other:?}"),
        }
    }

    #[test]
    fn scheduler_and_single_account_payloads_parse() {
        assert_eq!(direct(fixture("scheduler.json")), None);
        assert_eq!(direct(serde_json::Value::Null), None);
        assert_eq!(
            direct(fixture("one-account.json")).unwrap().as_str(),
            "314159265358"
        );
    }

    #[test]
    fn fleet_steps_parse_from_what_the_state_machine_sends() {
        assert!(matches!(
            parse(fixture("plan.json")).unwrap(),
            Input::Fleet(FleetStep::Plan(Run { run })) if run == "daily-1"
        ));
        let Input::Fleet(FleetStep::EnforcePage(step)) = parse(fixture("page.json")).unwrap()
        else {
            panic!("not a page step")
        };
        assert_eq!((step.page, step.attempt, step.items.len()), (3, 0, 2));
        assert!(matches!(
            parse(serde_json::json!({"action": "summarize", "run": "daily-1"})).unwrap(),
            Input::Fleet(FleetStep::Summarize(_))
        ));
    }

    #[test]
    fn other_payloads_are_rejected_by_name() {
        for bad in [
            serde_json::json!({"account_id": "12345"}),
            serde_json::json!({"account": "314159265358"}),
            serde_json::json!("314159265358"),
            serde_json::json!({"account_id": 314159265358u64}),
            serde_json::json!({"action": "delete_everything"}),
            serde_json::json!({"action": "plan"}),
            serde_json::json!({"action": "plan", "run": "r", "bucket": "elsewhere"}),
            serde_json::json!({"action": "enforce_page", "run": "r", "page": 0, "items": [], "extra": 1}),
        ] {
            assert_eq!(
                parse(bad.clone()).unwrap_err().error_type,
                ErrorType::ValidationError,
                "{bad}"
            );
        }
    }
}
