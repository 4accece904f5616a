//! `MemoryReleaseStore`: the twin of `DynamoReleaseStore`. The registry item with its release;
//! a save appends its audit record and writes the item, or neither, when its [`Expect`] holds:
//! `Begin` (the account in that status, the recorded release's execution the one named),
//! `Step` (the release owned by that execution, at that step).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rootwarden_core::audit::{AuditEntry, AuditLog, MemoryAuditLog};
use rootwarden_core::registry::{Account, AccountStatus};
use rootwarden_core::release::{Expect, Release, ReleaseStore};
use rootwarden_core::{AccountId, LambdaError};
use tokio::sync::Mutex;

use crate::unavailable;

type Item = (Account, Option<Release>);

#[derive(Clone)]
pub struct MemoryReleaseStore {
    items: Arc<Mutex<BTreeMap<AccountId, Item>>>,
    certificates: Arc<Mutex<BTreeMap<AccountId, String>>>,
    audit: MemoryAuditLog,
    down: Arc<AtomicBool>,
}

impl MemoryReleaseStore {
    pub fn new(audit: MemoryAuditLog) -> Self {
        Self {
            items: Arc::default(),
            certificates: Arc::default(),
            audit,
            down: Arc::default(),
        }
    }
    /// Registers an account (as onboarding or a takeover would), without a release.
    pub async fn put(&self, account: Account) {
        self.items
            .lock()
            .await
            .insert(account.account_id.clone(), (account, None));
    }
    /// Stores an account with a release as it is (another account's closure, say).
    pub async fn put_with(&self, account: Account, release: Release) {
        self.items
            .lock()
            .await
            .insert(account.account_id.clone(), (account, Some(release)));
    }
    pub async fn item(&self, account: &AccountId) -> Option<Item> {
        self.items.lock().await.get(account).cloned()
    }
    /// Every item as stored, serialized (to search for what must never be stored).
    pub async fn dump(&self) -> String {
        let items = self.items.lock().await;
        let certs = self.certificates.lock().await;
        format!(
            "{}\n{}",
            items
                .values()
                .map(|(a, r)| format!(
                    "{}\n{}",
                    serde_json::to_string(a).unwrap_or_default(),
                    serde_json::to_string(r).unwrap_or_default()
                ))
                .collect::<Vec<_>>()
                .join("\n"),
            certs.values().cloned().collect::<Vec<_>>().join("\n")
        )
    }
    /// Overwrites the stored certificate (a tamper test).
    pub async fn tamper_certificate(&self, account: &AccountId, json: &str) {
        self.certificates
            .lock()
            .await
            .insert(account.clone(), json.to_owned());
    }
    pub fn fail(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
    fn check(&self) -> Result<(), LambdaError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(unavailable("dynamodb"));
        }
        Ok(())
    }
}

fn holds(item: Option<&Item>, expect: &Expect) -> bool {
    match (expect, item) {
        (_, None) => false,
        (Expect::Begin { status, previous }, Some((a, r))) => {
            a.status == *status && r.as_ref().map(|r| &r.execution) == previous.as_ref()
        }
        (Expect::Step { execution, step }, Some((_, Some(r)))) => {
            &r.execution == execution && &r.step == step
        }
        (Expect::Step { .. }, Some((_, None))) => false,
    }
}

impl ReleaseStore for MemoryReleaseStore {
    async fn get(&self, account: &AccountId) -> Result<Option<Item>, LambdaError> {
        self.check()?;
        Ok(self.items.lock().await.get(account).cloned())
    }

    async fn save(
        &self,
        account: &Account,
        release: &Release,
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
            (account.clone(), Some(release.clone())),
        );
        Ok(true)
    }

    async fn closures_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, LambdaError> {
        self.check()?;
        Ok(self
            .items
            .lock()
            .await
            .values()
            // As the DynamoDB adapter: when Root Warden called CloseAccount (what AWS's quota
            // counts), i.e. a closure's point of no return.
            .filter_map(|(_, r)| {
                r.as_ref()
                    .filter(|r| r.exit == rootwarden_core::release::Exit::Close)
                    .and_then(|r| r.point_of_no_return_at)
            })
            .filter(|c| *c >= since)
            .collect())
    }

    async fn closed(&self) -> Result<Vec<(Account, Release)>, LambdaError> {
        self.check()?;
        Ok(self
            .items
            .lock()
            .await
            .values()
            .filter(|(a, _)| a.status == AccountStatus::Closed)
            .filter_map(|(a, r)| r.clone().map(|r| (a.clone(), r)))
            .filter(|(_, r)| r.shredded_at.is_none())
            .collect())
    }

    async fn certificate(&self, account: &AccountId) -> Result<Option<String>, LambdaError> {
        self.check()?;
        Ok(self.certificates.lock().await.get(account).cloned())
    }

    async fn put_certificate(
        &self,
        account: &AccountId,
        certificate: &str,
    ) -> Result<(), LambdaError> {
        self.check()?;
        self.certificates
            .lock()
            .await
            .entry(account.clone())
            .or_insert_with(|| certificate.to_owned());
        Ok(())
    }
}
