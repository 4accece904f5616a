//! `MemoryPostureRegistry`: the twin of `DynamoAccountRegistry` with whole account records, as
//! enforcement, `account recover` and onboarding use it (the `PostureRegistry` port, and the
//! `AccountRegistry` reads inbound mail and onboarding make). Writes are conditional on the
//! account being registered, as the adapter's are; a posture is written with its audit record
//! (into [`MemoryPostureRegistry::with_audit`]'s log) or not at all.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rootwarden_core::audit::{AuditEntry, AuditLog, MemoryAuditLog};
use rootwarden_core::registry::posture::PostureRegistry;
use rootwarden_core::registry::{Account, AccountRegistry, RegisteredAccount};
use rootwarden_core::{AccountId, ErrorType, LambdaError, RootEmail};

use crate::{lock, unavailable};

#[derive(Clone, Default)]
pub struct MemoryPostureRegistry {
    accounts: Arc<Mutex<BTreeMap<AccountId, Account>>>,
    fail: Arc<AtomicBool>,
    audit: MemoryAuditLog,
}

fn not_registered() -> LambdaError {
    LambdaError::new(
        ErrorType::AwsError,
        "dynamodb:UpdateItem failed: ConditionalCheckFailedException (The conditional request failed)",
    )
}

impl MemoryPostureRegistry {
    /// A registry whose posture records go to `audit` (the log the rest of the ports share).
    pub fn with_audit(audit: MemoryAuditLog) -> Self {
        Self {
            audit,
            ..Self::default()
        }
    }

    /// Registers (or replaces) an account record.
    pub fn put(&self, account: Account) {
        lock(&self.accounts).insert(account.account_id.clone(), account);
    }

    /// Registers an account only if it is not registered (onboarding's condition).
    pub(crate) fn put_new(&self, account: &Account) -> bool {
        let mut accounts = lock(&self.accounts);
        if accounts.contains_key(&account.account_id) {
            return false;
        }
        accounts.insert(account.account_id.clone(), account.clone());
        true
    }

    /// The stored record, for a test's checks.
    pub fn get(&self, account: &AccountId) -> Option<Account> {
        lock(&self.accounts).get(account).cloned()
    }

    pub(crate) fn contains(&self, account: &AccountId) -> bool {
        lock(&self.accounts).contains_key(account)
    }

    /// Makes every later call fail, as a DynamoDB outage would.
    pub fn fail(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), LambdaError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(unavailable("dynamodb"));
        }
        Ok(())
    }

    fn update(&self, account: &AccountId, f: impl FnOnce(&mut Account)) -> Result<(), LambdaError> {
        self.check()?;
        let mut accounts = lock(&self.accounts);
        let a = accounts.get_mut(account).ok_or_else(not_registered)?;
        f(a);
        Ok(())
    }
}

impl PostureRegistry for MemoryPostureRegistry {
    async fn find_account(&self, account: &AccountId) -> Result<Option<Account>, LambdaError> {
        self.check()?;
        Ok(self.get(account))
    }

    async fn all_accounts(&self) -> Result<Vec<Account>, LambdaError> {
        self.check()?;
        Ok(lock(&self.accounts).values().cloned().collect())
    }

    async fn record_posture(
        &self,
        account: &AccountId,
        posture: &serde_json::Value,
        at: DateTime<Utc>,
        record: &AuditEntry,
    ) -> Result<(), LambdaError> {
        self.check()?;
        // As the transaction: nothing is written for an account that is not registered, and
        // the posture only once its record is.
        if !self.contains(account) {
            return Err(LambdaError::new(
                ErrorType::ValidationError,
                format!("account {account} is not registered: no posture recorded"),
            ));
        }
        self.audit
            .append(record)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
        self.update(account, |a| {
            a.posture = Some(posture.clone());
            a.posture_checked_at = Some(at);
        })
    }

    async fn open_recovery(
        &self,
        account: &AccountId,
        until: DateTime<Utc>,
    ) -> Result<(), LambdaError> {
        self.update(account, |a| a.recovery_until = Some(until))
    }
}

impl AccountRegistry for MemoryPostureRegistry {
    async fn by_root_email(
        &self,
        email: &RootEmail,
    ) -> Result<Option<RegisteredAccount>, LambdaError> {
        self.check()?;
        Ok(lock(&self.accounts)
            .values()
            .find(|a| a.root_email == *email)
            .map(|a| RegisteredAccount {
                account_id: a.account_id.clone(),
                root_email: email.clone(),
                contacts: a.contacts.clone(),
                status: a.status,
            }))
    }

    async fn is_registered(&self, account: &AccountId) -> Result<bool, LambdaError> {
        self.check()?;
        Ok(self.contains(account))
    }
}
