//! The `PostureRegistry` port on `DynamoAccountRegistry`: the accounts table as enforcement and
//! `account recover` read and annotate it (both writes conditional on the item existing).

use chrono::{DateTime, Utc};
use rootwarden_core::registry::posture::PostureRegistry;
use rootwarden_core::registry::Account;

use super::DynamoAccountRegistry;
use crate::{AccountId, LambdaError};

impl PostureRegistry for DynamoAccountRegistry {
    async fn find_account(&self, account: &AccountId) -> Result<Option<Account>, LambdaError> {
        self.get(account).await
    }

    async fn all_accounts(&self) -> Result<Vec<Account>, LambdaError> {
        self.list().await
    }

    async fn record_posture(
        &self,
        account: &AccountId,
        posture: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> Result<(), LambdaError> {
        DynamoAccountRegistry::record_posture(self, account, posture, at).await
    }

    async fn open_recovery(
        &self,
        account: &AccountId,
        until: DateTime<Utc>,
    ) -> Result<(), LambdaError> {
        DynamoAccountRegistry::open_recovery(self, account, until).await
    }
}
