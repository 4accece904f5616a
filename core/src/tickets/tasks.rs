//! Tickets that Root Warden itself opens for operators (not from mail): "apply pending root
//! password", "root access key deleted". Ids are deterministic so a retried workflow step finds
//! the ticket it opened.

use chrono::{DateTime, Utc};

use super::{Ticket, TicketStatus};
use crate::mail::{Category, Priority};
use crate::AccountId;

/// What changes on a task ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskChange {
    /// Done: status resolved.
    Resolve,
    /// Needs a human: status open again, priority raised to at least high.
    Escalate,
}

impl Ticket {
    /// A ticket for operators, raised by a workflow.
    pub fn task(
        id: impl Into<String>,
        account: &AccountId,
        category: Category,
        priority: Priority,
        subject: impl Into<String>,
        summary: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Ticket {
        let subject = subject.into();
        Ticket {
            id: id.into(),
            account_id: Some(account.clone()),
            category,
            priority,
            status: TicketStatus::Open,
            normalized_subject: subject.to_lowercase(),
            subject,
            sender: "rootwarden".into(),
            first_seen: now,
            last_seen: now,
            message_ids: Vec::new(),
            summary: summary.into(),
            attachments: Vec::new(),
            raw_locations: Vec::new(),
            quarantined: false,
            quarantine_reasons: Vec::new(),
            redactions: Vec::new(),
            support_case_id: None,
            abuse_report_id: None,
            messages: 0,
            attachments_total: 0,
            unregistered_account: None,
        }
    }
}

/// The task-ticket port: tickets workflows open for operators. Adapter: `DynamoTicketStore`;
/// twin: `MemoryTicketStore`. Each write carries its audit record (same transaction).
pub trait TaskTickets: Send + Sync {
    /// Opens the ticket unless a ticket with its id exists (then that one is returned).
    fn open_task(
        &self,
        ticket: &Ticket,
        actor: &str,
        correlation_id: &str,
    ) -> impl std::future::Future<Output = Result<Ticket, super::TicketError>> + Send;

    /// Resolves or escalates a task ticket, appending `note` to its summary. Idempotent: a
    /// ticket already in the target state with that note is left alone. No such ticket →
    /// `Corrupt`.
    fn change_task(
        &self,
        id: &str,
        change: TaskChange,
        note: &str,
        actor: &str,
        correlation_id: &str,
        now: DateTime<Utc>,
    ) -> impl std::future::Future<Output = Result<Ticket, super::TicketError>> + Send;
}
