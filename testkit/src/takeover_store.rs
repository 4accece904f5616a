//! `MemoryTakeoverStore`: the twin of `DynamoTakeoverStore`. The registry item with its
//! takeover progress; a save appends its audit record and writes the item, or neither, when
//! its condition holds.

use std::collections::BTreeMap;
use std::sync::Arc;

use rootwarden_core::audit::{AuditEntry, AuditLog, MemoryAuditLog};
use rootwarden_core::registry::{Account, AccountStatus};
use rootwarden_core::takeover::{Expect, Takeover, TakeoverStore};
use rootwarden_core::{AccountId, LambdaError, RootEmail};
use tokio::sync::Mutex;

use crate::unavailable;

type Item = (Account, Option<Takeover>);

#[derive(Clone)]
pub struct MemoryTakeoverStore {
    items: Arc<Mutex<BTreeMap<AccountId, Item>>>,
    audit: MemoryAuditLog,
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl MemoryTakeoverStore {
    /// A store whose records go to `audit`.
    pub fn new(audit: MemoryAuditLog) -> Self {
        Self {
            items: Arc::default(),
            audit,
            down: Arc::default(),
        }
    }
    /// Registers an account (as onboarding would), without a takeover.
    pub async fn put(&self, account: Account) {
        self.items
            .lock()
            .await
            .insert(account.account_id.clone(), (account, None));
    }
    /// Makes every call fail as unavailable (or work again).
    pub fn fail(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }
    fn check(&self) -> Result<(), LambdaError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(unavailable("dynamodb"));
        }
        Ok(())
    }
}

fn holds(item: Option<&Item>, expect: &Expect) -> bool {
    match (expect, item) {
        (Expect::Unregistered, None) => true,
        (Expect::Unregistered, Some(_)) | (_, None) => false,
        (Expect::Adopt { previous }, Some((a, t))) => {
            a.status == AccountStatus::TakingOver
                && t.as_ref().map(|t| &t.execution) == previous.as_ref()
        }
        (Expect::Step { execution, step }, Some((a, Some(t)))) => {
            a.status == AccountStatus::TakingOver && &t.execution == execution && &t.step == step
        }
        (Expect::Step { .. }, Some((_, None))) => false,
    }
}

impl TakeoverStore for MemoryTakeoverStore {
    async fn get(&self, account: &AccountId) -> Result<Option<Item>, LambdaError> {
        self.check()?;
        Ok(self.items.lock().await.get(account).cloned())
    }

    async fn address_owner(&self, address: &RootEmail) -> Result<Option<AccountId>, LambdaError> {
        self.check()?;
        Ok(self
            .items
            .lock()
            .await
            .values()
            .find(|(a, _)| &a.root_email == address)
            .map(|(a, _)| a.account_id.clone()))
    }

    async fn save(
        &self,
        account: &Account,
        takeover: &Takeover,
        expect: &Expect,
        record: &AuditEntry,
    ) -> Result<bool, LambdaError> {
        self.check()?;
        let mut items = self.items.lock().await;
        if !holds(items.get(&account.account_id), expect) {
            return Ok(false);
        }
        self.audit
            .append(record)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
        items.insert(
            account.account_id.clone(),
            (account.clone(), Some(takeover.clone())),
        );
        Ok(true)
    }
}
