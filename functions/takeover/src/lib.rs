//! `takeover`: one Lambda for the takeover state machine's steps. The payload's `action`
//! selects the step (`allocate`, `start-email-update`, `await-code`, `resend`,
//! `accept-email-update`, `enable-recovery`, `await-reset-link`, `await-mfa`, `verify-mfa`,
//! `delete-root-credentials`, `delete-keys`, `activate`, `fail`); see
//! `rootwarden::takeover` for what each does and `infra/statemachines/takeover.asl.json` for
//! the payloads.
//!
//! Errors (`error_type`): `ValidationError` (bad payload, a step of the other mode),
//! `NotFound`, `Conflict` (the account is in custody already, another execution owns the
//! takeover, or it changed meanwhile), `EmailConflict` (the address belongs to another AWS
//! account), `WrongCode` (AWS refused the code, or none is vaulted), `CodeNotReceived` (every
//! resend used), `MfaNotEnrolled`, `AuditWriteFailed`, `TransientAwsError`, `AwsError`,
//! `ConfigError`, `InternalError`.

use lambda_runtime::LambdaEvent;
use rootwarden::takeover::{self, Deps, Step};
use rootwarden::{ErrorType, LambdaError};
use tracing::Instrument;

/// Parses the payload into a step: a clear `ValidationError` for anything else.
pub fn parse(payload: serde_json::Value) -> Result<Step, LambdaError> {
    serde_json::from_value(payload).map_err(|e| {
        LambdaError::new(
            ErrorType::ValidationError,
            format!("bad takeover step payload: {e}"),
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
        takeover::run(deps, step).await.inspect_err(|e| {
            tracing::error!(error_type = %e.error_type, error = %e.message, "takeover step failed")
        })
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIONS: [&str; 13] = [
        "allocate",
        "start-email-update",
        "await-code",
        "resend",
        "accept-email-update",
        "enable-recovery",
        "await-reset-link",
        "await-mfa",
        "verify-mfa",
        "delete-root-credentials",
        "delete-keys",
        "activate",
        "fail",
    ];

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn every_state_machine_payload_parses() {
        for action in ACTIONS {
            let payload = fixture(action);
            assert_eq!(payload["action"], action);
            parse(payload).unwrap_or_else(|e| panic!("{action}: {e}"));
        }
        let dir = format!("{}/fixtures", env!("CARGO_MANIFEST_DIR"));
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), ACTIONS.len());
    }

    #[test]
    fn bad_payloads_are_validation_errors() {
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"action": "take-everything"}),
            serde_json::json!({"action": "allocate", "execution": "e"}),
            serde_json::json!({"action": "activate", "account_id": "1", "execution": "e", "x": 1}),
            serde_json::json!("allocate"),
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.error_type, ErrorType::ValidationError);
        }
    }
}
