//! The inbound-mail use case: one SES delivery → raw message from S3 → decision → secrets sealed
//! for the vault → ticket (created, threaded or duplicate) with those secrets and its audit
//! record, in one transaction. Content problems never
//! fail: malformed, oversized or hostile mail still becomes a ticket or a quarantine decision.
//! Only transient AWS failures return an error, so SES's async retries and the DLQ apply.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::mail::workflow_trust::{self, History, Receipt, Refusal, WaitEligibility};
use crate::mail::{self, Category, Context, ParsedMail, Priority, SesVerdicts};
use crate::notify::{Notice, Notifier};
use crate::registry::{AccountRegistry, AccountStatus};
use crate::tickets::{IncomingMessage, RecordOutcome, TicketStore};
use crate::vault::TransientStore;
use crate::workflows::{Wait, WorkflowWaits, MAIL_COMPLETES};
use crate::{LambdaError, RootEmail};

/// What SES tells us about one delivery (the body is not in the event).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub ses_message_id: String,
    /// Envelope recipients (`receipt.recipients`), not the MIME To/Cc.
    pub recipients: Vec<String>,
    pub verdicts: Option<SesVerdicts>,
    /// From the event's common headers: used when the body is not loaded.
    pub subject: Option<String>,
    pub from: Option<String>,
    pub received_at: DateTime<Utc>,
    /// Bucket and key, when the event is an S3-action notification that names them; otherwise
    /// the store's configured prefix + SES message id.
    pub object: Option<(String, String)>,
}

/// A stored message as one read returns it: its bytes, or only its size when it exceeds the
/// limit (the body is then not read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawMail {
    Body(Vec<u8>),
    Oversized(u64),
}

/// Where SES's S3 action stored raw messages. Methods take the object key from [`object_key`].
///
/// [`object_key`]: RawMailStore::object_key
pub trait RawMailStore: Send + Sync {
    /// The delivery's object key; refuses an event that names another bucket.
    fn object_key(&self, delivery: &Delivery) -> Result<String, LambdaError>;
    /// One read of the message: its bytes, or only its size when it is larger than `max_bytes`
    /// (the body is not read); waits briefly for an object SES has not finished writing.
    fn load(
        &self,
        key: &str,
        max_bytes: u64,
    ) -> impl Future<Output = Result<RawMail, LambdaError>> + Send;
    fn location(&self, key: &str) -> String;
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Processed {
    pub ses_message_id: String,
    pub ticket_id: String,
    /// `created`, `updated` or `duplicate`.
    pub outcome: &'static str,
    pub category: Category,
    pub priority: Priority,
    pub quarantined: bool,
    pub secrets_vaulted: usize,
    pub oversized: bool,
    /// Waiting workflows this message completed.
    pub workflows_completed: usize,
    /// Waiting workflows this message would have matched but may not complete (see
    /// `mail::workflow_trust`): its ticket says why.
    pub workflow_claims_refused: usize,
}

pub struct Deps<'a, M, T, V, R, N, W> {
    pub mail: &'a M,
    pub tickets: &'a T,
    pub vault: &'a V,
    pub registry: &'a R,
    pub notifier: &'a N,
    pub waits: &'a W,
    /// Who records: the function's ARN.
    pub actor: &'a str,
    pub max_bytes: u64,
}

fn address_of(header: &str) -> String {
    let inner = match (header.rfind('<'), header.rfind('>')) {
        (Some(a), Some(b)) if a < b => &header[a + 1..b],
        _ => header,
    };
    inner.trim().to_ascii_lowercase()
}

