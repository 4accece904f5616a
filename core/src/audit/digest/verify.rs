//! Verifying: every signed digest (KMS `Verify`, stored hash, links, gaps), the newest valid
//! digest's pages (each rehashed against the hash the digest signed), and every chain against the
//! head that digest recorded for it.

use std::collections::BTreeMap;
use std::fmt;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use super::canonical::ChainHead;
use super::sign::DigestSigner;
use super::store::{is_reserved, DigestItem, DigestStore, StoredDigest};
use super::DigestError;
use crate::audit::{
    verify_chain, AuditLog, ChainReport, StoredItem, Stream, VerifyReport, GENESIS_HASH,
};

/// KMS `Verify` calls in flight at once.
const CONCURRENCY: usize = 16;

/// Something wrong with the digests, or with a chain measured against the newest digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DigestFault {
    /// A digest item cannot be read.
    Malformed { seq: u64, reason: String },
    /// A digest sequence number is absent (deleted).
    Missing { seq: u64 },
    /// KMS says the signature does not match the digest's content (altered, or not signed by the
    /// digest key).
    SignatureInvalid { seq: u64, key_id: String },
    /// The stored digest hash does not match the content (the signature does).
    HashMismatch { seq: u64 },
    /// The digest's `prev_digest_hash` is not the previous digest's hash.
    Unlinked { seq: u64, prev: u64 },
    /// The chain ends before the newest digest's head (0: the stream is gone).
    Truncated {
        stream: String,
        digest_seq: u64,
        last_seq: u64,
        chain_ends: u64,
    },
    /// The record the newest digest names is gone while later ones remain.
    HeadDeleted {
        stream: String,
        digest_seq: u64,
        seq: u64,
    },
    /// The record the newest digest names hashes differently now.
    HeadModified {
        stream: String,
        digest_seq: u64,
        seq: u64,
    },
    /// A page the newest valid digest names is gone: its chains cannot be measured.
    PageMissing { seq: u64, page: usize },
    /// A page the newest valid digest names no longer hashes to the hash the digest signed, or
    /// cannot be read: its chains cannot be measured.
    PageAltered {
        seq: u64,
        page: usize,
        reason: String,
    },
}

impl DigestFault {
    /// Short label for reports: `truncated`, `modified`, `deleted` or `digest`.
    pub fn label(&self) -> &'static str {
        match self {
            DigestFault::Truncated { .. } => "TRUNCATED",
            DigestFault::HeadModified { .. } => "MODIFIED",
            DigestFault::HeadDeleted { .. } => "DELETED",
            _ => "DIGEST",
        }
    }

    /// The record stream the fault is about, for chain faults.
    pub fn stream(&self) -> Option<&str> {
        match self {
            DigestFault::Truncated { stream, .. }
            | DigestFault::HeadDeleted { stream, .. }
            | DigestFault::HeadModified { stream, .. } => Some(stream),
            _ => None,
        }
    }
}

impl fmt::Display for DigestFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DigestFault::Malformed { seq, reason } => {
                write!(f, "digest {seq} is unreadable: {reason}")
            }
            DigestFault::Missing { seq } => write!(f, "digest {seq} is missing (deleted)"),
            DigestFault::SignatureInvalid { seq, key_id } => write!(
                f,
                "digest {seq}: signature invalid: the digest was altered or not signed by the \
                 digest key (stored key id {key_id})"
            ),
            DigestFault::HashMismatch { seq } => write!(
                f,
                "digest {seq}: stored digest hash does not match its content (altered)"
            ),
            DigestFault::Unlinked { seq, prev } => write!(
                f,
                "digest {seq} does not link to digest {prev}: the digest chain is broken \
                 (a digest was replaced or forged)"
            ),
            DigestFault::Truncated {
                stream,
                digest_seq,
                last_seq,
                chain_ends: 0,
            } => write!(
                f,
                "{stream}: truncated: records deleted after the last digest (digest \
                 {digest_seq} recorded record {last_seq}; the stream is now missing)"
            ),
            DigestFault::Truncated {
                stream,
                digest_seq,
                last_seq,
                chain_ends,
            } => write!(
                f,
                "{stream}: truncated: records deleted after the last digest (digest \
                 {digest_seq} recorded record {last_seq}; the chain now ends at record \
                 {chain_ends})"
            ),
            DigestFault::HeadDeleted {
                stream,
                digest_seq,
                seq,
            } => write!(
                f,
                "{stream}: record {seq} recorded by digest {digest_seq} is missing (deleted \
                 after the digest)"
            ),
            DigestFault::HeadModified {
                stream,
                digest_seq,
                seq,
            } => write!(
                f,
                "{stream}: modified: record {seq} no longer has the hash digest {digest_seq} \
                 recorded (modified or rewritten after the digest)"
            ),
            DigestFault::PageMissing { seq, page } => write!(
                f,
                "digest {seq}: page {page} is missing (deleted): the chains it covers cannot be \
                 checked"
            ),
            DigestFault::PageAltered { seq, page, reason } => write!(
                f,
                "digest {seq}: page {page} was altered ({reason}): the chains it covers cannot \
                 be checked"
            ),
        }
    }
}

