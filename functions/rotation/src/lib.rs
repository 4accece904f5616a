//! `rotation`: one Lambda for the rotation state machine's steps. The payload's `action`
//! selects the step (`prepare`, `await-apply`, `finish`, `abandon`); see
//! `rootwarden::rotation` for what each does and `infra/statemachines/rotation.asl.json` for
//! the payloads.
//!
//! Errors (`error_type`): `ValidationError` (bad payload, account not rotatable), `NotFound`,
//! `Conflict` (another rotation owns the pending version; a step already ended differently),
//! `PendingDecisionRequired` (a pending version left by a rotation that no longer runs may be
//! live: prepare refuses until an operator confirms or rejects it),
//! `AuditWriteFailed`, `TransientAwsError`, `AwsError`, `ConfigError`, `InternalError`.

use lambda_runtime::LambdaEvent;
use rootwarden::rotation::{self, Deps, Step};
use rootwarden::{ErrorType, LambdaError};
use tracing::Instrument;

/// Parses the payload into a step: a clear `ValidationError` for anything else.
pub fn parse(payload: serde_json::Value) -> Result<Step, LambdaError> {
    serde_json::from_value(payload).map_err(|e| {
        LambdaError::new(
            ErrorType::ValidationError,
            format!("bad rotation step payload: {e}"),
        )
    })
}

pub async fn handle(
    deps: &Deps,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, LambdaError> {
    let correlation = event
        .payload
        .get("execution")
        .and_then(|e| e.as_str())
        .unwrap_or(&event.context.request_id)
        .to_owned();
    let span =
        rootwarden_bootstrap::telemetry::invocation_span(&event.context.request_id, &correlation);
    async move {
        let step = parse(event.payload)?;
        rotation::run(deps, step).await.inspect_err(|e| {
            tracing::error!(error_type = %e.error_type, error = %e.message, "rotation step failed")
        })
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn every_state_machine_payload_parses() {
        assert!(matches!(
            parse(fixture("prepare.json")),
            Ok(Step::Prepare { .. })
        ));
        assert!(matches!(
            parse(fixture("await-apply.json")),
            Ok(Step::AwaitApply { .. })
        ));
        assert!(matches!(
            parse(fixture("finish.json")),
            Ok(Step::Finish { .. })
        ));
        assert!(matches!(
            parse(fixture("abandon.json")),
            Ok(Step::Abandon { .. })
        ));
    }

    #[test]
    fn bad_payloads_are_validation_errors() {
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"action": "rotate-everything"}),
            serde_json::json!({"action": "prepare", "execution": "e"}),
            serde_json::json!("prepare"),
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.error_type, ErrorType::ValidationError);
        }
    }
}
