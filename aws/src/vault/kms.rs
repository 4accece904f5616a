//! `KmsVault`: the vault in DynamoDB, each version encrypted under KMS with its encryption context.

use crate::audit::{AuditEntry, AuditError, DynamoAuditLog, Stream};
use crate::sdk::{classify_sdk_error, describe_sdk_error};
use crate::{AccountId, Clock, ErrorType};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use aws_sdk_kms::primitives::Blob;
use rootwarden_core::vault::credentials::*;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;

#[derive(Clone)]
pub struct KmsVault {
    ddb: aws_sdk_dynamodb::Client,
    kms: aws_sdk_kms::Client,
    table: String,
    key_id: String,
    audit: DynamoAuditLog,
    clock: std::sync::Arc<dyn Clock>,
}

/// A KMS failure: transient (retry) or the key refusing (disabled, wrong context, no grant).
fn kms_error<E>(
    operation: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> VaultError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
{
    let message = describe_sdk_error(operation, e);
    match classify_sdk_error(e) {
        ErrorType::TransientAwsError => VaultError::Unavailable {
            message,
            error_type: ErrorType::TransientAwsError,
        },
        _ => VaultError::Key { message },
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: u32) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn partition(account: &AccountId, kind: CredentialKind) -> String {
    format!("cred#{account}#{}", kind.as_str())
}

pub fn version_key(version: u32) -> String {
    format!("v#{version:010}")
}

fn context(account: &AccountId, kind: CredentialKind, version: u32) -> HashMap<String, String> {
    HashMap::from([
        ("rootwarden:account".to_owned(), account.as_str().to_owned()),
        ("rootwarden:kind".to_owned(), kind.as_str().to_owned()),
        ("rootwarden:version".to_owned(), version.to_string()),
    ])
}

fn num(item: &HashMap<String, AttributeValue>, k: &str) -> Option<u32> {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}
fn text(item: &HashMap<String, AttributeValue>, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}

fn head_from(item: &HashMap<String, AttributeValue>) -> Result<Head, VaultError> {
    Ok(Head {
        current: num(item, "current")
            .ok_or_else(|| VaultError::Corrupt("head has no current".into()))?,
        current_execution: text(item, "current_execution"),
        current_since: text(item, "current_since").unwrap_or_default(),
        previous: num(item, "previous"),
        pending: num(item, "pending"),
        pending_execution: text(item, "pending_execution"),
        next_version: num(item, "next_version")
            .ok_or_else(|| VaultError::Corrupt("head has no next_version".into()))?,
    })
}

fn version_from(item: &HashMap<String, AttributeValue>) -> Result<VersionInfo, VaultError> {
    Ok(VersionInfo {
        version: num(item, "version")
            .ok_or_else(|| VaultError::Corrupt("version missing".into()))?,
        stage: text(item, "stage")
            .and_then(|st| Stage::parse(&st))
            .ok_or_else(|| VaultError::Corrupt("stage missing".into()))?,
        created_at: text(item, "created_at").unwrap_or_default(),
        stage_changed_at: text(item, "stage_changed_at").unwrap_or_default(),
        execution: text(item, "execution"),
    })
}

fn unavailable<E>(
    op: &str,
    e: &aws_sdk_dynamodb::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> VaultError
where
    E: std::error::Error + aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    VaultError::Unavailable {
        message: describe_sdk_error(op, e),
        error_type: classify_sdk_error(e),
    }
}

fn build<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, VaultError> {
    r.map_err(|e| VaultError::Corrupt(format!("building a request: {e}")))
}

/// Why a transaction was cancelled, by item index.
fn cancelled_codes(
    e: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError>,
) -> Option<Vec<String>> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => Some(
            c.cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_owned())
                .collect(),
        ),
        _ => None,
    }
}

enum TxOutcome {
    Done,
    /// One of the caller's own conditions failed (not the audit record's).
    Lost,
}

