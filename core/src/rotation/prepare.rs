//! Step 1, prepare: generate a password, vault it as `pending` (one per execution: a retry
//! reuses it), open the ticket "apply pending root password", record the rotation.

use secrecy::SecretString;

use super::liveness::{self, ExecutionState, Orphan};
use super::ports::{classified, vault_actor, RotationPorts};
use super::store::RotationStore;
use super::{steps, Prepared, RotationRecord, RotationStage, StartInput};
use crate::executions::Executions;
use crate::registry::schedule::RotationSchedule;
use crate::registry::stamp;
use crate::tickets::TaskTickets;
use crate::vault::password::{self, PasswordPolicy};
use crate::vault::{CredentialKind, Head, Vault};
use crate::{AccountId, ErrorType, LambdaError};

/// Deals with the pending version `other` left before `execution` (None: the operator's
/// `start`) stages its own: `Conflict` while `other` runs, [`ErrorType::PendingDecisionRequired`]
/// when it may be live, otherwise discards it (audited by the vault) and ends its record.
pub(super) async fn settle_orphan<P: RotationPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
    other: &str,
    other_arn: impl Fn(Option<&RotationRecord>) -> String,
    discard: bool,
) -> Result<(), LambdaError> {
    let record = ports.rotations().get(account, other).await?;
    let state = match &record {
        Some(r) if r.stage != RotationStage::AwaitingApply => ExecutionState::Missing,
        r => ports.executions().state(&other_arn(r.as_ref())).await?,
    };
    match liveness::orphan_pending(record.as_ref(), &state) {
        Orphan::InProgress => Err(LambdaError::new(
            ErrorType::Conflict,
            format!("rotation {other} of account {account} is in progress"),
        )),
        Orphan::DecisionRequired => {
            let r = record.as_ref().ok_or_else(|| {
                LambdaError::new(ErrorType::InternalError, "decision without a record")
            })?;
            Err(liveness::decision_required(account, r, &state))
        }
        Orphan::Discard if !discard => Ok(()),
        Orphan::Discard => {
            let reason = format!("superseded by {execution}: rotation {other} no longer runs");
            ports
                .vault()
                .discard_pending(
                    account,
                    CredentialKind::RootPassword,
                    other,
                    &vault_actor(ports, execution, &reason),
                )
                .await?;
            Ok(())
        }
    }
}

/// Step 1.
pub async fn prepare<P: RotationPorts>(
    ports: &P,
    execution: &str,
    execution_arn: &str,
    input: &StartInput,
) -> Result<Prepared, LambdaError> {
    let account = steps::account_id(&input.account_id)?;
    let timeout = steps::apply_timeout(input.apply_timeout_seconds, ports.apply_timeout_seconds())?;
    let trigger = input.trigger.as_deref();
    let registered = ports.registry().account(&account).await?;
    let registered = steps::rotatable(&account, registered.as_ref(), trigger)?;
    steps::may_prepare(
        execution,
        ports.rotations().get(&account, execution).await?.as_ref(),
    )?;
    let head: Option<Head> = ports
        .vault()
        .head(&account, CredentialKind::RootPassword)
        .await?;
    // Retried after its own pending was staged and promoted? `may_prepare` refused already:
    // its record ended. Otherwise only a takeover stages with no current password.
    let head = steps::stageable(&account, head.as_ref(), trigger)?;
    // A pending version of another execution: discarded only when that execution no longer
    // runs and no human can have seen it (see `liveness::orphan_pending`).
    let orphan = head.and_then(|h| steps::orphan_execution(h, execution));
    if let Some(other) = orphan {
        let other_arn = |r: Option<&RotationRecord>| {
            r.map(|r| r.execution_arn.clone())
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| steps::sibling_arn(execution_arn, other))
        };
        settle_orphan(ports, &account, execution, other, other_arn, true).await?;
    }
    let terms =
        password::forbidden_terms(registered.root_email.as_str(), registered.name.as_deref());
    let policy = PasswordPolicy::new(ports.password_length())
        .map_err(|e| LambdaError::new(ErrorType::ConfigError, e.to_string()))?;
    let terms: Vec<&str> = terms.iter().map(String::as_str).collect();
    let candidate: SecretString = password::generate(&policy, &terms)
        .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))?;
    let trigger = input.trigger.clone().unwrap_or_else(|| "manual".into());
    let current = head.and_then(|h| h.current);
    let actor = vault_actor(ports, execution, format!("rotation ({trigger})"));
    let vault = ports.vault();
    let (pending, _created) = match orphan {
        // The orphan was discarded: the head read above is no longer the head.
        Some(_) => {
            vault
                .stage_pending(
                    &account,
                    CredentialKind::RootPassword,
                    execution,
                    &candidate,
                    &actor,
                )
                .await?
        }
        // Decided on the head just read (one vault read fewer).
        None => {
            vault
                .stage_pending_on(
                    head,
                    &account,
                    CredentialKind::RootPassword,
                    execution,
                    &candidate,
                    &actor,
                )
                .await?
        }
    };
    drop(candidate);
    let now = ports.clock().now();
    let ticket = steps::apply_ticket(&account, execution, pending, current, timeout, now);
    let ticket = ports
        .tickets()
        .open_task(&ticket, ports.actor(), execution)
        .await
        .map_err(classified)?;
    let record = RotationRecord {
        account_id: account.clone(),
        execution: execution.to_owned(),
        execution_arn: execution_arn.to_owned(),
        trigger,
        stage: RotationStage::AwaitingApply,
        pending_version: pending,
        current_version: current,
        completed_version: None,
        max_age_days: Some(registered.max_age_days),
        ticket_id: ticket.id.clone(),
        task_token: None,
        apply_deadline: None,
        started_at: stamp(now),
        updated_at: stamp(now),
        outcome: None,
    };
    let record = ports.rotations().create(&record).await?;
    tracing::info!(account = %account, execution, pending_version = pending, "rotation prepared");
    Ok(Prepared {
        account_id: account.to_string(),
        execution: execution.to_owned(),
        pending_version: record.pending_version,
        current_version: record.current_version,
        ticket_id: record.ticket_id,
        apply_timeout_seconds: timeout,
    })
}
