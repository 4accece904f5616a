//! `DynamoOnboarding`: a new account in one `TransactWriteItems`: the registry item
//! (`attribute_not_exists(account_id)`), version 1 (`current`) of each credential with its head
//! (conditional on nothing being vaulted), and the audit record (conditional on its chain
//! position; a lost race re-prepares it and retries).

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::{NewAccount, OnboardingStore};
use crate::audit::{backoff, DynamoAuditLog};
use crate::registry::DynamoAccountRegistry;
use crate::sdk::sdk_error;
use crate::vault::KmsVault;
use crate::{ErrorType, LambdaError};

const ATTEMPTS: u32 = 8;

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
        for attempt in 0..ATTEMPTS {
            let (_, audit_put) = self
                .audit
                .prepare(new.record)
                .await
                .map_err(|e| LambdaError::from_classified(&e))?;
            let mut all = items.clone();
            all.push(TransactWriteItem::builder().put(audit_put).build());
            match ddb
                .transact_write_items()
                .set_transact_items(Some(all))
                .send()
                .await
            {
                Ok(_) => return Ok(true),
                Err(e) => {
                    let reasons: Vec<String> = match e.as_service_error() {
                        Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
                            .cancellation_reasons()
                            .iter()
                            .map(|r| r.code().unwrap_or("None").to_owned())
                            .collect(),
                        _ => return Err(sdk_error("dynamodb:TransactWriteItems", &e)),
                    };
                    // Every item but the last (the audit record) is the account's own.
                    let own = &reasons[..reasons.len().saturating_sub(1)];
                    if own.iter().any(|c| c == "ConditionalCheckFailed") {
                        return Ok(false);
                    }
                    backoff(attempt).await;
                }
            }
        }
        Err(LambdaError::new(
            ErrorType::AuditWriteFailed,
            "onboarding lost the audit race 8 times; nothing was written",
        ))
    }
}
