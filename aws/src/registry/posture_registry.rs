//! `DynamoPostureRegistry`: the `PostureRegistry` port on the accounts table as enforcement and
//! `account recover` read and annotate it (both writes conditional on the item existing). A
//! posture is one `TransactWriteItems` with its audit record (conditional on its chain
//! position; a lost race re-prepares the record and retries): neither lands without the other.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use rootwarden_core::audit::AuditEntry;
use rootwarden_core::registry::posture::PostureRegistry;
use rootwarden_core::registry::Account;

use super::DynamoAccountRegistry;
use crate::audit::{backoff, DynamoAuditLog};
use crate::sdk::sdk_error;
use crate::{AccountId, ErrorType, LambdaError};

/// Lost audit races tolerated before a posture write gives up (nothing is written).
const ATTEMPTS: u32 = 8;

#[derive(Clone)]
pub struct DynamoPostureRegistry {
    accounts: DynamoAccountRegistry,
    audit: DynamoAuditLog,
}

impl DynamoPostureRegistry {
    pub fn new(accounts: DynamoAccountRegistry, audit: DynamoAuditLog) -> Self {
        Self { accounts, audit }
    }

    /// The registry underneath, for the reads and writes that are not enforcement's.
    pub fn accounts(&self) -> &DynamoAccountRegistry {
        &self.accounts
    }
}

fn not_registered(account: &AccountId) -> LambdaError {
    LambdaError::new(
        ErrorType::ValidationError,
        format!("account {account} is not registered: no posture recorded"),
    )
}

impl PostureRegistry for DynamoPostureRegistry {
    async fn find_account(&self, account: &AccountId) -> Result<Option<Account>, LambdaError> {
        self.accounts.get(account).await
    }

    async fn all_accounts(&self) -> Result<Vec<Account>, LambdaError> {
        self.accounts.list().await
    }

    async fn record_posture(
        &self,
        account: &AccountId,
        posture: &serde_json::Value,
        at: DateTime<Utc>,
        record: &AuditEntry,
    ) -> Result<(), LambdaError> {
        let update = TransactWriteItem::builder()
            .update(self.accounts.posture_update(account, posture, at)?)
            .build();
        for attempt in 0..ATTEMPTS {
            let (sealed, audit_put) = self
                .audit
                .prepare(record)
                .await
                .map_err(|e| LambdaError::from_classified(&e))?;
            let items = vec![
                update.clone(),
                TransactWriteItem::builder().put(audit_put).build(),
            ];
            let out = self
                .accounts
                .client()
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let e = match out {
                Ok(_) => {
                    self.audit.committed(&sealed);
                    return Ok(());
                }
                Err(e) => e,
            };
            let codes: Vec<&str> = match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None"))
                    .collect(),
                _ => return Err(sdk_error("dynamodb:TransactWriteItems", &e)),
            };
            // Item 0 is the account's, item 1 the audit record's.
            match codes.as_slice() {
                ["ConditionalCheckFailed", ..] => return Err(not_registered(account)),
                [_, "ConditionalCheckFailed"] => backoff(attempt).await,
                _ => return Err(sdk_error("dynamodb:TransactWriteItems", &e)),
            }
        }
        Err(LambdaError::new(
            ErrorType::AuditWriteFailed,
            format!(
                "the posture of {account} lost the audit race {ATTEMPTS} times; nothing was written"
            ),
        ))
    }

    async fn open_recovery(
        &self,
        account: &AccountId,
        until: DateTime<Utc>,
    ) -> Result<(), LambdaError> {
        self.accounts.open_recovery(account, until).await
    }
}
