//! Twins of the registry, ticket and rotation adapters as access sees them:
//! `MemoryAccessAccounts` (status, mode and rotation mark per account, as
//! `DynamoAccountRegistry` keeps them), `MemoryAccessTickets` (a ticket by id; a task opened
//! once per id with its `ticket.created` audit record, as `DynamoTicketStore::open_task`) and
//! `MemoryRotationLookup` (rotation records per account, as `DynamoRotationStore` lists them).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rootwarden_core::access::{AccessAccounts, AccessTickets, RotationLookup};
use rootwarden_core::audit::{AuditEntry, AuditLog, MemoryAuditLog, Outcome, Stream};
use rootwarden_core::registry::{AccountMode, AccountStatus, RotationReason};
use rootwarden_core::rotation::{RotationRecord, RotationStage};
use rootwarden_core::tickets::{Ticket, TicketError};
use rootwarden_core::{AccountId, ErrorType, LambdaError};

use crate::{lock, unavailable};

/// An account as access sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessAccount {
    pub status: AccountStatus,
    pub mode: AccountMode,
    pub rotation_due: Option<DateTime<Utc>>,
    pub rotation_reason: Option<RotationReason>,
}

#[derive(Clone, Default)]
pub struct MemoryAccessAccounts {
    accounts: Arc<Mutex<BTreeMap<AccountId, AccessAccount>>>,
    fail: Arc<AtomicBool>,
}

impl MemoryAccessAccounts {
    /// Registers (or replaces) an account with no rotation due.
    pub fn register(&self, account: &AccountId, status: AccountStatus, mode: AccountMode) {
        lock(&self.accounts).insert(
            account.clone(),
            AccessAccount {
                status,
                mode,
                rotation_due: None,
                rotation_reason: None,
            },
        );
    }

    pub fn account(&self, account: &AccountId) -> Option<AccessAccount> {
        lock(&self.accounts).get(account).cloned()
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
}

impl AccessAccounts for MemoryAccessAccounts {
    async fn standing(
        &self,
        account: &AccountId,
    ) -> Result<Option<(AccountStatus, AccountMode)>, LambdaError> {
        self.check()?;
        Ok(lock(&self.accounts)
            .get(account)
            .map(|a| (a.status, a.mode)))
    }

    async fn mark_for_rotation(
        &self,
        account: &AccountId,
        now: DateTime<Utc>,
        reason: RotationReason,
    ) -> Result<(AccountStatus, AccountMode), LambdaError> {
        self.check()?;
        let mut accounts = lock(&self.accounts);
        let Some(a) = accounts.get_mut(account) else {
            return Err(LambdaError::new(
                ErrorType::NotFound,
                format!("account {account} is not registered"),
            ));
        };
        // Already due earlier, or not a vaulted active account: nothing to mark.
        let markable = a.status == AccountStatus::Active
            && a.mode == AccountMode::Vaulted
            && a.rotation_due.is_none_or(|due| due > now);
        if markable {
            a.rotation_due = Some(now);
            a.rotation_reason = Some(reason);
        }
        Ok((a.status, a.mode))
    }
}

#[derive(Clone, Default)]
pub struct MemoryAccessTickets {
    tickets: Arc<Mutex<BTreeMap<String, Ticket>>>,
    audit: MemoryAuditLog,
}

impl MemoryAccessTickets {
    /// Tasks' audit records go to `audit`.
    pub fn new(audit: MemoryAuditLog) -> Self {
        Self {
            tickets: Arc::default(),
            audit,
        }
    }

    /// Stores a ticket as if mail (or an operator) had opened it.
    pub fn insert(&self, ticket: Ticket) {
        lock(&self.tickets).insert(ticket.id.clone(), ticket);
    }

    pub fn all(&self) -> Vec<Ticket> {
        lock(&self.tickets).values().cloned().collect()
    }
}

impl AccessTickets for MemoryAccessTickets {
    async fn ticket(&self, id: &str) -> Result<Option<Ticket>, TicketError> {
        Ok(lock(&self.tickets).get(id).cloned())
    }

    async fn open_task(
        &self,
        ticket: &Ticket,
        actor: &str,
        correlation_id: &str,
    ) -> Result<Ticket, TicketError> {
        if let Some(t) = lock(&self.tickets).get(&ticket.id) {
            return Ok(t.clone());
        }
        let stream = match &ticket.account_id {
            Some(a) => Stream::Account(a.clone()),
            None => Stream::System,
        };
        let entry = AuditEntry::new(stream, actor, "ticket.created")
            .target(ticket.id.clone())
            .outcome(Outcome::Success)
            .reason(ticket.subject.clone())
            .correlation_id(correlation_id)
            .detail("priority", ticket.priority.as_str());
        self.audit.append(&entry).await?;
        Ok(lock(&self.tickets)
            .entry(ticket.id.clone())
            .or_insert_with(|| ticket.clone())
            .clone())
    }
}

#[derive(Clone, Default)]
pub struct MemoryRotationLookup {
    rotations: Arc<Mutex<Vec<RotationRecord>>>,
}

impl MemoryRotationLookup {
    /// Records (or replaces, by execution) a rotation.
    pub fn put(&self, record: RotationRecord) {
        let mut all = lock(&self.rotations);
        all.retain(|r| r.execution != record.execution);
        all.push(record);
    }
}

impl RotationLookup for MemoryRotationLookup {
    async fn awaiting_apply(
        &self,
        account: &AccountId,
    ) -> Result<Option<RotationRecord>, LambdaError> {
        Ok(lock(&self.rotations)
            .iter()
            .find(|r| r.account_id == *account && r.stage == RotationStage::AwaitingApply)
            .cloned())
    }
}
