//! `MemoryTicketStore`: the twin of `DynamoTicketStore`. `record` checks the delivery's marker
//! and the Message-ID marker of its scope (either → duplicate), finds the open ticket the message
//! threads onto with the rules of `tickets::thread` (references first, then case / abuse /
//! subject keys; quarantined mail never threads, and never onto another account's ticket), and
//! writes the ticket, both markers, the thread keys and the audit record together or not at all,
//! one writer at a time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rootwarden_core::audit::{AuditLog, MemoryAuditLog};
use rootwarden_core::mail::Decision;
use rootwarden_core::tickets::thread::{
    is_subject_key, merge, message_id_key, record_entry, referenced, thread_keys,
};
use rootwarden_core::tickets::{
    IncomingMessage, RecordOutcome, Ticket, TicketError, TicketStore, SUBJECT_THREAD_WINDOW,
};
use rootwarden_core::{AccountId, ErrorType};
use tokio::sync::Mutex;

mod tasks;

struct Stored {
    ticket: Ticket,
    version: u64,
    notified: u32,
}

#[derive(Default)]
struct State {
    tickets: HashMap<String, Stored>,
    /// `ses#<id>` and `msgid#<scope>#<digest>` → ticket id.
    markers: HashMap<String, String>,
    /// Thread key → (ticket id, last seen).
    threads: HashMap<String, (String, DateTime<Utc>)>,
}

impl State {
    fn find_thread(&self, msg: &IncomingMessage) -> Option<&Stored> {
        let d = &msg.decision;
        // Forged headers must not inject into a real conversation.
        if d.quarantined {
            return None;
        }
        for r in referenced(d) {
            let found = self
                .markers
                .get(&message_id_key(d, r))
                .and_then(|id| self.tickets.get(id));
            if let Some(s) = found.filter(|s| s.ticket.account_id == d.account_id) {
                return Some(s);
            }
        }
        for k in thread_keys(msg) {
            let Some((id, last)) = self.threads.get(&k) else {
                continue;
            };
            if is_subject_key(&k) && msg.received_at - *last > SUBJECT_THREAD_WINDOW {
                continue;
            }
            let found = self.tickets.get(id);
            if let Some(s) =
                found.filter(|s| !s.ticket.quarantined && s.ticket.account_id == d.account_id)
            {
                return Some(s);
            }
        }
        None
    }
}

#[derive(Clone)]
pub struct MemoryTicketStore {
    state: Arc<Mutex<State>>,
    audit: MemoryAuditLog,
    fail: Arc<AtomicBool>,
    /// Where a recorded message's sealed secrets go (the inbound-mail wiring).
    vault: Option<crate::transient::MemoryTransientStore>,
}

impl Default for MemoryTicketStore {
    fn default() -> Self {
        Self::new(MemoryAuditLog::default())
    }
}

impl MemoryTicketStore {
    /// A store writing its audit records to `audit`.
    pub fn new(audit: MemoryAuditLog) -> Self {
        Self {
            state: Arc::default(),
            audit,
            fail: Arc::default(),
            vault: None,
        }
    }

    /// A store that writes each recorded message's sealed secrets to `vault`, with the ticket.
    pub fn with_vault(mut self, vault: crate::transient::MemoryTransientStore) -> Self {
        self.vault = Some(vault);
        self
    }

    pub fn audit(&self) -> &MemoryAuditLog {
        &self.audit
    }

    /// Makes every later call fail, as a DynamoDB outage would.
    pub fn fail(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), TicketError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(TicketError::Store {
                message: "ticket store unavailable (simulated)".into(),
                error_type: ErrorType::TransientAwsError,
            });
        }
        Ok(())
    }
}

