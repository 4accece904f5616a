//! Step 3, finish: `pending` → `current` (old `current` → `previous`), resolve the ticket, set
//! the next due date.

use super::{ticket_err, vault_err, Deps, Finished, RotationStage};
use crate::mail::Category;
use crate::registry::{stamp, RotationReason};
use crate::rotation::steps;
use crate::tickets::TaskChange;
use crate::vault::{CredentialKind, Vault};
use crate::workflows::WorkflowWaits;
use crate::{AccountId, LambdaError};

/// Step 3: pending → current.
pub async fn finish(
    deps: &Deps,
    account: &AccountId,
    execution: &str,
    confirmation: &serde_json::Value,
) -> Result<Finished, LambdaError> {
    let record = steps::may_finish(
        account,
        execution,
        deps.rotations.get(account, execution).await?,
    )?;
    let how = steps::confirmation_text(confirmation);
    let current = deps
        .vault
        .promote(
            account,
            CredentialKind::RootPassword,
            execution,
            &deps.vault_actor(execution, &how),
        )
        .await
        .map_err(vault_err)?;
    let now = deps.clock.now();
    deps.rotations
        .end(
            account,
            execution,
            RotationStage::Completed,
            Some(current),
            &how,
            &stamp(now),
        )
        .await?;
    let max_age = deps.registry.get(account).await?.map(|a| a.max_age_days);
    let next_due = steps::next_due(now, max_age);
    deps.registry
        .reschedule(
            account,
            execution,
            next_due,
            RotationReason::MaxAge,
            Some(now),
        )
        .await?;
    deps.tickets
        .change_task(
            &record.ticket_id,
            TaskChange::Resolve,
            &steps::finish_note(&how, current),
            &deps.actor,
            execution,
            now,
        )
        .await
        .map_err(ticket_err)?;
    deps.waits
        .remove(account, Category::PasswordChanged, execution)
        .await?;
    tracing::info!(account = %account, execution, current_version = current, "rotation completed");
    Ok(Finished {
        account_id: account.to_string(),
        execution: execution.to_owned(),
        current_version: current,
        next_due: stamp(next_due),
    })
}
