//! The fleet steps (plan, one step per segment, sign or summarize) against the one-invocation
//! writer and verifier: the same digests verify, the same faults are found.

use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::*;
use crate::audit::segment::{FailedSegment, Segment, SegmentOutcome};
use crate::audit::{AuditEntry, AuditLog, AuditRecord, MemoryAuditLog, Stream};
use crate::clock::FixedClock;
use crate::error::Classify;
use crate::AccountId;

struct FakeSigner;

impl DigestSigner for FakeSigner {
    async fn sign(&self, digest: &[u8; 32]) -> Result<Signature, DigestError> {
        Ok(Signature {
            bytes: Sha256::new()
                .chain_update(b"k")
                .chain_update(digest)
                .finalize()
                .to_vec(),
            key_id: "fake".into(),
            algorithm: SIGNING_ALGORITHM.into(),
        })
    }
    async fn verify(&self, digest: &[u8; 32], signature: &[u8]) -> Result<bool, DigestError> {
        Ok(self.sign(digest).await?.bytes == signature)
    }
}

fn clock() -> FixedClock {
    FixedClock(
        chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
            .unwrap()
            .to_utc(),
    )
}

fn account(i: usize) -> String {
    format!("account/{:012}", 100_000_000_000 + i)
}

/// `chains` account chains of 1 to 3 records, pages of 4 heads.
async fn estate(chains: usize) -> MemoryDigestStore {
    let log = MemoryAuditLog::new(Arc::new(clock()));
    for i in 0..chains {
        let stream = Stream::Account(AccountId::parse(&account(i)[8..]).unwrap());
        for _ in 0..(1 + i % 3) {
            log.append(&AuditEntry::new(stream.clone(), "arn:a", "x"))
                .await
                .unwrap();
        }
    }
    MemoryDigestStore::new(log).with_page_size(4)
}

/// The digest state machine, in process: plan, every segment, sign.
async fn fleet_digest(store: &MemoryDigestStore, segments: u32) -> StoredDigest {
    let plan = plan_digest(store, Some(segments)).await.unwrap();
    let mut pages = Vec::new();
    for s in Segment::all(plan.segments).unwrap().into_iter().rev() {
        pages.push(SegmentOutcome::Done(
            write_segment_pages(store, s).await.unwrap(),
        ));
    }
    sign_digest(store, &FakeSigner, &clock(), &plan, pages)
        .await
        .unwrap()
}

/// The audit-integrity state machine, in process.
async fn fleet_verify(store: &MemoryDigestStore, segments: u32) -> VerificationSummary {
    let (
        DigestCheck::Checked {
            digests,
            latest: Some(latest),
            faults,
        },
        records,
    ) = plan_verification(store, &FakeSigner).await.unwrap()
    else {
        panic!("no valid digest");
    };
    assert!(faults.is_empty(), "{faults:?}");
    let plan = VerifyPlan::new(digests, latest, records, Some(segments));
    let mut outcomes = Vec::new();
    for s in Segment::all(plan.segments).unwrap() {
        outcomes.push(SegmentOutcome::Done(
            verify_segment(store.log(), store, &plan, s).await.unwrap(),
        ));
    }
    summarize_verification(&plan, outcomes).unwrap()
}

