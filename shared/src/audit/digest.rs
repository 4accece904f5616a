//! Signed, chained digests of every audit chain's head (CloudTrail-style digest files).
//!
//! A hash chain alone cannot show that its newest records were deleted, or that its whole tail was
//! rewritten by someone with write access to the table. A scheduled job (`audit-digest`) therefore
//! writes a [`Digest`] of every chain head — `(stream, last_seq, last_hash)` — with a sequence
//! number, a timestamp and the previous digest's hash, encodes it as canonical JSON
//! ([`Digest::canonical_bytes`]), hashes that with SHA-256 and has KMS sign the hash
//! (`Sign`, `ECDSA_SHA_256`, `MessageType=DIGEST`) with an asymmetric key only the digest job may
//! use. Digest 1 links to [`GENESIS_HASH`]; digest `n` to digest `n-1`.
//!
//! Digests are stored in the audit table under the reserved stream key [`DIGEST_STREAM`]
//! (`seq` 1, 2, 3, …, each written with `attribute_not_exists`, so two writers cannot both write
//! digest `n`). Record chains are never keyed `digest`, and `audit::verify` / `streams()` skip it.
//! A digest is written on every run even when no head moved: it proves the job (and the key) are
//! alive, and the verifier reports the newest digest's time so a stalled job is visible.
//!
//! [`verify_with_digests`] verifies the record chains as `audit::verify` does, then every digest
//! (KMS `Verify` over the recomputed hash, the stored hash, the link to the previous digest, no
//! gaps), then every chain against the newest digest whose signature holds: a chain that now
//! ends before the digest's `last_seq` (or is gone) was **truncated**; a chain whose record at
//! `last_seq` hashes differently was **modified**.
//!
//! Limit: deleting the newest digests *and* records written after the remaining newest digest is
//! only visible as a stale newest digest (and in any copy of the digests kept elsewhere).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use chrono::SecondsFormat;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::dynamo::{collect, number, string};
use super::{
    verify_chain, AuditError, AuditLog, ChainReport, DynamoAuditLog, MemoryAuditLog, StoredItem,
    Stream, VerifyReport, GENESIS_HASH,
};
use crate::aws::{classify_sdk_error, describe_sdk_error};
use crate::error::Classify;
use crate::{Clock, ErrorType};

/// The reserved stream key digests are stored under (never a record chain).
pub const DIGEST_STREAM: &str = "digest";
/// Version of the canonical digest encoding, itself hashed.
pub const DIGEST_VERSION: &str = "1";
/// Domain separation: hashed, so a digest can never be mistaken for anything else KMS signed.
pub const DIGEST_TYPE: &str = "rootwarden-audit-digest";
/// The only algorithm digests are signed and verified with.
pub const SIGNING_ALGORITHM: &str = "ECDSA_SHA_256";
/// Lost races tolerated before a digest write gives up.
const MAX_ATTEMPTS: u32 = 5;
/// KMS `Verify` / DynamoDB head queries in flight at once.
const CONCURRENCY: usize = 16;

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

/// What is signed: every chain head, the previous digest's hash, a sequence number and a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub seq: u64,
    pub timestamp: String,
    pub prev_digest_hash: String,
    /// Sorted by stream.
    pub heads: Vec<ChainHead>,
}

/// The canonical form: keys in lexicographic order, no whitespace, integers as integers.
#[derive(Serialize)]
struct Canonical<'a> {
    heads: &'a [ChainHead],
    prev_digest_hash: &'a str,
    seq: u64,
    timestamp: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    v: &'a str,
}

impl Digest {
    pub fn new(
        seq: u64,
        at: chrono::DateTime<chrono::Utc>,
        prev_digest_hash: impl Into<String>,
        mut heads: Vec<ChainHead>,
    ) -> Self {
        heads.sort();
        Self {
            seq,
            timestamp: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            prev_digest_hash: prev_digest_hash.into(),
            heads,
        }
    }

