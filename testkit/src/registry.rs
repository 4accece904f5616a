//! `MemoryAccountRegistry`: the twin of `DynamoAccountRegistry` as inbound mail reads it (by root
//! e-mail through the `root-email-index`, existence by account id).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rootwarden_core::registry::{AccountRegistry, AccountStatus, RegisteredAccount};
use rootwarden_core::{AccountId, LambdaError, RootEmail};

use crate::{lock, unavailable};

#[derive(Clone, Default)]
pub struct MemoryAccountRegistry {
    accounts: Arc<Mutex<BTreeMap<AccountId, RegisteredAccount>>>,
    fail: Arc<AtomicBool>,
}

impl MemoryAccountRegistry {
    /// Registers (or replaces) an account, as onboarding does.
    pub fn register(&self, account: &AccountId, root_email: &RootEmail, contacts: &[&str]) {
        lock(&self.accounts).insert(
            account.clone(),
            RegisteredAccount {
                account_id: account.clone(),
                root_email: root_email.clone(),
                contacts: contacts.iter().map(|c| (*c).to_owned()).collect(),
                status: AccountStatus::Active,
            },
        );
    }

    /// Sets a registered account's status (a release ended custody, say).
    pub fn set_status(&self, account: &AccountId, status: AccountStatus) {
        if let Some(a) = lock(&self.accounts).get_mut(account) {
            a.status = status;
        }
    }

    /// Makes every later read fail, as a DynamoDB outage would.
    pub fn fail_reads(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), LambdaError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(unavailable("dynamodb"));
        }
        Ok(())
    }
}

impl AccountRegistry for MemoryAccountRegistry {
    async fn by_root_email(
        &self,
        email: &RootEmail,
    ) -> Result<Option<RegisteredAccount>, LambdaError> {
        self.check()?;
        // The index is on the stored (lower-case) address; the first item in key order wins,
        // and the answer carries the address asked for, as the DynamoDB query does.
        Ok(lock(&self.accounts)
            .values()
            .find(|a| a.root_email == *email)
            .map(|a| RegisteredAccount {
                root_email: email.clone(),
                ..a.clone()
            }))
    }

    async fn is_registered(&self, account: &AccountId) -> Result<bool, LambdaError> {
        self.check()?;
        Ok(lock(&self.accounts).contains_key(account))
    }
}
