//! DynamoDB adapter for tickets, with its item mapping. One table, `pk`/`sk` strings:
//!
//! | pk | sk | what |
//! |---|---|---|
//! | `ticket#<id>` | `ticket` | the ticket: `doc` (JSON), `version`, `notified`, and `account`/`last_seen`/`status` (GSI `account-index`, whole items) |
//! | `ses#<ses message id>` | `marker` | this delivery was recorded (→ `ticket_id`) |
//! | `msgid#<scope>#<sha256(rfc message id)>` | `marker` | this RFC Message-ID was recorded for this scope (→ `ticket_id`) |
//! | `case#<scope>#<id>` / `abuse#<scope>#<id>` / `subject#<scope>#<category>#<sha256(subject)>` | `thread` | thread keys (→ `ticket_id`, `last_seen`) |
//!
//! Every thread key and Message-ID marker is scoped ([`scope`](super::scope)): the account, or for unrouted mail
//! `unrouted-<hash of the envelope recipients>`, so mail never threads onto, or is swallowed as a
//! duplicate of, another account's ticket. Mail-controlled text reaches a key only hashed, so
//! every key stays far below DynamoDB's 2048-byte partition-key limit.
//!
//! `record` writes the ticket (conditional on its version), both markers (conditional on not
//! existing), the audit record and the message's sealed secrets (to the vault table, see
//! [`DynamoTicketStore::with_vault_table`]) in one `TransactWriteItems`, so a message is recorded exactly
//! once with exactly one audit record, whatever the retries and concurrency. Its first attempt
//! reads nothing but the audit chain's head: it assumes a new thread (no reply headers, no thread
//! key stored yet) and lets conditions check it (the markers and every thread key must not
//! exist); a cancelled first attempt falls back to reading the markers and the thread.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use super::thread::{is_subject_key, merge, message_id_key, record_entry, referenced, thread_keys};
use super::{
    IncomingMessage, RecordOutcome, Ticket, TicketError, TicketStore, SUBJECT_THREAD_WINDOW,
};
use crate::audit::{backoff, DynamoAuditLog};
use crate::cancellation::{cancelled, Cancelled};
use crate::mail::Decision;
use crate::sdk::{classify_sdk_error, describe_sdk_error};
use crate::AccountId;

const MAX_ATTEMPTS: u32 = 20;
/// GSI on (`account`, `last_seen`).
pub const ACCOUNT_INDEX: &str = "account-index";

#[derive(Clone)]
pub struct DynamoTicketStore {
    client: Client,
    table: String,
    audit: DynamoAuditLog,
    /// The vault table a message's sealed secrets are written to (inbound mail only).
    vault_table: Option<String>,
}

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// A transaction DynamoDB cancelled for an item it refuses: retrying cannot help.
fn invalid(item: usize, code: &str) -> TicketError {
    TicketError::Store {
        message: format!(
            "DynamoDB cancelled the ticket transaction ({code} on item {item}); nothing was \
             written and a retry would fail the same way"
        ),
        error_type: crate::ErrorType::AwsError,
    }
}