async fn single_pass(store: &MemoryDigestStore) -> FullReport {
    verify_with_digests(store.log(), store, Some(&FakeSigner), None)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_digest_written_in_segments_verifies_in_one_pass_and_in_segments() {
    let store = estate(23).await;
    let first = fleet_digest(&store, 3).await;
    assert_eq!((first.digest.seq, first.digest.streams), (1, 23));
    // Pages of at most 4 heads per segment: more pages than 23 / 4.
    assert!(first.digest.page_hashes.len() >= 6, "{first:?}");
    let report = single_pass(&store).await;
    assert!(report.is_ok(), "{report:?}");
    let records: usize = (0..23).map(|i| 1 + i % 3).sum();
    assert_eq!(report.records(), records as u64);

    let second = fleet_digest(&store, 5).await;
    assert_eq!(second.digest.prev_digest_hash, first.digest_hash);
    for segments in [1, 2, 7] {
        let summary = fleet_verify(&store, segments).await;
        assert!(summary.is_intact(), "{summary:?}");
        assert_eq!(
            (summary.chains, summary.records),
            (23, report.records()),
            "{segments} segments"
        );
    }
    // And a digest written in one invocation verifies in segments.
    write_digest(&store, &FakeSigner, &clock()).await.unwrap();
    assert!(fleet_verify(&store, 4).await.is_intact());
}

#[tokio::test]
async fn segments_find_what_one_pass_finds() {
    let store = estate(12).await;
    fleet_digest(&store, 3).await;
    let (modified, truncated, deleted, gone) = (account(1), account(2), account(4), account(6));
    store.log().with_records_mut(|c| {
        // A record before the head removed: the chain itself is broken.
        c.get_mut(&deleted).unwrap().remove(&1);
        // The newest record removed: only the digest sees it.
        c.get_mut(&truncated).unwrap().remove(&3);
        // The head rewritten consistently (hash recomputed): only the digest sees it.
        let head = c.get_mut(&modified).unwrap().get_mut(&2).unwrap();
        head.reason = "rewritten".into();
        head.hash = head.compute_hash();
        c.remove(&gone);
    });
    let one = single_pass(&store).await;
    let summary = fleet_verify(&store, 3).await;
    let chain_faults = one.chains.iter().filter(|c| c.fault.is_some()).count() as u64;
    assert_eq!(
        summary.fault_count,
        chain_faults + one.digest_faults().len() as u64,
        "{summary:?} vs {one:?}"
    );
    assert_eq!(summary.chain_faults.len(), 1, "{summary:?}");
    assert!(
        summary.chain_faults[0].starts_with(&format!("{deleted}: ")),
        "{summary:?}"
    );
    let digest_faults = summary.digest_faults.join("\n");
    for want in [
        format!("TRUNCATED: account/{}", &truncated[8..]),
        format!("MODIFIED: account/{}", &modified[8..]),
        "TRUNCATED: 1 of the 12 chains digest 1 names are gone".to_string(),
    ] {
        assert!(digest_faults.contains(&want), "{want} in {digest_faults}");
    }
    assert!(!summary.is_intact());
}

#[tokio::test]
async fn a_digest_altered_after_the_plan_is_a_fault_in_every_segment() {
    let store = estate(5).await;
    fleet_digest(&store, 1).await;
    let (
        DigestCheck::Checked {
            digests,
            latest: Some(latest),
            ..
        },
        records,
    ) = plan_verification(&store, &FakeSigner).await.unwrap()
    else {
        panic!()
    };
    let plan = VerifyPlan::new(digests, latest, records, Some(2));
    store.with_digests_mut(|d| d.get_mut(&1).unwrap().digest.streams = 4);
    let report = verify_segment(store.log(), &store, &plan, Segment::new(0, 2).unwrap())
        .await
        .unwrap();
    assert_eq!(
        report.digest_faults,
        vec!["DIGEST: digest 1 was altered or deleted after this run verified it".to_string()]
    );
}

#[tokio::test]
async fn failed_or_missing_segments_are_never_taken_for_a_clean_run() {
    let store = estate(5).await;
    fleet_digest(&store, 1).await;
    let (
        DigestCheck::Checked {
            digests,
            latest: Some(latest),
            ..
        },
        records,
    ) = plan_verification(&store, &FakeSigner).await.unwrap()
    else {
        panic!()
    };
    let plan = VerifyPlan::new(digests, latest, records, Some(2));
    let done = verify_segment(store.log(), &store, &plan, Segment::new(0, 2).unwrap())
        .await
        .unwrap();
    let failed = FailedSegment {
        segment: Segment::new(1, 2).unwrap(),
        failed: "TransientAwsError".into(),
        cause: "throttled".into(),
    };
    let summary = summarize_verification(
        &plan,
        vec![
            SegmentOutcome::Done(done.clone()),
            SegmentOutcome::Failed(failed.clone()),
        ],
    )
    .unwrap();
    assert!(!summary.is_intact());
    assert_eq!(summary.failed, vec![failed]);
    // Chains in the failed segment are not reported as deleted.
    assert!(summary.digest_faults.is_empty(), "{summary:?}");
    let err = summarize_verification(&plan, vec![SegmentOutcome::Done(done)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "audit digest steps incomplete: segment 2 of 2 has no result"
    );
}

#[tokio::test]
async fn signing_trusts_nothing_it_is_handed() {
    let store = estate(9).await;
    let plan = plan_digest(&store, Some(2)).await.unwrap();
    assert_eq!((plan.seq, plan.segments), (1, 2));
    let mut pages = Vec::new();
    for s in Segment::all(2).unwrap() {
        pages.push(write_segment_pages(&store, s).await.unwrap());
    }
    let sign = |pages: Vec<SegmentPages>, plan: DigestPlan| {
        let store = store.clone();
        let outcomes = pages.into_iter().map(SegmentOutcome::Done).collect();
        async move { sign_digest(&store, &FakeSigner, &clock(), &plan, outcomes).await }
    };
    // A segment missing.
    let err = sign(pages[..1].to_vec(), plan.clone()).await.unwrap_err();
    assert!(matches!(err, DigestError::Incomplete { .. }), "{err}");
    // A segment that failed.
    let failed = vec![
        SegmentOutcome::Done(pages[0].clone()),
        SegmentOutcome::Failed(FailedSegment {
            segment: pages[1].segment,
            failed: "TransientAwsError".into(),
            cause: "throttled".into(),
        }),
    ];
    let err = sign_digest(&store, &FakeSigner, &clock(), &plan, failed)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "audit digest not signed: segment 2 of 2 failed: TransientAwsError: throttled (1 of 2 \
         segments failed)"
    );
    assert_eq!(err.error_type(), crate::ErrorType::AuditWriteFailed);
    // A page that was never stored.
    let mut forged = pages.clone();
    forged[1].page_hashes.push("ab".repeat(32));
    let err = sign(forged, plan.clone()).await.unwrap_err();
    assert!(
        err.to_string().contains("is not stored under its hash"),
        "{err}"
    );
    // Heads that do not add up to what the segment counted.
    let mut miscounted = pages.clone();
    miscounted[0].streams += 1;
    let err = sign(miscounted, plan.clone()).await.unwrap_err();
    assert!(err.to_string().contains("heads, not the"), "{err}");
    // A plan that does not link to the newest digest.
    let mut unlinked = plan.clone();
    unlinked.prev_digest_hash = "11".repeat(32);
    let err = sign(pages.clone(), unlinked).await.unwrap_err();
    assert!(matches!(err, DigestError::Contention { .. }), "{err}");
    assert!(
        store.with_digests_mut(|d| d.is_empty()),
        "nothing was signed"
    );

    let stored = sign(pages.clone(), plan.clone()).await.unwrap();
    assert_eq!(stored.digest.streams, 9);
    // The same plan again: the number is taken.
    let err = sign(pages, plan).await.unwrap_err();
    assert!(matches!(err, DigestError::Contention { .. }), "{err}");
}

#[tokio::test]
async fn unchanged_pages_are_not_written_again() {
    let store = estate(9).await;
    fleet_digest(&store, 2).await;
    // A page removed by hand is only found by verification, not silently rewritten, while
    // the newest digest names it.
    let first_page = store.with_pages_mut(|p| p.keys().next().cloned().unwrap());
    store.with_pages_mut(|p| p.remove(&first_page));
    for s in Segment::all(2).unwrap() {
        write_segment_pages(&store, s).await.unwrap();
    }
    assert!(store.with_pages_mut(|p| !p.contains_key(&first_page)));
}

#[tokio::test]
async fn the_plans_size_segments_by_heads_and_by_records() {
    let store = estate(12).await;
    let plan = plan_digest(&store, None).await.unwrap();
    assert_eq!(plan.segments, 1, "no digest has counted the chains yet");
    fleet_digest(&store, 2).await;
    let (check, records) = plan_verification(&store, &FakeSigner).await.unwrap();
    let want: u64 = (0..12).map(|i| 1 + i as u64 % 3).sum();
    assert_eq!(records, want, "the heads' last_seq add up to the records");
    let DigestCheck::Checked {
        digests,
        latest: Some(latest),
        ..
    } = check
    else {
        panic!()
    };
    let plan = VerifyPlan::new(digests, latest.clone(), 120_001, None);
    assert_eq!(plan.segments, 3, "50,000 records a segment");
    assert_eq!(VerifyPlan::new(digests, latest, 1, Some(7)).segments, 7);
}

/// Truncation, a deleted chain or a rewritten head, then the next digest: signed, it would
/// become what the verifier measures against and the change would never be reported. Both
/// writers refuse (AuditTamperDetected), and go on once the chains only grew.
#[tokio::test]
async fn no_digest_launders_truncation_deletion_or_a_rewrite() {
    type Tamper =
        fn(&mut std::collections::BTreeMap<String, std::collections::BTreeMap<u64, AuditRecord>>);
    let cases: [(&str, Tamper); 3] = [
        ("truncated", |c| {
            c.get_mut(&account(2)).unwrap().pop_last();
        }),
        ("gone", |c| {
            c.remove(&account(4));
        }),
        ("rewritten", |c| {
            let head = c
                .get_mut(&account(5))
                .unwrap()
                .last_entry()
                .unwrap()
                .into_mut();
            head.reason = "rewritten".into();
            head.hash = head.compute_hash();
        }),
    ];
    for (want, tamper) in cases {
        for segmented in [false, true] {
            let store = estate(9).await;
            write_digest(&store, &FakeSigner, &clock()).await.unwrap();
            store.log().with_records_mut(tamper);
            let err = if segmented {
                let plan = plan_digest(&store, Some(2)).await.unwrap();
                let mut pages = Vec::new();
                for s in Segment::all(2).unwrap() {
                    pages.push(SegmentOutcome::Done(
                        write_segment_pages(&store, s).await.unwrap(),
                    ));
                }
                sign_digest(&store, &FakeSigner, &clock(), &plan, pages)
                    .await
                    .unwrap_err()
            } else {
                write_digest(&store, &FakeSigner, &clock())
                    .await
                    .unwrap_err()
            };
            assert!(matches!(err, DigestError::Regressed(_)), "{want}: {err}");
            assert!(err.to_string().contains(want), "{err}");
            assert_eq!(err.error_type(), crate::ErrorType::AuditTamperDetected);
            assert_eq!(store.with_digests_mut(|d| d.len()), 1, "nothing signed");
        }
    }
    // Chains that only grew (and a new one) go on.
    let store = estate(9).await;
    write_digest(&store, &FakeSigner, &clock()).await.unwrap();
    let more = estate(11).await;
    for (stream, records) in more.log().with_records_mut(|c| c.clone()) {
        store.log().with_records_mut(|c| c.insert(stream, records));
    }
    fleet_digest(&store, 3).await;
    write_digest(&store, &FakeSigner, &clock()).await.unwrap();
}

/// A sign step handed empty segments (or only some chains) after a digest that named chains:
/// refused, as those chains would no longer be measured.
#[tokio::test]
async fn a_sign_step_that_drops_chains_is_refused() {
    let store = estate(9).await;
    fleet_digest(&store, 2).await;
    let plan = plan_digest(&store, Some(2)).await.unwrap();
    let empty: Vec<_> = Segment::all(2)
        .unwrap()
        .into_iter()
        .map(|segment| {
            SegmentOutcome::Done(SegmentPages {
                segment,
                streams: 0,
                page_hashes: vec![],
            })
        })
        .collect();
    let err = sign_digest(&store, &FakeSigner, &clock(), &plan, empty)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("9 chains digest 1 named are gone"),
        "{err}"
    );
    // One segment's pages twice: the same chains named twice.
    let one = write_segment_pages(&store, Segment::new(0, 2).unwrap())
        .await
        .unwrap();
    let mut twice = one.clone();
    twice.segment = Segment::new(1, 2).unwrap();
    let err = sign_digest(
        &store,
        &FakeSigner,
        &clock(),
        &plan,
        vec![SegmentOutcome::Done(one), SegmentOutcome::Done(twice)],
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("is named twice"), "{err}");
    assert_eq!(store.with_digests_mut(|d| d.len()), 1);
}

