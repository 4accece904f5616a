//! DynamoDB adapter for the audit log, with its item mapping.
//!
//! Table: partition key `stream` (S), sort key `seq` (N). One item per record; attributes are the
//! record's fields verbatim. Items are only ever created, with `attribute_not_exists(stream)`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::{AttributeValue, Put};
use aws_sdk_dynamodb::Client;
use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;

use super::{
    AuditEntry, AuditError, AuditLog, AuditRecord, MalformedRecord, Segment, StoredItem,
    GENESIS_HASH,
};
use crate::sdk::{classify_sdk_error, describe_sdk_error};
use crate::Clock;

/// Lost races tolerated before an append gives up (each loss means another record landed).
const MAX_ATTEMPTS: u32 = 30;

/// Chains whose head this process remembers (a Lambda instance touches few; the CLI many).
const MAX_KNOWN_HEADS: usize = 256;

/// The invocation the process is serving ([`new_invocation`]); a remembered head is only used
/// in the invocation that wrote it.
static INVOCATION: AtomicU64 = AtomicU64::new(0);

/// Called by the Lambda bootstrap as each invocation starts: chain heads remembered by earlier
/// invocations are not tried again. Between two invocations of a workflow (a rotation's prepare
/// and its finish) other processes audit on the same chains (the confirmation of the new
/// password), so an old head would mostly cost a lost transaction; within one invocation the
/// records written in a row (a vault change, then its ticket) are the common case.
pub fn new_invocation() {
    INVOCATION.fetch_add(1, Ordering::Relaxed);
}

#[derive(Clone)]
pub struct DynamoAuditLog {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
    known: KnownHeads,
}

/// The heads of chains this process itself extended: `(next seq, prev_hash)` after a record it
/// knows was written. Using one saves the Query before the next append to that chain. It is
/// only a guess about the table: the append stays conditional on its seq being free, so if
/// another writer has extended the chain since, the write loses and the head is read again.
/// An entry is taken (removed) when used, and only a confirmed write puts one back, so a
/// prepared record whose transaction failed is never chained onto.
#[derive(Clone, Default)]
struct KnownHeads(Arc<Mutex<HashMap<String, KnownHead>>>);

struct KnownHead {
    next_seq: u64,
    hash: String,
    invocation: u64,
}

impl KnownHeads {
    fn take(&self, stream: &str) -> Option<(u64, String)> {
        let known = self.0.lock().ok()?.remove(stream)?;
        (known.invocation == INVOCATION.load(Ordering::Relaxed))
            .then_some((known.next_seq, known.hash))
    }

    fn written(&self, record: &AuditRecord) {
        if let Ok(mut heads) = self.0.lock() {
            let invocation = INVOCATION.load(Ordering::Relaxed);
            heads.retain(|_, h| h.invocation == invocation);
            if heads.len() < MAX_KNOWN_HEADS {
                let known = KnownHead {
                    next_seq: record.seq + 1,
                    hash: record.hash.clone(),
                    invocation,
                };
                heads.insert(record.stream.clone(), known);
            }
        }
    }
}

impl DynamoAuditLog {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
            known: KnownHeads::default(),
        }
    }

    /// Tells the log that `record` (from [`Self::prepare`]) was written: the next append to its
    /// chain can start from it without reading the head. Callers that do not call this only
    /// pay that read.
    pub fn committed(&self, record: &AuditRecord) {
        self.known.written(record);
    }

    /// The next record of the entry's chain and the conditional `Put` that appends it, for a
    /// caller that must write its audit record in the same transaction as its own change. If the
    /// transaction is cancelled because this `Put`'s condition failed, another record took the
    /// sequence number: call `prepare` again and retry (see [`backoff`]).
    pub async fn prepare(&self, entry: &AuditEntry) -> Result<(AuditRecord, Put), AuditError> {
        let (seq, prev) = self.next_position(&entry.stream.key()).await?;
        let record = AuditRecord::seal(entry, seq, &prev, self.clock.now());
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&record)))
            .condition_expression("attribute_not_exists(#s)")
            .expression_attribute_names("#s", "stream")
            .build()
            .map_err(|e| AuditError::WriteFailed {
                message: format!("building the audit Put: {e}"),
            })?;
        Ok((record, put))
    }

    /// The client and table, for the digest store beside the chains.
    pub(super) fn parts(&self) -> (&Client, &str) {
        (&self.client, &self.table)
    }

    /// `(next seq, prev_hash)` for a chain: after this process's own last write to it, else
    /// from a strongly consistent read of its newest item.
    async fn next_position(&self, stream: &str) -> Result<(u64, String), AuditError> {
        if let Some(known) = self.known.take(stream) {
            return Ok(known);
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", "stream")
            .expression_attribute_values(":s", AttributeValue::S(stream.to_owned()))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AuditError::WriteFailed {
                message: describe_sdk_error("dynamodb:Query", &e),
            })?;
        let Some(head) = out.items().first() else {
            return Ok((1, GENESIS_HASH.to_owned()));
        };
        let seq = number(head, "seq").map_err(|reason| AuditError::CorruptHead {
            stream: stream.to_owned(),
            reason,
        })?;
        let hash = string(head, "hash").map_err(|reason| AuditError::CorruptHead {
            stream: stream.to_owned(),
            reason,
        })?;
        Ok((seq + 1, hash))
    }
}

