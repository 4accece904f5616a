//! `DynamoDigestStore`: digests and pages in the audit table, with their item mapping.

use super::canonical::{ChainHead, Digest, DigestPage, DIGEST_VERSION, PAGE_SIZE};
use super::DigestError;
use crate::audit::dynamo::{collect, number, string};
use crate::audit::{AuditError, DynamoAuditLog, Segment};
use crate::sdk::{classify_sdk_error, describe_sdk_error};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use rootwarden_core::audit::digest::store::*;
use std::collections::{BTreeMap, HashMap};

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

/// Pages per BatchGetItem (DynamoDB's maximum keys per call).
const BATCH: usize = 100;
/// BatchGetItem calls for one batch before unprocessed keys are an error.
const MAX_BATCH_ATTEMPTS: u32 = 8;

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

    async fn scan_heads(&self, segment: Option<Segment>) -> Result<Vec<ChainHead>, AuditError> {
        let (client, table) = self.log.parts();
        let pages = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_segment(segment.map(|s| s.index() as i32))
            .set_total_segments(segment.map(|s| s.total() as i32))
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

    /// Up to [`BATCH`] pages by hash in one BatchGetItem (consistent), asking again for keys
    /// DynamoDB left unprocessed; `None` for a hash no item has.
    async fn page_batch(&self, hashes: &[String]) -> Result<Vec<PageItem>, AuditError> {
        let (client, table) = self.log.parts();
        let failed = |message: String, error_type| AuditError::ReadFailed {
            message,
            error_type,
        };
        // A digest that names one page twice (only an altered one would) must not make the
        // request invalid: each key once.
        let unique: std::collections::BTreeSet<&String> = hashes.iter().collect();
        let keys: Vec<Item> = unique.into_iter().map(|h| page_key(h)).collect();
        let items = crate::batch_get::batch_get_consistent(
            client,
            table,
            keys,
            MAX_BATCH_ATTEMPTS,
            "digest pages",
        )
        .await
        .map_err(|e| failed(e.message, e.error_type))?;
        let mut found: HashMap<String, PageItem> = HashMap::new();
        for item in items {
            let Some(hash) = string(&item, "stream")
                .ok()
                .and_then(|k| k.strip_prefix(PAGE_STREAM_PREFIX).map(str::to_owned))
            else {
                continue;
            };
            found.insert(hash, Some(page_from_item(&item)));
        }
        Ok(hashes
            .iter()
            .map(|h| found.get(h).cloned().flatten())
            .collect())
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
        self.scan_heads(None).await
    }

    /// [`Self::heads`] of one parallel-Scan segment.
    async fn segment_heads(&self, segment: Segment) -> Result<Vec<ChainHead>, AuditError> {
        self.scan_heads(Some(segment)).await
    }

    async fn digest_at(&self, seq: u64) -> Result<Option<DigestItem>, AuditError> {
        let (client, table) = self.log.parts();
        let out = client
            .get_item()
            .table_name(table)
            .key("stream", s(DIGEST_STREAM))
            .key("seq", AttributeValue::N(seq.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AuditError::ReadFailed {
                message: describe_sdk_error("dynamodb:GetItem", &e),
                error_type: classify_sdk_error(&e),
            })?;
        Ok(out.item.as_ref().map(from_item))
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

    /// One BatchGetItem per [`BATCH`] pages (a page is ~130 KB; 100 stay under the 16 MB a
    /// response may carry).
    async fn pages(&self, hashes: &[String]) -> Result<Vec<PageItem>, AuditError> {
        let mut all = Vec::with_capacity(hashes.len());
        for chunk in hashes.chunks(BATCH) {
            all.extend(Box::pin(self.page_batch(chunk)).await?);
        }
        Ok(all)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::digest::{ChainHead, Digest, SIGNING_ALGORITHM};
    use crate::audit::GENESIS_HASH;

    fn at() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn item_mapping_round_trips_and_malformed_items_are_named() {
        let (d, pages) = Digest::new(
            5,
            at(),
            GENESIS_HASH,
            vec![ChainHead::new("system", 2, "h")],
        );
        let stored = StoredDigest {
            digest_hash: d.compute_hash(),
            digest: d,
            signature: vec![0x30, 0x44, 0, 255],
            key_id: "arn:aws:kms:us-east-1:1:key/k".into(),
            signing_algorithm: SIGNING_ALGORITHM.into(),
        };
        let mut item = to_item(&stored);
        assert_eq!(item["stream"], AttributeValue::S(DIGEST_STREAM.into()));
        assert!(matches!(item["signature"], AttributeValue::B(_)));
        assert_eq!(from_item(&item).unwrap(), stored);
        let page = page_to_item(&pages[0]);
        assert_eq!(
            page["stream"],
            AttributeValue::S(format!("digest-page/{}", pages[0].compute_hash()))
        );
        assert_eq!(page_from_item(&page).unwrap(), pages[0]);
        item.insert("page_hashes".into(), AttributeValue::S("{".into()));
        let m = from_item(&item).unwrap_err();
        assert_eq!(m.seq, 5);
        assert!(m.reason.contains("page_hashes"), "{}", m.reason);
        item.remove("signature");
        item.insert("page_hashes".into(), AttributeValue::S("[]".into()));
        assert_eq!(
            from_item(&item).unwrap_err().reason,
            "attribute signature is missing"
        );
        // A version-1 digest (heads inside the signed item) is not read as version 2.
        item.insert("v".into(), AttributeValue::S("1".into()));
        assert!(from_item(&item).unwrap_err().reason.contains("version"));
    }

    #[test]
    fn a_hundred_thousand_chains_fit_in_items_under_the_dynamodb_limit() {
        const LIMIT: usize = 400 * 1024;
        let heads: Vec<ChainHead> = (0..100_000u64)
            .map(|i| {
                ChainHead::new(
                    format!("{:012}", 100_000_000_000u64 + i),
                    7,
                    "ab".repeat(32),
                )
            })
            .collect();
        let (d, pages) = Digest::new(1, at(), GENESIS_HASH, heads);
        assert_eq!(d.streams, 100_000);
        assert_eq!(d.page_hashes.len(), 100_000 / PAGE_SIZE);
        let stored = StoredDigest {
            digest_hash: d.compute_hash(),
            digest: d,
            signature: vec![0x30; 72],
            key_id: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
            signing_algorithm: SIGNING_ALGORITHM.into(),
        };
        let signed = item_size(&to_item(&stored));
        assert!(signed < 10 * 1024, "signed item {signed} bytes");
        assert_eq!(pages.len(), 100);
        let largest = pages
            .iter()
            .map(|p| item_size(&page_to_item(p)))
            .max()
            .unwrap();
        assert!(largest < LIMIT / 2, "largest page {largest} bytes");
    }
}