    /// Canonical JSON, e.g. `{"heads":[{"last_hash":"…","last_seq":3,"stream":"system"}],
    /// "prev_digest_hash":"…","seq":2,"timestamp":"…","type":"rootwarden-audit-digest","v":"1"}`.
    /// Heads are emitted sorted whatever order they are held in.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut heads = self.heads.clone();
        heads.sort();
        let c = Canonical {
            heads: &heads,
            prev_digest_hash: &self.prev_digest_hash,
            seq: self.seq,
            timestamp: &self.timestamp,
            kind: DIGEST_TYPE,
            v: DIGEST_VERSION,
        };
        // Serialising plain strings and integers cannot fail.
        serde_json::to_vec(&c).unwrap_or_default()
    }

    /// SHA-256 of the canonical bytes: the message KMS signs (`MessageType=DIGEST`).
    pub fn hash_bytes(&self) -> [u8; 32] {
        Sha256::digest(self.canonical_bytes()).into()
    }

    pub fn compute_hash(&self) -> String {
        hex::encode(self.hash_bytes())
    }

    pub fn head(&self, stream: &str) -> Option<&ChainHead> {
        self.heads.iter().find(|h| h.stream == stream)
    }
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

/// A signature from the digest key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub bytes: Vec<u8>,
    pub key_id: String,
    pub algorithm: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// Fail closed: the digest was not written.
    #[error("audit digest could not be written: {message}")]
    WriteFailed { message: String },
    #[error("audit digest write lost {attempts} races in a row")]
    Contention { attempts: u32 },
    #[error("{message}")]
    Kms {
        message: String,
        error_type: ErrorType,
    },
    /// The newest digest cannot be linked to: unreadable, or its content no longer matches its
    /// hash. A human must look before the chain goes on.
    #[error("audit digest {seq} is unreadable or altered: {reason}")]
    Corrupt { seq: u64, reason: String },
}

impl Classify for DigestError {
    fn error_type(&self) -> ErrorType {
        match self {
            DigestError::Audit(e) => e.error_type(),
            DigestError::WriteFailed { .. } | DigestError::Contention { .. } => {
                ErrorType::AuditWriteFailed
            }
            DigestError::Kms { error_type, .. } => *error_type,
            DigestError::Corrupt { .. } => ErrorType::AuditTamperDetected,
        }
    }
}

/// The digest key. Adapter: [`KmsDigestSigner`]; tests use a fake.
pub trait DigestSigner: Send + Sync {
    /// Signs a 32-byte SHA-256 digest.
    fn sign(
        &self,
        digest: &[u8; 32],
    ) -> impl Future<Output = Result<Signature, DigestError>> + Send;
    /// `Ok(false)` when the signature does not verify (however the service says so).
    fn verify(
        &self,
        digest: &[u8; 32],
        signature: &[u8],
    ) -> impl Future<Output = Result<bool, DigestError>> + Send;
}

/// Where digests live, and where chain heads are read from.
pub trait DigestStore: Send + Sync {
    /// The newest record of every record chain, sorted by stream.
    fn heads(&self) -> impl Future<Output = Result<Vec<ChainHead>, AuditError>> + Send;
    /// Every stored digest, ascending by `seq`.
    fn digests(&self) -> impl Future<Output = Result<Vec<DigestItem>, AuditError>> + Send;
    /// The stored digest with the highest `seq`.
    fn latest_digest(&self) -> impl Future<Output = Result<Option<DigestItem>, AuditError>> + Send;
    /// Writes digest `seq` only if no digest `seq` exists: `Ok(false)` if one does.
    fn put_digest(
        &self,
        digest: &StoredDigest,
    ) -> impl Future<Output = Result<bool, DigestError>> + Send;
}

// ------------------------------------------------------------------------------------------ KMS

