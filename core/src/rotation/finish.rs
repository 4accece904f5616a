//! Step 3, finish: `pending` → `current` (old `current` → `previous`), resolve the ticket, set
//! the next due date.

use super::ports::{classified, vault_actor, RotationPorts};
use super::store::RotationStore;
use super::{steps, Finished, RotationStage};
use crate::mail::Category;
use crate::registry::schedule::RotationSchedule;
use crate::registry::{stamp, RotationReason};
use crate::tickets::{TaskChange, TaskTickets};
use crate::vault::{CredentialKind, Vault};
use crate::workflows::WorkflowWaits;
use crate::{AccountId, LambdaError};

/// Step 3: pending → current.
pub async fn finish<P: RotationPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
    confirmation: &serde_json::Value,
) -> Result<Finished, LambdaError> {
    let record = steps::may_finish(
        account,
        execution,
        ports.rotations().get(account, execution).await?,
    )?;
    let how = steps::confirmation_text(confirmation);
    let current = ports
        .vault()
        .promote(
            account,
            CredentialKind::RootPassword,
            execution,
            &vault_actor(ports, execution, &how),
        )
        .await?;
    let now = ports.clock().now();
    ports
        .rotations()
        .end(
            account,
            execution,
            RotationStage::Completed,
            Some(current),
            &how,
            &stamp(now),
        )
        .await?;
    // A takeover's rotation leaves the schedule to the takeover's `activate` step.
    let next_due = if steps::moves_schedule(Some(&record), None) {
        // The maximum age prepare recorded (it never changes); an older record's is read.
        let max_age = match record.max_age_days {
            Some(days) => Some(days),
            None => (ports.registry().account(account).await?).map(|a| a.max_age_days),
        };
        let next_due = steps::next_due(now, max_age);
        ports
            .registry()
            .reschedule(
                account,
                execution,
                next_due,
                RotationReason::MaxAge,
                Some(now),
            )
            .await?;
        Some(next_due)
    } else {
        None
    };
    ports
        .tickets()
        .change_task(
            &record.ticket_id,
            TaskChange::Resolve,
            &steps::finish_note(&how, current),
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
    tracing::info!(account = %account, execution, current_version = current, "rotation completed");
    Ok(Finished {
        account_id: account.to_string(),
        execution: execution.to_owned(),
        current_version: current,
        next_due: next_due.map(stamp),
    })
}
