//! `DynamoPostureRegistry`: the `PostureRegistry` port on the accounts table as enforcement and
//! `account recover` read and annotate it (both writes conditional on the item existing). A
//! posture is written with its audit record ([`write_audited`]): neither lands without the
//! other.

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use rootwarden_core::audit::AuditEntry;
use rootwarden_core::registry::posture::PostureRegistry;
use rootwarden_core::registry::Account;

use super::DynamoAccountRegistry;
use crate::audit::{write_audited, Audited, DynamoAuditLog};
use crate::{AccountId, ErrorType, LambdaError};

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
        let what = format!("the posture of {account}");
        let client = self.accounts.client();
        match write_audited(client, &self.audit, vec![update], record, &what).await? {
            Audited::Written => Ok(()),
            Audited::Refused => Err(not_registered(account)),
        }
    }

    async fn open_recovery(
        &self,
        account: &AccountId,
        until: DateTime<Utc>,
    ) -> Result<(), LambdaError> {
        self.accounts.open_recovery(account, until).await
    }
}
