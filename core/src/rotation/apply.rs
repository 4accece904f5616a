//! Step 2, await apply (the Lambda part of the `waitForTaskToken` task), and the
//! `rotation-apply` check-out's gate on it.

use chrono::{DateTime, Utc};

use super::liveness;
use super::ports::RotationPorts;
use super::store::RotationStore;
use super::{steps, RotationRecord, RotationStage};
use crate::executions::Executions;
use crate::mail::Category;
use crate::registry::stamp;
use crate::workflows::{Wait, WorkflowWaits};
use crate::{AccountId, LambdaError};

/// Step 2: store the token where mail and the operator can find it.
pub async fn await_apply<P: RotationPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
    task_token: &str,
    timeout_seconds: u64,
) -> Result<(), LambdaError> {
    steps::require_token(task_token)?;
    let now = ports.clock().now();
    let deadline = steps::apply_deadline(now, timeout_seconds)?;
    ports
        .rotations()
        .set_token(
            account,
            execution,
            task_token,
            &stamp(deadline),
            &stamp(now),
        )
        .await?;
    ports
        .waits()
        .register(&Wait {
            account: account.clone(),
            kind: Category::PasswordChanged,
            execution: execution.to_owned(),
            task_token: task_token.to_owned(),
            expires_at: deadline,
            registered_at: now,
            claimed_by: None,
        })
        .await?;
    tracing::info!(account = %account, execution, deadline = %stamp(deadline), "awaiting apply");
    Ok(())
}

/// The `rotation-apply` check-out's gate: the rotation of `account` awaiting its apply step,
/// if its execution really runs (`DescribeExecution`) and its apply deadline has not passed at
/// `now`; otherwise `Ok(Err(why))`, the refusal for the caller's audit record.
pub async fn apply_checkout<R: RotationStore, X: Executions>(
    rotations: &R,
    executions: &X,
    account: &AccountId,
    now: DateTime<Utc>,
) -> Result<Result<RotationRecord, String>, LambdaError> {
    let Some(r) = rotations
        .list(account)
        .await?
        .into_iter()
        .find(|r| r.stage == RotationStage::AwaitingApply)
    else {
        return Ok(Err(format!(
            "no rotation of account {account} awaits its apply step"
        )));
    };
    let state = executions.state(&r.execution_arn).await?;
    Ok(liveness::apply_window(&r, &state, now).map(|()| r))
}
