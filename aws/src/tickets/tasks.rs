//! Tickets that Root Warden itself opens for operators (not from mail): "apply pending root
//! password", "root access key deleted". Same store, same item, same audit-in-transaction rule;
//! ids are deterministic so a retried workflow step finds the ticket it opened.

use chrono::{DateTime, Utc};

use super::dynamo::DynamoTicketStore;
use super::{TaskChange, Ticket, TicketError, TicketStatus};
use crate::audit::{backoff, AuditEntry, Outcome, Stream};
use crate::mail::Priority;

const ATTEMPTS: u32 = 10;

impl DynamoTicketStore {
    /// Opens the ticket unless a ticket with its id exists (then that one is returned), with
    /// its audit record in the same transaction.
    pub async fn open_task(
        &self,
        ticket: &Ticket,
        actor: &str,
        correlation_id: &str,
    ) -> Result<Ticket, TicketError> {
        for attempt in 0..ATTEMPTS {
            // Created first, read only after a lost condition: the put is conditional on the
            // ticket being absent, so a retried step that finds it gets the stored one back.
            if attempt > 0 {
                if let Some((t, _)) = self.load(&ticket.id).await? {
                    return Ok(t);
                }
            }
            let entry = self
                .task_entry(ticket, actor, "ticket.created", correlation_id)
                .detail("priority", ticket.priority.as_str());
            let (record, audit_put) = self.audit().prepare(&entry).await?;
            let items = vec![
                self.ticket_write(ticket, None)?,
                aws_sdk_dynamodb::types::TransactWriteItem::builder()
                    .put(audit_put)
                    .build(),
            ];
            match self.transact(items).await {
                Ok(()) => {
                    self.audit().committed(&record);
                    return Ok(ticket.clone());
                }
                Err(Some(e)) => return Err(e),
                Err(None) => backoff(attempt).await,
            }
        }
        Err(TicketError::Contention { attempts: ATTEMPTS })
    }

    /// Resolves or escalates a task ticket, appending `note` to its summary. Idempotent: a
    /// ticket already in the target state with that note is left alone.
    pub async fn change_task(
        &self,
        id: &str,
        change: TaskChange,
        note: &str,
        actor: &str,
        correlation_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Ticket, TicketError> {
        for attempt in 0..ATTEMPTS {
            let Some((mut t, version)) = self.load(id).await? else {
                return Err(TicketError::Corrupt {
                    id: id.to_owned(),
                    reason: "ticket does not exist".into(),
                });
            };
            let line = format!("\n[{}] {note}", now.format("%Y-%m-%d %H:%M UTC"));
            let target = match change {
                TaskChange::Resolve => TicketStatus::Resolved,
                TaskChange::Escalate => TicketStatus::Open,
            };
            if t.status == target && t.summary.contains(note) {
                return Ok(t);
            }
            t.status = target;
            t.summary.push_str(&line);
            t.last_seen = t.last_seen.max(now);
            let action = match change {
                TaskChange::Resolve => "ticket.resolved",
                TaskChange::Escalate => {
                    t.priority = t.priority.max(Priority::High);
                    "ticket.escalated"
                }
            };
            let entry = self
                .task_entry(&t, actor, action, correlation_id)
                .detail("priority", t.priority.as_str());
            let (record, audit_put) = self.audit().prepare(&entry).await?;
            let items = vec![
                self.ticket_write(&t, Some(version))?,
                aws_sdk_dynamodb::types::TransactWriteItem::builder()
                    .put(audit_put)
                    .build(),
            ];
            match self.transact(items).await {
                Ok(()) => {
                    self.audit().committed(&record);
                    return Ok(t);
                }
                Err(Some(e)) => return Err(e),
                Err(None) => backoff(attempt).await,
            }
        }
        Err(TicketError::Contention { attempts: ATTEMPTS })
    }

    fn task_entry(&self, t: &Ticket, actor: &str, action: &str, correlation: &str) -> AuditEntry {
        let stream = match &t.account_id {
            Some(a) => Stream::Account(a.clone()),
            None => Stream::System,
        };
        AuditEntry::new(stream, actor, action)
            .target(t.id.clone())
            .outcome(Outcome::Success)
            .reason(t.subject.clone())
            .correlation_id(correlation)
    }
}

impl super::TaskTickets for DynamoTicketStore {
    async fn open_task(
        &self,
        ticket: &Ticket,
        actor: &str,
        correlation_id: &str,
    ) -> Result<Ticket, TicketError> {
        DynamoTicketStore::open_task(self, ticket, actor, correlation_id).await
    }

    async fn change_task(
        &self,
        id: &str,
        change: TaskChange,
        note: &str,
        actor: &str,
        correlation_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Ticket, TicketError> {
        DynamoTicketStore::change_task(self, id, change, note, actor, correlation_id, now).await
    }
}
