//! Step 2, await apply (the Lambda part of the `waitForTaskToken` task), and the
//! `rotation-apply` check-out's gate on it.

use super::ports::RotationPorts;
use super::steps;
use super::store::RotationStore;
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
