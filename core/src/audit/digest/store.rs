//! Where digests and their pages live, and where chain heads are read from: the port, its
//! DynamoDB adapter (the audit table, beside the chains) and an in-memory adapter for tests.
//!
//! Layout in the audit table:
//! - the signed digest `n`: `stream`="digest", `seq`=n, `v`, `ts`, `prev_digest_hash`,
//!   `streams` (N), `page_hashes` (canonical JSON array of hex hashes), `digest_hash`,
//!   `signature` (B, DER), `key_id`, `signing_algorithm`;
//! - each page, content-addressed: `stream`="digest-page/<page hash>", `seq`=1, `v`, `heads`
//!   (canonical JSON array of `{last_hash,last_seq,stream}`), `streams` (N, informational).
//!
//! Every item is written with `attribute_not_exists`: a digest number is taken once; a page
//! that already exists under its hash is the same page (or an altered one, which verification
//! finds by rehashing).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use super::canonical::{ChainHead, Digest, DigestPage, PAGE_SIZE};
use super::DigestError;
use crate::audit::{AuditError, AuditLog, MemoryAuditLog, Segment};

/// The reserved stream key signed digests are stored under (never a record chain).
pub const DIGEST_STREAM: &str = "digest";
/// The reserved prefix of page keys (`digest-page/<hash>`; never a record chain).
pub const PAGE_STREAM_PREFIX: &str = "digest-page/";

/// Whether a partition key belongs to the digests rather than to a record chain.
pub fn is_reserved(stream: &str) -> bool {
    stream == DIGEST_STREAM || stream.starts_with(PAGE_STREAM_PREFIX)
}

/// A digest as stored: the signed content plus its hash and signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDigest {
    pub digest: Digest,
    /// Hex SHA-256 of the canonical bytes, as written.
    pub digest_hash: String,
    /// DER-encoded ECDSA signature over the hash.
    pub signature: Vec<u8>,
    /// The key that signed, as KMS reported it (informational: verification always uses the
    /// configured key).
    pub key_id: String,
    pub signing_algorithm: String,
}

/// A stored digest item that could not be read (missing or mistyped attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedDigest {
    pub seq: u64,
    pub reason: String,
}

pub type DigestItem = Result<StoredDigest, MalformedDigest>;

/// A page as read: `None` when no item has its key, `Err` when the item cannot be read.
pub type PageItem = Option<Result<DigestPage, String>>;

/// Where digests live, and where chain heads are read from.
pub trait DigestStore: Send + Sync {
    /// How many heads the writer puts in one page.
    fn page_size(&self) -> usize {
        PAGE_SIZE
    }
    /// The newest record of every record chain, sorted by stream.
    fn heads(&self) -> impl Future<Output = Result<Vec<ChainHead>, AuditError>> + Send;
    /// Every stored signed digest (without pages), ascending by `seq`.
    fn digests(&self) -> impl Future<Output = Result<Vec<DigestItem>, AuditError>> + Send;
    /// The stored digest with the highest `seq`.
    fn latest_digest(&self) -> impl Future<Output = Result<Option<DigestItem>, AuditError>> + Send;
    /// The stored digest `seq`, if any. The default reads every digest; DynamoDB's adapter reads
    /// the one item.
    fn digest_at(
        &self,
        seq: u64,
    ) -> impl Future<Output = Result<Option<DigestItem>, AuditError>> + Send {
        async move {
            Ok(self.digests().await?.into_iter().find(|d| match d {
                Ok(d) => d.digest.seq == seq,
                Err(m) => m.seq == seq,
            }))
        }
    }
    /// The newest record of every record chain in one parallel-Scan segment, sorted by stream
    /// (see [`crate::audit::segment`]). The default keeps the heads
    /// [`Segment::holds_in_memory`] gives this segment; DynamoDB's adapter scans the segment.
    fn segment_heads(
        &self,
        segment: Segment,
    ) -> impl Future<Output = Result<Vec<ChainHead>, AuditError>> + Send {
        async move {
            let mut heads = self.heads().await?;
            heads.retain(|h| segment.holds_in_memory(&h.stream));
            Ok(heads)
        }
    }
    /// The pages stored under these hashes, in the same order.
    fn pages(
        &self,
        hashes: &[String],
    ) -> impl Future<Output = Result<Vec<PageItem>, AuditError>> + Send;
    /// Stores a page under its hash unless one is there already.
    fn put_page(&self, page: &DigestPage) -> impl Future<Output = Result<(), DigestError>> + Send;
    /// Writes digest `seq` only if no digest `seq` exists: `Ok(false)` if one does.
    fn put_digest(
        &self,
        digest: &StoredDigest,
    ) -> impl Future<Output = Result<bool, DigestError>> + Send;
}

