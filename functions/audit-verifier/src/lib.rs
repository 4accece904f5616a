//! `audit-verifier`: walks every audit chain (or one account's), verifies the signed digest chain
//! (KMS `Verify`), the newest valid digest's pages, and every chain against its head there. Run
//! daily by the `audit-integrity` state machine; a failed execution raises the alarm.
//!
//! Over the estate it runs as the three steps of that state machine
//! (`infra/statemachines/audit-integrity.asl.json`, a Distributed Map over parallel-Scan
//! segments of the audit table; see `rootwarden::audit::digest::fleet_verify`):
//! - `{"action": "plan", "request": {"segments"?: n}}`: every signed digest and the newest valid digest's
//!   pages, and its age; returns `{"plan": {"digests", "latest", "segments"}, "segments":
//!   [{"index", "total"}, ...]}`;
//! - `{"action": "verify_segment", "plan", "segment"}`: that segment's chains, each measured
//!   against its head in the digest; returns `{"segment", "chains", "records", "heads_found",
//!   "chain_faults", "digest_faults", "fault_count"}`;
//! - `{"action": "summarize", "plan", "reports": [<verify_segment output, or {"segment",
//!   "failed", "cause"} for a segment that failed>]}`: every segment added up; returns the output
//!   below with `"segments"` and `"unverified"` (failed segments; `ok` is then false).
//!
//! Directly: `{}` (every chain in one invocation) or `{"account": "123456789012"}`.
//! Output: `{"chains": n, "records": m, "ok": true, "digests": d, "digest_seq": s,
//! "digest_age_seconds": a}`.
//! Errors (`error_type`): `ValidationError`; `ConfigError` (`ROOTWARDEN_DIGEST_KEY` unset);
//! `AuditTamperDetected` (a chain is broken, naming the stream and record; or a digest, a digest
//! page or a chain measured against the newest digest is wrong, with its TRUNCATED / DELETED /
//! MODIFIED / DIGEST label; or no valid signed digest exists); `AuditDigestStale` (the newest
//! valid digest is older than `ROOTWARDEN_DIGEST_MAX_AGE_SECONDS`: the digest job stopped);
//! `TransientAwsError`, `AwsError`.

use lambda_runtime::LambdaEvent;
use rootwarden::audit::digest::{
    plan_verification, summarize_verification, verify_segment, SegmentReport, VerifyPlan,
};
use rootwarden::audit::segment::{FailedSegment, Segment, SegmentOutcome};
use rootwarden::audit::{
    digest_age_seconds, verify_with_digests, AuditLog, DigestCheck, DigestSigner, DigestStore,
    LatestDigest, Stream,
};
use rootwarden::{AccountId, Clock, ConfigError, ErrorType, LambdaError};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub account: Option<AccountId>,
}

/// A step of the audit-integrity state machine.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum FleetStep {
    /// `request` is the execution's input: `{}` from the schedule, or `{"segments": n}`.
    Plan {
        request: PlanRequest,
    },
    VerifySegment {
        plan: VerifyPlan,
        segment: Segment,
    },
    Summarize {
        plan: VerifyPlan,
        reports: Vec<SegmentOutcome<SegmentReport>>,
    },
}

/// What an execution may ask of the plan step: how many segments (1 to 1,000; by default one
/// per 50,000 records the newest digest's heads count).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    pub segments: Option<u32>,
}

/// The validated request.
#[derive(Debug)]
pub enum Input {
    /// Every chain (`None`) or one account's, in this invocation.
    Direct(Option<AccountId>),
    Fleet(FleetStep),
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

/// The summarize step's output: [`Response`] and the segments.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct FleetResponse {
    #[serde(flatten)]
    pub response: Response,
    pub segments: u32,
    /// Segments whose step failed after every retry: their chains were not verified.
    pub unverified: Vec<FailedSegment>,
}

/// The plan step's output: the plan, and the segments the map fans out over.
#[derive(Debug, Serialize)]
pub struct Planned {
    pub plan: VerifyPlan,
    pub segments: Vec<Segment>,
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
) -> Result<serde_json::Value, LambdaError> {
    let span = rootwarden_bootstrap::telemetry::invocation_span(
        &event.context.request_id,
        &event.context.request_id,
    );
    step(deps, event.payload).instrument(span).await
}

fn tamper(message: String) -> LambdaError {
    tracing::error!(fault = %message, "audit verification failed");
    LambdaError::new(ErrorType::AuditTamperDetected, message)
}

fn invalid(e: impl std::fmt::Display) -> LambdaError {
    LambdaError::new(
        ErrorType::ValidationError,
        format!("bad verifier input: {e}"),
    )
}

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
    Ok(Input::Direct(request.account))
}

fn to_value(v: impl Serialize) -> Result<serde_json::Value, LambdaError> {
    serde_json::to_value(v).map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))
}

