//! Tickets: what an operator acts on. One inbound message creates a ticket or updates the one it
//! belongs to (threading), exactly once (idempotency), with its audit record in the same
//! transaction.

pub mod limits;
mod tasks;
pub mod thread;

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Classify;
use crate::mail::{Attachment, Category, Decision, Priority, QuarantineReason, SecretKind};
use crate::{AccountId, ErrorType};

pub use tasks::{TaskChange, TaskTickets};

/// A subject-based thread stays open this long after its last message.
pub const SUBJECT_THREAD_WINDOW: Duration = Duration::days(7);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketStatus {
    Open,
    Updated,
    Resolved,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::Updated => "updated",
            TicketStatus::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: String,
    /// `None`: unrouted (no account could be resolved).
    pub account_id: Option<AccountId>,
    pub category: Category,
    pub priority: Priority,
    pub status: TicketStatus,
    pub subject: String,
    pub sender: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub message_ids: Vec<String>,
    pub summary: String,
    pub attachments: Vec<Attachment>,
    pub raw_locations: Vec<String>,
    pub quarantined: bool,
    pub quarantine_reasons: Vec<QuarantineReason>,
    pub redactions: Vec<SecretKind>,
    pub support_case_id: Option<String>,
    pub abuse_report_id: Option<String>,
    pub normalized_subject: String,
    /// Every message of the thread; `message_ids` and `raw_locations` keep only the newest
    /// ([`limits`]).
    pub messages: u32,
    /// Every attachment of the thread; `attachments` keeps only the newest ([`limits`]).
    #[serde(default)]
    pub attachments_total: u64,
    /// An account id the mail named (sub-address, labelled id) that the registry does not
    /// know: the ticket is unrouted, and no audit chain or item exists for that id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unregistered_account: Option<AccountId>,
}

/// One delivered message, decided.
#[derive(Debug, Clone)]
pub struct IncomingMessage {
    /// SES's id for this delivery (the S3 object key's last segment).
    pub ses_message_id: String,
    /// `s3://bucket/key` of the raw message: the only other copy of anything redacted.
    pub raw_location: String,
    pub received_at: DateTime<Utc>,
    pub decision: Decision,
    /// The account id the mail named when the registry does not know it (the decision is then
    /// unrouted).
    pub unregistered_account: Option<AccountId>,
    /// Secrets the message carried, sealed for the transient store: written in the transaction
    /// that records this delivery, and only if it records it. A re-delivery's transaction is
    /// refused by the delivery's marker, so it never writes a secret again (not even one
    /// consumed, expired or shredded since).
    pub secrets: Vec<crate::vault::SealedTransient>,
}

