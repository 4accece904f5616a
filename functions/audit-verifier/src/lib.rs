//! `audit-verifier`: walks every audit chain (or one account's), verifies the signed digest chain
//! (KMS `Verify`), the newest valid digest's pages, and every chain against its head there. Run
//! daily by the `audit-integrity` state machine; a failed execution raises the alarm.
//!
//! Input: `{}` or `{"account": "123456789012"}` (the EventBridge Scheduler payload).
//! Output: `{"chains": n, "records": m, "ok": true, "digests": d, "digest_seq": s,
//! "digest_age_seconds": a}`.
//! Errors (`error_type`): `ValidationError`; `ConfigError` (`ROOTWARDEN_DIGEST_KEY` unset);
//! `AuditTamperDetected` (a chain is broken, naming the stream and record; or a digest, a digest
//! page or a chain measured against the newest digest is wrong, with its TRUNCATED / DELETED /
//! MODIFIED / DIGEST label; or no valid signed digest exists); `AuditDigestStale` (the newest
//! valid digest is older than `ROOTWARDEN_DIGEST_MAX_AGE_SECONDS`: the digest job stopped);
//! `TransientAwsError`, `AwsError`.

use lambda_runtime::LambdaEvent;
use rootwarden::audit::{
    digest_age_seconds, verify_with_digests, AuditLog, DigestCheck, DigestSigner, DigestStore,
    Stream,
};
use rootwarden::{AccountId, Clock, ConfigError, ErrorType, LambdaError};
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
    /// Signed digests verified.
    pub digests: u64,
    /// The newest valid digest the chains were measured against.
    pub digest_seq: u64,
    pub digest_age_seconds: i64,
}

pub struct Deps<'a, L, S, V> {
    pub log: &'a L,
    pub store: &'a S,
    /// The digest key, or why it is not configured.
    pub signer: Result<&'a V, &'a ConfigError>,
    pub clock: &'a dyn Clock,
    /// `ROOTWARDEN_DIGEST_MAX_AGE_SECONDS`.
    pub max_digest_age_seconds: u64,
}

pub async fn handle<L: AuditLog, S: DigestStore, V: DigestSigner>(
    deps: &Deps<'_, L, S, V>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<Response, LambdaError> {
    let span = rootwarden_bootstrap::telemetry::invocation_span(
        &event.context.request_id,
        &event.context.request_id,
    );
    verify(deps, event.payload).instrument(span).await
}

fn tamper(message: String) -> LambdaError {
    tracing::error!(fault = %message, "audit verification failed");
    LambdaError::new(ErrorType::AuditTamperDetected, message)
}

