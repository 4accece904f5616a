//! What is hashed and signed: chain heads in pages, and the digest over the pages' hashes.
//!
//! Pure: no I/O. The canonical encodings are compact JSON with keys in lexicographic order and
//! integers as integers; both carry a `type` (domain separation) and a version.

use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Version of the canonical digest and page encodings, itself hashed. Version 2 holds heads in
/// pages; version-1 single-item digests (every head in the signed item) are no longer read.
pub const DIGEST_VERSION: &str = "2";
/// Domain separation: hashed, so a digest can never be mistaken for anything else KMS signed.
pub const DIGEST_TYPE: &str = "rootwarden-audit-digest";
/// Domain separation for pages (never signed on their own).
pub const PAGE_TYPE: &str = "rootwarden-audit-digest-page";
/// Heads per page. A head is at most ~130 bytes of canonical JSON (stream keys are
/// `account/<12 digits>` or `system`), so a page stays near 130 KB, far under DynamoDB's (and
/// moto's) 400 KB item limit. Paging by count (not bytes) keeps page boundaries stable when a
/// head moves, so unchanged pages keep their hash and are not written again.
pub const PAGE_SIZE: usize = 1000;

/// The newest record of one chain, as stored when the digest was taken.
/// Fields are declared in key order: serialisation is canonical. Heads sort by stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainHead {
    pub last_hash: String,
    pub last_seq: u64,
    pub stream: String,
}

impl Ord for ChainHead {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.stream, self.last_seq, &self.last_hash).cmp(&(
            &other.stream,
            other.last_seq,
            &other.last_hash,
        ))
    }
}

impl PartialOrd for ChainHead {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl ChainHead {
    pub fn new(stream: impl Into<String>, last_seq: u64, last_hash: impl Into<String>) -> Self {
        Self {
            stream: stream.into(),
            last_seq,
            last_hash: last_hash.into(),
        }
    }
}

/// Up to [`PAGE_SIZE`] consecutive heads (in stream order). Stored content-addressed: its key
/// is its hash, which the signed digest lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestPage {
    /// Sorted by stream.
    pub heads: Vec<ChainHead>,
}

#[derive(Serialize)]
struct CanonicalPage<'a> {
    heads: &'a [ChainHead],
    #[serde(rename = "type")]
    kind: &'a str,
    v: &'a str,
}

impl DigestPage {
    /// `{"heads":[{"last_hash":"…","last_seq":3,"stream":"system"}],
    /// "type":"rootwarden-audit-digest-page","v":"2"}`.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let c = CanonicalPage {
            heads: &self.heads,
            kind: PAGE_TYPE,
            v: DIGEST_VERSION,
        };
        // Serialising plain strings and integers cannot fail.
        serde_json::to_vec(&c).unwrap_or_default()
    }

    /// Hex SHA-256 of the canonical bytes: the page's name in the digest and in the table.
    pub fn compute_hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_bytes()))
    }
}

/// Splits heads (sorted here) into pages of at most [`PAGE_SIZE`].
pub fn paginate(heads: Vec<ChainHead>) -> Vec<DigestPage> {
    paginate_by(heads, PAGE_SIZE)
}

/// Splits heads (sorted here) into pages of at most `page_size` (1 to [`PAGE_SIZE`]) heads.
pub fn paginate_by(mut heads: Vec<ChainHead>, page_size: usize) -> Vec<DigestPage> {
    heads.sort();
    heads.dedup_by(|a, b| a.stream == b.stream);
    heads
        .chunks(page_size.clamp(1, PAGE_SIZE))
        .map(|c| DigestPage { heads: c.to_vec() })
        .collect()
}

/// What is signed: the ordered hashes of the pages of every chain head, how many heads they
/// hold, the previous digest's hash, a sequence number and a time. Its size grows by 67 bytes per
/// page (1,000 heads): the signed item reaches 400 KB only past ~5.9 million chains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub seq: u64,
    pub timestamp: String,
    pub prev_digest_hash: String,
    /// Heads across all pages.
    pub streams: u64,
    /// In page order (the heads' stream order).
    pub page_hashes: Vec<String>,
}

/// The canonical form: keys in lexicographic order, no whitespace, integers as integers.
#[derive(Serialize)]
struct Canonical<'a> {
    page_hashes: &'a [String],
    prev_digest_hash: &'a str,
    seq: u64,
    streams: u64,
    timestamp: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    v: &'a str,
}

impl Digest {
    /// The digest of `heads` and the pages it names.
    pub fn new(
        seq: u64,
        at: chrono::DateTime<chrono::Utc>,
        prev_digest_hash: impl Into<String>,
        heads: Vec<ChainHead>,
    ) -> (Self, Vec<DigestPage>) {
        Self::paged(seq, at, prev_digest_hash, heads, PAGE_SIZE)
    }

    /// [`Digest::new`] with pages of at most `page_size` heads (verification reads whatever
    /// pages a digest names, so the size is the writer's choice).
    pub fn paged(
        seq: u64,
        at: chrono::DateTime<chrono::Utc>,
        prev_digest_hash: impl Into<String>,
        heads: Vec<ChainHead>,
        page_size: usize,
    ) -> (Self, Vec<DigestPage>) {
        let pages = paginate_by(heads, page_size);
        let digest = Self {
            seq,
            timestamp: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            prev_digest_hash: prev_digest_hash.into(),
            streams: pages.iter().map(|p| p.heads.len() as u64).sum(),
            page_hashes: pages.iter().map(DigestPage::compute_hash).collect(),
        };
        (digest, pages)
    }

    /// Canonical JSON, e.g. `{"page_hashes":["…"],"prev_digest_hash":"…","seq":2,"streams":3,
    /// "timestamp":"…","type":"rootwarden-audit-digest","v":"2"}`.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let c = Canonical {
            page_hashes: &self.page_hashes,
            prev_digest_hash: &self.prev_digest_hash,
            seq: self.seq,
            streams: self.streams,
            timestamp: &self.timestamp,
            kind: DIGEST_TYPE,
            v: DIGEST_VERSION,
        };
        serde_json::to_vec(&c).unwrap_or_default()
    }

    /// SHA-256 of the canonical bytes: the message KMS signs (`MessageType=DIGEST`).
    pub fn hash_bytes(&self) -> [u8; 32] {
        Sha256::digest(self.canonical_bytes()).into()
    }

    pub fn compute_hash(&self) -> String {
        hex::encode(self.hash_bytes())
    }

    /// When the digest was taken, if its timestamp reads.
    pub fn taken_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::parse_from_rfc3339(&self.timestamp)
            .ok()
            .map(|t| t.to_utc())
    }
}
