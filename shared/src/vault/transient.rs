//! KMS + DynamoDB adapter for transient secrets, with its item mapping.
//!
//! Item: pk `transient#<account|unrouted>`, sk `<kind>#<source>#<n>` (the n-th secret of that
//! kind in the source message);
//! `ciphertext` (B), `kind`, `source`, `expires_at` (RFC 3339), `ttl` (epoch seconds, for
//! DynamoDB TTL). The KMS encryption context is
//! `{rootwarden:account, rootwarden:kind, rootwarden:source}`: a ciphertext moved to another
//! item does not decrypt.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::aws::{classify_sdk_error, describe_sdk_error};
use crate::error::Classify;
use crate::mail::redact::is_genuine_reset_link;
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

pub trait TransientStore: Send + Sync {
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
    ) -> impl Future<Output = Result<StoredTransient, TransientError>> + Send;

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

#[derive(Clone)]
pub struct KmsTransientStore {
    ddb: aws_sdk_dynamodb::Client,
    kms: aws_sdk_kms::Client,
    table: String,
    key_id: String,
}

fn account_key(account: Option<&AccountId>) -> String {
    account
        .map(|a| a.as_str().to_owned())
        .unwrap_or_else(|| "unrouted".to_owned())
}

fn context(account: &str, kind: SecretKind, source: &str) -> HashMap<String, String> {
    HashMap::from([
        ("rootwarden:account".to_owned(), account.to_owned()),
        ("rootwarden:kind".to_owned(), kind.as_str().to_owned()),
        ("rootwarden:source".to_owned(), source.to_owned()),
    ])
}

fn kind_from(s: &str) -> Option<SecretKind> {
    match s {
        "password-reset-link" => Some(SecretKind::PasswordResetLink),
        "verification-code" => Some(SecretKind::VerificationCode),
        _ => None,
    }
}

impl KmsTransientStore {
    pub fn new(
        ddb: aws_sdk_dynamodb::Client,
        kms: aws_sdk_kms::Client,
        table: impl Into<String>,
        key_id: impl Into<String>,
    ) -> Self {
        Self {
            ddb,
            kms,
            table: table.into(),
            key_id: key_id.into(),
        }
    }
}

impl TransientStore for KmsTransientStore {
    async fn put(
        &self,
        account: Option<&AccountId>,
        kind: SecretKind,
        source: &str,
        index: usize,
        received: DateTime<Utc>,
        value: &SecretString,
    ) -> Result<StoredTransient, TransientError> {
        let acct = account_key(account);
        let expires_at = received + super::ttl(kind);
        let encrypted = self
            .kms
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(value.expose_secret().as_bytes()))
            .set_encryption_context(Some(context(&acct, kind, source)))
            .send()
            .await
            .map_err(|e| match classify_sdk_error(&e) {
                ErrorType::TransientAwsError => TransientError::Unavailable {
                    message: describe_sdk_error("kms:Encrypt", &e),
                    error_type: ErrorType::TransientAwsError,
                },
                _ => TransientError::Key {
                    message: describe_sdk_error("kms:Encrypt", &e),
                },
            })?;
        let blob = encrypted
            .ciphertext_blob
            .ok_or_else(|| TransientError::Key {
                message: "kms:Encrypt returned no ciphertext".into(),
            })?;
        let stored = StoredTransient {
            pk: format!("transient#{acct}"),
            sk: format!("{}#{source}#{index}", kind.as_str()),
            kind,
            expires_at,
        };
        let item = HashMap::from([
            ("pk".to_owned(), AttributeValue::S(stored.pk.clone())),
            ("sk".to_owned(), AttributeValue::S(stored.sk.clone())),
            ("ciphertext".to_owned(), AttributeValue::B(blob)),
            (
                "kind".to_owned(),
                AttributeValue::S(kind.as_str().to_owned()),
            ),
            ("source".to_owned(), AttributeValue::S(source.to_owned())),
            (
                "expires_at".to_owned(),
                AttributeValue::S(expires_at.to_rfc3339()),
            ),
            (
                "ttl".to_owned(),
                AttributeValue::N(expires_at.timestamp().to_string()),
            ),
        ]);
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| TransientError::Unavailable {
                message: describe_sdk_error("dynamodb:PutItem", &e),
                error_type: classify_sdk_error(&e),
            })?;
        Ok(stored)
    }

    async fn unexpired(
        &self,
        account: Option<&AccountId>,
        kind: SecretKind,
        now: DateTime<Utc>,
    ) -> Result<Vec<(StoredTransient, SecretString)>, TransientError> {
        let acct = account_key(account);
        let items: Vec<HashMap<String, AttributeValue>> = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :kind)")
            .expression_attribute_values(":pk", AttributeValue::S(format!("transient#{acct}")))
            .expression_attribute_values(":kind", AttributeValue::S(format!("{}#", kind.as_str())))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| TransientError::Unavailable {
                message: describe_sdk_error("dynamodb:Query", &e),
                error_type: classify_sdk_error(&e),
            })?;
        let mut candidates = Vec::new();
        for item in &items {
            let text = |k: &str| match item.get(k) {
                Some(AttributeValue::S(v)) => Ok(v.clone()),
                _ => Err(TransientError::Corrupt {
                    reason: format!("{k} missing"),
                }),
            };
            // DynamoDB TTL deletes late (up to days): expiry is enforced here.
            let expires_at = DateTime::parse_from_rfc3339(&text("expires_at")?)
                .map_err(|_| TransientError::Corrupt {
                    reason: "expires_at unreadable".into(),
                })?
                .to_utc();
            if expires_at <= now {
                continue;
            }
            let stored_kind = kind_from(&text("kind")?).ok_or_else(|| TransientError::Corrupt {
                reason: "unknown kind".into(),
            })?;
            let Some(AttributeValue::B(blob)) = item.get("ciphertext") else {
                return Err(TransientError::Corrupt {
                    reason: "ciphertext missing".into(),
                });
            };
            candidates.push((
                StoredTransient {
                    pk: text("pk")?,
                    sk: text("sk")?,
                    kind: stored_kind,
                    expires_at,
                },
                text("source")?,
                blob.clone(),
            ));
        }
        // Newest first (expiry counts from receipt); within one message, its order.
        candidates.sort_by(|a, b| {
            b.0.expires_at
                .cmp(&a.0.expires_at)
                .then_with(|| a.0.sk.cmp(&b.0.sk))
        });
        for (stored, source, blob) in candidates {
            let plain = self
                .kms
                .decrypt()
                .ciphertext_blob(blob)
                .set_encryption_context(Some(context(&acct, stored.kind, &source)))
                .send()
                .await
                .map_err(|e| TransientError::Key {
                    message: describe_sdk_error("kms:Decrypt", &e),
                })?;
            let bytes = plain.plaintext.ok_or_else(|| TransientError::Key {
                message: "kms:Decrypt returned no plaintext".into(),
            })?;
            let value =
                String::from_utf8(bytes.into_inner()).map_err(|_| TransientError::Corrupt {
                    reason: "not UTF-8".into(),
                })?;
            if stored.kind == SecretKind::PasswordResetLink && !is_genuine_reset_link(&value) {
                continue;
            }
            return Ok(vec![(stored, SecretString::from(value))]);
        }
        Ok(Vec::new())
    }
}