/// A log whose Scan segments split one chain: records 1–2 in segment 0, the rest in segment 1
/// (DynamoDB keeps a partition key in one segment; the verifier must not depend on it).
struct SplitLog {
    inner: MemoryAuditLog,
    split: String,
}

impl AuditLog for SplitLog {
    async fn append(&self, entry: &AuditEntry) -> Result<AuditRecord, crate::audit::AuditError> {
        self.inner.append(entry).await
    }
    async fn read_stream(
        &self,
        stream: &str,
    ) -> Result<Vec<crate::audit::StoredItem>, crate::audit::AuditError> {
        self.inner.read_stream(stream).await
    }
    async fn streams(&self) -> Result<Vec<String>, crate::audit::AuditError> {
        self.inner.streams().await
    }
    async fn read_segment(
        &self,
        segment: Segment,
    ) -> Result<
        std::collections::BTreeMap<String, Vec<crate::audit::StoredItem>>,
        crate::audit::AuditError,
    > {
        let mut chains = self.inner.read_segment(segment).await?;
        chains.remove(&self.split);
        let whole = self.inner.read_stream(&self.split).await?;
        let part = match segment.index() {
            0 => whole[..2].to_vec(),
            1 => whole[2..].to_vec(),
            _ => vec![],
        };
        if !part.is_empty() {
            chains.insert(self.split.clone(), part);
        }
        Ok(chains)
    }
}

#[tokio::test]
async fn a_chain_split_across_segments_is_verified_whole_and_counted_once() {
    let store = estate(12).await;
    fleet_digest(&store, 2).await;
    // account(2) has 3 records: 1–2 in segment 0, 3 in segment 1.
    let log = SplitLog {
        inner: store.log().clone(),
        split: account(2),
    };
    let (check, records) = plan_verification(&store, &FakeSigner).await.unwrap();
    let DigestCheck::Checked {
        digests,
        latest: Some(latest),
        ..
    } = check
    else {
        panic!()
    };
    let plan = VerifyPlan::new(digests, latest, records, Some(3));
    let mut outcomes = Vec::new();
    for s in Segment::all(3).unwrap() {
        outcomes.push(SegmentOutcome::Done(
            verify_segment(&log, &store, &plan, s).await.unwrap(),
        ));
    }
    let summary = summarize_verification(&plan, outcomes).unwrap();
    assert!(summary.is_intact(), "{summary:?}");
    assert_eq!((summary.chains, summary.records), (12, records));
}
