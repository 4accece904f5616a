//! The append-only, hash-chained audit log.
//!
//! Records form one chain per [`Stream`] (one per managed account, plus `system`). Record `n`
//! carries `prev_hash` = hash of record `n-1` (record 1 links to [`GENESIS_HASH`]) and its own
//! `hash` = SHA-256 over a length-prefixed canonical encoding of every field and `prev_hash`.
//! Appends are conditional puts on a fresh sequence number, so no record is ever overwritten and
//! concurrent writers both land, in order.
//!
//! [`verify_chain`] detects a record that was modified, deleted, moved or inserted anywhere
//! before the head. What a hash chain alone cannot show is truncation of the newest records or a
//! rewrite of the whole tail by someone with write access; signed digests of chain heads
//! ([`digest`], stored under the reserved stream key `digest`) close that gap.

pub mod digest;
mod memory;
pub mod segment;

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Classify;
use crate::{AccountId, ErrorType};

pub use digest::{digest_age_seconds, DigestPage, LatestDigest, PAGE_SIZE};
pub use digest::{
    verify_with_digests, write_digest, ChainHead, DigestCheck, DigestError, DigestFault,
    DigestSigner, DigestStore, FullReport, MemoryDigestStore, StoredDigest, DIGEST_STREAM,
};
pub use memory::MemoryAuditLog;
pub use segment::Segment;

/// Jittered exponential pause between attempts after a lost race (5 ms doubling to 160 ms).
pub async fn backoff(attempt: u32) {
    let jitter = rand::Rng::gen_range(&mut rand::thread_rng(), 0..10);
    tokio::time::sleep(std::time::Duration::from_millis(
        5u64 * (1 << attempt.min(5)) + jitter,
    ))
    .await;
}

/// `prev_hash` of the first record of every chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Version of the canonical encoding, itself hashed.
pub const RECORD_VERSION: &str = "1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Denied,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
        }
    }
}

/// Which chain a record belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stream {
    Account(AccountId),
    System,
}

impl Stream {
    pub fn key(&self) -> String {
        match self {
            Stream::Account(id) => format!("account/{id}"),
            Stream::System => "system".to_owned(),
        }
    }
}

/// What a caller asks to record. Never put a secret in any field.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub stream: Stream,
    /// The caller's ARN as AWS reported it.
    pub actor: String,
    /// Dotted verb, e.g. `audit.annotate`, `rotation.start`.
    pub action: String,
    pub target: String,
    pub outcome: Outcome,
    pub reason: String,
    pub correlation_id: String,
    /// Extra non-secret facts; stored as canonical (key-sorted) JSON.
    pub details: BTreeMap<String, serde_json::Value>,
}

impl AuditEntry {
    pub fn new(stream: Stream, actor: impl Into<String>, action: impl Into<String>) -> Self {
        Self {
            stream,
            actor: actor.into(),
            action: action.into(),
            target: String::new(),
            outcome: Outcome::Success,
            reason: String::new(),
            correlation_id: String::new(),
            details: BTreeMap::new(),
        }
    }
    pub fn target(mut self, t: impl Into<String>) -> Self {
        self.target = t.into();
        self
    }
    pub fn outcome(mut self, o: Outcome) -> Self {
        self.outcome = o;
        self
    }
    pub fn reason(mut self, r: impl Into<String>) -> Self {
        self.reason = r.into();
        self
    }
    pub fn correlation_id(mut self, c: impl Into<String>) -> Self {
        self.correlation_id = c.into();
        self
    }
    pub fn detail(mut self, k: impl Into<String>, v: impl Into<serde_json::Value>) -> Self {
        self.details.insert(k.into(), v.into());
        self
    }
}

