//! `KmsTransientStore`: short-lived secrets from mail (reset links, codes), KMS-encrypted in the vault table.

use crate::mail::redact::is_genuine_reset_link;
use crate::mail::SecretKind;
use crate::sdk::{classify_sdk_error, describe_sdk_error};
use crate::{AccountId, ErrorType};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use chrono::{DateTime, Utc};
use rootwarden_core::vault::transient::*;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;

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

/// The vault item of a sealed secret (layout in `rootwarden_core::vault::transient`): what
/// [`TransientStore::put`] writes, and what the ticket store writes with the delivery that
/// carried it.
pub fn sealed_item(sealed: &SealedTransient) -> HashMap<String, AttributeValue> {
    let stored = &sealed.stored;
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(stored.pk.clone())),
        ("sk".to_owned(), AttributeValue::S(stored.sk.clone())),
        (
            "ciphertext".to_owned(),
            AttributeValue::B(Blob::new(sealed.ciphertext.clone())),
        ),
        (
            "kind".to_owned(),
            AttributeValue::S(stored.kind.as_str().to_owned()),
        ),
        (
            "source".to_owned(),
            AttributeValue::S(sealed.source.clone()),
        ),
        (
            "expires_at".to_owned(),
            AttributeValue::S(stored.expires_at.to_rfc3339()),
        ),
        (
            "ttl".to_owned(),
            AttributeValue::N(stored.expires_at.timestamp().to_string()),
        ),
    ])
}

impl TransientStore for KmsTransientStore {
    async fn seal(
        &self,
        account: Option<&AccountId>,
        kind: SecretKind,
        source: &str,
        index: usize,
        received: DateTime<Utc>,
        value: &SecretString,
    ) -> Result<SealedTransient, TransientError> {
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
        Ok(SealedTransient {
            stored: StoredTransient {
                pk: format!("transient#{acct}"),
                sk: format!("{}#{source}#{index}", kind.as_str()),
                kind,
                expires_at,
            },
            source: source.to_owned(),
            ciphertext: blob.into_inner(),
        })
    }

    async fn store(&self, sealed: &SealedTransient) -> Result<(), TransientError> {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(sealed_item(sealed)))
            .send()
            .await
            .map_err(|e| TransientError::Unavailable {
                message: describe_sdk_error("dynamodb:PutItem", &e),
                error_type: classify_sdk_error(&e),
            })?;
        Ok(())
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