impl KmsVault {
    pub fn new(
        ddb: aws_sdk_dynamodb::Client,
        kms: aws_sdk_kms::Client,
        table: impl Into<String>,
        key_id: impl Into<String>,
        audit: DynamoAuditLog,
        clock: std::sync::Arc<dyn Clock>,
    ) -> Self {
        Self {
            ddb,
            kms,
            table: table.into(),
            key_id: key_id.into(),
            audit,
            clock,
        }
    }

    fn now(&self) -> String {
        crate::registry::stamp(self.clock.now())
    }

    async fn encrypt(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        version: u32,
        secret: &SecretString,
    ) -> Result<Blob, VaultError> {
        let out = self
            .kms
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(secret.expose_secret().as_bytes()))
            .set_encryption_context(Some(context(account, kind, version)))
            .send()
            .await
            .map_err(|e| kms_error("kms:Encrypt", &e))?;
        out.ciphertext_blob.ok_or_else(|| VaultError::Key {
            message: "kms:Encrypt returned no ciphertext".into(),
        })
    }

    async fn decrypt(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        version: u32,
        blob: Blob,
    ) -> Result<SecretString, VaultError> {
        let out = self
            .kms
            .decrypt()
            .ciphertext_blob(blob)
            .key_id(&self.key_id)
            .set_encryption_context(Some(context(account, kind, version)))
            .send()
            .await
            .map_err(|e| kms_error("kms:Decrypt", &e))?;
        let bytes = out.plaintext.ok_or_else(|| VaultError::Key {
            message: "kms:Decrypt returned no plaintext".into(),
        })?;
        String::from_utf8(bytes.into_inner())
            .map(SecretString::from)
            .map_err(|_| VaultError::Corrupt("decrypted credential is not UTF-8".into()))
    }

    /// Whether version `version` decrypts under its encryption context, without the plaintext
    /// leaving KMS: a ReEncrypt onto the same key with the same context (the result is dropped).
    async fn verify_decrypts(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        version: u32,
    ) -> Result<(), VaultError> {
        let item = self
            .get(account, kind, &version_key(version))
            .await?
            .ok_or_else(|| {
                VaultError::NotFound(format!("{} version {version} of {account}", kind.as_str()))
            })?;
        let Some(AttributeValue::B(blob)) = item.get("ciphertext") else {
            return Err(VaultError::Corrupt("ciphertext missing".into()));
        };
        let ctx = context(account, kind, version);
        self.kms
            .re_encrypt()
            .ciphertext_blob(blob.clone())
            .source_key_id(&self.key_id)
            .set_source_encryption_context(Some(ctx.clone()))
            .destination_key_id(&self.key_id)
            .set_destination_encryption_context(Some(ctx))
            .send()
            .await
            .map_err(|e| kms_error("kms:ReEncrypt", &e))?;
        Ok(())
    }

    async fn get(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        sk: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, VaultError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(partition(account, kind)))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("dynamodb:GetItem", &e))?;
        Ok(out.item)
    }

    fn audit_entry(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        action: &str,
        actor: &Actor,
    ) -> AuditEntry {
        AuditEntry::new(Stream::Account(account.clone()), &actor.actor, action)
            .target(partition(account, kind))
            .reason(&actor.reason)
            .correlation_id(&actor.correlation_id)
            .detail("kind", kind.as_str())
    }

    /// Runs `items` plus the audit record in one transaction. Retries when only the audit
    /// record lost its race (another record took the sequence number).
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        entry: &AuditEntry,
    ) -> Result<TxOutcome, VaultError> {
        for attempt in 0..8 {
            let (_, put) = self.audit.prepare(entry).await?;
            let mut all = items.clone();
            all.push(TransactWriteItem::builder().put(put).build());
            match self
                .ddb
                .transact_write_items()
                .set_transact_items(Some(all))
                .send()
                .await
            {
                Ok(_) => return Ok(TxOutcome::Done),
                Err(e) => match cancelled_codes(&e) {
                    Some(codes) => {
                        let own_failed = codes[..codes.len().saturating_sub(1)]
                            .iter()
                            .any(|c| c == "ConditionalCheckFailed");
                        if own_failed {
                            return Ok(TxOutcome::Lost);
                        }
                        let audit_failed =
                            codes.last().is_some_and(|c| c == "ConditionalCheckFailed");
                        if !audit_failed {
                            // Conflicting concurrent transaction on the same items.
                            crate::audit::backoff(attempt).await;
                            continue;
                        }
                        crate::audit::backoff(attempt).await;
                    }
                    None => {
                        return Err(unavailable("dynamodb:TransactWriteItems", &e));
                    }
                },
            }
        }
        Err(VaultError::Audit(AuditError::Contention {
            stream: entry.stream.key(),
            attempts: 8,
        }))
    }

    /// The transaction items that vault `secret` as version 1, `current`, for a new account
    /// (onboarding puts them in one transaction with the registry item and the audit record).
    /// Fails with `Conflict` in that transaction if anything is vaulted already.
    pub async fn initial_items(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        secret: &SecretString,
        execution: &str,
    ) -> Result<Vec<TransactWriteItem>, VaultError> {
        let blob = self.encrypt(account, kind, 1, secret).await?;
        let now = self.now();
        let pk = partition(account, kind);
        let head = build(
            Put::builder()
                .table_name(&self.table)
                .item("pk", s(&pk))
                .item("sk", s("head"))
                .item("current", n(1))
                .item("current_execution", s(execution))
                .item("current_since", s(&now))
                .item("next_version", n(2))
                .item("updated_at", s(&now))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        let version = build(
            Put::builder()
                .table_name(&self.table)
                .item("pk", s(&pk))
                .item("sk", s(version_key(1)))
                .item("version", n(1))
                .item("stage", s(Stage::Current.as_str()))
                .item("ciphertext", AttributeValue::B(blob))
                .item("created_at", s(&now))
                .item("stage_changed_at", s(&now))
                .item("execution", s(execution))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        Ok(vec![
            TransactWriteItem::builder().put(head).build(),
            TransactWriteItem::builder().put(version).build(),
        ])
    }

    fn stage_update(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        version: u32,
        from: Stage,
        to: Stage,
        now: &str,
    ) -> Result<TransactWriteItem, VaultError> {
        let u = build(
            Update::builder()
                .table_name(&self.table)
                .key("pk", s(partition(account, kind)))
                .key("sk", s(version_key(version)))
                .update_expression("SET stage = :to, stage_changed_at = :now")
                .condition_expression("stage = :from")
                .expression_attribute_values(":to", s(to.as_str()))
                .expression_attribute_values(":from", s(from.as_str()))
                .expression_attribute_values(":now", s(now))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().update(u).build())
    }

    async fn read_head(
        &self,
        account: &AccountId,
        kind: CredentialKind,
    ) -> Result<Head, VaultError> {
        match self.get(account, kind, "head").await? {
            Some(item) => head_from(&item),
            None => Err(VaultError::NotFound(format!(
                "no {} vaulted for account {account}",
                kind.as_str()
            ))),
        }
    }
}

impl Vault for KmsVault {
    async fn head(
        &self,
        account: &AccountId,
        kind: CredentialKind,
    ) -> Result<Option<Head>, VaultError> {
        self.get(account, kind, "head")
            .await?
            .map(|i| head_from(&i))
            .transpose()
    }

    async fn versions(
        &self,
        account: &AccountId,
        kind: CredentialKind,
    ) -> Result<Vec<VersionInfo>, VaultError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .ddb
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :v)")
                .expression_attribute_values(":pk", s(partition(account, kind)))
                .expression_attribute_values(":v", s("v#"))
                .projection_expression("version, stage, created_at, stage_changed_at, execution")
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| unavailable("dynamodb:Query", &e))?;
            for item in out.items() {
                found.push(version_from(item)?);
            }
            start = out.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        Ok(found)
    }

    async fn reveal(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        version: Option<u32>,
    ) -> Result<(VersionInfo, SecretString), VaultError> {
        let v = match version {
            Some(v) => v,
            None => self.read_head(account, kind).await?.current,
        };
        let item = self
            .get(account, kind, &version_key(v))
            .await?
            .ok_or_else(|| {
                VaultError::NotFound(format!("{} version {v} of {account}", kind.as_str()))
            })?;
        let info = version_from(&item)?;
        let Some(AttributeValue::B(blob)) = item.get("ciphertext") else {
            return Err(VaultError::Corrupt("ciphertext missing".into()));
        };
        let secret = self.decrypt(account, kind, v, blob.clone()).await?;
        Ok((info, secret))
    }

    async fn stage_pending(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        execution: &str,
        secret: &SecretString,
        actor: &Actor,
    ) -> Result<(u32, bool), VaultError> {
        if execution.is_empty() {
            return Err(VaultError::Invalid("execution must not be empty".into()));
        }
        let head = self.read_head(account, kind).await?;
        if let Some(p) = head.pending {
            return if head.pending_execution.as_deref() == Some(execution) {
                Ok((p, false))
            } else {
                Err(VaultError::Conflict(format!(
                    "account {account} already has pending {} version {p} of another rotation",
                    kind.as_str()
                )))
            };
        }
        if head.current_execution.as_deref() == Some(execution) {
            return Err(VaultError::Conflict(format!(
                "rotation {execution} already completed for account {account}"
            )));
        }
        let v = head.next_version;
        let blob = self.encrypt(account, kind, v, secret).await?;
        let now = self.now();
        let pk = partition(account, kind);
        let put = build(
            Put::builder()
                .table_name(&self.table)
                .item("pk", s(&pk))
                .item("sk", s(version_key(v)))
                .item("version", n(v))
                .item("stage", s(Stage::Pending.as_str()))
                .item("ciphertext", AttributeValue::B(blob))
                .item("created_at", s(&now))
                .item("stage_changed_at", s(&now))
                .item("execution", s(execution))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        let update = build(
            Update::builder()
                .table_name(&self.table)
                .key("pk", s(&pk))
                .key("sk", s("head"))
                .update_expression(
                    "SET pending = :v, pending_execution = :e, next_version = :next, updated_at = :now",
                )
                .condition_expression(
                    "attribute_not_exists(pending) AND next_version = :v AND #c = :c",
                )
                .expression_attribute_names("#c", "current")
                .expression_attribute_values(":v", n(v))
                .expression_attribute_values(":e", s(execution))
                .expression_attribute_values(":next", n(v + 1))
                .expression_attribute_values(":now", s(&now))
                .expression_attribute_values(":c", n(head.current))
                .build(),
        )?;
        let entry = self
            .audit_entry(account, kind, "vault.stage-pending", actor)
            .detail("version", v)
            .detail("current", head.current)
            .detail("execution", execution);
        match self
            .transact(
                vec![
                    TransactWriteItem::builder().put(put).build(),
                    TransactWriteItem::builder().update(update).build(),
                ],
                &entry,
            )
            .await?
        {
            TxOutcome::Done => Ok((v, true)),
            TxOutcome::Lost => {
                // Someone else moved first. If it was this same execution (a retry racing
                // itself), its version stands; otherwise a clear conflict.
                let now_head = self.read_head(account, kind).await?;
                match (now_head.pending, now_head.pending_execution.as_deref()) {
                    (Some(p), Some(e)) if e == execution => Ok((p, false)),
                    _ => Err(VaultError::Conflict(format!(
                        "another writer changed account {account}'s {} stages first",
                        kind.as_str()
                    ))),
                }
            }
        }
    }

    async fn promote(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        execution: &str,
        actor: &Actor,
    ) -> Result<u32, VaultError> {
        let head = self.read_head(account, kind).await?;
        let p = match (head.pending, head.pending_execution.as_deref()) {
            (Some(p), Some(e)) if e == execution => p,
            _ if head.current_execution.as_deref() == Some(execution) => return Ok(head.current),
            (Some(p), _) => {
                return Err(VaultError::Conflict(format!(
                    "pending version {p} of account {account} belongs to another rotation"
                )))
            }
            (None, _) => {
                return Err(VaultError::NotFound(format!(
                    "rotation {execution} has no pending {} for account {account}",
                    kind.as_str()
                )))
            }
        };
        // The new current must decrypt before it becomes current: proved with a ReEncrypt onto
        // the same key, so whoever promotes (an operator settling an orphaned rotation too)
        // never needs kms:Decrypt and never sees the secret.
        self.verify_decrypts(account, kind, p).await?;
        let now = self.now();
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(partition(account, kind)))
            .key("sk", s("head"))
            .update_expression(
                "SET #c = :p, previous = :c, current_execution = :e, current_since = :now, updated_at = :now REMOVE pending, pending_execution",
            )
            .condition_expression("pending = :p AND pending_execution = :e AND #c = :c")
            .expression_attribute_names("#c", "current")
            .expression_attribute_values(":p", n(p))
            .expression_attribute_values(":c", n(head.current))
            .expression_attribute_values(":e", s(execution))
            .expression_attribute_values(":now", s(&now));
        if let Some(old) = head.previous {
            update = update
                .condition_expression(
                    "pending = :p AND pending_execution = :e AND #c = :c AND previous = :o",
                )
                .expression_attribute_values(":o", n(old));
        }
        let mut items = vec![
            TransactWriteItem::builder()
                .update(build(update.build())?)
                .build(),
            self.stage_update(account, kind, p, Stage::Pending, Stage::Current, &now)?,
            self.stage_update(
                account,
                kind,
                head.current,
                Stage::Current,
                Stage::Previous,
                &now,
            )?,
        ];
        if let Some(old) = head.previous {
            items.push(self.stage_update(
                account,
                kind,
                old,
                Stage::Previous,
                Stage::Retired,
                &now,
            )?);
        }
        let entry = self
            .audit_entry(account, kind, "vault.promote", actor)
            .detail("current", p)
            .detail("previous", head.current)
            .detail("execution", execution);
        match self.transact(items, &entry).await? {
            TxOutcome::Done => Ok(p),
            TxOutcome::Lost => {
                let now_head = self.read_head(account, kind).await?;
                if now_head.current_execution.as_deref() == Some(execution) {
                    Ok(now_head.current)
                } else {
                    Err(VaultError::Conflict(format!(
                        "another writer changed account {account}'s {} stages first",
                        kind.as_str()
                    )))
                }
            }
        }
    }

    async fn discard_pending(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        execution: &str,
        actor: &Actor,
    ) -> Result<Option<u32>, VaultError> {
        let head = self.read_head(account, kind).await?;
        let p = match (head.pending, head.pending_execution.as_deref()) {
            (Some(p), Some(e)) if e == execution => p,
            _ => return Ok(None),
        };
        let now = self.now();
        let update = build(
            Update::builder()
                .table_name(&self.table)
                .key("pk", s(partition(account, kind)))
                .key("sk", s("head"))
                .update_expression("SET updated_at = :now REMOVE pending, pending_execution")
                .condition_expression("pending = :p AND pending_execution = :e")
                .expression_attribute_values(":p", n(p))
                .expression_attribute_values(":e", s(execution))
                .expression_attribute_values(":now", s(&now))
                .build(),
        )?;
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            self.stage_update(account, kind, p, Stage::Pending, Stage::Discarded, &now)?,
        ];
        let entry = self
            .audit_entry(account, kind, "vault.discard-pending", actor)
            .detail("version", p)
            .detail("current", head.current)
            .detail("execution", execution);
        match self.transact(items, &entry).await? {
            TxOutcome::Done => Ok(Some(p)),
            TxOutcome::Lost => {
                let now_head = self.read_head(account, kind).await?;
                if now_head.pending_execution.as_deref() == Some(execution) {
                    Err(VaultError::Conflict(format!(
                        "account {account}'s pending {} changed while discarding",
                        kind.as_str()
                    )))
                } else {
                    Ok(None)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_version() {
        assert!(version_key(9) < version_key(10));
        assert_eq!(version_key(3), "v#0000000003");
    }

    #[test]
    fn context_names_account_kind_and_version() {
        let a = AccountId::parse("111122223333").unwrap();
        let c = context(&a, CredentialKind::MfaSeed, 7);
        assert_eq!(c["rootwarden:account"], "111122223333");
        assert_eq!(c["rootwarden:kind"], "mfa-seed");
        assert_eq!(c["rootwarden:version"], "7");
    }
}