impl AuditLog for DynamoAuditLog {
    async fn append(&self, entry: &AuditEntry) -> Result<AuditRecord, AuditError> {
        let stream = entry.stream.key();
        for attempt in 0..MAX_ATTEMPTS {
            let (seq, prev) = self.next_position(&stream).await?;
            let record = AuditRecord::seal(entry, seq, &prev, self.clock.now());
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(to_item(&record)))
                .condition_expression("attribute_not_exists(#s)")
                .expression_attribute_names("#s", "stream")
                .send()
                .await;
            match put {
                Ok(_) => {
                    self.known.written(&record);
                    return Ok(record);
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
                {
                    // Another writer took this seq: re-read the head and try the next one.
                    crate::audit::backoff(attempt).await;
                }
                Err(e) => {
                    return Err(AuditError::WriteFailed {
                        message: describe_sdk_error("dynamodb:PutItem", &e),
                    })
                }
            }
        }
        Err(AuditError::Contention {
            stream,
            attempts: MAX_ATTEMPTS,
        })
    }

    async fn read_stream(&self, stream: &str) -> Result<Vec<StoredItem>, AuditError> {
        let pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", "stream")
            .expression_attribute_values(":s", AttributeValue::S(stream.to_owned()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let items = collect(pages, "dynamodb:Query").await?;
        Ok(items.iter().map(|item| from_item(stream, item)).collect())
    }

    /// One consistent Scan of the table, grouped by stream and sorted by `seq`: the table's size
    /// in reads (1 MB per call) instead of one Query per chain.
    async fn read_all(&self) -> Result<BTreeMap<String, Vec<StoredItem>>, AuditError> {
        self.scan_chains(None).await
    }

    /// One consistent Scan of one parallel-Scan segment (DynamoDB keeps each partition key, so
    /// each chain, in one segment).
    async fn read_segment(
        &self,
        segment: Segment,
    ) -> Result<BTreeMap<String, Vec<StoredItem>>, AuditError> {
        self.scan_chains(Some(segment)).await
    }

    async fn streams(&self) -> Result<Vec<String>, AuditError> {
        let pages = self
            .client
            .scan()
            .table_name(&self.table)
            .projection_expression("#s")
            .expression_attribute_names("#s", "stream")
            .into_paginator()
            .items()
            .send();
        let items = collect(pages, "dynamodb:Scan").await?;
        // The reserved `digest` and `digest-page/…` keys hold signed digests, not record chains.
        let mut keys: Vec<String> = items
            .iter()
            .filter_map(|i| string(i, "stream").ok())
            .filter(|k| !rootwarden_core::audit::digest::is_reserved(k))
            .collect();
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

impl DynamoAuditLog {
    /// Every record chain in the table (`None`) or in one segment, grouped by stream and sorted
    /// by `seq`.
    async fn scan_chains(
        &self,
        segment: Option<Segment>,
    ) -> Result<BTreeMap<String, Vec<StoredItem>>, AuditError> {
        let pages = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .set_segment(segment.map(|s| s.index() as i32))
            .set_total_segments(segment.map(|s| s.total() as i32))
            .into_paginator()
            .items()
            .send();
        let mut grouped: BTreeMap<String, Vec<(u64, Item)>> = BTreeMap::new();
        for item in collect(pages, "dynamodb:Scan").await? {
            let Ok(stream) = string(&item, "stream") else {
                continue;
            };
            if rootwarden_core::audit::digest::is_reserved(&stream) {
                continue;
            }
            let seq = number(&item, "seq").unwrap_or(0);
            grouped.entry(stream).or_default().push((seq, item));
        }
        Ok(grouped
            .into_iter()
            .map(|(stream, mut items)| {
                items.sort_by_key(|(seq, _)| *seq);
                let stored = items.iter().map(|(_, i)| from_item(&stream, i)).collect();
                (stream, stored)
            })
            .collect())
    }
}

pub(super) type Item = HashMap<String, AttributeValue>;
pub(super) type Pages<E> = PaginationStream<Result<Item, SdkError<E, Response>>>;

pub(crate) async fn collect<E>(mut pages: Pages<E>, op: &str) -> Result<Vec<Item>, AuditError>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
{
    let mut out = Vec::new();
    while let Some(item) = pages.next().await {
        out.push(item.map_err(|e| AuditError::ReadFailed {
            message: describe_sdk_error(op, &e),
            error_type: classify_sdk_error(&e),
        })?);
    }
    Ok(out)
}

pub(crate) fn to_item(r: &AuditRecord) -> HashMap<String, AttributeValue> {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    HashMap::from([
        ("stream".to_owned(), s(&r.stream)),
        ("seq".to_owned(), AttributeValue::N(r.seq.to_string())),
        ("v".to_owned(), s(super::RECORD_VERSION)),
        ("ts".to_owned(), s(&r.timestamp)),
        ("actor".to_owned(), s(&r.actor)),
        ("action".to_owned(), s(&r.action)),
        ("target".to_owned(), s(&r.target)),
        ("outcome".to_owned(), s(&r.outcome)),
        ("reason".to_owned(), s(&r.reason)),
        ("correlation_id".to_owned(), s(&r.correlation_id)),
        ("details".to_owned(), s(&r.details)),
        ("prev_hash".to_owned(), s(&r.prev_hash)),
        ("hash".to_owned(), s(&r.hash)),
    ])
}

pub(crate) fn from_item(stream: &str, item: &HashMap<String, AttributeValue>) -> StoredItem {
    let seq = number(item, "seq").map_err(|reason| MalformedRecord {
        stream: stream.to_owned(),
        seq: 0,
        reason,
    })?;
    let field = |name: &str| {
        string(item, name).map_err(|reason| MalformedRecord {
            stream: stream.to_owned(),
            seq,
            reason,
        })
    };
    Ok(AuditRecord {
        stream: field("stream")?,
        seq,
        timestamp: field("ts")?,
        actor: field("actor")?,
        action: field("action")?,
        target: field("target")?,
        outcome: field("outcome")?,
        reason: field("reason")?,
        correlation_id: field("correlation_id")?,
        details: field("details")?,
        prev_hash: field("prev_hash")?,
        hash: field("hash")?,
    })
}

pub(crate) fn string(item: &HashMap<String, AttributeValue>, name: &str) -> Result<String, String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        Some(_) => Err(format!("attribute {name} is not a string")),
        None => Err(format!("attribute {name} is missing")),
    }
}

pub(crate) fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Result<u64, String> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| format!("attribute {name} is not a whole number")),
        Some(_) => Err(format!("attribute {name} is not a number")),
        None => Err(format!("attribute {name} is missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Outcome, Stream};
    use crate::AccountId;

    #[test]
    fn item_mapping_round_trips() {
        let entry = AuditEntry::new(
            Stream::Account(AccountId::parse("111122223333").unwrap()),
            "arn:x",
            "a.b",
        )
        .outcome(Outcome::Denied)
        .reason("why")
        .detail("k", 1);
        let rec = AuditRecord::seal(&entry, 7, GENESIS_HASH, chrono::Utc::now());
        let back = from_item(&rec.stream, &to_item(&rec)).unwrap();
        assert_eq!(back, rec);
    }

    #[test]
    fn missing_or_mistyped_attributes_are_malformed_not_panics() {
        let entry = AuditEntry::new(Stream::System, "arn:x", "a.b");
        let rec = AuditRecord::seal(&entry, 3, GENESIS_HASH, chrono::Utc::now());
        let mut item = to_item(&rec);
        item.remove("hash");
        let m = from_item("system", &item).unwrap_err();
        assert_eq!((m.seq, m.reason.as_str()), (3, "attribute hash is missing"));
        item.insert("seq".into(), AttributeValue::S("3".into()));
        assert_eq!(
            from_item("system", &item).unwrap_err().reason,
            "attribute seq is not a number"
        );
    }
}
