//! Taking custody of an account (the `takeover` workflow, `docs/takeover.md`): the use cases
//! behind the takeover Lambda's steps ([`run`]), the operator's `start` and `status`, generic
//! over [`TakeoverPorts`].
//!
//! The progress lives on the account's registry item (status `taking-over`, `root_email` = the
//! allocated address, `takeover_*` attributes, [`Takeover`]). Every step checks the world
//! first (so a retry, or a new execution resuming a stopped takeover, converges) and writes its
//! state change and its audit record (`takeover.<what>`) in one transaction, conditional on the
//! owning execution and the step it read ([`Expect`]).

pub mod address;
mod credentials;
mod email;
mod finish;
mod operator;
mod ports;
mod record;
pub mod steps;

pub use credentials::{
    await_mfa, await_reset_link, delete_keys, delete_root_credentials, enable_recovery, verify_mfa,
};
pub use email::{accept_email_update, allocate, await_code, resend, start_email_update};
pub use finish::{activate, fail};
pub use operator::{execution_name, start, status, StartRequest, Started, TakeoverStatus, Waiting};
pub use ports::{PrimaryEmail, PrimaryEmailError, TakeoverPorts, TakeoverStore, UpdateStatus};
pub use record::{Expect, Takeover, TakeoverStep};
pub use steps::{StartInput, Step};

use chrono::Duration;
use serde_json::{json, Value};

use crate::audit::{AuditEntry, Outcome, Stream};
use crate::mail::Category;
use crate::registry::{Account, AccountStatus};
use crate::workflows::Wait;
use crate::{AccountId, ErrorType, LambdaError};

/// Verification codes asked for again at most this often; then `CodeNotReceived`.
pub const MAX_RESENDS: u32 = 3;
/// Maximum root-password age of an account a takeover activates (days).
pub const DEFAULT_MAX_AGE_DAYS: u32 = 90;

/// The account and its takeover, owned by the execution that reads it.
#[derive(Debug, Clone)]
pub(crate) struct Owned {
    pub account: Account,
    pub takeover: Takeover,
}

/// The takeover of `account` owned by `execution`, or why this execution may not act.
pub(crate) async fn owned<P: TakeoverPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<Owned, LambdaError> {
    let (acct, takeover) = ports.store().get(account).await?.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("account {account} is not registered"),
        )
    })?;
    let takeover = takeover.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("no takeover of {account} recorded"),
        )
    })?;
    if takeover.execution != execution {
        return Err(LambdaError::new(
            ErrorType::Conflict,
            format!(
                "the takeover of {account} belongs to execution {}",
                takeover.execution
            ),
        ));
    }
    if acct.status != AccountStatus::TakingOver {
        return Err(LambdaError::new(
            ErrorType::Conflict,
            format!(
                "account {account} is {}: no takeover runs",
                acct.status.as_str()
            ),
        ));
    }
    Ok(Owned {
        account: acct,
        takeover,
    })
}

/// The audit record of a takeover step.
pub(crate) fn entry<P: TakeoverPorts>(ports: &P, t: &Takeover, action: &str) -> AuditEntry {
    AuditEntry::new(
        Stream::Account(t.account_id.clone()),
        ports.actor(),
        format!("takeover.{action}"),
    )
    .target(t.account_id.to_string())
    .outcome(Outcome::Success)
    .reason(t.reason.clone())
    .correlation_id(t.execution.clone())
    .detail("ticket", t.ticket.clone())
}

/// Writes `next` (at step `step`) over what `owned` read, with `record`. A lost condition is a
/// `Conflict` (retryable: the retry reads again).
pub(crate) async fn advance<P: TakeoverPorts>(
    ports: &P,
    owned: &Owned,
    mut next: Takeover,
    step: TakeoverStep,
    record: AuditEntry,
) -> Result<Takeover, LambdaError> {
    next.step = Some(step);
    next.updated_at = ports.clock().now();
    let expect = Expect::Step {
        execution: owned.takeover.execution.clone(),
        step: owned.takeover.step,
    };
    let record = record.detail("step", step.as_str());
    if !ports
        .store()
        .save(&owned.account, &next, &expect, &record)
        .await?
    {
        return Err(LambdaError::new(
            ErrorType::Conflict,
            format!("the takeover of {} changed meanwhile", next.account_id),
        ));
    }
    Ok(next)
}

