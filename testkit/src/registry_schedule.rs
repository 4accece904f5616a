//! `MemoryRotationSchedule`: the twin of `DynamoAccountRegistry` as rotation and its sweep use
//! it (full account records, the sparse due-date index, the conditional schedule writes).
//!
//! The due index holds active vaulted accounts with a due date, ordered by due date (string
//! order of the fixed-width stamps, then account id); a page that reaches its limit has a next
//! cursor (possibly onto an empty page), as DynamoDB's `LastEvaluatedKey` does.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rootwarden_core::registry::schedule::{DuePage, RotationSchedule};
use rootwarden_core::registry::{
    stamp, Account, AccountMode, AccountStatus, DueAccount, RotationReason,
};
use rootwarden_core::{AccountId, LambdaError};

use crate::{lock, unavailable};

#[derive(Clone, Default)]
pub struct MemoryRotationSchedule {
    accounts: Arc<Mutex<BTreeMap<AccountId, Account>>>,
    down: Arc<AtomicBool>,
}

impl MemoryRotationSchedule {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) an account record, as onboarding writes it.
    pub fn put(&self, account: Account) {
        lock(&self.accounts).insert(account.account_id.clone(), account);
    }

    /// The stored record (for a test's own checks).
    pub fn get(&self, account: &AccountId) -> Option<Account> {
        lock(&self.accounts).get(account).cloned()
    }

    /// DynamoDB unavailable (true) or back (false).
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

/// The position of an account in the due index.
fn index_key(due: &str, account: &AccountId) -> String {
    format!("{due}|{account}")
}

impl RotationSchedule for MemoryRotationSchedule {
    async fn account(&self, account: &AccountId) -> Result<Option<Account>, LambdaError> {
        self.check()?;
        Ok(self.get(account))
    }

    async fn due_page(
        &self,
        now: DateTime<Utc>,
        after: Option<String>,
        limit: u32,
    ) -> Result<DuePage, LambdaError> {
        self.check()?;
        let now = stamp(now);
        let mut index: Vec<(String, DueAccount)> = lock(&self.accounts)
            .values()
            .filter(|a| a.status == AccountStatus::Active && a.mode == AccountMode::Vaulted)
            .filter_map(|a| {
                let due = stamp(a.rotation_due?);
                (due <= now).then(|| {
                    let entry = DueAccount {
                        account_id: a.account_id.clone(),
                        due: due.clone(),
                        reason: a.rotation_reason.unwrap_or(RotationReason::MaxAge),
                        execution: a.rotation_execution.clone(),
                    };
                    (index_key(&due, &a.account_id), entry)
                })
            })
            .filter(|(k, _)| after.as_ref().is_none_or(|after| k > after))
            .collect();
        index.sort_by(|a, b| a.0.cmp(&b.0));
        index.truncate(limit as usize);
        let next = (index.len() == limit as usize)
            .then(|| index.last().map(|(k, _)| k.clone()))
            .flatten();
        Ok(DuePage {
            due: index.into_iter().map(|(_, d)| d).collect(),
            next,
        })
    }

    async fn move_due(
        &self,
        account: &AccountId,
        old: &str,
        new: DateTime<Utc>,
    ) -> Result<bool, LambdaError> {
        self.check()?;
        let mut accounts = lock(&self.accounts);
        match accounts.get_mut(account) {
            Some(a) if a.rotation_due.map(stamp).as_deref() == Some(old) => {
                a.rotation_due = Some(new);
                a.rotation_execution = None;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn mark_started(
        &self,
        account: &AccountId,
        due: &str,
        execution: &str,
    ) -> Result<bool, LambdaError> {
        self.check()?;
        let mut accounts = lock(&self.accounts);
        match accounts.get_mut(account) {
            Some(a) if a.rotation_due.map(stamp).as_deref() == Some(due) => {
                a.rotation_execution = Some(execution.to_owned());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn reschedule(
        &self,
        account: &AccountId,
        execution: &str,
        next_due: DateTime<Utc>,
        reason: RotationReason,
        rotated_at: Option<DateTime<Utc>>,
    ) -> Result<(), LambdaError> {
        self.check()?;
        let mut accounts = lock(&self.accounts);
        if let Some(a) = accounts.get_mut(account) {
            if a.rotation_execution
                .as_deref()
                .is_none_or(|e| e == execution)
            {
                a.rotation_due = Some(next_due);
                a.rotation_reason = Some(reason);
                a.rotation_execution = None;
                if let Some(t) = rotated_at {
                    a.last_rotated_at = Some(t);
                }
            }
        }
        Ok(())
    }
}
