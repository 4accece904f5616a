//! The operator's use cases: `rotation start`, `rotation confirm`, `rotation reject` and
//! `rotation status`. The rules are the core's (`rootwarden_core::rotation::decisions`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::liveness::{self, execution_state};
use super::prepare::settle_orphan;
use super::REJECTED_ERROR;
use super::{abandon, finish, vault_err, Deps, RotationRecord, RotationStage, StartInput};
use crate::audit::AuditLog;
use crate::mail::Category;
use crate::registry::stamp;
use crate::rotation::decisions::{self, Decidable};
use crate::vault::{CredentialKind, Head, Vault};
use crate::workflows::WorkflowWaits;
use crate::{AccountId, ErrorType, LambdaError};

/// Starts a rotation now (operator), unless one awaits its apply step.
pub async fn start(
    deps: &Deps,
    state_machine_arn: &str,
    account: &AccountId,
    apply_timeout_seconds: Option<u64>,
) -> Result<String, LambdaError> {
    decisions::may_start(account, deps.registry.get(account).await?.as_ref())?;
    for active in deps.rotations.list(account).await? {
        if active.stage == RotationStage::AwaitingApply
            && execution_state(&deps.sfn, &active.execution_arn)
                .await?
                .is_running()
        {
            return Err(decisions::awaiting_apply(account, &active));
        }
    }
    // A pending version that may be live is never discarded by a new rotation: the operator
    // decides first. (One nobody saw is discarded by the new execution's prepare.)
    let head = deps
        .vault
        .head(account, CredentialKind::RootPassword)
        .await
        .map_err(vault_err)?;
    if let Some(other) = decisions::pending_execution(head.as_ref()) {
        let other_arn = |r: Option<&RotationRecord>| {
            r.map(|r| r.execution_arn.clone())
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| liveness::execution_arn(state_machine_arn, other))
        };
        settle_orphan(deps, account, "rotation start", other, other_arn, false).await?;
    }
    let name = decisions::manual_execution_name(account, deps.clock.now());
    let input = StartInput {
        account_id: account.to_string(),
        trigger: Some("manual".into()),
        apply_timeout_seconds,
    };
    let out = deps
        .sfn
        .start_execution()
        .state_machine_arn(state_machine_arn)
        .name(&name)
        .input(serde_json::to_string(&input).unwrap_or_default())
        .send()
        .await
        .map_err(|e| crate::sdk::sdk_error("states:StartExecution", &e))?;
    tracing::info!(account = %account, execution = %name, arn = out.execution_arn(), "rotation started");
    Ok(name)
}

/// The first `awaiting-apply` rotation of `account` an operator can decide.
async fn decidable(deps: &Deps, account: &AccountId) -> Result<Decidable, LambdaError> {
    for r in deps.rotations.list(account).await? {
        if r.stage != RotationStage::AwaitingApply {
            continue;
        }
        let state = execution_state(&deps.sfn, &r.execution_arn).await?;
        if let Some(d) = Decidable::of(r, state) {
            return Ok(d);
        }
    }
    Err(decisions::nothing_to_decide(account))
}

/// The operator confirms the pending password was applied. Audited first (fail closed). A
/// rotation whose execution no longer runs is finished here (its pending becomes current).
pub async fn confirm(deps: &Deps, account: &AccountId) -> Result<RotationRecord, LambdaError> {
    let d = decidable(deps, account).await?;
    deps.audit
        .append(&decisions::decision_entry(
            &deps.actor,
            account,
            "rotation.confirmed",
            &d,
            decisions::CONFIRM_REASON,
        ))
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    let confirmation = decisions::operator_confirmation(&deps.actor);
    match d {
        Decidable::Waiting(r) => {
            deps.sfn
                .send_task_success()
                .task_token(r.task_token.as_deref().unwrap_or_default())
                .output(confirmation.to_string())
                .send()
                .await
                .map_err(|e| crate::sdk::sdk_error("states:SendTaskSuccess", &e))?;
            deps.waits
                .remove(account, Category::PasswordChanged, &r.execution)
                .await?;
            Ok(r)
        }
        Decidable::Orphaned(r, _) => {
            finish(deps, account, &r.execution, &confirmation).await?;
            Ok(r)
        }
    }
}

/// The operator rejects the rotation (the password could not be applied). A rotation whose
/// execution no longer runs is abandoned here (its pending is discarded, never deleted).
pub async fn reject(
    deps: &Deps,
    account: &AccountId,
    reason: &str,
) -> Result<RotationRecord, LambdaError> {
    let (reason, cause) = decisions::rejection(reason)?;
    let d = decidable(deps, account).await?;
    deps.audit
        .append(&decisions::decision_entry(
            &deps.actor,
            account,
            "rotation.rejected",
            &d,
            reason,
        ))
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    match d {
        Decidable::Waiting(r) => {
            deps.sfn
                .send_task_failure()
                .task_token(r.task_token.as_deref().unwrap_or_default())
                .error(REJECTED_ERROR)
                .cause(cause)
                .send()
                .await
                .map_err(|e| crate::sdk::sdk_error("states:SendTaskFailure", &e))?;
            deps.waits
                .remove(account, Category::PasswordChanged, &r.execution)
                .await?;
            Ok(r)
        }
        Decidable::Orphaned(r, _) => {
            abandon(
                deps,
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

pub async fn status(deps: &Deps, account: &AccountId) -> Result<Status, LambdaError> {
    let registered = deps.registry.get(account).await?.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("account {account} is not registered"),
        )
    })?;
    let rotations = deps.rotations.list(account).await?;
    let mut execution_status = BTreeMap::new();
    for r in rotations
        .iter()
        .filter(|r| r.stage == RotationStage::AwaitingApply)
    {
        let state = execution_state(&deps.sfn, &r.execution_arn).await?;
        execution_status.insert(r.execution.clone(), state.describe().to_owned());
    }
    Ok(Status {
        account_id: account.to_string(),
        vault: deps
            .vault
            .head(account, CredentialKind::RootPassword)
            .await
            .map_err(vault_err)?,
        rotation_due: registered.rotation_due.map(stamp),
        rotations,
        execution_status,
    })
}