/// Registers the execution's task token for mail of `kind` (a retry registers its new token).
pub(crate) async fn register_wait<P: TakeoverPorts>(
    ports: &P,
    t: &Takeover,
    kind: Category,
    task_token: &str,
    timeout_seconds: u64,
) -> Result<Wait, LambdaError> {
    let now = ports.clock().now();
    let wait = Wait {
        account: t.account_id.clone(),
        kind,
        execution: t.execution.clone(),
        task_token: task_token.to_owned(),
        expires_at: now + Duration::seconds(i64::try_from(timeout_seconds).unwrap_or(i64::MAX / 2)),
        registered_at: now,
        claimed_by: None,
    };
    crate::workflows::WorkflowWaits::register(ports.waits(), &wait).await?;
    Ok(wait)
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, LambdaError> {
    serde_json::to_value(v).map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))
}

/// Runs one step of the takeover state machine.
pub async fn run<P: TakeoverPorts>(ports: &P, step: Step) -> Result<Value, LambdaError> {
    use steps::{account_id as id, execution as ex, task_token, timeout};
    match step {
        Step::Allocate {
            execution,
            execution_arn,
            input,
        } => to_value(&allocate(ports, &execution, &execution_arn, &input).await?),
        Step::StartEmailUpdate {
            account_id,
            execution,
        } => {
            let ours = start_email_update(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"already_ours": ours}))
        }
        Step::AwaitCode {
            account_id,
            execution,
            task_token: token,
            timeout_seconds,
        } => {
            let t = timeout(timeout_seconds, steps::DEFAULT_CODE_TIMEOUT_SECONDS)?;
            await_code(
                ports,
                &id(&account_id)?,
                ex(&execution)?,
                task_token(&token)?,
                t,
            )
            .await?;
            Ok(json!({"registered": true}))
        }
        Step::Resend {
            account_id,
            execution,
        } => {
            let n = resend(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"resends": n}))
        }
        Step::AcceptEmailUpdate {
            account_id,
            execution,
        } => {
            let address = accept_email_update(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"root_email": address}))
        }
        Step::EnableRecovery {
            account_id,
            execution,
        } => {
            let r = enable_recovery(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!(r))
        }
        Step::AwaitResetLink {
            account_id,
            execution,
            task_token: token,
            timeout_seconds,
        } => {
            let t = timeout(timeout_seconds, steps::DEFAULT_HUMAN_TIMEOUT_SECONDS)?;
            await_reset_link(
                ports,
                &id(&account_id)?,
                ex(&execution)?,
                task_token(&token)?,
                t,
            )
            .await?;
            Ok(json!({"registered": true}))
        }
        Step::AwaitMfa {
            account_id,
            execution,
            task_token: token,
            timeout_seconds,
        } => {
            let t = timeout(timeout_seconds, steps::DEFAULT_HUMAN_TIMEOUT_SECONDS)?;
            await_mfa(
                ports,
                &id(&account_id)?,
                ex(&execution)?,
                task_token(&token)?,
                t,
            )
            .await?;
            Ok(json!({"registered": true}))
        }
        Step::VerifyMfa {
            account_id,
            execution,
        } => {
            let devices = verify_mfa(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"mfa_devices": devices}))
        }
        Step::DeleteRootCredentials {
            account_id,
            execution,
        } => {
            let removed =
                delete_root_credentials(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"removed": removed}))
        }
        Step::DeleteKeys {
            account_id,
            execution,
        } => {
            let removed = delete_keys(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"removed": removed}))
        }
        Step::Activate {
            account_id,
            execution,
        } => to_value(&activate(ports, &id(&account_id)?, ex(&execution)?).await?),
        Step::Fail {
            account_id,
            execution,
            error,
        } => {
            let name = error
                .get("Error")
                .and_then(Value::as_str)
                .unwrap_or("InternalError");
            let cause = error.get("Cause").and_then(Value::as_str).unwrap_or("");
            let stopped = fail(ports, &id(&account_id)?, ex(&execution)?, name, cause).await?;
            Ok(json!({"stopped": stopped}))
        }
    }
}
