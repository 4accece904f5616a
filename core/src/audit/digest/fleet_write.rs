//! Writing the next digest across a Distributed Map: [`plan_digest`] fixes the digest number and
//! its link, one [`write_segment_pages`] per parallel-Scan segment stores that segment's pages,
//! and [`sign_digest`] signs the digest naming every segment's pages in segment order.
//!
//! The result is the same format [`super::write_digest`] produces in one invocation (version 2:
//! pages of at most [`super::PAGE_SIZE`] heads, sorted by stream within a page); only the order
//! of pages differs (by segment, then stream), which verification does not depend on.
//!
//! The signing step trusts nothing it is handed: it re-reads the newest digest (the plan must
//! still be the next link) and every page it is asked to name (each must be stored under its
//! hash, and the heads must add up), so a digest never names a page that was not written.

use serde::{Deserialize, Serialize};

use super::canonical::{paginate_by, Digest, DigestPage};
use super::sign::DigestSigner;
use super::store::{DigestStore, StoredDigest};
use super::succession::Predecessor;
use super::write::{newest, put_new_pages, sign_and_store};
use super::DigestError;
use crate::audit::segment::{
    self, segments_for, Segment, SegmentOutcome, HEADS_PER_DIGEST_SEGMENT, MAX_DIGEST_SEGMENTS,
};
use crate::audit::GENESIS_HASH;
use crate::Clock;

/// Pages the sign step reads per call.
const PAGE_BATCH: usize = 100;

/// The digest a run writes: its number, the hash it links to, and how the table is split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestPlan {
    pub seq: u64,
    pub prev_digest_hash: String,
    pub segments: u32,
}

/// What one segment stored: its heads' pages, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentPages {
    pub segment: Segment,
    pub streams: u64,
    pub page_hashes: Vec<String>,
}

/// The next digest's number and link, and the segments to read: `segments` if given, else one
/// per [`HEADS_PER_DIGEST_SEGMENT`] chains the newest digest counted. Refuses to link to a
/// newest digest that is unreadable or no longer matches its hash.
pub async fn plan_digest<S: DigestStore>(
    store: &S,
    segments: Option<u32>,
) -> Result<DigestPlan, DigestError> {
    let (seq, prev_digest_hash, streams) = match newest(store).await? {
        None => (1, GENESIS_HASH.to_owned(), 0),
        Some(d) => (d.digest.seq + 1, d.digest_hash, d.digest.streams),
    };
    let segments = match segments {
        Some(n) if n > MAX_DIGEST_SEGMENTS => {
            return Err(DigestError::Incomplete {
                reason: format!("at most {MAX_DIGEST_SEGMENTS} segments, not {n}"),
            })
        }
        Some(n) => n,
        None => segments_for(streams, HEADS_PER_DIGEST_SEGMENT).min(MAX_DIGEST_SEGMENTS),
    };
    Ok(DigestPlan {
        seq,
        prev_digest_hash,
        segments,
    })
}

/// Stores the pages of the chain heads in `segment` (pages the newest digest already names are
/// not written again) and returns their hashes.
pub async fn write_segment_pages<S: DigestStore>(
    store: &S,
    segment: Segment,
) -> Result<SegmentPages, DigestError> {
    let known = match newest(store).await {
        Ok(Some(d)) => d.digest.page_hashes,
        // Only an optimisation: without it every page is written (conditionally) again.
        _ => Vec::new(),
    };
    let heads = Box::pin(store.segment_heads(segment)).await?;
    let pages = paginate_by(heads, store.page_size());
    let page_hashes: Vec<String> = pages.iter().map(DigestPage::compute_hash).collect();
    put_new_pages(store, &pages, &page_hashes, &known).await?;
    Ok(SegmentPages {
        segment,
        streams: pages.iter().map(|p| p.heads.len() as u64).sum(),
        page_hashes,
    })
}

/// Signs and stores digest `plan.seq` over every segment's pages, in segment order. Fails closed
/// (no digest) unless `outcomes` holds every segment of the plan exactly once and none failed,
/// each page is stored
/// under its hash with the heads the segment counted, and the newest digest is still the one the
/// plan links to (another writer took the number: `Contention`).
pub async fn sign_digest<S: DigestStore, V: DigestSigner>(
    store: &S,
    signer: &V,
    clock: &dyn Clock,
    plan: &DigestPlan,
    outcomes: Vec<SegmentOutcome<SegmentPages>>,
) -> Result<StoredDigest, DigestError> {
    let (pages, failed) = segment::settle(plan.segments, outcomes, |p| p.segment)
        .map_err(|reason| DigestError::Incomplete { reason })?;
    if let Some(first) = failed.first() {
        return Err(DigestError::Refused(format!(
            "{first} ({} of {} segments failed)",
            failed.len(),
            plan.segments
        )));
    }
    let mut predecessor = match newest(store).await? {
        None if plan.seq == 1 && plan.prev_digest_hash == GENESIS_HASH => Predecessor::genesis(),
        Some(d) if d.digest.seq + 1 == plan.seq && d.digest_hash == plan.prev_digest_hash => {
            Box::pin(Predecessor::load(store, &d)).await?
        }
        // Another writer took the number since the plan.
        _ => return Err(DigestError::Contention { attempts: 1 }),
    };
    // Every page, a batch at a time: stored under its hash, its heads counted and each going
    // on from the previous digest's.
    let named: Vec<(usize, &String)> = pages
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.page_hashes.iter().map(move |h| (i, h)))
        .collect();
    let mut counted = vec![0u64; pages.len()];
    for batch in named.chunks(PAGE_BATCH) {
        let hashes: Vec<String> = batch.iter().map(|(_, h)| (*h).clone()).collect();
        let stored = Box::pin(store.pages(&hashes)).await?;
        for ((i, hash), page) in batch.iter().zip(stored) {
            match page {
                Some(Ok(p)) if p.compute_hash() == **hash => {
                    counted[*i] += p.heads.len() as u64;
                    for head in &p.heads {
                        predecessor.follow(head)?;
                    }
                }
                _ => {
                    return Err(DigestError::Refused(format!(
                        "{}: page {hash} is not stored under its hash",
                        pages[*i].segment
                    )))
                }
            }
        }
    }
    predecessor.finish()?;
    for (segment, counted) in pages.iter().zip(&counted) {
        if *counted != segment.streams {
            return Err(DigestError::Refused(format!(
                "{}: its pages hold {counted} heads, not the {} it counted",
                segment.segment, segment.streams
            )));
        }
    }
    let streams = counted.iter().sum();
    let hashes: Vec<String> = named.iter().map(|(_, h)| (*h).clone()).collect();
    let digest = Digest {
        seq: plan.seq,
        timestamp: clock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        prev_digest_hash: plan.prev_digest_hash.clone(),
        streams,
        page_hashes: hashes,
    };
    sign_and_store(store, signer, digest)
        .await?
        .ok_or(DigestError::Contention { attempts: 1 })
}