/// A record exactly as stored. Fields are kept as stored strings so that verification hashes
/// what is really in the table, tampered or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub stream: String,
    pub seq: u64,
    pub timestamp: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub reason: String,
    pub correlation_id: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRecord {
    /// Builds record `seq` of the entry's chain, linked to `prev_hash`, and seals it.
    pub fn seal(entry: &AuditEntry, seq: u64, prev_hash: &str, at: DateTime<Utc>) -> Self {
        let mut rec = AuditRecord {
            stream: entry.stream.key(),
            seq,
            timestamp: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            actor: entry.actor.clone(),
            action: entry.action.clone(),
            target: entry.target.clone(),
            outcome: entry.outcome.as_str().to_owned(),
            reason: entry.reason.clone(),
            correlation_id: entry.correlation_id.clone(),
            // BTreeMap keys serialise sorted: the encoding is canonical.
            details: serde_json::to_string(&entry.details).unwrap_or_else(|_| "{}".to_owned()),
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        rec.hash = rec.compute_hash();
        rec
    }

    /// Unambiguous encoding: for each field in fixed order, `name`, `=`, 8-byte big-endian
    /// length, bytes. No field can bleed into another.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let seq = self.seq.to_string();
        let fields: [(&str, &str); 12] = [
            ("v", RECORD_VERSION),
            ("stream", &self.stream),
            ("seq", &seq),
            ("ts", &self.timestamp),
            ("actor", &self.actor),
            ("action", &self.action),
            ("target", &self.target),
            ("outcome", &self.outcome),
            ("reason", &self.reason),
            ("correlation_id", &self.correlation_id),
            ("details", &self.details),
            ("prev_hash", &self.prev_hash),
        ];
        let mut out = Vec::with_capacity(256);
        for (name, value) in fields {
            out.extend_from_slice(name.as_bytes());
            out.push(b'=');
            out.extend_from_slice(&(value.len() as u64).to_be_bytes());
            out.extend_from_slice(value.as_bytes());
        }
        out
    }

    pub fn compute_hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_bytes()))
    }
}

/// A stored item that could not be read as a record (missing or mistyped attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedRecord {
    pub stream: String,
    pub seq: u64,
    pub reason: String,
}

pub type StoredItem = Result<AuditRecord, MalformedRecord>;

/// The first thing wrong with a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    #[error("record {seq} is missing (deleted)")]
    Missing { seq: u64 },
    #[error("record {seq} does not match its hash (modified, or moved from another position)")]
    Modified { seq: u64 },
    #[error(
        "record {seq} does not link to record {prev}: a record was inserted, replaced or reordered"
    )]
    Unlinked { seq: u64, prev: u64 },
    #[error("record {seq} is out of order")]
    OutOfOrder { seq: u64 },
    #[error("record {seq} is unreadable: {reason}")]
    Malformed { seq: u64, reason: String },
}