fn store_err<E>(
    op: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> TicketError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
{
    TicketError::Store {
        message: describe_sdk_error(op, e),
        error_type: classify_sdk_error(e),
    }
}

impl DynamoTicketStore {
    pub fn new(client: Client, table: impl Into<String>, audit: DynamoAuditLog) -> Self {
        Self {
            client,
            table: table.into(),
            audit,
            vault_table: None,
        }
    }

    /// A store that also writes the sealed secrets of the messages it records, to `vault_table`
    /// (the inbound-mail function's).
    pub fn with_vault_table(mut self, vault_table: impl Into<String>) -> Self {
        self.vault_table = Some(vault_table.into());
        self
    }

    /// The Puts of `msg`'s sealed secrets, for the transaction that records it.
    fn secret_puts(&self, msg: &IncomingMessage) -> Result<Vec<TransactWriteItem>, TicketError> {
        if msg.secrets.is_empty() {
            return Ok(Vec::new());
        }
        let Some(table) = &self.vault_table else {
            return Err(TicketError::Store {
                message: "this ticket store was built without the vault table; it cannot record a message's secrets".into(),
                error_type: crate::ErrorType::InternalError,
            });
        };
        msg.secrets
            .iter()
            .map(|sealed| {
                Put::builder()
                    .table_name(table)
                    .set_item(Some(crate::vault::sealed_item(sealed)))
                    .build()
                    .map(|put| TransactWriteItem::builder().put(put).build())
                    .map_err(|e| TicketError::Store {
                        message: format!("building a Put: {e}"),
                        error_type: crate::ErrorType::InternalError,
                    })
            })
            .collect()
    }

    async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, TicketError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_err("dynamodb:GetItem", &e))?;
        Ok(out.item)
    }

    async fn marker(&self, pk: String) -> Result<Option<String>, TicketError> {
        Ok(self
            .get_item(pk, "marker")
            .await?
            .and_then(|i| match i.get("ticket_id") {
                Some(AttributeValue::S(id)) => Some(id.clone()),
                _ => None,
            }))
    }

    pub(super) fn audit(&self) -> &DynamoAuditLog {
        &self.audit
    }

    /// Runs a transaction: `Err(None)` when it was cancelled by a condition or a concurrent
    /// transaction (re-read and retry), `Err(Some(_))` for anything else.
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), Option<TicketError>> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match cancelled(&e) {
                Some(Cancelled::Conditions(_)) => Err(None),
                Some(Cancelled::Invalid { item, code }) => Err(Some(invalid(item, &code))),
                None => Err(Some(store_err("dynamodb:TransactWriteItems", &e))),
            },
        }
    }

    pub(super) async fn load(&self, id: &str) -> Result<Option<(Ticket, u64)>, TicketError> {
        match self.get_item(format!("ticket#{id}"), "ticket").await? {
            Some(item) => ticket_from_item(id, &item).map(Some),
            None => Ok(None),
        }
    }

    /// The open ticket this message belongs to, if any.
    async fn find_thread(
        &self,
        msg: &IncomingMessage,
    ) -> Result<Option<(Ticket, u64)>, TicketError> {
        // Quarantined mail never joins an existing thread: forged headers must not inject into a
        // real conversation.
        if msg.decision.quarantined {
            return Ok(None);
        }
        let d = &msg.decision;
        for r in referenced(d) {
            if let Some(id) = self.marker(message_id_key(d, r)).await? {
                if let Some(found) = self.load(&id).await? {
                    if found.0.account_id == d.account_id {
                        return Ok(Some(found));
                    }
                }
            }
        }
        for k in thread_keys(msg) {
            let Some(item) = self.get_item(k.clone(), "thread").await? else {
                continue;
            };
            let (Some(AttributeValue::S(id)), Some(AttributeValue::S(last))) =
                (item.get("ticket_id"), item.get("last_seen"))
            else {
                continue;
            };
            if is_subject_key(&k) {
                let fresh = chrono::DateTime::parse_from_rfc3339(last)
                    .map(|t| msg.received_at - t.to_utc() <= SUBJECT_THREAD_WINDOW)
                    .unwrap_or(false);
                if !fresh {
                    continue;
                }
            }
            if let Some(found) = self.load(id).await? {
                if !found.0.quarantined && found.0.account_id == d.account_id {
                    return Ok(Some(found));
                }
            }
        }
        Ok(None)
    }

    /// A new ticket is a conditional Put; an existing one is updated in place (conditional on
    /// the version read), keeping attributes the document does not hold (e.g. `notified`).
    pub(super) fn ticket_write(
        &self,
        t: &Ticket,
        prior_version: Option<u64>,
    ) -> Result<TransactWriteItem, TicketError> {
        let Some(v) = prior_version else {
            return self.put(
                ticket_item(t, 1)?,
                Some(("attribute_not_exists(pk)", vec![])),
            );
        };
        let mut item = ticket_item(t, v + 1)?;
        let mut b = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key("pk", s(format!("ticket#{}", t.id)))
            .key("sk", s("ticket"))
            .update_expression("SET doc = :doc, version = :nv, account = :account, last_seen = :last, #status = :status")
            .condition_expression("version = :v")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":v", AttributeValue::N(v.to_string()));
        for (attr, placeholder) in [
            ("doc", ":doc"),
            ("version", ":nv"),
            ("account", ":account"),
            ("last_seen", ":last"),
            ("status", ":status"),
        ] {
            if let Some(value) = item.remove(attr) {
                b = b.expression_attribute_values(placeholder, value);
            }
        }
        let update = b.build().map_err(|e| TicketError::Store {
            message: format!("building an Update: {e}"),
            error_type: crate::ErrorType::InternalError,
        })?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The blind first attempt of `record`: `Some` when it committed a new ticket; `None` when
    /// the message may belong to a thread or was recorded already (a condition failed, or it
    /// names messages it replies to), so the caller reads and decides.
    async fn record_new(
        &self,
        msg: &IncomingMessage,
        actor: &str,
        mid_key: Option<&str>,
    ) -> Result<Option<RecordOutcome>, TicketError> {
        let d = &msg.decision;
        if !d.quarantined && referenced(d).next().is_some() {
            return Ok(None);
        }
        let ticket = msg.new_ticket();
        let entry = record_entry(msg, &ticket, true, actor);
        let (record, audit_put) = self.audit.prepare(&entry).await?;
        let marker = |pk: String| {
            let mut item = key(pk, "marker");
            item.insert("ticket_id".into(), s(ticket.id.clone()));
            item
        };
        let absent = || Some(("attribute_not_exists(pk)", vec![]));
        let mut items = vec![
            self.ticket_write(&ticket, None)?,
            self.put(marker(format!("ses#{}", msg.ses_message_id)), absent())?,
        ];
        if let Some(k) = mid_key {
            items.push(self.put(marker(k.to_owned()), absent())?);
        }
        if !d.quarantined {
            for k in thread_keys(msg) {
                let mut item = key(k, "thread");
                item.insert("ticket_id".into(), s(ticket.id.clone()));
                item.insert("last_seen".into(), s(ticket.last_seen.to_rfc3339()));
                items.push(self.put(item, absent())?);
            }
        }
        items.push(TransactWriteItem::builder().put(audit_put).build());
        items.extend(self.secret_puts(msg)?);
        match self.transact(items).await {
            Ok(()) => {
                self.audit.committed(&record);
                Ok(Some(RecordOutcome::Created(ticket)))
            }
            Err(None) => Ok(None),
            Err(Some(e)) => Err(e),
        }
    }

    fn put(
        &self,
        item: Item,
        condition: Option<(&str, Vec<(&str, AttributeValue)>)>,
    ) -> Result<TransactWriteItem, TicketError> {
        let mut b = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some((expr, values)) = condition {
            b = b.condition_expression(expr);
            for (k, v) in values {
                b = b.expression_attribute_values(k, v);
            }
        }
        let put = b.build().map_err(|e| TicketError::Store {
            message: format!("building a Put: {e}"),
            error_type: crate::ErrorType::InternalError,
        })?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// A stored ticket item → (ticket, version).
fn ticket_from_item(id: &str, item: &Item) -> Result<(Ticket, u64), TicketError> {
    let corrupt = |reason: &str| TicketError::Corrupt {
        id: id.to_owned(),
        reason: reason.to_owned(),
    };
    let doc = match item.get("doc") {
        Some(AttributeValue::S(d)) => d,
        _ => return Err(corrupt("doc missing")),
    };
    let version = match item.get("version") {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| corrupt("version not a number"))?,
        _ => return Err(corrupt("version missing")),
    };
    let ticket = serde_json::from_str(doc).map_err(|e| corrupt(&e.to_string()))?;
    Ok((ticket, version))
}

