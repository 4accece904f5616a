//! `audit-digest`: writes the next signed digest of every audit chain head (hourly). See
//! `rootwarden::audit::digest` for the format and what verification does with it. A digest is
//! written on every run, even when no chain moved: it proves the job and the key are alive.
//!
//! Over the estate it runs as the three steps of the audit-digest state machine
//! (`infra/statemachines/audit-digest.asl.json`, a Distributed Map over parallel-Scan segments of
//! the audit table; see `rootwarden::audit::digest::fleet_write`):
//! - `{"action": "plan", "request": {"segments"?: n}}`: the next digest's number and link; returns
//!   `{"plan": {"seq", "prev_digest_hash", "segments"}, "segments": [{"index", "total"}, ...]}`;
//! - `{"action": "write_pages", "segment": {"index", "total"}}`: that segment's chain heads into
//!   pages; returns `{"segment", "streams", "page_hashes"}`;
//! - `{"action": "sign", "plan", "pages": [<write_pages output, or {"segment", "failed",
//!   "cause"} for a segment that failed>]}`: signs the digest naming every segment's pages;
//!   returns the output below.
//!
//! And directly (an operator, or a small estate): `{}` or `null` writes the whole digest in one
//! invocation. Output: `{"seq": n, "streams": k, "pages": p, "digest_hash": "<hex>",
//! "prev_digest_hash": "<hex>", "timestamp": "<RFC 3339>"}`.
//! Errors (`error_type`): `ValidationError` (any other input, or a sign step not given every
//! segment exactly once), `ConfigError` (`ROOTWARDEN_DIGEST_KEY` unset), `AuditWriteFailed`
//! (the digest could not be written, a segment failed, or its pages do not add up; nothing was
//! signed), `TransientAwsError` / `AwsError` (KMS `Sign`, DynamoDB reads),
//! `AuditTamperDetected` (the newest digest or a chain head is unreadable or altered, so the
//! chain cannot go on).

use lambda_runtime::LambdaEvent;
use rootwarden::audit::digest::{
    plan_digest, sign_digest, write_segment_pages, DigestPlan, SegmentPages, StoredDigest,
};
use rootwarden::audit::segment::{Segment, SegmentOutcome};
use rootwarden::audit::{write_digest, DigestSigner, DigestStore};
use rootwarden::{Clock, ConfigError, ErrorType, LambdaError};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

/// The only accepted direct input: an empty object.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {}

/// A step of the audit-digest state machine.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum FleetStep {
    /// `request` is the execution's input: `{}` from the schedule, or `{"segments": n}`.
    Plan {
        request: PlanRequest,
    },
    WritePages {
        segment: Segment,
    },
    Sign {
        plan: DigestPlan,
        pages: Vec<SegmentOutcome<SegmentPages>>,
    },
}

/// What an execution may ask of the plan step: how many segments (1 to 1,000; by default one
/// per 5,000 chains the newest digest counts).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    pub segments: Option<u32>,
}

/// The validated request.
#[derive(Debug)]
pub enum Input {
    /// The whole digest in this invocation.
    Direct,
    Fleet(FleetStep),
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Response {
    pub seq: u64,
    pub streams: u64,
    /// Pages of at most 1,000 heads the signed digest names.
    pub pages: usize,
    pub digest_hash: String,
    pub prev_digest_hash: String,
    pub timestamp: String,
}

impl From<StoredDigest> for Response {
    fn from(stored: StoredDigest) -> Self {
        Response {
            seq: stored.digest.seq,
            streams: stored.digest.streams,
            pages: stored.digest.page_hashes.len(),
            digest_hash: stored.digest_hash,
            prev_digest_hash: stored.digest.prev_digest_hash,
            timestamp: stored.digest.timestamp,
        }
    }
}

/// The plan step's output: the plan, and the segments the map fans out over.
#[derive(Debug, Serialize)]
pub struct Planned {
    pub plan: DigestPlan,
    pub segments: Vec<Segment>,
}

pub struct Deps<'a, S, V> {
    pub store: &'a S,
    /// The digest key, or why it is not configured.
    pub signer: Result<&'a V, &'a ConfigError>,
    pub clock: &'a dyn Clock,
}

fn invalid(e: impl std::fmt::Display) -> LambdaError {
    LambdaError::new(
        ErrorType::ValidationError,
        format!("bad digest input (expected {{}} or a fleet step): {e}"),
    )
}

