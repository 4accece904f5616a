//! Signed, chained digests of every audit chain's head (CloudTrail-style digest files), paged so
//! they scale to any number of chains.
//!
//! A hash chain alone cannot show that its newest records were deleted, or that its whole tail was
//! rewritten by someone with write access to the table. A scheduled job (`audit-digest`) therefore
//! takes every chain head — `(stream, last_seq, last_hash)` — sorted by stream, splits them into
//! [`DigestPage`]s of at most [`PAGE_SIZE`] heads, stores each page under its SHA-256
//! (content-addressed; unchanged pages are not written again), then writes a signed [`Digest`]:
//! sequence number, timestamp, the previous digest's hash, the number of heads and the ordered
//! page hashes, as canonical JSON ([`Digest::canonical_bytes`]), hashed with SHA-256 and signed by
//! KMS (`Sign`, `ECDSA_SHA_256`, `MessageType=DIGEST`) with an asymmetric key only the digest job
//! may use. Digest 1 links to [`GENESIS_HASH`](crate::audit::GENESIS_HASH); digest `n` to `n-1`.
//!
//! Modules: [`canonical`] (what is hashed and signed), [`sign`] (the key), [`store`] (where it
//! lives), [`write`] (writing the next digest), [`verify`] (checking digests and chains).
//!
//! Storage: signed digests under the reserved stream key [`DIGEST_STREAM`] (`seq` 1, 2, 3, …,
//! each written with `attribute_not_exists`, so two writers cannot both write digest `n`); pages
//! under `digest-page/<hash>` ([`PAGE_STREAM_PREFIX`]), written before the digest that names
//! them. No item grows with the estate beyond a page: a page of 1,000 heads is ~130 KB, the
//! signed item 67 bytes per page. Record chains are never keyed either way, and
//! `audit::verify` / `streams()` skip both.
//! A digest is written on every run even when no head moved: it proves the job (and the key) are
//! alive; the daily verifier fails when the newest valid digest is older than allowed.
//!
//! [`verify_with_digests`] verifies the record chains as `audit::verify` does, then every digest
//! (KMS `Verify` over the recomputed hash, the stored hash, the link to the previous digest, no
//! gaps), then reads the newest valid digest's pages (a page that is gone, or no longer hashes to
//! the hash the digest signed, is reported and its chains cannot be measured), then every chain
//! against its head there: a chain that now ends before the digest's `last_seq` (or is gone) was
//! **truncated**; a chain whose record at `last_seq` hashes differently was **modified**.
//!
//! Format: version 2. Version-1 digests (every head inside the signed item, which passed
//! DynamoDB's 400 KB item limit at ~3,300 chains) are reported as unreadable; nothing was deployed
//! with them.
//!
//! Limit: deleting the newest digests *and* records written after the remaining newest digest is
//! only visible as a stale newest digest (and in any copy of the digests kept elsewhere).

pub mod canonical;
pub mod fleet_verify;
pub mod fleet_write;
pub mod sign;
pub mod store;
pub mod succession;
pub mod verify;
pub mod write;

pub use canonical::{
    paginate, ChainHead, Digest, DigestPage, DIGEST_TYPE, DIGEST_VERSION, PAGE_SIZE,
};
pub use fleet_verify::{
    plan_verification, summarize_verification, verify_segment, SegmentReport, VerificationSummary,
    VerifyPlan,
};
pub use fleet_write::{plan_digest, sign_digest, write_segment_pages, DigestPlan, SegmentPages};
pub use sign::{DigestSigner, Signature, SIGNING_ALGORITHM};
pub use store::{
    is_reserved, DigestItem, DigestStore, MalformedDigest, MemoryDigestStore, PageItem,
    StoredDigest, DIGEST_STREAM, PAGE_STREAM_PREFIX,
};
pub use verify::{
    check_digests, check_head, digest_age_seconds, load_heads, verify_with_digests, DigestCheck,
    DigestFault, FullReport, LatestDigest,
};
pub use write::write_digest;

use super::AuditError;
use crate::error::Classify;
use crate::ErrorType;

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
    /// The heads to sign do not go on from the previous digest (a chain is gone, shorter, or
    /// rewritten at the record it named): signing them would launder the change.
    #[error("audit digest not signed: the heads do not go on from the previous digest: {0}")]
    Regressed(String),
    /// A fleet step was not given every segment's result exactly once.
    #[error("audit digest steps incomplete: {reason}")]
    Incomplete { reason: String },
    /// Fail closed: what the segments wrote does not add up to a digest (no digest written).
    #[error("audit digest not signed: {0}")]
    Refused(String),
}

impl Classify for DigestError {
    fn error_type(&self) -> ErrorType {
        match self {
            DigestError::Audit(e) => e.error_type(),
            DigestError::WriteFailed { .. }
            | DigestError::Contention { .. }
            | DigestError::Refused(_) => ErrorType::AuditWriteFailed,
            DigestError::Kms { error_type, .. } => *error_type,
            DigestError::Corrupt { .. } | DigestError::Regressed(_) => {
                ErrorType::AuditTamperDetected
            }
            DigestError::Incomplete { .. } => ErrorType::ValidationError,
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fleet_tests;
