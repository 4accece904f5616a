//! KMS + DynamoDB adapter for transient secrets, with its item mapping.
//!
//! Item: pk `transient#<account|unrouted>`, sk `<kind>#<source>#<n>` (the n-th secret of that
//! kind in the source message);
//! `ciphertext` (B), `kind`, `source`, `expires_at` (RFC 3339), `ttl` (epoch seconds, for
//! DynamoDB TTL). The KMS encryption context is
//! `{rootwarden:account, rootwarden:kind, rootwarden:source}`: a ciphertext moved to another
//! item does not decrypt.

use std::future::Future;

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::error::Classify;
use crate::mail::SecretKind;
use crate::{AccountId, ErrorType};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransientError {
    #[error("vault unavailable: {message}")]
    Unavailable {
        message: String,
        error_type: ErrorType,
    },
    #[error("vault key refused the operation: {message}")]
    Key { message: String },
    #[error("stored secret is unreadable: {reason}")]
    Corrupt { reason: String },
}

impl Classify for TransientError {
    fn error_type(&self) -> ErrorType {
        match self {
            TransientError::Unavailable { error_type, .. } => *error_type,
            TransientError::Key { .. } => ErrorType::AwsError,
            TransientError::Corrupt { .. } => ErrorType::InternalError,
        }
    }
}

/// Where a stored secret lives; safe to log and to put on a ticket.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredTransient {
    pub pk: String,
    pub sk: String,
    pub kind: SecretKind,
    pub expires_at: DateTime<Utc>,
}

/// A secret encrypted for the transient store but not stored yet: the inbound-mail use case
/// hands it to the ticket store, which writes it in the transaction that records the delivery
/// that carried it ([`crate::tickets::IncomingMessage::secrets`]). Ciphertext only; `Debug` shows
/// where it goes and its length, never its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedTransient {
    pub stored: StoredTransient,
    /// The message it came from (part of its encryption context).
    pub source: String,
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedTransient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedTransient")
            .field("stored", &self.stored)
            .field("source", &self.source)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

pub trait TransientStore: Send + Sync {
    /// Encrypts the `index`-th secret of `kind` from message `source` for the item
    /// [`TransientStore::put`] would write, without writing it. Expiry counts from `received`.
    fn seal(
        &self,
        account: Option<&AccountId>,
        kind: SecretKind,
        source: &str,
        index: usize,
        received: DateTime<Utc>,
        value: &SecretString,
    ) -> impl Future<Output = Result<SealedTransient, TransientError>> + Send;

    /// Writes a secret [`TransientStore::seal`] sealed, on its own (the ticket store writes a
    /// mail's secrets in its transaction instead).
    fn store(
        &self,
        sealed: &SealedTransient,
    ) -> impl Future<Output = Result<(), TransientError>> + Send;

    /// Encrypts and stores the `index`-th secret of `kind` from message `source`. Idempotent: a
    /// re-delivery of the same message lands on the same item. Expiry counts from `received`.
    fn put(
        &self,
        account: Option<&AccountId>,
        kind: SecretKind,
        source: &str,
        index: usize,
        received: DateTime<Utc>,
        value: &SecretString,
    ) -> impl Future<Output = Result<StoredTransient, TransientError>> + Send {
        async move {
            let sealed = self
                .seal(account, kind, source, index, received, value)
                .await?;
            self.store(&sealed).await?;
            Ok(sealed.stored)
        }
    }

    /// What a check-out may show of one kind for an account: the newest unexpired secret,
    /// decrypted, and for reset links only one on AWS's own sign-in host
    /// ([`is_genuine_reset_link`](crate::mail::redact::is_genuine_reset_link), checked again on
    /// read, so an item vaulted before that rule existed is never shown). At most one element:
    /// never a page of links for an operator to choose from.
    fn unexpired(
        &self,
        account: Option<&AccountId>,
        kind: SecretKind,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<(StoredTransient, SecretString)>, TransientError>> + Send;
}
