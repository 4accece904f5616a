//! `DynamoMfaSeedStore`: `account mfa-seed`'s writes. The MFA seed's new version (encrypted
//! under KMS, context account + `mfa-seed` + version), its head, the audit record
//! `account.mfa-seed-vaulted` and a `ConditionCheck` that the registry item is still a vaulted
//! account in status `taking-over`: one `TransactWriteItems`, all or nothing.

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem};
use rootwarden_core::audit::AuditEntry;
use rootwarden_core::registry::{Account, AccountMode, AccountStatus};
use rootwarden_core::vault::mfa_seed::{MfaSeedPorts, MfaSeedStore};
use rootwarden_core::vault::{CredentialKind, Head, Plan, Subject};
use secrecy::SecretString;

use std::sync::Arc;

use crate::registry::DynamoAccountRegistry;
use crate::vault::KmsVault;
use crate::workflows::DynamoWorkflowWaits;
use crate::{AccountId, Clock, ErrorType, LambdaError};

#[derive(Clone)]
pub struct DynamoMfaSeedStore {
    registry: DynamoAccountRegistry,
    vault: KmsVault,
}

impl DynamoMfaSeedStore {
    pub fn new(registry: DynamoAccountRegistry, vault: KmsVault) -> Self {
        Self { registry, vault }
    }

    /// The registry condition: the account is still vaulted and being taken over.
    fn taking_over(&self, account: &AccountId) -> Result<TransactWriteItem, LambdaError> {
        let check = ConditionCheck::builder()
            .table_name(self.registry.table())
            .key("account_id", AttributeValue::S(account.as_str().to_owned()))
            .condition_expression("#st = :taking_over AND #m = :vaulted")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#m", "mode")
            .expression_attribute_values(
                ":taking_over",
                AttributeValue::S(AccountStatus::TakingOver.as_str().to_owned()),
            )
            .expression_attribute_values(
                ":vaulted",
                AttributeValue::S(AccountMode::Vaulted.as_str().to_owned()),
            )
            .build()
            .map_err(|e| {
                LambdaError::new(
                    ErrorType::InternalError,
                    format!("building ConditionCheck: {e}"),
                )
            })?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}

impl MfaSeedStore for DynamoMfaSeedStore {
    async fn account(&self, account: &AccountId) -> Result<Option<Account>, LambdaError> {
        self.registry.get(account).await
    }

    async fn write(
        &self,
        account: &AccountId,
        before: Option<&Head>,
        plan: &Plan,
        seed: &SecretString,
        record: &AuditEntry,
    ) -> Result<bool, LambdaError> {
        let check = self.taking_over(account)?;
        self.vault
            .write_plan(
                &Subject {
                    account,
                    kind: CredentialKind::MfaSeed,
                },
                before,
                plan,
                Some(seed),
                vec![check],
                record,
            )
            .await
            .map_err(|e| LambdaError::from_classified(&e))
    }
}

/// What `account mfa-seed` runs on: the vault (head reads), the store, the workflows table
/// (the takeover's `mfa` wait) and the operator as actor.
#[derive(Clone)]
pub struct MfaSeedDeps {
    pub vault: KmsVault,
    pub store: DynamoMfaSeedStore,
    pub waits: DynamoWorkflowWaits,
    pub clock: Arc<dyn Clock>,
    pub actor: String,
}

impl MfaSeedDeps {
    /// From the rotation use cases' adapters (the CLI builds those for the operator).
    pub fn new(
        registry: DynamoAccountRegistry,
        vault: KmsVault,
        waits: DynamoWorkflowWaits,
        clock: Arc<dyn Clock>,
        actor: impl Into<String>,
    ) -> Self {
        Self {
            store: DynamoMfaSeedStore::new(registry, vault.clone()),
            vault,
            waits,
            clock,
            actor: actor.into(),
        }
    }
}

impl MfaSeedPorts for MfaSeedDeps {
    type Vault = KmsVault;
    type Store = DynamoMfaSeedStore;
    type Waits = DynamoWorkflowWaits;

    fn vault(&self) -> &KmsVault {
        &self.vault
    }
    fn store(&self) -> &DynamoMfaSeedStore {
        &self.store
    }
    fn waits(&self) -> &DynamoWorkflowWaits {
        &self.waits
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn actor(&self) -> &str {
        &self.actor
    }
}