/// The newest digest whose signature and hash hold: chains are measured against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatestDigest {
    pub seq: u64,
    pub timestamp: String,
    pub digest_hash: String,
    pub streams: u64,
    pub pages: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DigestCheck {
    /// No digest key configured: digests were not checked (`digests` exist).
    NotConfigured { digests: u64 },
    /// No digest written yet: chains verified only.
    NoDigests,
    Checked {
        digests: u64,
        latest: Option<LatestDigest>,
        faults: Vec<DigestFault>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FullReport {
    pub chains: Vec<ChainReport>,
    pub digests: DigestCheck,
}

impl FullReport {
    pub fn chain_report(&self) -> VerifyReport {
        VerifyReport {
            chains: self.chains.clone(),
        }
    }
    pub fn digest_faults(&self) -> &[DigestFault] {
        match &self.digests {
            DigestCheck::Checked { faults, .. } => faults,
            _ => &[],
        }
    }
    pub fn is_ok(&self) -> bool {
        self.chains.iter().all(|c| c.fault.is_none()) && self.digest_faults().is_empty()
    }
    pub fn records(&self) -> u64 {
        self.chains.iter().map(|c| c.records).sum()
    }
}

/// Checks every stored digest: readable, no gaps, signature (KMS `Verify` over the recomputed
/// hash), stored hash, link to the previous digest. Returns the faults and the newest digest
/// that holds.
pub async fn check_digests<V: DigestSigner>(
    items: &[DigestItem],
    signer: &V,
) -> Result<(Vec<DigestFault>, Option<StoredDigest>), DigestError> {
    let valid: Vec<bool> = stream::iter(items.iter())
        .map(|item| async move {
            match item {
                Ok(d) => signer.verify(&d.digest.hash_bytes(), &d.signature).await,
                Err(_) => Ok(false),
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut faults = Vec::new();
    let mut latest = None;
    // (seq, recomputed hash) of the previous readable digest.
    let mut prev: Option<(u64, String)> = None;
    let mut expected = 1u64;
    for (item, signature_ok) in items.iter().zip(valid) {
        let d = match item {
            Ok(d) => d,
            Err(m) => {
                faults.push(DigestFault::Malformed {
                    seq: m.seq,
                    reason: m.reason.clone(),
                });
                expected = expected.max(m.seq + 1);
                prev = None;
                continue;
            }
        };
        let seq = d.digest.seq;
        if seq > expected {
            faults.extend((expected..seq).map(|seq| DigestFault::Missing { seq }));
        }
        expected = seq + 1;
        let hash = d.digest.compute_hash();
        let mut ok = true;
        if !signature_ok {
            ok = false;
            faults.push(DigestFault::SignatureInvalid {
                seq,
                key_id: d.key_id.clone(),
            });
        } else if hash != d.digest_hash {
            ok = false;
            faults.push(DigestFault::HashMismatch { seq });
        }
        let want_prev = match &prev {
            Some((p, h)) if *p + 1 == seq => Some(h.as_str()),
            None if seq == 1 => Some(GENESIS_HASH),
            // The previous digest is missing or unreadable: already reported.
            _ => None,
        };
        if want_prev.is_some_and(|w| w != d.digest.prev_digest_hash) {
            faults.push(DigestFault::Unlinked { seq, prev: seq - 1 });
        }
        if ok {
            latest = Some(d.clone());
        }
        prev = Some((seq, hash));
    }
    Ok((faults, latest))
}

/// Measures one chain's stored items against the head a digest recorded for it.
pub fn check_head(head: &ChainHead, digest_seq: u64, items: &[StoredItem]) -> Option<DigestFault> {
    let seq_of = |i: &StoredItem| match i {
        Ok(r) => r.seq,
        Err(m) => m.seq,
    };
    let chain_ends = items.iter().map(seq_of).max().unwrap_or(0);
    if chain_ends < head.last_seq {
        return Some(DigestFault::Truncated {
            stream: head.stream.clone(),
            digest_seq,
            last_seq: head.last_seq,
            chain_ends,
        });
    }
    let modified = || DigestFault::HeadModified {
        stream: head.stream.clone(),
        digest_seq,
        seq: head.last_seq,
    };
    match items.iter().find(|i| seq_of(i) == head.last_seq) {
        None => Some(DigestFault::HeadDeleted {
            stream: head.stream.clone(),
            digest_seq,
            seq: head.last_seq,
        }),
        Some(Err(_)) => Some(modified()),
        Some(Ok(r)) if r.hash != head.last_hash || r.compute_hash() != head.last_hash => {
            Some(modified())
        }
        Some(Ok(_)) => None,
    }
}

/// Reads the pages `digest` names and checks each against the hash it signed: the heads of the
/// intact pages, by stream, and a fault for each page that is missing or altered.
pub async fn load_heads<S: DigestStore>(
    store: &S,
    digest: &StoredDigest,
) -> Result<(BTreeMap<String, ChainHead>, Vec<DigestFault>), DigestError> {
    let hashes = &digest.digest.page_hashes;
    let pages = Box::pin(store.pages(hashes)).await?;
    let seq = digest.digest.seq;
    let mut heads = BTreeMap::new();
    let mut faults = Vec::new();
    for (page, (item, hash)) in pages.into_iter().zip(hashes).enumerate() {
        let page = page + 1;
        match item {
            None => faults.push(DigestFault::PageMissing { seq, page }),
            Some(Err(reason)) => faults.push(DigestFault::PageAltered { seq, page, reason }),
            Some(Ok(p)) if p.compute_hash() != *hash => faults.push(DigestFault::PageAltered {
                seq,
                page,
                reason: "its heads no longer match the hash the digest signed".into(),
            }),
            Some(Ok(p)) => heads.extend(p.heads.into_iter().map(|h| (h.stream.clone(), h))),
        }
    }
    Ok((heads, faults))
}

/// Verifies the record chains (as [`super::verify`]) and, with a signer, the digest chain, the
/// newest valid digest's pages and every chain against that digest. Without a signer, digests are
/// counted but not checked ([`DigestCheck::NotConfigured`]).
pub async fn verify_with_digests<L: AuditLog, S: DigestStore, V: DigestSigner>(
    log: &L,
    store: &S,
    signer: Option<&V>,
    only: Option<&Stream>,
) -> Result<FullReport, DigestError> {
    let items = Box::pin(store.digests()).await?;
    let (digests, latest) = match signer {
        _ if items.is_empty() => (DigestCheck::NoDigests, None),
        None => (
            DigestCheck::NotConfigured {
                digests: items.len() as u64,
            },
            None,
        ),
        Some(signer) => {
            let (faults, latest) = Box::pin(check_digests(&items, signer)).await?;
            let summary = latest.as_ref().map(|d| LatestDigest {
                seq: d.digest.seq,
                timestamp: d.digest.timestamp.clone(),
                digest_hash: d.digest_hash.clone(),
                streams: d.digest.streams,
                pages: d.digest.page_hashes.len(),
            });
            (
                DigestCheck::Checked {
                    digests: items.len() as u64,
                    latest: summary,
                    faults,
                },
                latest,
            )
        }
    };
    let mut head_faults = Vec::new();
    let heads = match &latest {
        Some(d) => {
            let (heads, page_faults) = Box::pin(load_heads(store, d)).await?;
            head_faults.extend(page_faults);
            heads
        }
        None => BTreeMap::new(),
    };
    // Every chain: one chain by Query, or the whole estate in one bulk read (a Scan for
    // DynamoDB) instead of a Query per chain.
    let stored_chains = match only {
        Some(s) => {
            let key = s.key();
            let stored = Box::pin(log.read_stream(&key)).await?;
            BTreeMap::from([(key, stored)])
        }
        None => {
            let mut all = Box::pin(log.read_all()).await?;
            all.retain(|k, _| !is_reserved(k));
            // A stream the digest knows but the table no longer holds was deleted outright.
            for key in heads.keys() {
                all.entry(key.clone()).or_default();
            }
            all
        }
    };
    let digest_seq = latest.as_ref().map(|d| d.digest.seq).unwrap_or(0);
    let mut chains = Vec::with_capacity(stored_chains.len());
    for (key, stored) in stored_chains {
        if !stored.is_empty() || only.is_some() {
            chains.push(verify_chain(&key, &stored));
        }
        if let Some(head) = heads.get(&key) {
            head_faults.extend(check_head(head, digest_seq, &stored));
        }
    }
    let digests = match digests {
        DigestCheck::Checked {
            digests,
            latest,
            mut faults,
        } => {
            faults.extend(head_faults);
            DigestCheck::Checked {
                digests,
                latest,
                faults,
            }
        }
        other => other,
    };
    Ok(FullReport { chains, digests })
}

/// How old the newest valid digest is at `now`, in whole seconds; `None` if its timestamp does
/// not read (a signed digest always has one the writer produced).
pub fn digest_age_seconds(
    latest: &LatestDigest,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(&latest.timestamp)
        .ok()
        .map(|t| (now - t.to_utc()).num_seconds())
}
