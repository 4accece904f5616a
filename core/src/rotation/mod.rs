//! Root password rotation: the use cases behind the `rotation` Lambda (the rotation state
//! machine's steps), the operator's `rotation start|status|confirm|reject`, and the scheduled
//! sweep, generic over the ports they talk to ([`RotationPorts`]; the sweep over
//! [`RotationSchedule`](crate::registry::schedule::RotationSchedule) and
//! [`Executions`](crate::executions::Executions)).
//!
//! AWS has no API that sets a root password, so a rotation is:
//! 1. **prepare**: generate a password, vault it as `pending` (one per execution: a retry
//!    reuses it), open the ticket "apply pending root password";
//! 2. **await apply**: a `waitForTaskToken` step stores its token on the rotation record and
//!    registers it with the mail-correlation port; AWS's authenticated "password changed" mail
//!    or `rotation confirm` completes it, `rotation reject` fails it, the timeout abandons it;
//! 3. **finish**: `pending` → `current` (old `current` → `previous`), resolve the ticket, set
//!    the next due date; or **abandon**: discard `pending`, keep `current`, escalate the ticket,
//!    retry in a day.
//!
//! Every step is idempotent: killed between any two port calls and run again, it converges
//! (`core/tests/rotation.rs` kills each step at every call). A pending version whose execution
//! is no longer running is discarded by the next prepare only if nobody can have seen it; one
//! that reached the apply step may be live, so the operator's `confirm` (which then runs
//! finish) or `reject` (which then runs abandon) decides first ([`liveness`]). Nothing waits
//! on a stopped execution for ever: the [`sweep`] restarts an account whose execution ended
//! without rescheduling it.
//!
//! The rules: the rotation record, the steps' decisions ([`steps`]), whether a leftover pending
//! version may be discarded ([`liveness`]) and the operator's decisions ([`decisions`]).

mod abandon;
mod apply;
pub mod decisions;
mod finish;
pub mod liveness;
mod operator;
mod ports;
mod prepare;
mod record;
pub mod steps;
pub mod store;
pub mod sweep;
#[cfg(test)]
mod tests;

pub use abandon::abandon;
pub use apply::await_apply;
pub use decisions::{manual_execution_name, Decidable};
pub use finish::finish;
pub use operator::{confirm, reject, start, status, Status};
pub use ports::RotationPorts;
pub use prepare::prepare;
pub use record::{RotationRecord, RotationStage};
pub use steps::{
    ticket_id, Abandoned, Finished, Prepared, StartInput, Step, REJECTED_ERROR,
    RETRY_AFTER_ABANDON, TAKEOVER_TRIGGER,
};
pub use store::RotationStore;

use crate::{ErrorType, LambdaError};

/// Runs one step of the rotation state machine.
pub async fn run<P: RotationPorts>(
    ports: &P,
    step: Step,
) -> Result<serde_json::Value, LambdaError> {
    let out = match step {
        Step::Prepare {
            execution,
            execution_arn,
            input,
        } => serde_json::to_value(prepare(ports, &execution, &execution_arn, &input).await?),
        Step::AwaitApply {
            account_id: a,
            execution,
            task_token,
            apply_timeout_seconds,
        } => {
            await_apply(
                ports,
                &steps::account_id(&a)?,
                &execution,
                &task_token,
                apply_timeout_seconds,
            )
            .await?;
            Ok(serde_json::json!({"registered": true}))
        }
        Step::Finish {
            account_id: a,
            execution,
            confirmation,
        } => serde_json::to_value(
            finish(ports, &steps::account_id(&a)?, &execution, &confirmation).await?,
        ),
        Step::Abandon {
            account_id: a,
            execution,
            error,
        } => {
            serde_json::to_value(abandon(ports, &steps::account_id(&a)?, &execution, &error).await?)
        }
    };
    out.map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))
}
