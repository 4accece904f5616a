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

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use futures::stream::{self, StreamExt, TryStreamExt};

use super::canonical::{ChainHead, Digest, DigestPage, DIGEST_VERSION, PAGE_SIZE};
use super::DigestError;
use crate::audit::dynamo::{collect, number, string};
use crate::audit::{AuditError, AuditLog, DynamoAuditLog, MemoryAuditLog};
use crate::aws::{classify_sdk_error, describe_sdk_error};

/// The reserved stream key signed digests are stored under (never a record chain).
pub const DIGEST_STREAM: &str = "digest";
/// The reserved prefix of page keys (`digest-page/<hash>`; never a record chain).
pub const PAGE_STREAM_PREFIX: &str = "digest-page/";
/// DynamoDB GetItem calls in flight at once when reading pages.
const CONCURRENCY: usize = 16;

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

type Item = HashMap<String, AttributeValue>;

/// DynamoDB's size of an item: attribute names plus values (strings, numbers and binaries by
/// length), for the 400 KB limit.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(k, v)| {
            k.len()
                + match v {
                    AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                    AttributeValue::B(b) => b.as_ref().len(),
                    _ => 1,
                }
        })
        .sum()
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// The signed digest's item (see the module documentation).
pub fn to_item(d: &StoredDigest) -> Item {
    HashMap::from([
        ("stream".to_owned(), s(DIGEST_STREAM)),
        (
            "seq".to_owned(),
            AttributeValue::N(d.digest.seq.to_string()),
        ),
        ("v".to_owned(), s(DIGEST_VERSION)),
        ("ts".to_owned(), s(&d.digest.timestamp)),
        (
            "page_hashes".to_owned(),
            s(&serde_json::to_string(&d.digest.page_hashes).unwrap_or_default()),
        ),
        (
            "streams".to_owned(),
            AttributeValue::N(d.digest.streams.to_string()),
        ),
        ("prev_digest_hash".to_owned(), s(&d.digest.prev_digest_hash)),
        ("digest_hash".to_owned(), s(&d.digest_hash)),
        (
            "signature".to_owned(),
            AttributeValue::B(Blob::new(d.signature.clone())),
        ),
        ("key_id".to_owned(), s(&d.key_id)),
        ("signing_algorithm".to_owned(), s(&d.signing_algorithm)),
    ])
}

pub fn from_item(item: &Item) -> DigestItem {
    let seq = number(item, "seq").map_err(|reason| MalformedDigest { seq: 0, reason })?;
    let bad = |reason: String| MalformedDigest { seq, reason };
    let v = string(item, "v").map_err(bad)?;
    if v != DIGEST_VERSION {
        return Err(bad(format!("unknown digest version {v:?}")));
    }
    let page_hashes: Vec<String> = serde_json::from_str(&string(item, "page_hashes").map_err(bad)?)
        .map_err(|e| {
            bad(format!(
                "attribute page_hashes is not a list of hashes: {e}"
            ))
        })?;
    let signature = match item.get("signature") {
        Some(AttributeValue::B(b)) => b.clone().into_inner(),
        Some(_) => return Err(bad("attribute signature is not binary".into())),
        None => return Err(bad("attribute signature is missing".into())),
    };
    Ok(StoredDigest {
        digest: Digest {
            seq,
            timestamp: string(item, "ts").map_err(bad)?,
            prev_digest_hash: string(item, "prev_digest_hash").map_err(bad)?,
            streams: number(item, "streams").map_err(bad)?,
            page_hashes,
        },
        digest_hash: string(item, "digest_hash").map_err(bad)?,
        signature,
        key_id: string(item, "key_id").map_err(bad)?,
        signing_algorithm: string(item, "signing_algorithm").map_err(bad)?,
    })
}

/// The key of the page stored under `hash`.
pub fn page_key(hash: &str) -> Item {
    HashMap::from([
        (
            "stream".to_owned(),
            s(&format!("{PAGE_STREAM_PREFIX}{hash}")),
        ),
        ("seq".to_owned(), AttributeValue::N("1".into())),
    ])
}

/// A page's item: its key from its hash, its heads as canonical JSON.
pub fn page_to_item(page: &DigestPage) -> Item {
    let mut item = page_key(&page.compute_hash());
    item.insert("v".into(), s(DIGEST_VERSION));
    item.insert(
        "heads".into(),
        s(&serde_json::to_string(&page.heads).unwrap_or_default()),
    );
    item.insert(
        "streams".into(),
        AttributeValue::N(page.heads.len().to_string()),
    );
    item
}

pub fn page_from_item(item: &Item) -> Result<DigestPage, String> {
    let v = string(item, "v")?;
    if v != DIGEST_VERSION {
        return Err(format!("unknown page version {v:?}"));
    }
    let heads = serde_json::from_str(&string(item, "heads")?)
        .map_err(|e| format!("attribute heads is not a list of chain heads: {e}"))?;
    Ok(DigestPage { heads })
}

// ------------------------------------------------------------------------------------- DynamoDB

/// Digests in the audit table, heads from the record chains beside them.
#[derive(Clone)]
pub struct DynamoDigestStore {
    log: DynamoAuditLog,
    page_size: usize,
}