/// Hex SHA-256: how mail-controlled text reaches a key (fixed length, whatever its size).
pub fn digest(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Whose tickets, thread keys and Message-ID markers a message may use: its account, or for
/// unrouted mail its envelope recipients (unrouted mail threads only with unrouted mail to the
/// same addresses). Mail never threads onto, or is taken for a duplicate of, another account's.
pub fn scope(d: &Decision) -> String {
    match &d.account_id {
        Some(a) => a.as_str().to_owned(),
        None => {
            let mut r = d.recipients.clone();
            r.sort();
            r.dedup();
            format!("unrouted-{}", &digest(&r.join("\n"))[..32])
        }
    }
}

impl IncomingMessage {
    /// Deterministic id of the ticket this message would open: a retry computes the same one;
    /// the same Message-ID in another account's mail opens another ticket.
    pub fn new_ticket_id(&self) -> String {
        let id = self
            .decision
            .message_id
            .as_deref()
            .unwrap_or(&self.ses_message_id);
        let basis = format!("{}\n{id}", scope(&self.decision));
        let digest = Sha256::digest(basis.as_bytes());
        format!(
            "T{}-{}",
            self.received_at.format("%Y%m%d"),
            &hex::encode(digest)[..12]
        )
    }

    pub fn new_ticket(&self) -> Ticket {
        let d = &self.decision;
        limits::fit(Ticket {
            id: self.new_ticket_id(),
            account_id: d.account_id.clone(),
            category: d.category,
            priority: d.priority,
            status: if d.category == Category::Marketing && !d.quarantined {
                TicketStatus::Resolved
            } else {
                TicketStatus::Open
            },
            subject: d.subject.clone(),
            sender: d.from.clone().unwrap_or_default(),
            first_seen: self.received_at,
            last_seen: self.received_at,
            message_ids: d.message_id.iter().cloned().collect(),
            summary: d.summary.clone(),
            attachments: if d.quarantined {
                Vec::new()
            } else {
                limits::attachments(&d.attachments)
            },
            raw_locations: vec![self.raw_location.clone()],
            quarantined: d.quarantined,
            quarantine_reasons: d.quarantine_reasons.clone(),
            redactions: d.redactions.clone(),
            support_case_id: d.thread.support_case_id.clone(),
            abuse_report_id: d.thread.abuse_report_id.clone(),
            normalized_subject: d.thread.normalized_subject.clone(),
            messages: 1,
            attachments_total: if d.quarantined {
                0
            } else {
                d.attachments.len() as u64
            },
            unregistered_account: self.unregistered_account.clone(),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum RecordOutcome {
    Created(Ticket),
    Updated(Ticket),
    /// This delivery (or this RFC Message-ID) was already recorded: nothing changed.
    Duplicate {
        ticket_id: String,
    },
}

impl RecordOutcome {
    pub fn ticket_id(&self) -> &str {
        match self {
            RecordOutcome::Created(t) | RecordOutcome::Updated(t) => &t.id,
            RecordOutcome::Duplicate { ticket_id } => ticket_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("ticket store unavailable: {message}")]
    Store {
        message: String,
        error_type: ErrorType,
    },
    #[error("ticket write lost {attempts} races in a row")]
    Contention { attempts: u32 },
    #[error("stored ticket {id} is unreadable: {reason}")]
    Corrupt { id: String, reason: String },
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

impl Classify for TicketError {
    fn error_type(&self) -> ErrorType {
        match self {
            TicketError::Store { error_type, .. } => *error_type,
            TicketError::Contention { .. } => ErrorType::Conflict,
            TicketError::Corrupt { .. } => ErrorType::InternalError,
            TicketError::Audit(e) => e.error_type(),
        }
    }
}

/// The ticket port.
pub trait TicketStore: Send + Sync {
    /// Creates or threads, exactly once per SES message and per RFC Message-ID, writing the audit
    /// record (actor = `actor`) and the message's sealed secrets in the same transaction (none
    /// for a duplicate). A store built without the transient store refuses a message with
    /// secrets.
    fn record(
        &self,
        msg: &IncomingMessage,
        actor: &str,
    ) -> impl Future<Output = Result<RecordOutcome, TicketError>> + Send;
    fn get(&self, id: &str) -> impl Future<Output = Result<Option<Ticket>, TicketError>> + Send;
    /// The ticket this SES delivery was already recorded on, if it was.
    fn delivery_recorded(
        &self,
        ses_message_id: &str,
    ) -> impl Future<Output = Result<Option<String>, TicketError>> + Send;
    /// The ticket this RFC Message-ID was already recorded on within the message's scope (its
    /// account, or its recipients for unrouted mail), if it was.
    fn message_id_recorded(
        &self,
        decision: &Decision,
        message_id: &str,
    ) -> impl Future<Output = Result<Option<String>, TicketError>> + Send;
    /// The ticket, if notifications for its latest message have not been delivered yet.
    fn pending_notification(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Ticket>, TicketError>> + Send;
    /// Records that notifications went out for the ticket's first `messages` messages.
    fn mark_notified(
        &self,
        id: &str,
        messages: u32,
    ) -> impl Future<Output = Result<(), TicketError>> + Send;
    /// Tickets of one account (`None`: every ticket), most recent first.
    fn list(
        &self,
        account: Option<&AccountId>,
    ) -> impl Future<Output = Result<Vec<Ticket>, TicketError>> + Send;
}
