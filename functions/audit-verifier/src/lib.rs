//! `audit-verifier`: walks every audit chain (or one account's) and fails with
//! `AuditTamperDetected`, naming the stream and record, when a chain is broken. Run daily by the
//! `audit-integrity` state machine; a failed execution raises the alarm.
//!
//! Input: `{}` or `{"account": "123456789012"}` (the EventBridge Scheduler payload).
//! Output: `{"chains": n, "records": m, "ok": true}`.
//! Errors (`error_type`): `ValidationError`, `AuditTamperDetected`, `TransientAwsError`,
//! `AwsError`.

use lambda_runtime::LambdaEvent;
use rootwarden::audit::{self, AuditLog, Stream};
use rootwarden::{AccountId, ErrorType, LambdaError};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub account: Option<AccountId>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Response {
    pub chains: usize,
    pub records: u64,
    pub ok: bool,
}

pub async fn handle<L: AuditLog>(
    log: &L,
    event: LambdaEvent<serde_json::Value>,
) -> Result<Response, LambdaError> {
    let span = rootwarden::telemetry::invocation_span(
        &event.context.request_id,
        &event.context.request_id,
    );
    verify(log, event.payload).instrument(span).await
}

pub async fn verify<L: AuditLog>(
    log: &L,
    payload: serde_json::Value,
) -> Result<Response, LambdaError> {
    let request: Request = if payload.is_null() {
        Request::default()
    } else {
        serde_json::from_value(payload).map_err(|e| {
            LambdaError::new(
                ErrorType::ValidationError,
                format!("bad verifier input: {e}"),
            )
        })?
    };
    let only = request.account.map(Stream::Account);
    let report = audit::verify(log, only.as_ref())
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    if let Some((stream, fault)) = report.first_fault() {
        tracing::error!(stream, seq = fault.seq(), fault = %fault, "audit chain verification failed");
        return Err(LambdaError::new(
            ErrorType::AuditTamperDetected,
            format!("{stream}: {fault}"),
        ));
    }
    tracing::info!(
        chains = report.chains.len(),
        records = report.records(),
        "audit chains intact"
    );
    Ok(Response {
        chains: report.chains.len(),
        records: report.records(),
        ok: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rootwarden::audit::{AuditEntry, MemoryAuditLog};

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    async fn seeded() -> MemoryAuditLog {
        let log = MemoryAuditLog::default();
        for id in ["111111111111", "222222222222"] {
            for _ in 0..3 {
                let s = Stream::Account(AccountId::parse(id).unwrap());
                log.append(&AuditEntry::new(
                    s,
                    "arn:aws:iam::1:user/op",
                    "audit.annotate",
                ))
                .await
                .unwrap();
            }
        }
        log
    }

    #[tokio::test]
    async fn scheduler_event_verifies_every_chain() {
        let log = seeded().await;
        let out = verify(&log, fixture("scheduler.json")).await.unwrap();
        assert_eq!(
            out,
            Response {
                chains: 2,
                records: 6,
                ok: true
            }
        );
    }

    #[tokio::test]
    async fn one_account_only() {
        let log = seeded().await;
        let out = verify(&log, fixture("one-account.json")).await.unwrap();
        assert_eq!((out.chains, out.records), (1, 3));
    }

    #[tokio::test]
    async fn tampering_is_an_audit_tamper_error_naming_the_record() {
        let log = seeded().await;
        log.with_records_mut(|c| c.get_mut("account/222222222222").unwrap().remove(&2));
        let err = verify(&log, fixture("scheduler.json")).await.unwrap_err();
        assert_eq!(err.error_type, ErrorType::AuditTamperDetected);
        assert_eq!(
            err.message,
            "account/222222222222: record 2 is missing (deleted)"
        );
    }

    #[tokio::test]
    async fn bad_input_is_a_validation_error() {
        let log = seeded().await;
        for bad in [
            serde_json::json!({"account": "12"}),
            serde_json::json!({"acount": "111111111111"}),
            serde_json::json!([1]),
        ] {
            let err = verify(&log, bad).await.unwrap_err();
            assert_eq!(err.error_type, ErrorType::ValidationError);
        }
    }
}