impl TicketStore for MemoryTicketStore {
    async fn record(
        &self,
        msg: &IncomingMessage,
        actor: &str,
    ) -> Result<RecordOutcome, TicketError> {
        self.check()?;
        let mut state = self.state.lock().await;
        let ses_key = format!("ses#{}", msg.ses_message_id);
        let mid_key = msg
            .decision
            .message_id
            .as_ref()
            .map(|m| message_id_key(&msg.decision, m));
        for k in std::iter::once(&ses_key).chain(mid_key.iter()) {
            if let Some(id) = state.markers.get(k) {
                return Ok(RecordOutcome::Duplicate {
                    ticket_id: id.clone(),
                });
            }
        }
        let (ticket, version) = match state.find_thread(msg) {
            Some(s) => (merge(s.ticket.clone(), msg), Some(s.version)),
            None => (msg.new_ticket(), None),
        };
        let created = version.is_none();
        if created && state.tickets.contains_key(&ticket.id) {
            // The adapter's conditional put fails on every attempt.
            return Err(TicketError::Contention { attempts: 20 });
        }
        let vault = self.vault.as_ref().filter(|_| !msg.secrets.is_empty());
        if vault.is_none() && !msg.secrets.is_empty() {
            return Err(TicketError::Store {
                message: "this ticket store was built without the vault table; it cannot record a message's secrets".into(),
                error_type: ErrorType::InternalError,
            });
        }
        let unavailable = |e: rootwarden_core::vault::TransientError| TicketError::Store {
            message: e.to_string(),
            error_type: ErrorType::TransientAwsError,
        };
        if let Some(v) = vault {
            v.available().map_err(unavailable)?;
        }
        // Fail closed: no audit record, no ticket (and no secret).
        self.audit
            .append(&record_entry(msg, &ticket, created, actor))
            .await?;
        if let Some(v) = vault {
            for sealed in &msg.secrets {
                v.store_sealed(sealed).map_err(unavailable)?;
            }
        }
        for k in std::iter::once(ses_key).chain(mid_key) {
            state.markers.insert(k, ticket.id.clone());
        }
        if !msg.decision.quarantined {
            for k in thread_keys(msg) {
                state
                    .threads
                    .insert(k, (ticket.id.clone(), ticket.last_seen));
            }
        }
        let notified = state.tickets.get(&ticket.id).map_or(0, |s| s.notified);
        state.tickets.insert(
            ticket.id.clone(),
            Stored {
                ticket: ticket.clone(),
                version: version.map_or(1, |v| v + 1),
                notified,
            },
        );
        Ok(if created {
            RecordOutcome::Created(ticket)
        } else {
            RecordOutcome::Updated(ticket)
        })
    }

    async fn get(&self, id: &str) -> Result<Option<Ticket>, TicketError> {
        self.check()?;
        let state = self.state.lock().await;
        Ok(state.tickets.get(id).map(|s| s.ticket.clone()))
    }

    async fn delivery_recorded(&self, ses_message_id: &str) -> Result<Option<String>, TicketError> {
        self.check()?;
        let state = self.state.lock().await;
        Ok(state.markers.get(&format!("ses#{ses_message_id}")).cloned())
    }

    async fn message_id_recorded(
        &self,
        decision: &Decision,
        message_id: &str,
    ) -> Result<Option<String>, TicketError> {
        self.check()?;
        let state = self.state.lock().await;
        Ok(state
            .markers
            .get(&message_id_key(decision, message_id))
            .cloned())
    }

    async fn pending_notification(&self, id: &str) -> Result<Option<Ticket>, TicketError> {
        self.check()?;
        let state = self.state.lock().await;
        Ok(state
            .tickets
            .get(id)
            .filter(|s| s.ticket.messages > s.notified)
            .map(|s| s.ticket.clone()))
    }

    async fn mark_notified(&self, id: &str, messages: u32) -> Result<(), TicketError> {
        self.check()?;
        let mut state = self.state.lock().await;
        // Already marked as far or further (a concurrent retry got there first): no change.
        if let Some(s) = state.tickets.get_mut(id) {
            s.notified = s.notified.max(messages);
        }
        Ok(())
    }

    async fn list(&self, account: Option<&AccountId>) -> Result<Vec<Ticket>, TicketError> {
        self.check()?;
        let state = self.state.lock().await;
        let mut tickets: Vec<Ticket> = state
            .tickets
            .values()
            .map(|s| &s.ticket)
            .filter(|t| account.is_none() || t.account_id.as_ref() == account)
            .cloned()
            .collect();
        tickets.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| a.id.cmp(&b.id)));
        Ok(tickets)
    }
}
