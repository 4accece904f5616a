//! `MemoryAccessLedger`: the twin of `DynamoAccessLedger`. A write checks the request's version
//! (absent when it is 0) and the lock move (taken only if free, released only if held by this
//! request), appends the audit record, and applies all of it, or nothing, one writer at a time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rootwarden_core::access::{AccessLedger, AccessRequest, LedgerWrite, Lock, LockMove, Written};
use rootwarden_core::audit::{AuditLog, MemoryAuditLog};
use rootwarden_core::registry::stamp;
use rootwarden_core::{AccountId, LambdaError};
use tokio::sync::Mutex;

use crate::unavailable;

#[derive(Default)]
struct State {
    /// Request id → the request as stored (with its version).
    requests: BTreeMap<String, AccessRequest>,
    locks: BTreeMap<AccountId, Lock>,
}

#[derive(Clone, Default)]
pub struct MemoryAccessLedger {
    state: Arc<Mutex<State>>,
    audit: MemoryAuditLog,
    fail: Arc<AtomicBool>,
}

impl MemoryAccessLedger {
    /// A ledger writing its audit records to `audit`.
    pub fn new(audit: MemoryAuditLog) -> Self {
        Self {
            state: Arc::default(),
            audit,
            fail: Arc::default(),
        }
    }

    pub fn audit(&self) -> &MemoryAuditLog {
        &self.audit
    }

    /// Makes every later write fail (nothing written), as a DynamoDB outage would.
    pub fn fail_writes(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }
}

impl AccessLedger for MemoryAccessLedger {
    async fn get(&self, id: &str) -> Result<Option<AccessRequest>, LambdaError> {
        Ok(self.state.lock().await.requests.get(id).cloned())
    }

    async fn lock_of(&self, account: &AccountId) -> Result<Option<Lock>, LambdaError> {
        Ok(self.state.lock().await.locks.get(account).cloned())
    }

    async fn locks(&self) -> Result<Vec<Lock>, LambdaError> {
        Ok(self.state.lock().await.locks.values().cloned().collect())
    }

    async fn list(&self, account: Option<&AccountId>) -> Result<Vec<AccessRequest>, LambdaError> {
        let mut out: Vec<AccessRequest> = (self.state.lock().await.requests.values())
            .filter(|r| account.is_none_or(|a| *a == r.account_id))
            .cloned()
            .collect();
        out.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        Ok(out)
    }

    async fn write(&self, change: &LedgerWrite<'_>) -> Result<Written, LambdaError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(unavailable("dynamodb"));
        }
        let mut state = self.state.lock().await;
        let r = change.request;
        let lock_ok = match change.lock {
            LockMove::Keep => true,
            LockMove::Take { .. } => !state.locks.contains_key(&r.account_id),
            LockMove::Release => state
                .locks
                .get(&r.account_id)
                .is_some_and(|l| l.request_id == r.id),
        };
        if !lock_ok {
            return Ok(Written::Locked);
        }
        let request_ok = match state.requests.get(&r.id) {
            None => r.version == 0,
            Some(stored) => r.version != 0 && stored.version == r.version,
        };
        if !request_ok {
            return Ok(Written::Retry);
        }
        // The audit record is part of the write: if it cannot be appended, nothing is.
        self.audit
            .append(change.record)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
        let mut stored = r.clone();
        stored.version = r.version + 1;
        state.requests.insert(r.id.clone(), stored);
        match change.lock {
            LockMove::Keep => {}
            LockMove::Take { expires_at } => {
                state.locks.insert(
                    r.account_id.clone(),
                    Lock {
                        account_id: r.account_id.clone(),
                        request_id: r.id.clone(),
                        expires_at: stamp(expires_at),
                    },
                );
            }
            LockMove::Release => {
                state.locks.remove(&r.account_id);
            }
        }
        Ok(Written::Done)
    }
}
