//! `MemoryMfaSeedStore`: the twin of `DynamoMfaSeedStore` (the registry read, and the MFA
//! seed's plan written with its audit record only while the account is a vaulted account being
//! taken over), and `MemoryMfaSeedPorts`, the bundle `account mfa-seed` runs on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rootwarden_core::audit::AuditEntry;
use rootwarden_core::registry::{Account, AccountMode, AccountStatus};
use rootwarden_core::vault::mfa_seed::{MfaSeedPorts, MfaSeedStore};
use rootwarden_core::vault::{CredentialKind, Head, Plan};
use rootwarden_core::{AccountId, Clock, LambdaError};
use secrecy::SecretString;

use crate::{MemoryVault, MemoryWorkflowWaits};

#[derive(Clone, Default)]
pub struct MemoryMfaSeedStore {
    accounts: Arc<Mutex<HashMap<AccountId, Account>>>,
    vault: MemoryVault,
}

impl MemoryMfaSeedStore {
    pub fn new(vault: MemoryVault) -> Self {
        Self {
            accounts: Arc::default(),
            vault,
        }
    }

    /// Registers (or replaces) an account.
    pub fn put(&self, account: Account) {
        self.lock().insert(account.account_id.clone(), account);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AccountId, Account>> {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl MfaSeedStore for MemoryMfaSeedStore {
    async fn account(&self, account: &AccountId) -> Result<Option<Account>, LambdaError> {
        Ok(self.lock().get(account).cloned())
    }

    async fn write(
        &self,
        account: &AccountId,
        _before: Option<&Head>,
        plan: &Plan,
        seed: &SecretString,
        record: &AuditEntry,
    ) -> Result<bool, LambdaError> {
        let taking_over = self.lock().get(account).is_some_and(|a| {
            a.status == AccountStatus::TakingOver && a.mode == AccountMode::Vaulted
        });
        if !taking_over {
            return Ok(false);
        }
        self.vault
            .write_plan(account, CredentialKind::MfaSeed, plan, Some(seed), record)
            .await
            .map_err(|e| LambdaError::from_classified(&e))
    }
}

/// The ports of `account mfa-seed`, in memory.
#[derive(Clone)]
pub struct MemoryMfaSeedPorts {
    pub vault: MemoryVault,
    pub store: MemoryMfaSeedStore,
    pub waits: MemoryWorkflowWaits,
    pub clock: Arc<dyn Clock>,
    pub actor: String,
}

impl MemoryMfaSeedPorts {
    /// Empty twins sharing one vault (auditing to its log), acting as `actor` at `clock`.
    pub fn new(clock: Arc<dyn Clock>, actor: &str) -> Self {
        let vault = MemoryVault::new(Default::default(), clock.clone());
        Self {
            store: MemoryMfaSeedStore::new(vault.clone()),
            vault,
            waits: MemoryWorkflowWaits::default(),
            clock,
            actor: actor.to_owned(),
        }
    }
}

impl MfaSeedPorts for MemoryMfaSeedPorts {
    type Vault = MemoryVault;
    type Store = MemoryMfaSeedStore;
    type Waits = MemoryWorkflowWaits;

    fn vault(&self) -> &MemoryVault {
        &self.vault
    }
    fn store(&self) -> &MemoryMfaSeedStore {
        &self.store
    }
    fn waits(&self) -> &MemoryWorkflowWaits {
        &self.waits
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn actor(&self) -> &str {
        &self.actor
    }
}
