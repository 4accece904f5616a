//! Step 3', abandon (timeout, rejection or failure): discard `pending`, keep `current`,
//! escalate the ticket, retry in a day.

use super::ports::{classified, vault_actor, RotationPorts};
use super::store::RotationStore;
use super::{steps, Abandoned, RotationStage, RETRY_AFTER_ABANDON};
use crate::mail::Category;
use crate::registry::schedule::RotationSchedule;
use crate::registry::{stamp, RotationReason};
use crate::tickets::{TaskChange, TaskTickets};
use crate::vault::{CredentialKind, Vault};
use crate::workflows::WorkflowWaits;
use crate::{AccountId, LambdaError};

/// Timeout, rejection or failure: discard pending, keep current, escalate.
pub async fn abandon<P: RotationPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
    error: &serde_json::Value,
) -> Result<Abandoned, LambdaError> {
    let reason = steps::abandon_reason(error);
    let record = ports.rotations().get(account, execution).await?;
    steps::may_abandon(execution, record.as_ref())?;
    // A takeover's rotation leaves the schedule to the takeover (resumed, then `activate`):
    // its record says so; with no record, the account's status does.
    let registered = match &record {
        Some(_) => None,
        None => ports.registry().account(account).await?,
    };
    let discarded = ports
        .vault()
        .discard_pending(
            account,
            CredentialKind::RootPassword,
            execution,
            &vault_actor(ports, execution, &reason),
        )
        .await?;
    let now = ports.clock().now();
    if record.is_some() {
        ports
            .rotations()
            .end(
                account,
                execution,
                RotationStage::Abandoned,
                None,
                &reason,
                &stamp(now),
            )
            .await?;
    }
    let retry_at = if steps::moves_schedule(record.as_ref(), registered.as_ref()) {
        let retry_at = now + RETRY_AFTER_ABANDON;
        ports
            .registry()
            .reschedule(account, execution, retry_at, RotationReason::Retry, None)
            .await?;
        Some(retry_at)
    } else {
        None
    };
    let pending = record.as_ref().map(|r| r.pending_version).or(discarded);
    let current = record.as_ref().and_then(|r| r.current_version);
    let ticket = steps::abandon_ticket(account, execution, now);
    ports
        .tickets()
        .open_task(&ticket, ports.actor(), execution)
        .await
        .map_err(classified)?;
    ports
        .tickets()
        .change_task(
            &ticket.id,
            TaskChange::Escalate,
            &steps::abandon_note(&reason, pending, current, retry_at),
            ports.actor(),
            execution,
            now,
        )
        .await
        .map_err(classified)?;
    ports
        .waits()
        .remove(account, Category::PasswordChanged, execution)
        .await?;
    tracing::warn!(account = %account, execution, reason = %reason, "rotation abandoned");
    Ok(Abandoned {
        account_id: account.to_string(),
        execution: execution.to_owned(),
        discarded_version: discarded,
        reason,
        retry_at: retry_at.map(stamp),
    })
}
