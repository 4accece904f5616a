//! `DynamoRotationStore` as the core's `RotationStore` port (the item mapping and the
//! conditional writes are in `store.rs`).

use rootwarden_core::rotation::{RotationRecord, RotationStage, RotationStore};

use super::DynamoRotationStore;
use crate::{AccountId, LambdaError};

impl RotationStore for DynamoRotationStore {
    async fn create(&self, record: &RotationRecord) -> Result<RotationRecord, LambdaError> {
        DynamoRotationStore::create(self, record).await
    }

    async fn get(
        &self,
        account: &AccountId,
        execution: &str,
    ) -> Result<Option<RotationRecord>, LambdaError> {
        DynamoRotationStore::get(self, account, execution).await
    }

    async fn list(&self, account: &AccountId) -> Result<Vec<RotationRecord>, LambdaError> {
        DynamoRotationStore::list(self, account).await
    }

    async fn set_token(
        &self,
        account: &AccountId,
        execution: &str,
        token: &str,
        deadline: &str,
        now: &str,
    ) -> Result<(), LambdaError> {
        DynamoRotationStore::set_token(self, account, execution, token, deadline, now).await
    }

    async fn end(
        &self,
        account: &AccountId,
        execution: &str,
        stage: RotationStage,
        completed_version: Option<u32>,
        outcome: &str,
        now: &str,
    ) -> Result<(), LambdaError> {
        DynamoRotationStore::end(
            self,
            account,
            execution,
            stage,
            completed_version,
            outcome,
            now,
        )
        .await
    }
}