impl DynamoDigestStore {
    pub fn new(log: DynamoAuditLog) -> Self {
        Self {
            log,
            page_size: PAGE_SIZE,
        }
    }

    /// Pages of at most `page_size` heads (1 to [`PAGE_SIZE`]): smaller pages let a test cover
    /// many pages with few chains.
    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.clamp(1, PAGE_SIZE);
        self
    }

    async fn query(&self, stream: &str, newest_only: bool) -> Result<Vec<Item>, AuditError> {
        let (client, table) = self.log.parts();
        let q = client
            .query()
            .table_name(table)
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", "stream")
            .expression_attribute_values(":s", AttributeValue::S(stream.to_owned()))
            .consistent_read(true);
        if newest_only {
            let out = q
                .scan_index_forward(false)
                .limit(1)
                .send()
                .await
                .map_err(|e| AuditError::ReadFailed {
                    message: describe_sdk_error("dynamodb:Query", &e),
                    error_type: classify_sdk_error(&e),
                })?;
            return Ok(out.items.unwrap_or_default());
        }
        collect(q.into_paginator().items().send(), "dynamodb:Query").await
    }

    async fn page(&self, hash: String) -> Result<PageItem, AuditError> {
        let (client, table) = self.log.parts();
        let out = client
            .get_item()
            .table_name(table)
            .set_key(Some(page_key(&hash)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AuditError::ReadFailed {
                message: describe_sdk_error("dynamodb:GetItem", &e),
                error_type: classify_sdk_error(&e),
            })?;
        Ok(out.item.as_ref().map(page_from_item))
    }
}

impl DigestStore for DynamoDigestStore {
    fn page_size(&self) -> usize {
        self.page_size
    }

    /// One consistent Scan of the table, projected to `stream`, `seq` and `hash`: the newest
    /// record of each chain is its highest `seq`. Costs the table's size in reads (1 MB per
    /// call), not one Query per chain.
    async fn heads(&self) -> Result<Vec<ChainHead>, AuditError> {
        let (client, table) = self.log.parts();
        let pages = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .projection_expression("#s, seq, #h")
            .expression_attribute_names("#s", "stream")
            .expression_attribute_names("#h", "hash")
            .into_paginator()
            .items()
            .send();
        let items = collect(pages, "dynamodb:Scan").await?;
        let mut newest: BTreeMap<String, (u64, Result<String, String>)> = BTreeMap::new();
        for item in &items {
            let Ok(stream) = string(item, "stream") else {
                continue;
            };
            if is_reserved(&stream) {
                continue;
            }
            let seq = number(item, "seq").map_err(|reason| AuditError::CorruptHead {
                stream: stream.clone(),
                reason,
            })?;
            if newest.get(&stream).is_none_or(|(s, _)| *s < seq) {
                newest.insert(stream, (seq, string(item, "hash")));
            }
        }
        newest
            .into_iter()
            .map(|(stream, (seq, hash))| match hash {
                Ok(hash) => Ok(ChainHead::new(stream, seq, hash)),
                Err(reason) => Err(AuditError::CorruptHead { stream, reason }),
            })
            .collect()
    }

    async fn digests(&self) -> Result<Vec<DigestItem>, AuditError> {
        Ok(self
            .query(DIGEST_STREAM, false)
            .await?
            .iter()
            .map(from_item)
            .collect())
    }

    async fn latest_digest(&self) -> Result<Option<DigestItem>, AuditError> {
        Ok(self
            .query(DIGEST_STREAM, true)
            .await?
            .first()
            .map(from_item))
    }

    async fn pages(&self, hashes: &[String]) -> Result<Vec<PageItem>, AuditError> {
        stream::iter(hashes.iter().cloned())
            // Boxed: keeps the future's type shallow for callers (compiler recursion limit).
            .map(|h| Box::pin(self.page(h)))
            .buffered(CONCURRENCY)
            .try_collect()
            .await
    }

    async fn put_page(&self, page: &DigestPage) -> Result<(), DigestError> {
        let (client, table) = self.log.parts();
        conditional_put(client, table, page_to_item(page))
            .await
            .map(|_| ())
    }

    async fn put_digest(&self, digest: &StoredDigest) -> Result<bool, DigestError> {
        let (client, table) = self.log.parts();
        conditional_put(client, table, to_item(digest)).await
    }
}

/// `PutItem` with `attribute_not_exists`: `Ok(false)` when the key is taken.
async fn conditional_put(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    item: Item,
) -> Result<bool, DigestError> {
    let put = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#s)")
        .expression_attribute_names("#s", "stream")
        .send()
        .await;
    match put {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(DigestError::WriteFailed {
            message: describe_sdk_error("dynamodb:PutItem", &e),
        }),
    }
}

// --------------------------------------------------------------------------------------- memory

/// In-memory digests and pages over a [`MemoryAuditLog`], for unit tests.
#[derive(Clone)]
pub struct MemoryDigestStore {
    log: MemoryAuditLog,
    digests: Arc<Mutex<BTreeMap<u64, StoredDigest>>>,
    pages: Arc<Mutex<BTreeMap<String, DigestPage>>>,
}

impl MemoryDigestStore {
    pub fn new(log: MemoryAuditLog) -> Self {
        Self {
            log,
            digests: Arc::default(),
            pages: Arc::default(),
        }
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
