//! Verifying across a Distributed Map: [`plan_verification`] checks every signed digest and the
//! newest valid digest's pages once; one [`verify_segment`] per parallel-Scan segment verifies
//! that segment's chains and measures each against its head in the digest;
//! [`summarize_verification`] adds the segments up and finds chains the digest names that no
//! segment holds (deleted outright).
//!
//! Together they check exactly what [`super::verify_with_digests`] checks in one invocation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::sign::DigestSigner;
use super::store::{is_reserved, DigestStore};
use super::verify::{check_digests, check_head, load_heads, DigestCheck, LatestDigest};
use super::DigestError;
use crate::audit::segment::{
    self, segments_for, FailedSegment, Segment, SegmentOutcome, RECORDS_PER_VERIFY_SEGMENT,
};
use crate::audit::{verify_chain, AuditLog, StoredItem};

/// Faults a segment or a summary lists in full (the counts cover the rest).
pub const LISTED_FAULTS: usize = 10;

/// What the children measure against: the newest valid digest, and how the table is split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyPlan {
    /// Signed digests verified.
    pub digests: u64,
    pub latest: LatestDigest,
    pub segments: u32,
}

impl VerifyPlan {
    /// `segments` if given, else one per [`RECORDS_PER_VERIFY_SEGMENT`] of the `records` the
    /// digest's heads count.
    pub fn new(digests: u64, latest: LatestDigest, records: u64, segments: Option<u32>) -> Self {
        let segments =
            segments.unwrap_or_else(|| segments_for(records, RECORDS_PER_VERIFY_SEGMENT));
        Self {
            digests,
            latest,
            segments,
        }
    }
}

/// One segment's verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentReport {
    pub segment: Segment,
    pub chains: u64,
    pub records: u64,
    /// Chains of this segment the digest names (each measured against its head).
    pub heads_found: u64,
    /// The first [`LISTED_FAULTS`] chain faults, as `<stream>: <fault>`.
    pub chain_faults: Vec<String>,
    /// The first [`LISTED_FAULTS`] digest faults, as `<LABEL>: <fault>`.
    pub digest_faults: Vec<String>,
    /// Every fault, listed or not.
    pub fault_count: u64,
}

/// Every segment added up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationSummary {
    pub segments: u32,
    pub chains: u64,
    pub records: u64,
    pub chain_faults: Vec<String>,
    pub digest_faults: Vec<String>,
    pub fault_count: u64,
    /// Segments whose step failed after every retry: their chains were not verified.
    pub failed: Vec<FailedSegment>,
}

impl VerificationSummary {
    pub fn is_intact(&self) -> bool {
        self.fault_count == 0 && self.failed.is_empty()
    }
}

fn push_listed(list: &mut Vec<String>, fault: String) {
    if list.len() < LISTED_FAULTS {
        list.push(fault);
    }
}

/// Checks every stored digest (KMS `Verify`, hashes, links, gaps) and the newest valid digest's
/// pages: [`DigestCheck::Checked`] with the faults and the newest valid digest, or
/// [`DigestCheck::NoDigests`]; and the records its heads count (the sum of their `last_seq`),
/// which sizes the segments.
pub async fn plan_verification<S: DigestStore, V: DigestSigner>(
    store: &S,
    signer: &V,
) -> Result<(DigestCheck, u64), DigestError> {
    let items = Box::pin(store.digests()).await?;
    if items.is_empty() {
        return Ok((DigestCheck::NoDigests, 0));
    }
    let (mut faults, latest) = Box::pin(check_digests(&items, signer)).await?;
    let mut records = 0u64;
    let summary = match &latest {
        Some(d) => {
            let (heads, page_faults) = Box::pin(load_heads(store, d)).await?;
            faults.extend(page_faults);
            records = heads.values().map(|h| h.last_seq).sum();
            Some(LatestDigest {
                seq: d.digest.seq,
                timestamp: d.digest.timestamp.clone(),
                digest_hash: d.digest_hash.clone(),
                streams: d.digest.streams,
                pages: d.digest.page_hashes.len(),
            })
        }
        None => None,
    };
    Ok((
        DigestCheck::Checked {
            digests: items.len() as u64,
            latest: summary,
            faults,
        },
        records,
    ))
}