pub async fn verify<L: AuditLog, S: DigestStore, V: DigestSigner>(
    deps: &Deps<'_, L, S, V>,
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
    let signer = deps.signer.map_err(LambdaError::from_classified)?;
    let only = request.account.map(Stream::Account);
    let report = verify_with_digests(deps.log, deps.store, Some(signer), only.as_ref())
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    if let Some((stream, fault)) = report.chain_report().first_fault() {
        return Err(tamper(format!("{stream}: {fault}")));
    }
    let (digests, latest) = match &report.digests {
        DigestCheck::Checked {
            faults, digests, ..
        } if !faults.is_empty() => {
            let first = &faults[0];
            return Err(tamper(format!(
                "{}: {first} ({} digest faults)",
                first.label(),
                faults.len()
            )));
        }
        DigestCheck::Checked {
            digests,
            latest: Some(latest),
            ..
        } => (*digests, latest.clone()),
        DigestCheck::Checked { latest: None, .. } => {
            return Err(tamper("DIGEST: no signed digest verifies".into()))
        }
        DigestCheck::NoDigests | DigestCheck::NotConfigured { .. } => {
            return Err(tamper(
                "DIGEST: no signed digest exists: chain heads are not protected".into(),
            ))
        }
    };
    let age = digest_age_seconds(&latest, deps.clock.now()).ok_or_else(|| {
        tamper(format!(
            "DIGEST: digest {} has an unreadable timestamp",
            latest.seq
        ))
    })?;
    if age > deps.max_digest_age_seconds as i64 {
        let message = format!(
            "the newest valid digest ({}, taken {}) is {age} s old, more than the {} s allowed: \
             the digest job has stopped or its digests are being deleted",
            latest.seq, latest.timestamp, deps.max_digest_age_seconds
        );
        tracing::error!(digest_seq = latest.seq, age, "audit digest stale");
        return Err(LambdaError::new(ErrorType::AuditDigestStale, message));
    }
    tracing::info!(
        chains = report.chains.len(),
        records = report.records(),
        digests,
        digest_seq = latest.seq,
        digest_age_seconds = age,
        "audit chains and digests intact"
    );
    Ok(Response {
        chains: report.chains.len(),
        records: report.records(),
        ok: true,
        digests,
        digest_seq: latest.seq,
        digest_age_seconds: age,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rootwarden::audit::digest::Signature;
    use rootwarden::audit::{
        write_digest, AuditEntry, DigestError, MemoryAuditLog, MemoryDigestStore,
    };
    use rootwarden::clock::FixedClock;
    use sha2::{Digest as _, Sha256};

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// Stands in for KMS: "signature" = SHA-256("k" || digest).
    struct FakeKms;

    impl DigestSigner for FakeKms {
        async fn sign(&self, digest: &[u8; 32]) -> Result<Signature, DigestError> {
            Ok(Signature {
                bytes: Sha256::new()
                    .chain_update(b"k")
                    .chain_update(digest)
                    .finalize()
                    .to_vec(),
                key_id: "fake".into(),
                algorithm: "ECDSA_SHA_256".into(),
            })
        }
        async fn verify(&self, digest: &[u8; 32], signature: &[u8]) -> Result<bool, DigestError> {
            Ok(self.sign(digest).await?.bytes == signature)
        }
    }

    fn at(hours: i64) -> FixedClock {
        FixedClock(
            chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
                .unwrap()
                .to_utc()
                + chrono::Duration::hours(hours),
        )
    }

    /// Two accounts of three records each, and one digest of them at hour 0.
    async fn seeded() -> MemoryDigestStore {
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
        let store = MemoryDigestStore::new(log);
        write_digest(&store, &FakeKms, &at(0)).await.unwrap();
        store
    }

    async fn run(
        store: &MemoryDigestStore,
        clock: &FixedClock,
        payload: serde_json::Value,
    ) -> Result<Response, LambdaError> {
        let deps = Deps {
            log: store.log(),
            store,
            signer: Ok(&FakeKms),
            clock,
            max_digest_age_seconds: 7200,
        };
        verify(&deps, payload).await
    }

    #[tokio::test]
    async fn scheduler_event_verifies_every_chain_and_the_digests() {
        let store = seeded().await;
        let out = run(&store, &at(1), fixture("scheduler.json"))
            .await
            .unwrap();
        assert_eq!(
            out,
            Response {
                chains: 2,
                records: 6,
                ok: true,
                digests: 1,
                digest_seq: 1,
                digest_age_seconds: 3600,
            }
        );
    }

    #[tokio::test]
    async fn one_account_only() {
        let store = seeded().await;
        let out = run(&store, &at(0), fixture("one-account.json"))
            .await
            .unwrap();
        assert_eq!((out.chains, out.records), (1, 3));
    }

    #[tokio::test]
    async fn tampering_is_an_audit_tamper_error_naming_the_record() {
        let store = seeded().await;
        store
            .log()
            .with_records_mut(|c| c.get_mut("account/222222222222").unwrap().remove(&2));
        let err = run(&store, &at(0), fixture("scheduler.json"))
            .await
            .unwrap_err();
        assert_eq!(err.error_type, ErrorType::AuditTamperDetected);
        assert_eq!(
            err.message,
            "account/222222222222: record 2 is missing (deleted)"
        );
    }

    #[tokio::test]
    async fn truncation_only_the_digest_sees_is_an_audit_tamper_error() {
        let store = seeded().await;
        store
            .log()
            .with_records_mut(|c| c.get_mut("account/111111111111").unwrap().remove(&3));
        let err = run(&store, &at(0), fixture("scheduler.json"))
            .await
            .unwrap_err();
        assert_eq!(err.error_type, ErrorType::AuditTamperDetected);
        assert!(
            err.message
                .starts_with("TRUNCATED: account/111111111111: truncated"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_tampered_or_missing_digest_is_an_audit_tamper_error() {
        let store = seeded().await;
        store.with_digests_mut(|d| d.get_mut(&1).unwrap().digest.streams = 1);
        let err = run(&store, &at(0), fixture("scheduler.json"))
            .await
            .unwrap_err();
        assert_eq!(err.error_type, ErrorType::AuditTamperDetected);
        assert!(err.message.contains("signature invalid"), "{err}");
        store.with_digests_mut(|d| d.clear());
        let err = run(&store, &at(0), fixture("scheduler.json"))
            .await
            .unwrap_err();
        assert_eq!(err.error_type, ErrorType::AuditTamperDetected);
        assert!(err.message.contains("no signed digest exists"), "{err}");
    }

    #[tokio::test]
    async fn a_digest_older_than_the_maximum_age_is_stale() {
        let store = seeded().await;
        assert!(run(&store, &at(2), fixture("scheduler.json")).await.is_ok());
        let err = run(&store, &at(3), fixture("scheduler.json"))
            .await
            .unwrap_err();
        assert_eq!(err.error_type, ErrorType::AuditDigestStale);
        assert!(err.message.contains("10800 s old"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_key_is_a_config_error() {
        let store = seeded().await;
        let missing = ConfigError::Missing {
            var: "ROOTWARDEN_DIGEST_KEY",
        };
        let deps: Deps<'_, _, _, FakeKms> = Deps {
            log: store.log(),
            store: &store,
            signer: Err(&missing),
            clock: &at(0),
            max_digest_age_seconds: 7200,
        };
        let err = verify(&deps, fixture("scheduler.json")).await.unwrap_err();
        assert_eq!(err.error_type, ErrorType::ConfigError);
    }

    #[tokio::test]
    async fn bad_input_is_a_validation_error() {
        let store = seeded().await;
        for bad in [
            serde_json::json!({"account": "12"}),
            serde_json::json!({"acount": "111111111111"}),
            serde_json::json!([1]),
        ] {
            let err = run(&store, &at(0), bad).await.unwrap_err();
            assert_eq!(err.error_type, ErrorType::ValidationError);
        }
    }
}