impl Fault {
    pub fn seq(&self) -> u64 {
        match self {
            Fault::Missing { seq }
            | Fault::Modified { seq }
            | Fault::Unlinked { seq, .. }
            | Fault::OutOfOrder { seq }
            | Fault::Malformed { seq, .. } => *seq,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub stream: String,
    pub records: u64,
    pub head_seq: u64,
    pub head_hash: String,
    pub fault: Option<Fault>,
}

/// Walks one chain (items in ascending `seq`) and reports its first fault, if any.
pub fn verify_chain(stream: &str, items: &[StoredItem]) -> ChainReport {
    let mut report = ChainReport {
        stream: stream.to_owned(),
        records: items.len() as u64,
        head_seq: 0,
        head_hash: GENESIS_HASH.to_owned(),
        fault: None,
    };
    for (expected, item) in (1u64..).zip(items) {
        let rec = match item {
            Ok(rec) => rec,
            Err(m) => {
                report.fault = Some(Fault::Malformed {
                    seq: m.seq,
                    reason: m.reason.clone(),
                });
                return report;
            }
        };
        let fault = if rec.seq > expected {
            Some(Fault::Missing { seq: expected })
        } else if rec.seq < expected || rec.stream != stream {
            Some(Fault::OutOfOrder { seq: rec.seq })
        } else if rec.compute_hash() != rec.hash {
            Some(Fault::Modified { seq: rec.seq })
        } else if rec.prev_hash != report.head_hash {
            Some(Fault::Unlinked {
                seq: rec.seq,
                prev: rec.seq - 1,
            })
        } else {
            None
        };
        if fault.is_some() {
            report.fault = fault;
            return report;
        }
        report.head_seq = rec.seq;
        report.head_hash = rec.hash.clone();
    }
    report
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub chains: Vec<ChainReport>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.chains.iter().all(|c| c.fault.is_none())
    }
    pub fn records(&self) -> u64 {
        self.chains.iter().map(|c| c.records).sum()
    }
    /// First faulty chain and its fault, in stream order.
    pub fn first_fault(&self) -> Option<(&str, &Fault)> {
        self.chains
            .iter()
            .find_map(|c| c.fault.as_ref().map(|f| (c.stream.as_str(), f)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// Fail closed: the caller must not go on with the action this record was for.
    #[error("audit record could not be written: {message}")]
    WriteFailed { message: String },
    #[error("audit append to {stream} lost {attempts} races in a row")]
    Contention { stream: String, attempts: u32 },
    #[error("audit log could not be read: {message}")]
    ReadFailed {
        message: String,
        error_type: ErrorType,
    },
    #[error("head of audit chain {stream} is unreadable: {reason}")]
    CorruptHead { stream: String, reason: String },
}

impl Classify for AuditError {
    fn error_type(&self) -> ErrorType {
        match self {
            AuditError::WriteFailed { .. } | AuditError::Contention { .. } => {
                ErrorType::AuditWriteFailed
            }
            AuditError::ReadFailed { error_type, .. } => *error_type,
            AuditError::CorruptHead { .. } => ErrorType::AuditTamperDetected,
        }
    }
}

/// The audit port. Adapters: [`DynamoAuditLog`] (production), [`MemoryAuditLog`] (tests).
pub trait AuditLog: Send + Sync {
    /// Appends the entry as the next record of its chain. Retries lost races; never overwrites.
    fn append(
        &self,
        entry: &AuditEntry,
    ) -> impl Future<Output = Result<AuditRecord, AuditError>> + Send;
    /// Every item of one chain, ascending by `seq`.
    fn read_stream(
        &self,
        stream: &str,
    ) -> impl Future<Output = Result<Vec<StoredItem>, AuditError>> + Send;
    /// Every record chain key present, sorted (never the reserved [`DIGEST_STREAM`]).
    fn streams(&self) -> impl Future<Output = Result<Vec<String>, AuditError>> + Send;
    /// Every record chain (never the reserved streams), each ascending by `seq`. The default
    /// reads chain by chain; an adapter that can read the whole store in bulk overrides it.
    fn read_all(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<String, Vec<StoredItem>>, AuditError>> + Send {
        async move {
            let mut all = BTreeMap::new();
            for key in self.streams().await? {
                let items = self.read_stream(&key).await?;
                all.insert(key, items);
            }
            Ok(all)
        }
    }
    /// Every record chain in one parallel-Scan segment (never the reserved streams), each
    /// ascending by `seq`: the segments of one total read every chain exactly once. The default
    /// reads everything and keeps the streams [`Segment::holds_in_memory`] gives this segment;
    /// DynamoDB's adapter scans the segment.
    fn read_segment(
        &self,
        segment: Segment,
    ) -> impl Future<Output = Result<BTreeMap<String, Vec<StoredItem>>, AuditError>> + Send {
        async move {
            let mut all = self.read_all().await?;
            all.retain(|k, _| !digest::is_reserved(k) && segment.holds_in_memory(k));
            Ok(all)
        }
    }
}

/// Verifies one chain, or all of them.
pub async fn verify<L: AuditLog>(
    log: &L,
    only: Option<&Stream>,
) -> Result<VerifyReport, AuditError> {
    let keys = match only {
        Some(s) => vec![s.key()],
        None => log.streams().await?,
    };
    // Digests are verified by `digest::verify_with_digests`, not as a record chain.
    let keys: Vec<String> = keys
        .into_iter()
        .filter(|k| !digest::is_reserved(k))
        .collect();
    let mut chains = Vec::with_capacity(keys.len());
    for key in keys {
        let items = log.read_stream(&key).await?;
        chains.push(verify_chain(&key, &items));
    }
    Ok(VerifyReport { chains })
}

#[cfg(test)]
mod tests;
