//! The `TaskTickets` port on `MemoryTicketStore`: tickets workflows open for operators, each
//! write with its audit record or not at all (an audit outage fails closed), one writer at a
//! time, with the adapter's rules (open once per id; a change already made is left alone).

use chrono::{DateTime, Utc};
use rootwarden_core::audit::{AuditEntry, AuditLog, Outcome, Stream};
use rootwarden_core::mail::Priority;
use rootwarden_core::tickets::{TaskChange, TaskTickets, Ticket, TicketError, TicketStatus};

use super::{MemoryTicketStore, Stored};

fn task_entry(t: &Ticket, actor: &str, action: &str, correlation: &str) -> AuditEntry {
    let stream = match &t.account_id {
        Some(a) => Stream::Account(a.clone()),
        None => Stream::System,
    };
    AuditEntry::new(stream, actor, action)
        .target(t.id.clone())
        .outcome(Outcome::Success)
        .reason(t.subject.clone())
        .correlation_id(correlation)
        .detail("priority", t.priority.as_str())
}

impl TaskTickets for MemoryTicketStore {
    async fn open_task(
        &self,
        ticket: &Ticket,
        actor: &str,
        correlation_id: &str,
    ) -> Result<Ticket, TicketError> {
        self.check()?;
        let mut state = self.state.lock().await;
        if let Some(s) = state.tickets.get(&ticket.id) {
            return Ok(s.ticket.clone());
        }
        self.audit
            .append(&task_entry(ticket, actor, "ticket.created", correlation_id))
            .await?;
        state.tickets.insert(
            ticket.id.clone(),
            Stored {
                ticket: ticket.clone(),
                version: 1,
                notified: 0,
            },
        );
        Ok(ticket.clone())
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
        self.check()?;
        let mut state = self.state.lock().await;
        let Some(stored) = state.tickets.get_mut(id) else {
            return Err(TicketError::Corrupt {
                id: id.to_owned(),
                reason: "ticket does not exist".into(),
            });
        };
        let mut t = stored.ticket.clone();
        let target = match change {
            TaskChange::Resolve => TicketStatus::Resolved,
            TaskChange::Escalate => TicketStatus::Open,
        };
        if t.status == target && t.summary.contains(note) {
            return Ok(t);
        }
        t.status = target;
        t.summary
            .push_str(&format!("\n[{}] {note}", now.format("%Y-%m-%d %H:%M UTC")));
        t.last_seen = t.last_seen.max(now);
        let action = match change {
            TaskChange::Resolve => "ticket.resolved",
            TaskChange::Escalate => {
                t.priority = t.priority.max(Priority::High);
                "ticket.escalated"
            }
        };
        self.audit
            .append(&task_entry(&t, actor, action, correlation_id))
            .await?;
        stored.ticket = t.clone();
        stored.version += 1;
        Ok(t)
    }
}
