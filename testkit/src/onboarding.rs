//! `MemoryOnboarding`: the twin of `DynamoOnboarding`. A new account's registry record, the
//! initial vault versions and the audit record are written together or not at all: the account
//! must not be registered and none of its credentials vaulted; an audit outage, a refusing vault
//! key or a store outage (`fail`) leaves nothing behind.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rootwarden_core::audit::{AuditLog, MemoryAuditLog};
use rootwarden_core::onboarding::{NewAccount, OnboardingStore};
use rootwarden_core::vault::Vault;
use rootwarden_core::{Clock, LambdaError, SystemClock};
use tokio::sync::Mutex;

use crate::{unavailable, MemoryPostureRegistry, MemoryVault};

#[derive(Clone)]
pub struct MemoryOnboarding {
    pub registry: MemoryPostureRegistry,
    pub vault: MemoryVault,
    pub audit: MemoryAuditLog,
    /// One onboarding at a time (the transaction's isolation).
    writer: Arc<Mutex<()>>,
    fail: Arc<AtomicBool>,
}

impl Default for MemoryOnboarding {
    fn default() -> Self {
        let audit = MemoryAuditLog::default();
        let vault = MemoryVault::new(audit.clone(), Arc::new(SystemClock));
        Self::new(MemoryPostureRegistry::default(), vault, audit)
    }
}

impl MemoryOnboarding {
    /// Writes into these twins (the vault's audit log should be `audit`).
    pub fn new(registry: MemoryPostureRegistry, vault: MemoryVault, audit: MemoryAuditLog) -> Self {
        Self {
            registry,
            vault,
            audit,
            writer: Arc::default(),
            fail: Arc::default(),
        }
    }

    /// A default twin stamping times from `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        let audit = MemoryAuditLog::new(clock.clone());
        let vault = MemoryVault::new(audit.clone(), clock);
        Self::new(MemoryPostureRegistry::default(), vault, audit)
    }

    /// Makes every later transaction fail, as a DynamoDB outage would.
    pub fn fail(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }
}

impl OnboardingStore for MemoryOnboarding {
    async fn create(&self, new: &NewAccount<'_>) -> Result<bool, LambdaError> {
        let _one = self.writer.lock().await;
        if self.fail.load(Ordering::SeqCst) {
            return Err(unavailable("dynamodb"));
        }
        let id = &new.account.account_id;
        if self.registry.contains(id) {
            return Ok(false);
        }
        for (kind, _) in &new.credentials {
            if self
                .vault
                .head(id, *kind)
                .await
                .map_err(|e| LambdaError::from_classified(&e))?
                .is_some()
            {
                return Ok(false);
            }
        }
        // The audit record first: if it cannot be written, nothing is.
        let record = self
            .audit
            .append(new.record)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
        for (kind, secret) in &new.credentials {
            if let Err(e) = self.vault.seed(id, *kind, secret, new.execution).await {
                // Only a refusing key fails here, and it refuses the first credential already:
                // take the record back, so nothing stays behind.
                self.audit.with_records_mut(|chains| {
                    if let Some(chain) = chains.get_mut(&new.record.stream.key()) {
                        chain.remove(&record.seq);
                    }
                });
                return Err(LambdaError::from_classified(&e));
            }
        }
        Ok(self.registry.put_new(new.account))
    }
}