pub fn parse(payload: serde_json::Value) -> Result<Input, LambdaError> {
    if payload.is_null() {
        return Ok(Input::Direct);
    }
    if payload.get("action").is_some() {
        return serde_json::from_value(payload)
            .map(Input::Fleet)
            .map_err(invalid);
    }
    let Request {} = serde_json::from_value(payload).map_err(invalid)?;
    Ok(Input::Direct)
}

pub async fn handle<S: DigestStore, V: DigestSigner>(
    deps: &Deps<'_, S, V>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, LambdaError> {
    let span = rootwarden_bootstrap::telemetry::invocation_span(
        &event.context.request_id,
        &event.context.request_id,
    );
    step(deps, event.payload).instrument(span).await
}

fn failed(e: rootwarden::audit::DigestError) -> LambdaError {
    tracing::error!(error = %e, "audit digest not written");
    LambdaError::from_classified(&e)
}

fn to_value(v: impl Serialize) -> Result<serde_json::Value, LambdaError> {
    serde_json::to_value(v).map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))
}

/// One invocation: the whole digest, or one fleet step.
pub async fn step<S: DigestStore, V: DigestSigner>(
    deps: &Deps<'_, S, V>,
    payload: serde_json::Value,
) -> Result<serde_json::Value, LambdaError> {
    match parse(payload)? {
        Input::Direct => to_value(run(deps, serde_json::Value::Null).await?),
        Input::Fleet(FleetStep::Plan {
            request: PlanRequest { segments },
        }) => {
            let plan = plan_digest(deps.store, segments).await.map_err(failed)?;
            let segments = Segment::all(plan.segments).map_err(invalid)?;
            tracing::info!(
                seq = plan.seq,
                segments = plan.segments,
                "audit digest planned"
            );
            to_value(Planned { plan, segments })
        }
        Input::Fleet(FleetStep::WritePages { segment }) => {
            let pages = write_segment_pages(deps.store, segment)
                .await
                .map_err(failed)?;
            tracing::info!(%segment, streams = pages.streams, pages = pages.page_hashes.len(), "audit digest pages written");
            to_value(pages)
        }
        Input::Fleet(FleetStep::Sign { plan, pages }) => {
            let signer = deps.signer.map_err(LambdaError::from_classified)?;
            let stored = sign_digest(deps.store, signer, deps.clock, &plan, pages)
                .await
                .map_err(failed)?;
            to_value(written(stored))
        }
    }
}

fn written(stored: StoredDigest) -> Response {
    tracing::info!(
        seq = stored.digest.seq,
        streams = stored.digest.streams,
        pages = stored.digest.page_hashes.len(),
        digest_hash = %stored.digest_hash,
        "audit digest written"
    );
    stored.into()
}