/// The digests' verdict: the number verified, the newest valid digest and its age; or the
/// first digest fault (`AuditTamperDetected`), no valid digest (`AuditTamperDetected`), or a
/// digest too old (`AuditDigestStale`).
fn digest_verdict(
    check: &DigestCheck,
    clock: &dyn Clock,
    max_age_seconds: u64,
) -> Result<(u64, LatestDigest, i64), LambdaError> {
    let (digests, latest) = match check {
        DigestCheck::Checked { faults, .. } if !faults.is_empty() => {
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
    let age = digest_age_seconds(&latest, clock.now()).ok_or_else(|| {
        tamper(format!(
            "DIGEST: digest {} has an unreadable timestamp",
            latest.seq
        ))
    })?;
    if age > max_age_seconds as i64 {
        let message = format!(
            "the newest valid digest ({}, taken {}) is {age} s old, more than the {} s allowed: \
             the digest job has stopped or its digests are being deleted",
            latest.seq, latest.timestamp, max_age_seconds
        );
        tracing::error!(digest_seq = latest.seq, age, "audit digest stale");
        return Err(LambdaError::new(ErrorType::AuditDigestStale, message));
    }
    Ok((digests, latest, age))
}

/// One invocation: the whole check, or one fleet step.
pub async fn step<L: AuditLog, S: DigestStore, V: DigestSigner>(
    deps: &Deps<'_, L, S, V>,
    payload: serde_json::Value,
) -> Result<serde_json::Value, LambdaError> {
    let classified = |e: rootwarden::audit::DigestError| LambdaError::from_classified(&e);
    match parse(payload)? {
        Input::Direct(account) => to_value(verify_direct(deps, account).await?),
        Input::Fleet(FleetStep::Plan {
            request: PlanRequest { segments },
        }) => {
            let signer = deps.signer.map_err(LambdaError::from_classified)?;
            let (check, records) = plan_verification(deps.store, signer)
                .await
                .map_err(classified)?;
            let (digests, latest, age) =
                digest_verdict(&check, deps.clock, deps.max_digest_age_seconds)?;
            let plan = VerifyPlan::new(digests, latest, records, segments);
            let segments = Segment::all(plan.segments).map_err(invalid)?;
            tracing::info!(
                digests,
                digest_seq = plan.latest.seq,
                digest_age_seconds = age,
                segments = plan.segments,
                "audit digests intact; verifying chains in segments"
            );
            to_value(Planned { plan, segments })
        }
        Input::Fleet(FleetStep::VerifySegment { plan, segment }) => {
            let report = verify_segment(deps.log, deps.store, &plan, segment)
                .await
                .map_err(classified)?;
            tracing::info!(%segment, chains = report.chains, records = report.records,
                faults = report.fault_count, "audit segment verified");
            to_value(report)
        }
        Input::Fleet(FleetStep::Summarize { plan, reports }) => {
            let summary = summarize_verification(&plan, reports).map_err(classified)?;
            if let Some(first) = summary.chain_faults.first() {
                return Err(tamper(match summary.fault_count {
                    1 => first.clone(),
                    n => format!("{first} ({n} faults)"),
                }));
            }
            if let Some(first) = summary.digest_faults.first() {
                return Err(tamper(format!(
                    "{first} ({} digest faults)",
                    summary.fault_count
                )));
            }
            let age = digest_age_seconds(&plan.latest, deps.clock.now()).unwrap_or_default();
            let ok = summary.is_intact();
            if ok {
                tracing::info!(
                    chains = summary.chains,
                    records = summary.records,
                    digest_seq = plan.latest.seq,
                    "audit chains and digests intact"
                );
            } else {
                tracing::error!(
                    unverified = summary.failed.len(),
                    "audit segments not verified"
                );
            }
            to_value(FleetResponse {
                response: Response {
                    chains: summary.chains as usize,
                    records: summary.records,
                    ok,
                    digests: plan.digests,
                    digest_seq: plan.latest.seq,
                    digest_age_seconds: age,
                },
                segments: summary.segments,
                unverified: summary.failed,
            })
        }
    }
}

/// Every chain, or one account's, in this invocation.
pub async fn verify_direct<L: AuditLog, S: DigestStore, V: DigestSigner>(
    deps: &Deps<'_, L, S, V>,
    account: Option<AccountId>,
) -> Result<Response, LambdaError> {
    let signer = deps.signer.map_err(LambdaError::from_classified)?;
    let only = account.map(Stream::Account);
    let report = verify_with_digests(deps.log, deps.store, Some(signer), only.as_ref())
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    if let Some((stream, fault)) = report.chain_report().first_fault() {
        return Err(tamper(format!("{stream}: {fault}")));
    }
    let (digests, latest, age) =
        digest_verdict(&report.digests, deps.clock, deps.max_digest_age_seconds)?;
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

/// The direct check, from a payload (`{}`, `null` or `{"account"}`).
pub async fn verify<L: AuditLog, S: DigestStore, V: DigestSigner>(
    deps: &Deps<'_, L, S, V>,
    payload: serde_json::Value,
) -> Result<Response, LambdaError> {
    match parse(payload)? {
        Input::Direct(account) => verify_direct(deps, account).await,
        Input::Fleet(_) => Err(invalid("a fleet step goes to `step`")),
    }
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

    /// The state machine's steps with the payloads its states build: plan, one
    /// `verify_segment` per segment (the map's ItemSelector), summarize (the map's results).
    async fn fleet(
        store: &MemoryDigestStore,
        clock: &FixedClock,
        fail: Option<u32>,
    ) -> Result<serde_json::Value, LambdaError> {
        let deps = Deps {
            log: store.log(),
            store,
            signer: Ok(&FakeKms),
            clock,
            max_digest_age_seconds: 7200,
        };
        let planned = step(&deps, fixture("plan.json")).await?;
        let mut reports = Vec::new();
        for segment in planned["segments"].as_array().unwrap() {
            if Some(segment["index"].as_u64().unwrap() as u32) == fail {
                reports.push(serde_json::json!({"segment": segment,
                    "failed": "TransientAwsError", "cause": "throttled"}));
                continue;
            }
            let payload = serde_json::json!({"action": "verify_segment",
                "plan": planned["plan"], "segment": segment});
            reports.push(step(&deps, payload).await?);
        }
        step(
            &deps,
            serde_json::json!({"action": "summarize", "plan": planned["plan"], "reports": reports}),
        )
        .await
    }

    #[tokio::test]
    async fn the_fleet_steps_verify_every_chain_once() {
        let store = seeded().await;
        let out = fleet(&store, &at(1), None).await.unwrap();
        assert_eq!(
            out,
            serde_json::json!({"chains": 2, "records": 6, "ok": true, "digests": 1,
                "digest_seq": 1, "digest_age_seconds": 3600, "segments": 3, "unverified": []})
        );
    }

    #[tokio::test]
    async fn the_fleet_steps_find_tampering_and_name_it() {
        let store = seeded().await;
        store
            .log()
            .with_records_mut(|c| c.get_mut("account/222222222222").unwrap().remove(&2));
        let err = fleet(&store, &at(0), None).await.unwrap_err();
        assert_eq!(err.error_type, ErrorType::AuditTamperDetected);
        assert_eq!(
            err.message,
            "account/222222222222: record 2 is missing (deleted)"
        );
        // A whole chain deleted: only the digest knows it was there.
        let store = seeded().await;
        store
            .log()
            .with_records_mut(|c| c.remove("account/111111111111"));
        let err = fleet(&store, &at(0), None).await.unwrap_err();
        assert_eq!(err.error_type, ErrorType::AuditTamperDetected);
        assert!(
            err.message
                .starts_with("TRUNCATED: 1 of the 2 chains digest 1 names are gone"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_plan_step_checks_the_digests_and_their_age() {
        let store = seeded().await;
        let err = fleet(&store, &at(3), None).await.unwrap_err();
        assert_eq!(err.error_type, ErrorType::AuditDigestStale);
        store.with_digests_mut(|d| d.get_mut(&1).unwrap().digest.streams = 1);
        let err = fleet(&store, &at(0), None).await.unwrap_err();
        assert_eq!(err.error_type, ErrorType::AuditTamperDetected);
        assert!(err.message.contains("signature invalid"), "{err}");
    }

    #[tokio::test]
    async fn a_failed_segment_makes_the_run_not_ok_and_is_named() {
        let store = seeded().await;
        let out = fleet(&store, &at(0), Some(1)).await.unwrap();
        assert_eq!(out["ok"], false);
        assert_eq!(
            out["unverified"],
            serde_json::json!([{"segment": {"index": 1, "total": 3},
                "failed": "TransientAwsError", "cause": "throttled"}])
        );
    }

    #[tokio::test]
    async fn a_bad_fleet_step_is_a_validation_error() {
        let store = seeded().await;
        for bad in [
            serde_json::json!({"action": "verify"}),
            serde_json::json!({"action": "plan", "request": {"segments": 1001}}),
            serde_json::json!({"action": "plan", "request": {"account": "111111111111"}}),
            serde_json::json!({"action": "plan"}),
            serde_json::json!({"action": "verify_segment", "segment": {"index": 0, "total": 1}}),
            serde_json::json!({"action": "summarize", "plan": {"digests": 1, "segments": 1,
                "latest": {"seq": 1, "timestamp": "t", "digest_hash": "h", "streams": 0,
                "pages": 0}}, "reports": []}),
        ] {
            let err = run(&store, &at(0), bad.clone()).await;
            assert!(err.is_err());
            let deps = Deps {
                log: store.log(),
                store: &store,
                signer: Ok(&FakeKms),
                clock: &at(0),
                max_digest_age_seconds: 7200,
            };
            let err = step(&deps, bad.clone()).await.unwrap_err();
            assert_eq!(err.error_type, ErrorType::ValidationError, "{bad}: {err}");
        }
    }
}
