//! `MemoryEnforcementTickets`: the twin of `DynamoTicketStore` as enforcement uses it: a task
//! ticket opened once per id (a second open returns the first), with its `ticket.created` audit
//! record or not at all (an audit outage fails closed).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rootwarden_core::audit::{AuditEntry, AuditLog, MemoryAuditLog, Outcome, Stream};
use rootwarden_core::enforcement::EnforcementTickets;
use rootwarden_core::tickets::{Ticket, TicketError};
use rootwarden_core::ErrorType;

use crate::lock;

#[derive(Clone, Default)]
pub struct MemoryEnforcementTickets {
    tickets: Arc<Mutex<BTreeMap<String, Ticket>>>,
    audit: MemoryAuditLog,
    fail: Arc<AtomicBool>,
}

impl MemoryEnforcementTickets {
    /// Tickets whose audit records go to `audit`.
    pub fn new(audit: MemoryAuditLog) -> Self {
        Self {
            audit,
            ..Self::default()
        }
    }

    /// Every ticket, by id.
    pub fn tickets(&self) -> Vec<Ticket> {
        lock(&self.tickets).values().cloned().collect()
    }

    /// Makes every later call fail, as a DynamoDB outage would.
    pub fn fail(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }
}

impl EnforcementTickets for MemoryEnforcementTickets {
    async fn open_task(
        &self,
        ticket: &Ticket,
        actor: &str,
        correlation_id: &str,
    ) -> Result<Ticket, TicketError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(TicketError::Store {
                message: "dynamodb unavailable (simulated)".into(),
                error_type: ErrorType::TransientAwsError,
            });
        }
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
        let mut tickets = lock(&self.tickets);
        Ok(tickets
            .entry(ticket.id.clone())
            .or_insert_with(|| ticket.clone())
            .clone())
    }
}