/// Verifies every chain in `segment`, and measures each the plan's digest names against its
/// head there. The digest is read again and must still hash to the plan's `digest_hash`.
pub async fn verify_segment<L: AuditLog, S: DigestStore>(
    log: &L,
    store: &S,
    plan: &VerifyPlan,
    segment: Segment,
) -> Result<SegmentReport, DigestError> {
    let mut report = SegmentReport {
        segment,
        chains: 0,
        records: 0,
        heads_found: 0,
        chain_faults: Vec::new(),
        digest_faults: Vec::new(),
        fault_count: 0,
    };
    let seq = plan.latest.seq;
    let heads = match Box::pin(store.digest_at(seq)).await? {
        Some(Ok(d))
            if d.digest_hash == plan.latest.digest_hash
                && d.digest.compute_hash() == plan.latest.digest_hash =>
        {
            let (heads, page_faults) = Box::pin(load_heads(store, &d)).await?;
            for f in page_faults {
                report.fault_count += 1;
                push_listed(&mut report.digest_faults, format!("{}: {f}", f.label()));
            }
            heads
        }
        _ => {
            report.fault_count += 1;
            push_listed(
                &mut report.digest_faults,
                format!("DIGEST: digest {seq} was altered or deleted after this run verified it"),
            );
            BTreeMap::new()
        }
    };
    let chains = Box::pin(log.read_segment(segment)).await?;
    for (key, scanned) in chains {
        if is_reserved(&key) || scanned.is_empty() {
            continue;
        }
        let head = heads.get(&key);
        // DynamoDB keeps all items of one partition key (one chain) in one Scan segment, but no
        // report depends on it: a chain that looks wrong in the Scan is read again whole, by its
        // own consistent Query, and judged on that; it is counted (and its faults reported) by
        // the segment holding its first record, so a chain split across segments would still be
        // counted once.
        let suspect = verify_chain(&key, &scanned).fault.is_some()
            || head.is_some_and(|h| check_head(h, seq, &scanned).is_some());
        let (items, owns) = if suspect {
            let whole = Box::pin(log.read_stream(&key)).await?;
            let first = |items: &[StoredItem]| items.iter().map(seq_of).min();
            let owns = first(&scanned) == first(&whole);
            (whole, owns)
        } else {
            // A chain that verifies from record 1 to its head is whole here.
            (scanned, true)
        };
        let chain = verify_chain(&key, &items);
        let head_fault = head.and_then(|h| check_head(h, seq, &items));
        if !owns {
            continue;
        }
        report.chains += 1;
        report.records += chain.records;
        report.heads_found += u64::from(head.is_some());
        if let Some(fault) = &chain.fault {
            report.fault_count += 1;
            push_listed(&mut report.chain_faults, format!("{key}: {fault}"));
        }
        if let Some(f) = head_fault {
            report.fault_count += 1;
            push_listed(&mut report.digest_faults, format!("{}: {f}", f.label()));
        }
    }
    Ok(report)
}

fn seq_of(item: &StoredItem) -> u64 {
    match item {
        Ok(r) => r.seq,
        Err(m) => m.seq,
    }
}

/// Adds every segment up: chains, records and faults, the segments that failed, and the chains
/// the digest names that no segment holds (deleted outright: truncated to nothing).
pub fn summarize_verification(
    plan: &VerifyPlan,
    outcomes: Vec<SegmentOutcome<SegmentReport>>,
) -> Result<VerificationSummary, DigestError> {
    let (reports, failed) = segment::settle(plan.segments, outcomes, |r| r.segment)
        .map_err(|reason| DigestError::Incomplete { reason })?;
    let mut summary = VerificationSummary {
        segments: plan.segments,
        chains: 0,
        records: 0,
        chain_faults: Vec::new(),
        digest_faults: Vec::new(),
        fault_count: 0,
        failed,
    };
    let mut heads_found = 0u64;
    for r in reports {
        summary.chains += r.chains;
        summary.records += r.records;
        summary.fault_count += r.fault_count;
        heads_found += r.heads_found;
        for f in r.chain_faults {
            push_listed(&mut summary.chain_faults, f);
        }
        for f in r.digest_faults {
            push_listed(&mut summary.digest_faults, f);
        }
    }
    // Only when every segment reported can a shortfall mean deleted chains.
    let gone = plan.latest.streams.saturating_sub(heads_found);
    if summary.failed.is_empty() && gone > 0 {
        summary.fault_count += gone;
        summary.digest_faults.insert(
            0,
            format!(
                "TRUNCATED: {gone} of the {} chains digest {} names are gone from the table (no \
                 segment holds a record of them); `rootwarden audit verify` names each",
                plan.latest.streams, plan.latest.seq
            ),
        );
        summary.digest_faults.truncate(LISTED_FAULTS);
    }
    Ok(summary)
}