/// The whole digest in one invocation (direct input only).
pub async fn run<S: DigestStore, V: DigestSigner>(
    deps: &Deps<'_, S, V>,
    payload: serde_json::Value,
) -> Result<Response, LambdaError> {
    let Input::Direct = parse(payload)? else {
        return Err(invalid("a fleet step goes to `step`"));
    };
    let signer = deps.signer.map_err(LambdaError::from_classified)?;
    let stored = write_digest(deps.store, signer, deps.clock)
        .await
        .map_err(failed)?;
    Ok(written(stored))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rootwarden::audit::digest::{DigestItem, DigestPage, PageItem, Signature};
    use rootwarden::audit::{
        verify_with_digests, AuditEntry, AuditError, AuditLog, ChainHead, DigestError,
        MemoryAuditLog, MemoryDigestStore, StoredDigest, Stream, GENESIS_HASH,
    };
    use rootwarden::clock::FixedClock;
    use rootwarden::AccountId;
    use sha2::{Digest as _, Sha256};

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// Stands in for KMS: "signature" = SHA-256("k" || digest); can be made to fail.
    struct FakeKms {
        fail: Option<ErrorType>,
    }

    impl DigestSigner for FakeKms {
        async fn sign(&self, digest: &[u8; 32]) -> Result<Signature, DigestError> {
            if let Some(error_type) = self.fail {
                return Err(DigestError::Kms {
                    message: "kms:Sign failed".into(),
                    error_type,
                });
            }
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

    const OK: FakeKms = FakeKms { fail: None };

    fn clock() -> FixedClock {
        FixedClock(
            chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
                .unwrap()
                .to_utc(),
        )
    }

    async fn seeded() -> MemoryDigestStore {
        let log = MemoryAuditLog::default();
        for id in ["111111111111", "222222222222"] {
            for _ in 0..2 {
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
        MemoryDigestStore::new(log)
    }

    fn deps<'a, S, V>(store: &'a S, signer: &'a V, clock: &'a FixedClock) -> Deps<'a, S, V> {
        Deps {
            store,
            signer: Ok(signer),
            clock,
        }
    }

    #[tokio::test]
    async fn scheduler_event_writes_chained_digests() {
        let store = seeded().await;
        let clock = clock();
        let first = run(&deps(&store, &OK, &clock), fixture("scheduler.json"))
            .await
            .unwrap();
        assert_eq!((first.seq, first.streams), (1, 2));
        assert_eq!(first.prev_digest_hash, GENESIS_HASH);
        assert_eq!(first.timestamp, "2026-11-24T10:00:00.000Z");
        // null works too, and the second digest links to the first even with no new records.
        let second = run(&deps(&store, &OK, &clock), fixture("null.json"))
            .await
            .unwrap();
        assert_eq!(second.seq, 2);
        assert_eq!(second.prev_digest_hash, first.digest_hash);
        let report = verify_with_digests(store.log(), &store, Some(&OK), None)
            .await
            .unwrap();
        assert!(report.is_ok(), "{report:?}");
    }

    #[tokio::test]
    async fn an_empty_log_still_gets_a_digest() {
        let store = MemoryDigestStore::new(MemoryAuditLog::default());
        let clock = clock();
        let out = run(&deps(&store, &OK, &clock), fixture("scheduler.json"))
            .await
            .unwrap();
        assert_eq!((out.seq, out.streams), (1, 0));
    }

    #[tokio::test]
    async fn any_other_payload_is_a_validation_error() {
        let store = seeded().await;
        let clock = clock();
        for bad in [
            fixture("unexpected-field.json"),
            serde_json::json!([1]),
            serde_json::json!("go"),
        ] {
            let err = run(&deps(&store, &OK, &clock), bad).await.unwrap_err();
            assert_eq!(err.error_type, ErrorType::ValidationError, "{err}");
        }
        assert_eq!(store.with_digests_mut(|d| d.len()), 0);
    }

    #[tokio::test]
    async fn a_missing_key_is_a_config_error_naming_the_variable() {
        let store = seeded().await;
        let clock = clock();
        let missing = ConfigError::Missing {
            var: "ROOTWARDEN_DIGEST_KEY",
        };
        let deps: Deps<'_, _, FakeKms> = Deps {
            store: &store,
            signer: Err(&missing),
            clock: &clock,
        };
        let err = run(&deps, fixture("scheduler.json")).await.unwrap_err();
        assert_eq!(err.error_type, ErrorType::ConfigError);
        assert!(err.message.contains("ROOTWARDEN_DIGEST_KEY"), "{err}");
    }

    #[tokio::test]
    async fn kms_failures_keep_their_classification_and_write_nothing() {
        let store = seeded().await;
        let clock = clock();
        for error_type in [ErrorType::TransientAwsError, ErrorType::AwsError] {
            let kms = FakeKms {
                fail: Some(error_type),
            };
            let err = run(&deps(&store, &kms, &clock), fixture("scheduler.json"))
                .await
                .unwrap_err();
            assert_eq!(err.error_type, error_type);
        }
        assert_eq!(store.with_digests_mut(|d| d.len()), 0);
    }

    /// A table that can be read but not written.
    struct ReadOnly(MemoryDigestStore);

    impl DigestStore for ReadOnly {
        async fn heads(&self) -> Result<Vec<ChainHead>, AuditError> {
            self.0.heads().await
        }
        async fn digests(&self) -> Result<Vec<DigestItem>, AuditError> {
            self.0.digests().await
        }
        async fn latest_digest(&self) -> Result<Option<DigestItem>, AuditError> {
            self.0.latest_digest().await
        }
        async fn pages(&self, hashes: &[String]) -> Result<Vec<PageItem>, AuditError> {
            self.0.pages(hashes).await
        }
        async fn put_page(&self, page: &DigestPage) -> Result<(), DigestError> {
            self.0.put_page(page).await
        }
        async fn put_digest(&self, _: &StoredDigest) -> Result<bool, DigestError> {
            Err(DigestError::WriteFailed {
                message: "dynamodb:PutItem failed: AccessDeniedException".into(),
            })
        }
    }

    #[tokio::test]
    async fn an_unwritable_digest_is_audit_write_failed() {
        let store = ReadOnly(seeded().await);
        let clock = clock();
        let err = run(&deps(&store, &OK, &clock), fixture("scheduler.json"))
            .await
            .unwrap_err();
        assert_eq!(err.error_type, ErrorType::AuditWriteFailed);
    }

    #[tokio::test]
    async fn an_altered_newest_digest_stops_the_chain() {
        let store = seeded().await;
        let clock = clock();
        run(&deps(&store, &OK, &clock), fixture("scheduler.json"))
            .await
            .unwrap();
        store.with_digests_mut(|d| d.get_mut(&1).unwrap().digest.page_hashes.pop());
        let err = run(&deps(&store, &OK, &clock), fixture("scheduler.json"))
            .await
            .unwrap_err();
        assert_eq!(err.error_type, ErrorType::AuditTamperDetected);
    }

    /// The state machine's three steps, with the payloads its states build: plan, one
    /// `write_pages` per segment (the map's ItemSelector), sign (the map's results).
    #[tokio::test]
    async fn the_fleet_steps_write_a_digest_that_verifies() {
        let store = seeded().await;
        let clock = clock();
        let deps = deps(&store, &OK, &clock);
        let planned = step(&deps, fixture("plan.json")).await.unwrap();
        assert_eq!(planned["plan"]["seq"], 1);
        assert_eq!(planned["plan"]["prev_digest_hash"], GENESIS_HASH);
        let segments = planned["segments"].as_array().unwrap().clone();
        assert_eq!(segments.len(), 2);
        let mut pages = Vec::new();
        for segment in segments {
            pages.push(
                step(
                    &deps,
                    serde_json::json!({"action": "write_pages", "segment": segment}),
                )
                .await
                .unwrap(),
            );
        }
        let out = step(
            &deps,
            serde_json::json!({"action": "sign", "plan": planned["plan"], "pages": pages}),
        )
        .await
        .unwrap();
        assert_eq!(
            (&out["seq"], &out["streams"]),
            (&serde_json::json!(1), &serde_json::json!(2))
        );
        let report = verify_with_digests(store.log(), &store, Some(&OK), None)
            .await
            .unwrap();
        assert!(report.is_ok(), "{report:?}");
        // The same sign step again: the number is taken, nothing is overwritten.
        let again = step(
            &deps,
            serde_json::json!({"action": "sign", "plan": planned["plan"], "pages": pages}),
        )
        .await
        .unwrap_err();
        assert_eq!(again.error_type, ErrorType::AuditWriteFailed, "{again}");
        assert_eq!(store.with_digests_mut(|d| d.len()), 1);
    }

    #[tokio::test]
    async fn a_failed_segment_signs_nothing_and_says_which() {
        let store = seeded().await;
        let clock = clock();
        let deps = deps(&store, &OK, &clock);
        let planned = step(&deps, fixture("plan.json")).await.unwrap();
        let done = step(
            &deps,
            serde_json::json!({"action": "write_pages", "segment": {"index": 0, "total": 2}}),
        )
        .await
        .unwrap();
        let err = step(
            &deps,
            serde_json::json!({"action": "sign", "plan": planned["plan"], "pages": [done,
                {"segment": {"index": 1, "total": 2}, "failed": "TransientAwsError",
                 "cause": "{\"errorType\":\"TransientAwsError\"}"}]}),
        )
        .await
        .unwrap_err();
        assert_eq!(err.error_type, ErrorType::AuditWriteFailed);
        assert!(
            err.message
                .contains("segment 2 of 2 failed: TransientAwsError"),
            "{err}"
        );
        assert_eq!(store.with_digests_mut(|d| d.len()), 0);
    }

    #[tokio::test]
    async fn a_bad_fleet_step_is_a_validation_error() {
        let store = seeded().await;
        let clock = clock();
        let deps = deps(&store, &OK, &clock);
        for bad in [
            serde_json::json!({"action": "rewrite"}),
            serde_json::json!({"action": "plan", "request": {"segments": 0}}),
            serde_json::json!({"action": "plan", "request": {"segments": 201}}),
            serde_json::json!({"action": "plan", "request": {"account": "111111111111"}}),
            serde_json::json!({"action": "plan", "request": {}, "extra": 1}),
            serde_json::json!({"action": "write_pages", "segment": {"index": 2, "total": 2}}),
            serde_json::json!({"action": "write_pages"}),
            serde_json::json!({"action": "sign", "plan": {"seq": 1}, "pages": []}),
            serde_json::json!({"action": "sign", "plan": {"seq": 1, "prev_digest_hash": GENESIS_HASH,
                "segments": 1}, "pages": []}),
        ] {
            let err = step(&deps, bad.clone()).await.unwrap_err();
            assert_eq!(err.error_type, ErrorType::ValidationError, "{bad}: {err}");
        }
        assert!(store.with_pages_mut(|p| p.is_empty()));
        assert_eq!(store.with_digests_mut(|d| d.len()), 0);
    }
}
