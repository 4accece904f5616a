//! `MemoryVaultShredder`: the twin of `DynamoVaultShredder`: appends its record first (fail
//! closed), then deletes the account's vaulted versions and transient secrets.

use rootwarden_core::audit::{AuditEntry, AuditLog, MemoryAuditLog};
use rootwarden_core::release::VaultShredder;
use rootwarden_core::{AccountId, LambdaError};

use crate::{MemoryTransientStore, MemoryVault};

#[derive(Clone)]
pub struct MemoryVaultShredder {
    pub vault: MemoryVault,
    pub transient: MemoryTransientStore,
    audit: MemoryAuditLog,
}

impl MemoryVaultShredder {
    pub fn new(vault: MemoryVault, transient: MemoryTransientStore, audit: MemoryAuditLog) -> Self {
        Self {
            vault,
            transient,
            audit,
        }
    }
}

impl VaultShredder for MemoryVaultShredder {
    async fn shred(&self, account: &AccountId, record: &AuditEntry) -> Result<u32, LambdaError> {
        self.audit
            .append(record)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
        Ok(self.vault.shred(account).await + self.transient.shred(account))
    }
}