fn ticket_item(t: &Ticket, version: u64) -> Result<Item, TicketError> {
    let doc = serde_json::to_string(t).map_err(|e| TicketError::Corrupt {
        id: t.id.clone(),
        reason: e.to_string(),
    })?;
    let mut item = key(format!("ticket#{}", t.id), "ticket");
    item.insert("doc".into(), s(doc));
    item.insert("version".into(), AttributeValue::N(version.to_string()));
    item.insert(
        "account".into(),
        s(t.account_id
            .as_ref()
            .map(|a| a.as_str())
            .unwrap_or("unrouted")),
    );
    item.insert("last_seen".into(), s(t.last_seen.to_rfc3339()));
    item.insert("status".into(), s(t.status.as_str()));
    item.insert("ticket_id".into(), s(t.id.clone()));
    Ok(item)
}

impl TicketStore for DynamoTicketStore {
    async fn record(
        &self,
        msg: &IncomingMessage,
        actor: &str,
    ) -> Result<RecordOutcome, TicketError> {
        let mid_key = msg
            .decision
            .message_id
            .as_ref()
            .map(|m| message_id_key(&msg.decision, m));
        // First attempt, blind: a new ticket whose markers and thread keys must not exist yet.
        if let Some(outcome) = self.record_new(msg, actor, mid_key.as_deref()).await? {
            return Ok(outcome);
        }
        for attempt in 0..MAX_ATTEMPTS {
            if let Some(id) = self.marker(format!("ses#{}", msg.ses_message_id)).await? {
                return Ok(RecordOutcome::Duplicate { ticket_id: id });
            }
            if let Some(k) = &mid_key {
                if let Some(id) = self.marker(k.clone()).await? {
                    return Ok(RecordOutcome::Duplicate { ticket_id: id });
                }
            }
            let (ticket, prior_version) = match self.find_thread(msg).await? {
                Some((t, v)) => (merge(t, msg), Some(v)),
                None => (msg.new_ticket(), None),
            };
            let created = prior_version.is_none();
            let entry = record_entry(msg, &ticket, created, actor);
            let (record, audit_put) = self.audit.prepare(&entry).await?;

            let marker = |pk: String| {
                let mut item = key(pk, "marker");
                item.insert("ticket_id".into(), s(ticket.id.clone()));
                item
            };
            let mut items = vec![
                self.ticket_write(&ticket, prior_version)?,
                self.put(
                    marker(format!("ses#{}", msg.ses_message_id)),
                    Some(("attribute_not_exists(pk)", vec![])),
                )?,
            ];
            if let Some(k) = &mid_key {
                items.push(self.put(
                    marker(k.clone()),
                    Some(("attribute_not_exists(pk)", vec![])),
                )?);
            }
            if !msg.decision.quarantined {
                for k in thread_keys(msg) {
                    let mut item = key(k, "thread");
                    item.insert("ticket_id".into(), s(ticket.id.clone()));
                    item.insert("last_seen".into(), s(ticket.last_seen.to_rfc3339()));
                    items.push(self.put(item, None)?);
                }
            }
            items.push(TransactWriteItem::builder().put(audit_put).build());
            items.extend(self.secret_puts(msg)?);

            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => {
                    self.audit.committed(&record);
                    return Ok(if created {
                        RecordOutcome::Created(ticket)
                    } else {
                        RecordOutcome::Updated(ticket)
                    });
                }
                Err(e) => {
                    let c = match cancelled(&e) {
                        None => return Err(store_err("dynamodb:TransactWriteItems", &e)),
                        Some(Cancelled::Invalid { item, code }) => {
                            return Err(invalid(item, &code))
                        }
                        Some(c) => c,
                    };
                    let failed = |i: usize| c.condition_failed(i);
                    let marker_lost = failed(1) || (mid_key.is_some() && failed(2));
                    if marker_lost {
                        // Someone recorded this delivery or Message-ID first: the loop's
                        // marker check returns their ticket.
                        continue;
                    }
                    // The ticket moved on or the audit sequence was taken: re-read and retry.
                    backoff(attempt).await;
                }
            }
        }
        Err(TicketError::Contention {
            attempts: MAX_ATTEMPTS,
        })
    }

    async fn get(&self, id: &str) -> Result<Option<Ticket>, TicketError> {
        Ok(self.load(id).await?.map(|(t, _)| t))
    }

    async fn delivery_recorded(&self, ses_message_id: &str) -> Result<Option<String>, TicketError> {
        self.marker(format!("ses#{ses_message_id}")).await
    }

    async fn message_id_recorded(
        &self,
        decision: &Decision,
        message_id: &str,
    ) -> Result<Option<String>, TicketError> {
        self.marker(message_id_key(decision, message_id)).await
    }

    async fn pending_notification(&self, id: &str) -> Result<Option<Ticket>, TicketError> {
        let Some(item) = self.get_item(format!("ticket#{id}"), "ticket").await? else {
            return Ok(None);
        };
        let notified: u32 = match item.get("notified") {
            Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
            _ => 0,
        };
        let (ticket, _) = ticket_from_item(id, &item)?;
        Ok(Some(ticket).filter(|t| t.messages > notified))
    }

    async fn mark_notified(&self, id: &str, messages: u32) -> Result<(), TicketError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("ticket#{id}"), "ticket")))
            .update_expression("SET notified = :m")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(notified) OR notified < :m)",
            )
            .expression_attribute_values(":m", AttributeValue::N(messages.to_string()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            // Already marked as far or further (a concurrent retry got there first).
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(store_err("dynamodb:UpdateItem", &e)),
        }
    }

    async fn list(&self, account: Option<&AccountId>) -> Result<Vec<Ticket>, TicketError> {
        let items: Vec<Item> = match account {
            Some(a) => self
                .client
                .query()
                .table_name(&self.table)
                .index_name(ACCOUNT_INDEX)
                .key_condition_expression("account = :a")
                .expression_attribute_values(":a", s(a.as_str()))
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| store_err("dynamodb:Query", &e))?,
            None => self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("sk = :t")
                .expression_attribute_values(":t", s("ticket"))
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| store_err("dynamodb:Scan", &e))?,
        };
        // The account index projects whole items, so both paths carry the document.
        let mut tickets = Vec::with_capacity(items.len());
        for item in &items {
            let id = item
                .get("ticket_id")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
                .unwrap_or("?");
            tickets.push(ticket_from_item(id, item)?.0);
        }
        tickets.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| a.id.cmp(&b.id)));
        Ok(tickets)
    }
}