// ------------------------------------------------------------------------------- item mapping

/// In-memory digests and pages over a [`MemoryAuditLog`], for unit tests.
#[derive(Clone)]
pub struct MemoryDigestStore {
    log: MemoryAuditLog,
    digests: Arc<Mutex<BTreeMap<u64, StoredDigest>>>,
    pages: Arc<Mutex<BTreeMap<String, DigestPage>>>,
    page_size: usize,
}

impl MemoryDigestStore {
    pub fn new(log: MemoryAuditLog) -> Self {
        Self {
            log,
            digests: Arc::default(),
            pages: Arc::default(),
            page_size: PAGE_SIZE,
        }
    }

    /// Pages of at most `page_size` heads (1 to [`PAGE_SIZE`]), as `DynamoDigestStore`'s.
    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.clamp(1, PAGE_SIZE);
        self
    }

    pub fn log(&self) -> &MemoryAuditLog {
        &self.log
    }

    /// Direct access to stored digests, for tamper tests.
    pub fn with_digests_mut<R>(&self, f: impl FnOnce(&mut BTreeMap<u64, StoredDigest>) -> R) -> R {
        let mut guard = self.digests.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Direct access to stored pages (by hash), for tamper tests.
    pub fn with_pages_mut<R>(&self, f: impl FnOnce(&mut BTreeMap<String, DigestPage>) -> R) -> R {
        let mut guard = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

impl DigestStore for MemoryDigestStore {
    fn page_size(&self) -> usize {
        self.page_size
    }

    async fn heads(&self) -> Result<Vec<ChainHead>, AuditError> {
        let mut heads = Vec::new();
        for stream in self.log.streams().await? {
            if let Some(last) = self.log.records(&stream).last() {
                heads.push(ChainHead::new(stream, last.seq, last.hash.clone()));
            }
        }
        heads.sort();
        Ok(heads)
    }

    async fn digests(&self) -> Result<Vec<DigestItem>, AuditError> {
        Ok(self.with_digests_mut(|d| d.values().cloned().map(Ok).collect()))
    }

    async fn latest_digest(&self) -> Result<Option<DigestItem>, AuditError> {
        Ok(self.with_digests_mut(|d| d.values().next_back().cloned().map(Ok)))
    }

    async fn pages(&self, hashes: &[String]) -> Result<Vec<PageItem>, AuditError> {
        Ok(self.with_pages_mut(|p| hashes.iter().map(|h| p.get(h).cloned().map(Ok)).collect()))
    }

    async fn put_page(&self, page: &DigestPage) -> Result<(), DigestError> {
        self.with_pages_mut(|p| {
            p.entry(page.compute_hash()).or_insert_with(|| page.clone());
        });
        Ok(())
    }

    async fn put_digest(&self, digest: &StoredDigest) -> Result<bool, DigestError> {
        Ok(self.with_digests_mut(|d| {
            if d.contains_key(&digest.digest.seq) {
                return false;
            }
            d.insert(digest.digest.seq, digest.clone());
            true
        }))
    }
}