pub async fn process<M, T, V, R, N, W>(
    deps: &Deps<'_, M, T, V, R, N, W>,
    delivery: &Delivery,
) -> Result<Processed, LambdaError>
where
    M: RawMailStore,
    T: TicketStore,
    V: TransientStore,
    R: AccountRegistry,
    N: Notifier,
    W: WorkflowWaits,
{
    let id = &delivery.ses_message_id;
    // The registry wins over anything the message says.
    let mut registry_account = None;
    let mut root_email = None;
    let mut contacts = Vec::new();
    let mut account_status = None;
    for r in &delivery.recipients {
        if let Ok(email) = RootEmail::parse(r) {
            if let Some(found) = deps.registry.by_root_email(&email).await? {
                registry_account = Some(found.account_id);
                root_email = Some(found.root_email);
                contacts = found.contacts;
                account_status = Some(found.status);
                break;
            }
        }
    }
    let ctx = Context {
        recipients: delivery.recipients.clone(),
        ses: delivery.verdicts,
        registry_account,
        expected_by_workflow: false,
    };
    let key = deps.mail.object_key(delivery)?;
    let (analysis, oversized) = match deps.mail.load(&key, deps.max_bytes).await? {
        RawMail::Body(raw) => (mail::analyze(&raw, &ctx), false),
        RawMail::Oversized(size) => {
            let parsed = ParsedMail {
                subject: delivery.subject.clone().unwrap_or_default(),
                from: delivery.from.as_deref().map(address_of),
                text: format!(
                    "Message of {size} bytes exceeds the {}-byte limit and was not parsed. Raw copy: {}",
                    deps.max_bytes,
                    deps.mail.location(&key)
                ),
                size: size as usize,
                ..ParsedMail::default()
            };
            let mut a = mail::decide(&parsed, &ctx);
            a.decision.priority = a.decision.priority.max(Priority::High);
            (a, true)
        }
    };
    let mut decision = analysis.decision;
    mark_custody(&mut decision, account_status);
    // The registry is the only source of truth for account existence: an id only the message
    // names (sub-address, labelled) that it does not know leaves the mail unrouted, so mail never
    // creates an audit chain, ticket, secret or wait for an account that does not exist.
    let mut unregistered_account = None;
    if let Some(account) = decision.account_id.clone() {
        if decision.account_source != Some(mail::AccountSource::Registry)
            && !deps.registry.is_registered(&account).await?
        {
            decision.account_id = None;
            decision.account_source = None;
            unregistered_account = Some(account);
        }
    }
    let waits = match &decision.account_id {
        Some(account) if MAIL_COMPLETES.contains(&decision.category) => {
            deps.waits
                .waiting(account, decision.category, Utc::now())
                .await?
        }
        _ => Vec::new(),
    };
    // Waits must know a re-delivery (an SES or Lambda retry). Mail with none needs no read: the
    // ticket's transaction refuses a recorded delivery by its marker's condition, and with it
    // the secrets the message carried.
    let recorded = if waits.is_empty() {
        None
    } else {
        deps.tickets
            .delivery_recorded(id)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?
    };
    let (earned, refused) = judge_waits(
        deps,
        delivery,
        &decision,
        waits,
        root_email.as_ref(),
        recorded.is_some(),
    )
    .await?;
    if !refused.is_empty() {
        // It claimed to complete a workflow and may not: an operator must look at it.
        decision.priority = decision
            .priority
            .max(Priority::High)
            .max(mail::classify::priority(
                decision.category,
                false,
                false,
                false,
            ));
        let reasons: Vec<String> = refused
            .iter()
            .map(|(w, r)| workflow_trust::refusal_reason(w.kind, &w.execution, r))
            .collect();
        decision.summary = format!("[{}] {}", reasons.join("; "), decision.summary);
        // A new delivery re-using a recorded Message-ID is its own ticket, not a duplicate to
        // drop: the claim it made must be seen.
        if recorded.is_none()
            && refused
                .iter()
                .any(|(_, r)| r.contains(&Refusal::MessageIdSeen))
        {
            decision.message_id = None;
        }
    } else if !earned.is_empty() {
        // Expected: password-changed mail a workflow was waiting for is not `critical`.
        decision.priority = mail::classify::priority(decision.category, false, false, true);
    }
    // Quarantined mail never drives anything: its "reset link" is likely the phish itself; nor
    // does mail that claimed a workflow it may not complete. Only mail to an account's
    // registered root address, by the envelope and by its own (DKIM-signed) To, carries
    // that account's secrets: a genuine AWS mail about another account re-sent to ours, or
    // mail routed by a sub-address or a body label, does not. The secrets are sealed here and
    // written with the ticket, in its transaction (so only by the delivery that records it).
    let for_root_address = decision.account_source == Some(mail::AccountSource::Registry)
        && root_email
            .as_ref()
            .is_some_and(|r| decision.addressed_to(r));
    let mut secrets = Vec::new();
    if !decision.quarantined && refused.is_empty() && recorded.is_none() && for_root_address {
        for (index, secret) in analysis.secrets.iter().enumerate() {
            secrets.push(
                deps.vault
                    .seal(
                        decision.account_id.as_ref(),
                        secret.kind,
                        id,
                        index,
                        delivery.received_at,
                        &secret.value,
                    )
                    .await
                    .map_err(|e| LambdaError::from_classified(&e))?,
            );
        }
    }
    let msg = IncomingMessage {
        ses_message_id: id.clone(),
        raw_location: deps.mail.location(&key),
        received_at: delivery.received_at,
        decision: decision.clone(),
        unregistered_account,
        secrets,
    };
    let outcome = deps
        .tickets
        .record(&msg, deps.actor)
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    // Waits complete before, and independently of, notifications: a webhook or SES outage must
    // not lose a genuine confirmation. The claim made above lets a retry finish this.
    for w in &earned {
        let output = serde_json::json!({
            "ticket_id": outcome.ticket_id(),
            "ses_message_id": id,
            "account_id": w.account.as_str(),
            "category": decision.category.as_str(),
        });
        deps.waits.complete(w, &output).await?;
    }
    let vaulted = match &outcome {
        RecordOutcome::Duplicate { .. } => 0,
        _ => msg.secrets.len(),
    };
    let (label, to_notify) = match &outcome {
        RecordOutcome::Created(t) => ("created", Some(t.clone())),
        RecordOutcome::Updated(t) => ("updated", Some(t.clone())),
        // A retry after a failed notification: deliver what was not delivered (at least once).
        RecordOutcome::Duplicate { ticket_id } => (
            "duplicate",
            deps.tickets
                .pending_notification(ticket_id)
                .await
                .map_err(|e| LambdaError::from_classified(&e))?,
        ),
    };
    // Nothing to deliver on any channel (e.g. no webhook, and no e-mail for this priority or
    // no contacts): nothing to mark either.
    let to_notify = to_notify.filter(|t| deps.notifier.delivers(t, &contacts));
    if let Some(t) = to_notify {
        let event = if t.messages == 1 {
            "ticket.created"
        } else {
            "ticket.updated"
        };
        // An error here fails the invocation: Lambda retries, the message is a duplicate, and the
        // notification is sent again because the ticket is not marked notified.
        deps.notifier
            .notify(&Notice { event, ticket: &t }, &contacts)
            .await?;
        deps.tickets
            .mark_notified(&t.id, t.messages)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
    }
    tracing::info!(
        workflows_completed = earned.len(),
        workflow_claims_refused = refused.len(),
        ses_message_id = %id,
        ticket_id = outcome.ticket_id(),
        outcome = label,
        category = decision.category.as_str(),
        quarantined = decision.quarantined,
        secrets_vaulted = vaulted,
        "inbound mail recorded"
    );
    Ok(Processed {
        ses_message_id: id.clone(),
        ticket_id: outcome.ticket_id().to_owned(),
        outcome: label,
        category: decision.category,
        priority: decision.priority,
        quarantined: decision.quarantined,
        secrets_vaulted: vaulted,
        oversized,
        workflows_completed: earned.len(),
        workflow_claims_refused: refused.len(),
    })
}

