//! `MemoryWorkflowWaits`: the twin of `DynamoWorkflowWaits`. Records are keyed by account, kind
//! and execution; registering again replaces the record (and forgets its claim); a claim is
//! conditional on the task token and on no other delivery having claimed it; completion sends
//! the task its output once (a token already completed is "gone" and only its record is
//! removed), then deletes the record.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rootwarden_core::mail::Category;
use rootwarden_core::workflows::{Wait, WorkflowWaits, WAITABLE};
use rootwarden_core::{AccountId, ErrorType, LambdaError};

use crate::{lock, unavailable};

/// A task completion Step Functions received.
#[derive(Debug, Clone, PartialEq)]
pub struct Completed {
    pub execution: String,
    pub task_token: String,
    pub output: serde_json::Value,
}

type Key = (AccountId, &'static str, String);

#[derive(Default)]
struct State {
    records: BTreeMap<Key, Wait>,
    completed: Vec<Completed>,
    /// Tokens Step Functions no longer knows (completed, timed out).
    gone: HashSet<String>,
}

#[derive(Clone, Default)]
pub struct MemoryWorkflowWaits {
    state: Arc<Mutex<State>>,
    fail_completions: Arc<AtomicBool>,
}

fn key(account: &AccountId, kind: Category, execution: &str) -> Key {
    (account.clone(), kind.as_str(), execution.to_owned())
}

impl MemoryWorkflowWaits {
    /// Every task completion sent so far, in order.
    pub fn completed(&self) -> Vec<Completed> {
        lock(&self.state).completed.clone()
    }

    /// The stored record of a wait, claimed or not (expired ones too).
    pub fn record(&self, account: &AccountId, kind: Category, execution: &str) -> Option<Wait> {
        lock(&self.state)
            .records
            .get(&key(account, kind, execution))
            .cloned()
    }

    /// Step Functions forgets a task (it timed out): completing it only removes the record.
    pub fn time_out(&self, task_token: &str) {
        lock(&self.state).gone.insert(task_token.to_owned());
    }

    /// Makes every later `SendTaskSuccess` fail, as a Step Functions outage would.
    pub fn fail_completions(&self, fail: bool) {
        self.fail_completions.store(fail, Ordering::SeqCst);
    }
}

impl WorkflowWaits for MemoryWorkflowWaits {
    async fn register(&self, w: &Wait) -> Result<(), LambdaError> {
        if !WAITABLE.contains(&w.kind) {
            return Err(LambdaError::new(
                ErrorType::ValidationError,
                format!("no workflow can wait for {} mail", w.kind.as_str()),
            ));
        }
        let stored = Wait {
            claimed_by: None,
            ..w.clone()
        };
        lock(&self.state)
            .records
            .insert(key(&w.account, w.kind, &w.execution), stored);
        Ok(())
    }

    async fn waiting(
        &self,
        account: &AccountId,
        kind: Category,
        now: DateTime<Utc>,
    ) -> Result<Vec<Wait>, LambdaError> {
        if !WAITABLE.contains(&kind) {
            return Ok(Vec::new());
        }
        Ok(lock(&self.state)
            .records
            .iter()
            .filter(|((a, k, _), w)| a == account && *k == kind.as_str() && w.expires_at > now)
            .map(|(_, w)| w.clone())
            .collect())
    }

    async fn remove(
        &self,
        account: &AccountId,
        kind: Category,
        execution: &str,
    ) -> Result<(), LambdaError> {
        lock(&self.state)
            .records
            .remove(&key(account, kind, execution));
        Ok(())
    }

    async fn claim(&self, w: &Wait, ses_message_id: &str) -> Result<bool, LambdaError> {
        let mut state = lock(&self.state);
        let Some(stored) = state
            .records
            .get_mut(&key(&w.account, w.kind, &w.execution))
        else {
            return Ok(false);
        };
        if stored.task_token != w.task_token {
            return Ok(false);
        }
        match stored.claimed_by.as_deref() {
            Some(other) if other != ses_message_id => Ok(false),
            _ => {
                stored.claimed_by = Some(ses_message_id.to_owned());
                Ok(true)
            }
        }
    }

    async fn complete(&self, w: &Wait, output: &serde_json::Value) -> Result<(), LambdaError> {
        if self.fail_completions.load(Ordering::SeqCst) {
            return Err(unavailable("states"));
        }
        let mut state = lock(&self.state);
        if state.gone.insert(w.task_token.clone()) {
            state.completed.push(Completed {
                execution: w.execution.clone(),
                task_token: w.task_token.clone(),
                output: output.clone(),
            });
        }
        state.records.remove(&key(&w.account, w.kind, &w.execution));
        Ok(())
    }
}