/// Signs and verifies with an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY).
#[derive(Clone)]
pub struct KmsDigestSigner {
    kms: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsDigestSigner {
    pub fn new(kms: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self {
            kms,
            key_id: key_id.into(),
        }
    }

    pub fn from_conf(sdk: &aws_types::SdkConfig, key_id: impl Into<String>) -> Self {
        Self::new(aws_sdk_kms::Client::new(sdk), key_id)
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

fn kms_error<E>(
    op: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> DigestError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
{
    DigestError::Kms {
        message: describe_sdk_error(op, e),
        error_type: classify_sdk_error(e),
    }
}

impl DigestSigner for KmsDigestSigner {
    async fn sign(&self, digest: &[u8; 32]) -> Result<Signature, DigestError> {
        let out = self
            .kms
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(digest.to_vec()))
            .message_type(MessageType::Digest)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| kms_error("kms:Sign", &e))?;
        let bytes = out
            .signature
            .map(Blob::into_inner)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| DigestError::Kms {
                message: "kms:Sign returned no signature".into(),
                error_type: ErrorType::AwsError,
            })?;
        Ok(Signature {
            bytes,
            key_id: out.key_id.unwrap_or_else(|| self.key_id.clone()),
            algorithm: out
                .signing_algorithm
                .map(|a| a.as_str().to_owned())
                .unwrap_or_else(|| SIGNING_ALGORITHM.to_owned()),
        })
    }

    async fn verify(&self, digest: &[u8; 32], signature: &[u8]) -> Result<bool, DigestError> {
        if signature.is_empty() {
            return Ok(false);
        }
        let out = self
            .kms
            .verify()
            .key_id(&self.key_id)
            .message(Blob::new(digest.to_vec()))
            .message_type(MessageType::Digest)
            .signature(Blob::new(signature.to_vec()))
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await;
        match out {
            Ok(out) => Ok(out.signature_valid()),
            // Real KMS says "invalid" with an exception; moto with SignatureValid=false.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_kms_invalid_signature_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(kms_error("kms:Verify", &e)),
        }
    }
}

// ------------------------------------------------------------------------------------- DynamoDB

type Item = HashMap<String, AttributeValue>;

/// Digests in the audit table (stream `digest`), heads from the record chains beside them.
#[derive(Clone)]
pub struct DynamoDigestStore {
    log: DynamoAuditLog,
}

impl DynamoDigestStore {
    pub fn new(log: DynamoAuditLog) -> Self {
        Self { log }
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

    async fn head(&self, stream: String) -> Result<Option<ChainHead>, AuditError> {
        let items = self.query(&stream, true).await?;
        let Some(item) = items.first() else {
            return Ok(None);
        };
        let corrupt = |reason| AuditError::CorruptHead {
            stream: stream.clone(),
            reason,
        };
        let seq = number(item, "seq").map_err(corrupt)?;
        let hash = string(item, "hash").map_err(corrupt)?;
        Ok(Some(ChainHead::new(stream.clone(), seq, hash)))
    }
}

impl DigestStore for DynamoDigestStore {
    async fn heads(&self) -> Result<Vec<ChainHead>, AuditError> {
        let streams = self.log.streams().await?;
        let mut heads: Vec<ChainHead> = stream::iter(streams)
            // Boxed: keeps the future's type shallow for callers (compiler recursion limit).
            .map(|s| Box::pin(self.head(s)))
            .buffer_unordered(CONCURRENCY)
            .try_filter_map(|h| async move { Ok(h) })
            .try_collect()
            .await?;
        heads.sort();
        Ok(heads)
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

    async fn put_digest(&self, digest: &StoredDigest) -> Result<bool, DigestError> {
        let (client, table) = self.log.parts();
        let put = client
            .put_item()
            .table_name(table)
            .set_item(Some(to_item(digest)))
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
}

/// Item layout: `stream`="digest", `seq` (N), `v`, `ts`, `heads` (canonical JSON array of
/// `{last_hash,last_seq,stream}`), `prev_digest_hash`, `digest_hash`, `signature` (B, DER),
/// `key_id`, `signing_algorithm`, `streams` (N, count, informational).
pub fn to_item(d: &StoredDigest) -> Item {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let mut heads = d.digest.heads.clone();
    heads.sort();
    HashMap::from([
        ("stream".to_owned(), s(DIGEST_STREAM)),
        (
            "seq".to_owned(),
            AttributeValue::N(d.digest.seq.to_string()),
        ),
        ("v".to_owned(), s(DIGEST_VERSION)),
        ("ts".to_owned(), s(&d.digest.timestamp)),
        (
            "heads".to_owned(),
            s(&serde_json::to_string(&heads).unwrap_or_default()),
        ),
        (
            "streams".to_owned(),
            AttributeValue::N(heads.len().to_string()),
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
    let heads: Vec<ChainHead> = serde_json::from_str(&string(item, "heads").map_err(bad)?)
        .map_err(|e| bad(format!("attribute heads is not a list of chain heads: {e}")))?;
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
            heads,
        },
        digest_hash: string(item, "digest_hash").map_err(bad)?,
        signature,
        key_id: string(item, "key_id").map_err(bad)?,
        signing_algorithm: string(item, "signing_algorithm").map_err(bad)?,
    })
}

// --------------------------------------------------------------------------------------- memory

/// In-memory digests over a [`MemoryAuditLog`], for unit tests.
#[derive(Clone)]
pub struct MemoryDigestStore {
    log: MemoryAuditLog,
    digests: Arc<Mutex<BTreeMap<u64, StoredDigest>>>,
}

impl MemoryDigestStore {
    pub fn new(log: MemoryAuditLog) -> Self {
        Self {
            log,
            digests: Arc::default(),
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

// ---------------------------------------------------------------------------------------- write

/// Writes the next digest of every chain head, signed, linked to the newest digest. Retries when
/// another writer took the sequence number; fails closed (nothing written) otherwise. Refuses to
/// link to a newest digest that is unreadable or no longer matches its hash.
///
/// (Inner futures are boxed so callers' async state machines stay within the compiler's
/// recursion limit.)
pub async fn write_digest<S: DigestStore, V: DigestSigner>(
    store: &S,
    signer: &V,
    clock: &dyn Clock,
) -> Result<StoredDigest, DigestError> {
    for attempt in 0..MAX_ATTEMPTS {
        let (seq, prev) = match Box::pin(store.latest_digest()).await? {
            None => (1, GENESIS_HASH.to_owned()),
            Some(Err(m)) => {
                return Err(DigestError::Corrupt {
                    seq: m.seq,
                    reason: m.reason,
                })
            }
            Some(Ok(d)) => {
                if d.digest.compute_hash() != d.digest_hash {
                    return Err(DigestError::Corrupt {
                        seq: d.digest.seq,
                        reason: "its content does not match its digest hash".into(),
                    });
                }
                (d.digest.seq + 1, d.digest_hash)
            }
        };
        let heads = Box::pin(store.heads()).await?;
        let digest = Digest::new(seq, clock.now(), prev, heads);
        let hash = digest.hash_bytes();
        let sig = Box::pin(signer.sign(&hash)).await?;
        let stored = StoredDigest {
            digest_hash: hex::encode(hash),
            digest,
            signature: sig.bytes,
            key_id: sig.key_id,
            signing_algorithm: sig.algorithm,
        };
        if Box::pin(store.put_digest(&stored)).await? {
            return Ok(stored);
        }
        super::backoff(attempt).await;
    }
    Err(DigestError::Contention {
        attempts: MAX_ATTEMPTS,
    })
}

// --------------------------------------------------------------------------------------- verify

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
        }
    }
}

/// The newest digest whose signature and hash hold: chains are measured against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LatestDigest {
    pub seq: u64,
    pub timestamp: String,
    pub digest_hash: String,
    pub streams: usize,
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

/// Verifies the record chains (as [`super::verify`]) and, with a signer, the digest chain and
/// every chain against the newest valid digest. Without a signer, digests are counted but not
/// checked ([`DigestCheck::NotConfigured`]).
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
                streams: d.digest.heads.len(),
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
    let keys = match only {
        Some(s) => vec![s.key()],
        None => {
            let mut keys = Box::pin(log.streams()).await?;
            // A stream the digest knows but the table no longer holds was deleted outright.
            if let Some(d) = &latest {
                keys.extend(d.digest.heads.iter().map(|h| h.stream.clone()));
            }
            keys.retain(|k| k != DIGEST_STREAM);
            keys.sort();
            keys.dedup();
            keys
        }
    };
    let mut chains = Vec::with_capacity(keys.len());
    let mut head_faults = Vec::new();
    for key in keys {
        let stored = Box::pin(log.read_stream(&key)).await?;
        if !stored.is_empty() || only.is_some() {
            chains.push(verify_chain(&key, &stored));
        }
        if let Some(d) = &latest {
            if let Some(head) = d.digest.head(&key) {
                head_faults.extend(check_head(head, d.digest.seq, &stored));
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{verify, AuditEntry, AuditRecord, Fault};
    use crate::clock::FixedClock;
    use crate::AccountId;

    /// Stands in for KMS: the "signature" is SHA-256(secret || digest).
    struct FakeSigner {
        secret: &'static str,
    }

    impl FakeSigner {
        fn new() -> Self {
            Self { secret: "key-1" }
        }
        fn mac(&self, digest: &[u8; 32]) -> Vec<u8> {
            let mut h = Sha256::new();
            h.update(self.secret.as_bytes());
            h.update(digest);
            h.finalize().to_vec()
        }
    }

    impl DigestSigner for FakeSigner {
        async fn sign(&self, digest: &[u8; 32]) -> Result<Signature, DigestError> {
            Ok(Signature {
                bytes: self.mac(digest),
                key_id: format!("fake/{}", self.secret),
                algorithm: SIGNING_ALGORITHM.into(),
            })
        }
        async fn verify(&self, digest: &[u8; 32], signature: &[u8]) -> Result<bool, DigestError> {
            Ok(self.mac(digest) == signature)
        }
    }

    fn at() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00.000Z")
            .unwrap()
            .to_utc()
    }

    fn account(id: &str) -> Stream {
        Stream::Account(AccountId::parse(id).unwrap())
    }

    const A: &str = "account/111111111111";

    /// Three chains (2, 3 and 1 records) and one digest of them.
    async fn setup() -> MemoryDigestStore {
        let log = MemoryAuditLog::new(Arc::new(FixedClock(at())));
        for (stream, n) in [
            (account("111111111111"), 2),
            (account("222222222222"), 3),
            (Stream::System, 1),
        ] {
            for i in 0..n {
                log.append(&AuditEntry::new(stream.clone(), "arn:a", "x").reason(format!("{i}")))
                    .await
                    .unwrap();
            }
        }
        let store = MemoryDigestStore::new(log);
        write_digest(&store, &FakeSigner::new(), &FixedClock(at()))
            .await
            .unwrap();
        store
    }

    async fn check(store: &MemoryDigestStore) -> FullReport {
        verify_with_digests(store.log(), store, Some(&FakeSigner::new()), None)
            .await
            .unwrap()
    }

    #[test]
    fn canonical_encoding_is_sorted_compact_json() {
        let d = Digest::new(
            2,
            at(),
            "ab",
            vec![
                ChainHead::new("system", 1, "a1"),
                ChainHead::new("account/111111111111", 7, "f7"),
            ],
        );
        // Heads in stream order (not by hash or sequence number).
        assert_eq!(
            String::from_utf8(d.canonical_bytes()).unwrap(),
            r#"{"heads":[{"last_hash":"f7","last_seq":7,"stream":"account/111111111111"},{"last_hash":"a1","last_seq":1,"stream":"system"}],"prev_digest_hash":"ab","seq":2,"timestamp":"2026-11-24T10:00:00.000Z","type":"rootwarden-audit-digest","v":"1"}"#
        );
        assert_eq!(d.heads[0].stream, "account/111111111111");
        assert_eq!(
            d.compute_hash(),
            hex::encode(Sha256::digest(d.canonical_bytes()))
        );
        // Held order does not matter: the encoding sorts heads.
        let mut shuffled = d.clone();
        shuffled.heads.reverse();
        assert_eq!(shuffled.canonical_bytes(), d.canonical_bytes());
    }

    #[test]
    fn every_field_is_covered_by_the_hash_and_strings_cannot_bleed() {
        let d = Digest::new(
            3,
            at(),
            GENESIS_HASH,
            vec![ChainHead::new("system", 4, "h4")],
        );
        type Mutation = Box<dyn Fn(&mut Digest)>;
        let mutations: Vec<Mutation> = vec![
            Box::new(|d| d.seq += 1),
            Box::new(|d| d.timestamp.push('x')),
            Box::new(|d| d.prev_digest_hash = "f".repeat(64)),
            Box::new(|d| d.heads[0].last_seq += 1),
            Box::new(|d| d.heads[0].last_hash.push('x')),
            Box::new(|d| d.heads[0].stream.push('x')),
            Box::new(|d| d.heads.push(ChainHead::new("account/1", 1, "h"))),
            Box::new(|d| d.heads.clear()),
        ];
        for m in mutations {
            let mut t = d.clone();
            m(&mut t);
            assert_ne!(t.compute_hash(), d.compute_hash(), "{t:?}");
        }
        // A quote in a value is escaped, not read as structure.
        let a = Digest::new(1, at(), "x\",\"seq\":9", vec![]);
        let b = Digest::new(1, at(), "x", vec![]);
        assert_ne!(a.compute_hash(), b.compute_hash());
        assert!(serde_json::from_slice::<serde_json::Value>(&a.canonical_bytes()).is_ok());
    }

    #[test]
    fn item_mapping_round_trips_and_malformed_items_are_named() {
        let d = Digest::new(
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
        item.insert("heads".into(), AttributeValue::S("{".into()));
        let m = from_item(&item).unwrap_err();
        assert_eq!(m.seq, 5);
        assert!(m.reason.contains("heads"), "{}", m.reason);
        item.remove("signature");
        item.insert("heads".into(), AttributeValue::S("[]".into()));
        assert_eq!(
            from_item(&item).unwrap_err().reason,
            "attribute signature is missing"
        );
    }

    #[tokio::test]
    async fn digests_chain_and_verify() {
        let store = setup().await;
        let second = write_digest(&store, &FakeSigner::new(), &FixedClock(at()))
            .await
            .unwrap();
        let digests: Vec<StoredDigest> = store
            .digests()
            .await
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(digests.len(), 2);
        assert_eq!(digests[0].digest.prev_digest_hash, GENESIS_HASH);
        assert_eq!(digests[1].digest.prev_digest_hash, digests[0].digest_hash);
        assert_eq!(second.digest.seq, 2);
        // Unchanged heads still make a digest (liveness), with the same heads.
        assert_eq!(digests[0].digest.heads, digests[1].digest.heads);
        assert_eq!(
            digests[0].digest.heads,
            vec![
                ChainHead::new(A, 2, store.log().records(A)[1].hash.clone()),
                ChainHead::new(
                    "account/222222222222",
                    3,
                    store.log().records("account/222222222222")[2].hash.clone()
                ),
                ChainHead::new("system", 1, store.log().records("system")[0].hash.clone()),
            ]
        );
        let report = check(&store).await;
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.chains.len(), 3);
        match &report.digests {
            DigestCheck::Checked {
                digests, latest, ..
            } => {
                assert_eq!(*digests, 2);
                assert_eq!(latest.as_ref().map(|l| (l.seq, l.streams)), Some((2, 3)));
            }
            other => panic!("{other:?}"),
        }
        // Records appended after the digest are fine.
        store
            .log()
            .append(&AuditEntry::new(account("111111111111"), "arn:a", "later"))
            .await
            .unwrap();
        assert!(check(&store).await.is_ok());
    }

    #[tokio::test]
    async fn deleting_the_newest_record_is_truncation() {
        let store = setup().await;
        store
            .log()
            .with_records_mut(|c| c.get_mut(A).unwrap().remove(&2));
        let report = check(&store).await;
        assert!(!report.is_ok());
        // The chain alone looks intact: only the digest shows the loss.
        assert!(report.chains.iter().all(|c| c.fault.is_none()));
        let fault = &report.digest_faults()[0];
        assert_eq!(
            fault,
            &DigestFault::Truncated {
                stream: A.into(),
                digest_seq: 1,
                last_seq: 2,
                chain_ends: 1
            }
        );
        assert_eq!(fault.label(), "TRUNCATED");
        assert!(
            fault
                .to_string()
                .contains("truncated: records deleted after the last digest"),
            "{fault}"
        );
        assert_eq!(report.digest_faults().len(), 1);
    }

    #[tokio::test]
    async fn deleting_a_whole_stream_is_truncation() {
        let store = setup().await;
        store.log().with_records_mut(|c| c.remove("system"));
        let report = check(&store).await;
        assert_eq!(
            report.digest_faults(),
            &[DigestFault::Truncated {
                stream: "system".into(),
                digest_seq: 1,
                last_seq: 1,
                chain_ends: 0
            }]
        );
        assert!(report.digest_faults()[0]
            .to_string()
            .contains("the stream is now missing"));
    }

    #[tokio::test]
    async fn rewriting_the_head_is_modification_not_truncation() {
        let store = setup().await;
        // A rewritten tail: record 2 replaced by a well-formed, correctly linked record.
        store.log().with_records_mut(|c| {
            let chain = c.get_mut(A).unwrap();
            let prev = chain[&1].hash.clone();
            let forged = AuditRecord::seal(
                &AuditEntry::new(account("111111111111"), "arn:evil", "x"),
                2,
                &prev,
                at(),
            );
            chain.insert(2, forged);
        });
        let report = check(&store).await;
        assert!(
            report.chains.iter().all(|c| c.fault.is_none()),
            "chain alone is fooled"
        );
        assert_eq!(
            report.digest_faults(),
            &[DigestFault::HeadModified {
                stream: A.into(),
                digest_seq: 1,
                seq: 2
            }]
        );
        assert!(report.digest_faults()[0].to_string().contains("modified"));
        // A field edit without rehashing: the chain and the digest both see it.
        let store = setup().await;
        store
            .log()
            .with_records_mut(|c| c.get_mut(A).unwrap().get_mut(&2).unwrap().reason = "x".into());
        let report = check(&store).await;
        assert_eq!(
            report.chains[0].fault,
            Some(Fault::Modified { seq: 2 }),
            "{report:?}"
        );
        assert_eq!(report.digest_faults()[0].label(), "MODIFIED");
    }

    #[tokio::test]
    async fn tampered_digest_content_or_signature_is_signature_invalid() {
        type Tamper = Box<dyn Fn(&mut StoredDigest)>;
        let tampers: Vec<Tamper> = vec![
            Box::new(|d| d.digest.heads[0].last_seq = 1),
            // Even with the stored hash recomputed to match.
            Box::new(|d| {
                d.digest.heads[0].last_seq = 1;
                d.digest_hash = d.digest.compute_hash();
            }),
            Box::new(|d| d.signature[0] ^= 1),
            Box::new(|d| d.signature.clear()),
            Box::new(|d| d.digest.timestamp = "2020-01-01T00:00:00.000Z".into()),
        ];
        for tamper in tampers {
            let store = setup().await;
            store.with_digests_mut(|d| tamper(d.get_mut(&1).unwrap()));
            let report = check(&store).await;
            assert_eq!(
                report.digest_faults(),
                &[DigestFault::SignatureInvalid {
                    seq: 1,
                    key_id: "fake/key-1".into()
                }]
            );
            assert!(report.digest_faults()[0]
                .to_string()
                .contains("signature invalid"));
            // Nothing to measure chains against: no truncation is claimed from a forged digest.
            assert!(matches!(
                report.digests,
                DigestCheck::Checked { latest: None, .. }
            ));
        }
        // A digest signed by another key is invalid too.
        let store = setup().await;
        let other = FakeSigner { secret: "key-2" };
        let report = verify_with_digests(store.log(), &store, Some(&other), None)
            .await
            .unwrap();
        assert!(matches!(
            report.digest_faults(),
            [DigestFault::SignatureInvalid { seq: 1, .. }]
        ));
    }

    #[tokio::test]
    async fn stored_hash_alone_altered_is_a_hash_mismatch() {
        let store = setup().await;
        store.with_digests_mut(|d| d.get_mut(&1).unwrap().digest_hash = "0".repeat(64));
        assert_eq!(
            check(&store).await.digest_faults(),
            &[DigestFault::HashMismatch { seq: 1 }]
        );
    }

    #[tokio::test]
    async fn broken_digest_links_and_gaps_are_reported() {
        // A validly signed digest 1 replaced by another (someone with Sign access): 2 unlinks.
        let store = setup().await;
        write_digest(&store, &FakeSigner::new(), &FixedClock(at()))
            .await
            .unwrap();
        let signer = FakeSigner::new();
        let forged = Digest::new(1, at(), GENESIS_HASH, vec![]);
        let sig = signer.sign(&forged.hash_bytes()).await.unwrap();
        store.with_digests_mut(|d| {
            d.insert(
                1,
                StoredDigest {
                    digest_hash: forged.compute_hash(),
                    digest: forged,
                    signature: sig.bytes,
                    key_id: sig.key_id,
                    signing_algorithm: sig.algorithm,
                },
            )
        });
        let report = check(&store).await;
        assert_eq!(
            report.digest_faults(),
            &[DigestFault::Unlinked { seq: 2, prev: 1 }]
        );
        assert!(report.digest_faults()[0]
            .to_string()
            .contains("the digest chain is broken"));
        // Digest 1 not linked to genesis.
        let (faults, _) = check_digests(
            &[Ok({
                let d = Digest::new(1, at(), "f".repeat(64), vec![]);
                let sig = signer.sign(&d.hash_bytes()).await.unwrap();
                StoredDigest {
                    digest_hash: d.compute_hash(),
                    digest: d,
                    signature: sig.bytes,
                    key_id: sig.key_id,
                    signing_algorithm: sig.algorithm,
                }
            })],
            &signer,
        )
        .await
        .unwrap();
        assert_eq!(faults, vec![DigestFault::Unlinked { seq: 1, prev: 0 }]);
        // A deleted middle digest.
        let store = setup().await;
        for _ in 0..2 {
            write_digest(&store, &signer, &FixedClock(at()))
                .await
                .unwrap();
        }
        store.with_digests_mut(|d| d.remove(&2));
        assert_eq!(
            check(&store).await.digest_faults(),
            &[DigestFault::Missing { seq: 2 }]
        );
    }

    #[tokio::test]
    async fn without_a_key_or_a_digest_chains_are_verified_only() {
        let store = setup().await;
        let report = verify_with_digests(store.log(), &store, None::<&FakeSigner>, None)
            .await
            .unwrap();
        assert_eq!(report.digests, DigestCheck::NotConfigured { digests: 1 });
        assert!(report.is_ok());
        let empty = MemoryDigestStore::new(store.log().clone());
        let report = verify_with_digests(empty.log(), &empty, Some(&FakeSigner::new()), None)
            .await
            .unwrap();
        assert_eq!(report.digests, DigestCheck::NoDigests);
        assert_eq!(report.chains.len(), 3);
    }

    #[tokio::test]
    async fn one_account_is_measured_against_its_own_head_only() {
        let store = setup().await;
        store
            .log()
            .with_records_mut(|c| c.get_mut("account/222222222222").unwrap().remove(&3));
        let only = account("111111111111");
        let report =
            verify_with_digests(store.log(), &store, Some(&FakeSigner::new()), Some(&only))
                .await
                .unwrap();
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.chains.len(), 1);
        let only = account("222222222222");
        let report =
            verify_with_digests(store.log(), &store, Some(&FakeSigner::new()), Some(&only))
                .await
                .unwrap();
        assert_eq!(report.digest_faults()[0].label(), "TRUNCATED");
    }

    #[tokio::test]
    async fn the_writer_refuses_to_link_to_an_altered_digest() {
        let store = setup().await;
        store.with_digests_mut(|d| d.get_mut(&1).unwrap().digest.heads.clear());
        let err = write_digest(&store, &FakeSigner::new(), &FixedClock(at()))
            .await
            .unwrap_err();
        assert_eq!(err.error_type(), ErrorType::AuditTamperDetected);
        assert_eq!(store.with_digests_mut(|d| d.len()), 1, "nothing written");
    }

    #[tokio::test]
    async fn a_lost_race_takes_the_next_sequence_number() {
        /// A store where another writer lands digest `n` just before our first put.
        struct Racing {
            inner: MemoryDigestStore,
            raced: std::sync::atomic::AtomicBool,
        }
        impl DigestStore for Racing {
            async fn heads(&self) -> Result<Vec<ChainHead>, AuditError> {
                self.inner.heads().await
            }
            async fn digests(&self) -> Result<Vec<DigestItem>, AuditError> {
                self.inner.digests().await
            }
            async fn latest_digest(&self) -> Result<Option<DigestItem>, AuditError> {
                self.inner.latest_digest().await
            }
            async fn put_digest(&self, d: &StoredDigest) -> Result<bool, DigestError> {
                if !self.raced.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    write_digest(&self.inner, &FakeSigner::new(), &FixedClock(at())).await?;
                }
                self.inner.put_digest(d).await
            }
        }
        let store = Racing {
            inner: setup().await,
            raced: Default::default(),
        };
        let mine = write_digest(&store, &FakeSigner::new(), &FixedClock(at()))
            .await
            .unwrap();
        assert_eq!(mine.digest.seq, 3);
        assert!(check(&store.inner).await.is_ok());
    }

    #[tokio::test]
    async fn failures_map_to_the_vocabulary() {
        struct Down;
        impl DigestSigner for Down {
            async fn sign(&self, _: &[u8; 32]) -> Result<Signature, DigestError> {
                Err(DigestError::Kms {
                    message: "kms:Sign timed out".into(),
                    error_type: ErrorType::TransientAwsError,
                })
            }
            async fn verify(&self, _: &[u8; 32], _: &[u8]) -> Result<bool, DigestError> {
                Ok(false)
            }
        }
        let store = setup().await;
        let err = write_digest(&store, &Down, &FixedClock(at()))
            .await
            .unwrap_err();
        assert_eq!(err.error_type(), ErrorType::TransientAwsError);
        assert_eq!(
            DigestError::Contention { attempts: 5 }.error_type(),
            ErrorType::AuditWriteFailed
        );
    }

    #[tokio::test]
    async fn record_verification_skips_the_digest_stream() {
        let store = setup().await;
        // As in DynamoDB, where digests share the table: the reserved key is not a chain.
        store.log().with_records_mut(|c| {
            c.entry(DIGEST_STREAM.into()).or_default().insert(
                1,
                AuditRecord {
                    stream: DIGEST_STREAM.into(),
                    seq: 1,
                    timestamp: String::new(),
                    actor: String::new(),
                    action: String::new(),
                    target: String::new(),
                    outcome: String::new(),
                    reason: String::new(),
                    correlation_id: String::new(),
                    details: String::new(),
                    prev_hash: String::new(),
                    hash: "not a record".into(),
                },
            )
        });
        let report = verify(store.log(), None).await.unwrap();
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.chains.len(), 3);
        let full = check(&store).await;
        assert!(full.chains.iter().all(|c| c.stream != DIGEST_STREAM));
    }
}