/// Mail to an account whose custody ended (`released`, `closed`) is ticketed like any other,
/// marked so an operator sees our old address is retired; AWS's "root email changed" notice to
/// an account we are handing over (or handed over) is expected, not critical.
fn mark_custody(decision: &mut mail::Decision, status: Option<AccountStatus>) {
    let mark = match status {
        Some(AccountStatus::Released) => Some("mail to a released account: custody ended"),
        Some(AccountStatus::Closed) => Some("mail to a closed account: custody ended"),
        _ => None,
    };
    if let Some(mark) = mark {
        decision.summary = format!("[{mark}] {}", decision.summary);
    }
    if decision.category == Category::RootEmailChanged
        && !decision.quarantined
        && matches!(
            status,
            Some(AccountStatus::Releasing | AccountStatus::Released)
        )
    {
        decision.priority = Priority::High;
    }
}

type Judged = (Vec<Wait>, Vec<(Wait, Vec<Refusal>)>);

/// The waits of this account for this kind of mail, split into those this delivery earned (and
/// has claimed) and those it claimed to complete but may not.
async fn judge_waits<M, T, V, R, N, W>(
    deps: &Deps<'_, M, T, V, R, N, W>,
    delivery: &Delivery,
    decision: &mail::Decision,
    waits: Vec<Wait>,
    root_email: Option<&RootEmail>,
    redelivery: bool,
) -> Result<Judged, LambdaError>
where
    T: TicketStore,
    W: WorkflowWaits,
{
    if waits.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let message_id_seen = match (&decision.message_id, redelivery) {
        (Some(m), false) => deps
            .tickets
            .message_id_recorded(decision, m)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?
            .is_some(),
        _ => false,
    };
    let id = &delivery.ses_message_id;
    let receipt = Receipt {
        ses_message_id: id,
        verdicts: delivery.verdicts.as_ref(),
        received_at: delivery.received_at,
        recipients: &delivery.recipients,
    };
    let history = History {
        redelivery,
        message_id_seen,
    };
    let (mut earned, mut refused) = (Vec::new(), Vec::new());
    for w in waits {
        match workflow_trust::eligibility(decision, &receipt, root_email, &w, history) {
            // Claimed before the ticket is written: if the invocation dies after the ticket
            // committed, its retry (a re-delivery) still finishes this wait.
            WaitEligibility::Eligible => {
                if deps.waits.claim(&w, id).await? {
                    earned.push(w);
                } else {
                    refused.push((w, vec![Refusal::ClaimedByAnotherDelivery]));
                }
            }
            WaitEligibility::Refused(r) => refused.push((w, r)),
        }
    }
    Ok((earned, refused))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_header_address() {
        assert_eq!(
            address_of("AWS <No-Reply@Signin.AWS>"),
            "no-reply@signin.aws"
        );
        assert_eq!(address_of("plain@example.com"), "plain@example.com");
        assert_eq!(address_of("broken <x"), "broken <x");
    }
}
