//! `MemoryRotationStore`: the twin of `DynamoRotationStore`. One record per (account,
//! execution), with the adapter's conditions: created once (a second create returns the
//! first), a token is stored only while `awaiting-apply`, a rotation ends once (again the same
//! way: success; the other way, or no record: `Conflict`), the first outcome stays.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rootwarden_core::rotation::{RotationRecord, RotationStage, RotationStore};
use rootwarden_core::{AccountId, ErrorType, LambdaError};

use crate::{lock, unavailable};

type Records = BTreeMap<(AccountId, String), RotationRecord>;

#[derive(Clone, Default)]
pub struct MemoryRotationStore {
    records: Arc<Mutex<Records>>,
    down: Arc<AtomicBool>,
}

impl MemoryRotationStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// DynamoDB unavailable (true) or back (false).
    pub fn fail(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Every record, in key order (for a test's own checks).
    pub fn records(&self) -> Vec<RotationRecord> {
        lock(&self.records).values().cloned().collect()
    }

    /// Stores `record` as it is (a test's setup: a record an older release wrote).
    pub fn put(&self, record: RotationRecord) {
        lock(&self.records).insert(key(&record.account_id, &record.execution), record);
    }

    fn check(&self) -> Result<(), LambdaError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(unavailable("dynamodb"));
        }
        Ok(())
    }
}

fn key(account: &AccountId, execution: &str) -> (AccountId, String) {
    (account.clone(), execution.to_owned())
}

impl RotationStore for MemoryRotationStore {
    async fn create(&self, record: &RotationRecord) -> Result<RotationRecord, LambdaError> {
        self.check()?;
        let mut records = lock(&self.records);
        let stored = records
            .entry(key(&record.account_id, &record.execution))
            .or_insert_with(|| RotationRecord {
                // The adapter writes neither of these on create.
                completed_version: None,
                task_token: None,
                apply_deadline: None,
                outcome: None,
                ..record.clone()
            });
        Ok(stored.clone())
    }

    async fn get(
        &self,
        account: &AccountId,
        execution: &str,
    ) -> Result<Option<RotationRecord>, LambdaError> {
        self.check()?;
        Ok(lock(&self.records).get(&key(account, execution)).cloned())
    }

    async fn list(&self, account: &AccountId) -> Result<Vec<RotationRecord>, LambdaError> {
        self.check()?;
        let mut found: Vec<RotationRecord> = lock(&self.records)
            .values()
            .filter(|r| r.account_id == *account)
            .cloned()
            .collect();
        found.sort_by(|a, b| b.started_at.cmp(&a.started_at));
        Ok(found)
    }

    async fn set_token(
        &self,
        account: &AccountId,
        execution: &str,
        token: &str,
        deadline: &str,
        now: &str,
    ) -> Result<(), LambdaError> {
        self.check()?;
        let mut records = lock(&self.records);
        match records.get_mut(&key(account, execution)) {
            Some(r) if r.stage == RotationStage::AwaitingApply => {
                r.task_token = Some(token.to_owned());
                r.apply_deadline = Some(deadline.to_owned());
                r.updated_at = now.to_owned();
                Ok(())
            }
            _ => Err(LambdaError::new(
                ErrorType::Conflict,
                format!("rotation {execution} is not awaiting its apply step"),
            )),
        }
    }

    async fn end(
        &self,
        account: &AccountId,
        execution: &str,
        stage: RotationStage,
        completed_version: Option<u32>,
        outcome: &str,
        now: &str,
    ) -> Result<(), LambdaError> {
        self.check()?;
        let mut records = lock(&self.records);
        match records.get_mut(&key(account, execution)) {
            Some(r) if r.stage == RotationStage::AwaitingApply || r.stage == stage => {
                r.stage = stage;
                if completed_version.is_some() {
                    r.completed_version = completed_version;
                }
                r.outcome.get_or_insert_with(|| outcome.to_owned());
                r.updated_at = now.to_owned();
                r.task_token = None;
                Ok(())
            }
            _ => Err(LambdaError::new(
                ErrorType::Conflict,
                format!("rotation {execution} already ended differently"),
            )),
        }
    }
}
