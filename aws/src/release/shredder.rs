//! `DynamoVaultShredder`: crypto-shredding an account's vault. Every item under the account's
//! vault partitions is deleted: `cred#<account>#root-password` and `cred#<account>#mfa-seed`
//! (head and every sealed version: the ciphertexts are gone, KMS cannot bring them back) and
//! `transient#<account>` (codes and reset links from mail).
//!
//! The audit record is appended first (fail closed: no record, nothing deleted); then the items
//! are deleted in `BatchWriteItem`s of 25, unprocessed ones retried with back-off. A retry after
//! a partial run appends its own record and deletes what is left; a run over an empty vault
//! deletes nothing.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};

use crate::audit::{backoff, AuditEntry, AuditLog, DynamoAuditLog};
use crate::release::VaultShredder;
use crate::sdk::sdk_error;
use crate::vault::{partition, CredentialKind};
use crate::{AccountId, ErrorType, LambdaError};

const BATCH: usize = 25;
const ATTEMPTS: u32 = 8;

#[derive(Clone)]
pub struct DynamoVaultShredder {
    ddb: aws_sdk_dynamodb::Client,
    table: String,
    audit: DynamoAuditLog,
}

/// The vault partitions holding `account`'s secrets.
pub fn vault_partitions(account: &AccountId) -> Vec<String> {
    let mut out: Vec<String> = CredentialKind::ALL
        .iter()
        .map(|k| partition(account, *k))
        .collect();
    out.push(format!("transient#{account}"));
    out
}

type Key = HashMap<String, AttributeValue>;

impl DynamoVaultShredder {
    pub fn new(
        ddb: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        audit: DynamoAuditLog,
    ) -> Self {
        Self {
            ddb,
            table: table.into(),
            audit,
        }
    }

    /// The keys (pk, sk) of every item in `pk`, read consistently.
    async fn keys(&self, pk: &str) -> Result<Vec<Key>, LambdaError> {
        let mut out = Vec::new();
        let mut start: Option<Key> = None;
        loop {
            let page = self
                .ddb
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
                .projection_expression("pk, sk")
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("dynamodb:Query", &e))?;
            for item in page.items() {
                if let (Some(pk), Some(sk)) = (item.get("pk"), item.get("sk")) {
                    out.push(HashMap::from([
                        ("pk".to_owned(), pk.clone()),
                        ("sk".to_owned(), sk.clone()),
                    ]));
                }
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn delete(&self, keys: Vec<Key>) -> Result<(), LambdaError> {
        let mut pending: Vec<WriteRequest> = Vec::with_capacity(keys.len());
        for key in keys {
            let delete = DeleteRequest::builder()
                .set_key(Some(key))
                .build()
                .map_err(|e| {
                    LambdaError::new(ErrorType::InternalError, format!("DeleteRequest: {e}"))
                })?;
            pending.push(WriteRequest::builder().delete_request(delete).build());
        }
        let mut attempt = 0;
        while !pending.is_empty() {
            let rest = pending.split_off(pending.len().min(BATCH));
            let batch = std::mem::replace(&mut pending, rest);
            let out = self
                .ddb
                .batch_write_item()
                .request_items(&self.table, batch)
                .send()
                .await
                .map_err(|e| sdk_error("dynamodb:BatchWriteItem", &e))?;
            let unprocessed: Vec<WriteRequest> = out
                .unprocessed_items()
                .and_then(|m| m.get(&self.table))
                .cloned()
                .unwrap_or_default();
            if !unprocessed.is_empty() {
                if attempt >= ATTEMPTS {
                    return Err(LambdaError::new(
                        ErrorType::TransientAwsError,
                        format!(
                            "dynamodb:BatchWriteItem left {} vault items undeleted; a retry deletes them",
                            unprocessed.len() + pending.len()
                        ),
                    ));
                }
                backoff(attempt).await;
                attempt += 1;
                pending.extend(unprocessed);
            }
        }
        Ok(())
    }
}

impl VaultShredder for DynamoVaultShredder {
    async fn shred(&self, account: &AccountId, record: &AuditEntry) -> Result<u32, LambdaError> {
        self.audit
            .append(record)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
        let mut keys = Vec::new();
        for pk in vault_partitions(account) {
            keys.extend(self.keys(&pk).await?);
        }
        let n = u32::try_from(keys.len()).unwrap_or(u32::MAX);
        self.delete(keys).await?;
        Ok(n)
    }
}
