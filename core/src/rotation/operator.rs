//! The operator's use cases: `rotation start`, `rotation confirm`, `rotation reject` and
//! `rotation status`. The rules are [`super::decisions`].

use std::collections::BTreeMap;

use serde::Serialize;

use super::decisions::{self, Decidable};
use super::ports::{classified, RotationPorts};
use super::prepare::settle_orphan;
use super::store::RotationStore;
use super::REJECTED_ERROR;
use super::{abandon, finish, liveness, RotationRecord, RotationStage, StartInput};
use crate::audit::AuditLog;
use crate::executions::{Executions, Started, TaskSent};
use crate::mail::Category;
use crate::registry::schedule::RotationSchedule;
use crate::registry::stamp;
use crate::vault::{CredentialKind, Head, Vault};
use crate::workflows::WorkflowWaits;
use crate::{AccountId, ErrorType, LambdaError};

/// Starts a rotation now (operator), unless one awaits its apply step.
pub async fn start<P: RotationPorts>(
    ports: &P,
    state_machine_arn: &str,
    account: &AccountId,
    apply_timeout_seconds: Option<u64>,
) -> Result<String, LambdaError> {
    decisions::may_start(account, ports.registry().account(account).await?.as_ref())?;
    for active in ports.rotations().list(account).await? {
        if active.stage == RotationStage::AwaitingApply
            && ports
                .executions()
                .state(&active.execution_arn)
                .await?
                .is_running()
        {
            return Err(decisions::awaiting_apply(account, &active));
        }
    }
    // A pending version that may be live is never discarded by a new rotation: the operator
    // decides first. (One nobody saw is discarded by the new execution's prepare.)
    let head = ports
        .vault()
        .head(account, CredentialKind::RootPassword)
        .await?;
    if let Some(other) = decisions::pending_execution(head.as_ref()) {
        let other_arn = |r: Option<&RotationRecord>| {
            r.map(|r| r.execution_arn.clone())
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| liveness::execution_arn(state_machine_arn, other))
        };
        settle_orphan(ports, account, "rotation start", other, other_arn, false).await?;
    }
    let name = decisions::manual_execution_name(account, ports.clock().now());
    let input = StartInput {
        account_id: account.to_string(),
        trigger: Some("manual".into()),
        apply_timeout_seconds,
    };
    let input = serde_json::to_string(&input).unwrap_or_default();
    match ports
        .executions()
        .start(state_machine_arn, &name, &input)
        .await?
    {
        Started::New { execution_arn } => {
            tracing::info!(account = %account, execution = %name, arn = %execution_arn, "rotation started");
            Ok(name)
        }
        Started::AlreadyExists => Err(LambdaError::new(
            ErrorType::AwsError,
            format!("states:StartExecution failed: ExecutionAlreadyExists ({name})"),
        )),
    }
}

/// The first `awaiting-apply` rotation of `account` an operator can decide.
async fn decidable<P: RotationPorts>(
    ports: &P,
    account: &AccountId,
) -> Result<Decidable, LambdaError> {
    for r in ports.rotations().list(account).await? {
        if r.stage != RotationStage::AwaitingApply {
            continue;
        }
        let state = ports.executions().state(&r.execution_arn).await?;
        if let Some(d) = Decidable::of(r, state) {
            return Ok(d);
        }
    }
    Err(decisions::nothing_to_decide(account))
}

/// A task result that found no waiting task: the decision did not reach the workflow.
fn delivered(sent: TaskSent, operation: &str) -> Result<(), LambdaError> {
    match sent {
        TaskSent::Delivered => Ok(()),
        TaskSent::Gone => Err(LambdaError::new(
            ErrorType::AwsError,
            format!("{operation} failed: the task no longer waits"),
        )),
    }
}

/// The operator confirms the pending password was applied. Audited first (fail closed). A
/// rotation whose execution no longer runs is finished here (its pending becomes current).
pub async fn confirm<P: RotationPorts>(
    ports: &P,
    account: &AccountId,
) -> Result<RotationRecord, LambdaError> {
    let d = decidable(ports, account).await?;
    ports
        .audit()
        .append(&decisions::decision_entry(
            ports.actor(),
            account,
            "rotation.confirmed",
            &d,
            decisions::CONFIRM_REASON,
        ))
        .await
        .map_err(classified)?;
    let confirmation = decisions::operator_confirmation(ports.actor());
    match d {
        Decidable::Waiting(r) => {
            let sent = ports
                .executions()
                .succeed_task(
                    r.task_token.as_deref().unwrap_or_default(),
                    &confirmation.to_string(),
                )
                .await?;
            delivered(sent, "states:SendTaskSuccess")?;
            ports
                .waits()
                .remove(account, Category::PasswordChanged, &r.execution)
                .await?;
            Ok(r)
        }
        Decidable::Orphaned(r, _) => {
            finish(ports, account, &r.execution, &confirmation).await?;
            Ok(r)
        }
    }
}

/// The operator rejects the rotation (the password could not be applied). A rotation whose
/// execution no longer runs is abandoned here (its pending is discarded, never deleted).
pub async fn reject<P: RotationPorts>(
    ports: &P,
    account: &AccountId,
    reason: &str,
) -> Result<RotationRecord, LambdaError> {
    let (reason, cause) = decisions::rejection(reason)?;
    let d = decidable(ports, account).await?;
    ports
        .audit()
        .append(&decisions::decision_entry(
            ports.actor(),
            account,
            "rotation.rejected",
            &d,
            reason,
        ))
        .await
        .map_err(classified)?;
    match d {
        Decidable::Waiting(r) => {
            let sent = ports
                .executions()
                .fail_task(
                    r.task_token.as_deref().unwrap_or_default(),
                    REJECTED_ERROR,
                    &cause,
                )
                .await?;
            delivered(sent, "states:SendTaskFailure")?;
            ports
                .waits()
                .remove(account, Category::PasswordChanged, &r.execution)
                .await?;
            Ok(r)
        }
        Decidable::Orphaned(r, _) => {
            abandon(
                ports,
                account,
                &r.execution,
                &decisions::rejection_error(&cause),
            )
            .await?;
            Ok(r)
        }
    }
}

/// What `rotation status` shows: the vault's stage pointers and the rotations, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub account_id: String,
    pub vault: Option<Head>,
    pub rotation_due: Option<String>,
    pub rotations: Vec<RotationRecord>,
    /// Step Functions' status of each rotation still `awaiting-apply` (execution → status): one
    /// that is not `RUNNING` awaits the operator's `rotation confirm` or `rotation reject`.
    pub execution_status: BTreeMap<String, String>,
}

pub async fn status<P: RotationPorts>(
    ports: &P,
    account: &AccountId,
) -> Result<Status, LambdaError> {
    let registered = ports.registry().account(account).await?.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("account {account} is not registered"),
        )
    })?;
    let rotations = ports.rotations().list(account).await?;
    let mut execution_status = BTreeMap::new();
    for r in rotations
        .iter()
        .filter(|r| r.stage == RotationStage::AwaitingApply)
    {
        let state = ports.executions().state(&r.execution_arn).await?;
        execution_status.insert(r.execution.clone(), state.describe().to_owned());
    }
    Ok(Status {
        account_id: account.to_string(),
        vault: ports
            .vault()
            .head(account, CredentialKind::RootPassword)
            .await?,
        rotation_due: registered.rotation_due.map(stamp),
        rotations,
        execution_status,
    })
}
