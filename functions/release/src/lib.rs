//! `release`: one Lambda for the release state machines' steps
//! (`infra/statemachines/release-{close,handback,transfer}.asl.json`) and the daily
//! `shred-due` schedule. The payload's `action` selects the step (`begin`, `check-transfer`,
//! `close-account`, `await-closure-mail`, `check-closure`, `closed`, `start-email-update`,
//! `await-code`, `resend`, `accept-email-update`, `check-email`, `put-contacts`,
//! `remove-root-credentials`, `create-login-profile`, `check-invitation`, `accept-invitation`,
//! `check-departure`, `shred`, `certify`, `cancel`, `fail`, `shred-due`); see
//! `rootwarden::release` for what each does. The terms of a release are read from the approved
//! access request, never from the payload.
//!
//! Errors (`error_type`): `ValidationError` (bad payload), `NotFound`, `Conflict` (another
//! execution owns the release, or it changed meanwhile), `AccessDenied` (the approval does not
//! hold), `PendingDecisionRequired`, `Cancelled`, `CloseQuotaExceeded`,
//! `TransferPreconditionFailed`, `StillPending`, `EmailConflict`, `WrongCode`,
//! `CodeNotReceived`, `AuditWriteFailed`, `TransientAwsError`, `AwsError`, `ConfigError`,
//! `InternalError`.

use lambda_runtime::LambdaEvent;
use rootwarden::release::{self, Deps, Step};
use rootwarden::{ErrorType, LambdaError};
use tracing::Instrument;

/// Parses the payload into a step: a clear `ValidationError` for anything else.
pub fn parse(payload: serde_json::Value) -> Result<Step, LambdaError> {
    serde_json::from_value(payload).map_err(|e| {
        LambdaError::new(
            ErrorType::ValidationError,
            format!("bad release step payload: {e}"),
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
        release::run(deps, step).await.inspect_err(|e| {
            tracing::error!(error_type = %e.error_type, error = %e.message, "release step failed")
        })
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use rootwarden::release::StartInput;

    const ACTIONS: [&str; 22] = [
        "begin",
        "check-transfer",
        "close-account",
        "await-closure-mail",
        "check-closure",
        "closed",
        "start-email-update",
        "await-code",
        "resend",
        "accept-email-update",
        "check-email",
        "put-contacts",
        "remove-root-credentials",
        "create-login-profile",
        "check-invitation",
        "accept-invitation",
        "check-departure",
        "shred",
        "certify",
        "cancel",
        "fail",
        "shred-due",
    ];

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    const ACCOUNT: &str = "111122223333";
    const EXECUTION: &str = "release-111122223333-8f14e45f-ceea-467f-a0e6-0e5f2b1c3d4e";

    #[test]
    fn every_state_machine_payload_parses() {
        for action in ACTIONS {
            let payload = fixture(action);
            assert_eq!(payload["action"], action);
            let step = parse(payload).unwrap_or_else(|e| panic!("{action}: {e}"));
            // Every step but the schedule's names the account and the owning execution.
            let text = format!("{step:?}");
            if action != "shred-due" {
                assert!(text.contains(ACCOUNT), "{action}: {text}");
                assert!(text.contains(EXECUTION), "{action}: {text}");
            }
        }
        let dir = format!("{}/fixtures", env!("CARGO_MANIFEST_DIR"));
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), ACTIONS.len());
    }

    #[test]
    fn begin_carries_the_start_input_and_the_task_steps_their_token() {
        match parse(fixture("begin")).unwrap() {
            Step::Begin {
                execution, input, ..
            } => {
                assert_eq!(execution, EXECUTION);
                assert_eq!(
                    input,
                    StartInput {
                        account_id: ACCOUNT.into(),
                        exit: "handback".into(),
                        request_id: "8f14e45f-ceea-467f-a0e6-0e5f2b1c3d4e".into(),
                        poll_seconds: Some(60),
                        code_timeout_seconds: Some(259200),
                        invitation_timeout_seconds: None,
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        match parse(fixture("await-closure-mail")).unwrap() {
            Step::AwaitClosureMail {
                task_token,
                timeout_seconds,
                ..
            } => {
                assert!(!task_token.is_empty());
                assert_eq!(timeout_seconds, Some(120));
            }
            other => panic!("{other:?}"),
        }
        match parse(fixture("fail")).unwrap() {
            Step::Fail { error, .. } => assert_eq!(error["Error"], "StillPending"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_payloads_are_validation_errors() {
        for bad in [
            serde_json::json!({}),
            serde_json::json!("begin"),
            serde_json::json!({"action": "release-everything"}),
            serde_json::json!({"action": "close-account", "account_id": ACCOUNT}),
            serde_json::json!({"action": "close-account", "account_id": ACCOUNT, "execution": "e", "exit": "transfer"}),
            // The terms never come from the payload.
            serde_json::json!({"action": "put-contacts", "account_id": ACCOUNT, "execution": "e",
                               "customer": {"email": "attacker@evil.example", "phone": "+15550100"}}),
            serde_json::json!({"action": "begin", "execution": "e", "execution_arn": "a",
                               "input": {"account_id": ACCOUNT, "exit": "close", "request_id": "r",
                                         "customer_org": "o-attackerorg1"}}),
            serde_json::json!({"action": "begin", "execution": "e", "execution_arn": "a"}),
            serde_json::json!({"action": "await-code", "account_id": ACCOUNT, "execution": "e",
                               "timeout_seconds": 60}),
            serde_json::json!({"action": "cancel", "account_id": ACCOUNT, "execution": "e"}),
            serde_json::json!({"action": "shred-due", "account_id": ACCOUNT}),
            serde_json::json!({"action": "check-closure", "account_id": 111122223333u64, "execution": "e"}),
        ] {
            let e = parse(bad.clone()).unwrap_err();
            assert_eq!(e.error_type, ErrorType::ValidationError, "{bad}");
        }
    }
}
