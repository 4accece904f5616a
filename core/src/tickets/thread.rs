//! Threading: which keys a message can be found by, which references are followed, how a
//! message folds into the ticket it joins, and the audit record written with it. Every ticket
//! store (DynamoDB, in-memory) applies these same rules.
//!
//! Every thread key and Message-ID marker is scoped ([`scope`]): the account, or for unrouted
//! mail `unrouted-<hash of the envelope recipients>`, so mail never threads onto, or is swallowed
//! as a duplicate of, another account's ticket. Mail-controlled text reaches a key only hashed.

use super::{digest, limits, scope, IncomingMessage, Ticket, TicketStatus};
use crate::audit::{AuditEntry, Outcome, Stream};
use crate::mail::{Category, Decision};

/// In-Reply-To / References a message is threaded by: In-Reply-To and the newest references
/// (a header of thousands of ids costs no more than this many reads).
pub const MAX_REFERENCES: usize = 20;

/// The Message-ID marker key of `message_id` within the message's scope.
pub fn message_id_key(d: &Decision, message_id: &str) -> String {
    format!("msgid#{}#{}", scope(d), digest(message_id))
}

/// The Message-IDs a message refers to, in the order they are tried: In-Reply-To, then the
/// newest references first, at most [`MAX_REFERENCES`] of each.
pub fn referenced(d: &Decision) -> impl Iterator<Item = &String> {
    let newest_refs = d.references.len().saturating_sub(MAX_REFERENCES);
    d.in_reply_to
        .iter()
        .take(MAX_REFERENCES)
        .chain(d.references[newest_refs..].iter().rev())
}

/// Whether `key` (from [`thread_keys`]) is a subject key, which only threads within
/// [`SUBJECT_THREAD_WINDOW`](super::SUBJECT_THREAD_WINDOW) of the thread's last message.
pub fn is_subject_key(key: &str) -> bool {
    key.starts_with("subject#")
}

/// Thread keys a message can be found by, most specific first.
pub fn thread_keys(msg: &IncomingMessage) -> Vec<String> {
    let d = &msg.decision;
    let scope = scope(d);
    let mut keys = Vec::new();
    if let Some(c) = &d.thread.support_case_id {
        keys.push(format!("case#{scope}#{}", digest(c)));
    }
    if let Some(a) = &d.thread.abuse_report_id {
        keys.push(format!("abuse#{scope}#{}", digest(a)));
    }
    if !d.thread.normalized_subject.is_empty() {
        keys.push(format!(
            "subject#{scope}#{}#{}",
            d.category.as_str(),
            digest(&d.thread.normalized_subject)
        ));
    }
    keys
}

/// Folds a new message into an existing ticket.
pub fn merge(mut t: Ticket, msg: &IncomingMessage) -> Ticket {
    let d = &msg.decision;
    t.last_seen = t.last_seen.max(msg.received_at);
    t.first_seen = t.first_seen.min(msg.received_at);
    if let Some(id) = &d.message_id {
        if !t.message_ids.contains(id) {
            t.message_ids.push(id.clone());
        }
    }
    t.raw_locations.push(msg.raw_location.clone());
    limits::append_attachments(&mut t, &d.attachments);
    t.attachments_total = t
        .attachments_total
        .saturating_add(d.attachments.len() as u64);
    t.priority = t.priority.max(d.priority);
    t.summary = d.summary.clone();
    for r in &d.redactions {
        if !t.redactions.contains(r) {
            t.redactions.push(*r);
        }
    }
    t.support_case_id = t
        .support_case_id
        .take()
        .or_else(|| d.thread.support_case_id.clone());
    t.abuse_report_id = t
        .abuse_report_id
        .take()
        .or_else(|| d.thread.abuse_report_id.clone());
    // More marketing on a resolved marketing thread stays resolved; anything else reopens.
    if !(t.status == TicketStatus::Resolved && d.category == Category::Marketing) {
        t.status = TicketStatus::Updated;
    }
    t.messages = t.messages.saturating_add(1);
    limits::fit(t)
}

/// The audit record written in the same transaction as the ticket (`created`: a new ticket).
pub fn record_entry(
    msg: &IncomingMessage,
    ticket: &Ticket,
    created: bool,
    actor: &str,
) -> AuditEntry {
    let stream = match &ticket.account_id {
        Some(a) => Stream::Account(a.clone()),
        None => Stream::System,
    };
    let action = if created {
        "ticket.created"
    } else {
        "ticket.updated"
    };
    let entry = AuditEntry::new(stream, actor, action)
        .target(ticket.id.clone())
        .outcome(Outcome::Success)
        .reason(format!("inbound mail: {}", msg.decision.category.as_str()))
        .correlation_id(msg.ses_message_id.clone())
        .detail(
            "priority",
            serde_json::to_value(msg.decision.priority).unwrap_or_default(),
        )
        .detail("quarantined", msg.decision.quarantined)
        .detail(
            "redactions",
            serde_json::to_value(&msg.decision.redactions).unwrap_or_default(),
        )
        .detail("raw", msg.raw_location.clone());
    match &msg.unregistered_account {
        Some(a) => entry.detail("unregistered_account", a.as_str()),
        None => entry,
    }
}
