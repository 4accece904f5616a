//! `DynamoOnboarding`: a new account in one `TransactWriteItems`: the registry item
//! (`attribute_not_exists(account_id)`), version 1 (`current`) of each credential with its head
//! (conditional on nothing being vaulted), and the audit record ([`write_audited`]).

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::{NewAccount, OnboardingStore};
use crate::audit::{write_audited, Audited, DynamoAuditLog};
use crate::registry::DynamoAccountRegistry;
use crate::vault::KmsVault;
use crate::LambdaError;

#[derive(Clone)]
pub struct DynamoOnboarding {
    registry: DynamoAccountRegistry,
    vault: KmsVault,
    audit: DynamoAuditLog,
}

impl DynamoOnboarding {
    pub fn new(registry: DynamoAccountRegistry, vault: KmsVault, audit: DynamoAuditLog) -> Self {
        Self {
            registry,
            vault,
            audit,
        }
    }
}

impl OnboardingStore for DynamoOnboarding {
    async fn create(&self, new: &NewAccount<'_>) -> Result<bool, LambdaError> {
        let id = &new.account.account_id;
        let mut items = Vec::new();
        for (kind, secret) in &new.credentials {
            items.extend(
                self.vault
                    .initial_items(id, *kind, secret, new.execution)
                    .await
                    .map_err(|e| LambdaError::from_classified(&e))?,
            );
        }
        items.push(
            TransactWriteItem::builder()
                .put(self.registry.put_new(new.account)?)
                .build(),
        );
        let ddb = self.registry.client();
        let what = format!("onboarding {id}");
        Ok(write_audited(ddb, &self.audit, items, new.record, &what).await? == Audited::Written)
    }
}
