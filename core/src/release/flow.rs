//! What every step shares: reading the release this execution owns, its audit record, the
//! conditional write, the cancel check, and crossing (or withdrawing) the point of no return.

use chrono::Duration;

use super::ports::{ReleasePorts, ReleaseStore};
use super::progress::{self, reached};
use super::record::{Expect, Release, ReleaseStep};
use crate::audit::{AuditEntry, Outcome, Stream};
use crate::mail::Category;
use crate::registry::{Account, AccountStatus};
use crate::workflows::{Wait, WorkflowWaits};
use crate::{AccountId, ErrorType, LambdaError};

/// The kinds of wait a release registers.
pub(crate) const WAIT_KINDS: [Category; 2] = [Category::VerificationCode, Category::AccountClosed];

/// The account and its release, owned by the execution that reads it.
#[derive(Debug, Clone)]
pub(crate) struct Owned {
    pub account: Account,
    pub release: Release,
}

impl Owned {
    pub fn reached(&self, step: ReleaseStep) -> bool {
        reached(self.release.step, step)
    }
}

pub(crate) fn conflict(msg: impl Into<String>) -> LambdaError {
    LambdaError::new(ErrorType::Conflict, msg)
}

/// The account's record and release, or `NotFound`.
pub(crate) async fn read<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
) -> Result<(Account, Release), LambdaError> {
    let (acct, release) = ports.store().get(account).await?.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("account {account} is not registered"),
        )
    })?;
    let release = release.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("no release of {account} recorded"),
        )
    })?;
    Ok((acct, release))
}

/// The release of `account` owned by `execution`, the account in `status`; or why this
/// execution may not act.
pub(crate) async fn owned_in<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
    status: AccountStatus,
) -> Result<Owned, LambdaError> {
    let (acct, release) = read(ports, account).await?;
    if release.execution != execution {
        return Err(conflict(format!(
            "the release of {account} belongs to execution {}",
            release.execution
        )));
    }
    if acct.status != status {
        return Err(conflict(format!(
            "account {account} is {}, not {}",
            acct.status.as_str(),
            status.as_str()
        )));
    }
    Ok(Owned {
        account: acct,
        release,
    })
}

/// The `releasing` account's release owned by `execution`.
pub(crate) async fn owned<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<Owned, LambdaError> {
    owned_in(ports, account, execution, AccountStatus::Releasing).await
}

/// `Cancelled` when an operator asked to cancel and the point of no return is not passed.
pub(crate) fn live(o: &Owned) -> Result<(), LambdaError> {
    let r = &o.release;
    if r.point_of_no_return_at.is_none()
        && (r.cancel_requested_by.is_some() || r.step == Some(ReleaseStep::Cancelled))
    {
        return Err(LambdaError::new(
            ErrorType::Cancelled,
            format!(
                "the release of {} was cancelled by {}",
                r.account_id,
                r.cancel_requested_by.as_deref().unwrap_or("an operator")
            ),
        ));
    }
    Ok(())
}

/// [`owned`], refusing a cancelled release.
pub(crate) async fn owned_live<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<Owned, LambdaError> {
    let o = owned(ports, account, execution).await?;
    live(&o)?;
    Ok(o)
}

/// The audit record of a release step.
pub(crate) fn entry<P: ReleasePorts>(ports: &P, r: &Release, action: &str) -> AuditEntry {
    AuditEntry::new(
        Stream::Account(r.account_id.clone()),
        ports.actor(),
        format!("release.{action}"),
    )
    .target(r.account_id.to_string())
    .outcome(Outcome::Success)
    .reason(r.reason.clone())
    .correlation_id(r.execution.clone())
    .detail("ticket", r.ticket.clone())
    .detail("exit", r.exit.as_str())
    .detail("request_id", r.request_id.clone())
}

/// Writes `account` and `next` over what `o` read (same execution, same step), with `record`.
/// A lost condition is a `Conflict` (retryable: the retry reads again).
pub(crate) async fn save<P: ReleasePorts>(
    ports: &P,
    o: &Owned,
    account: &Account,
    mut next: Release,
    record: AuditEntry,
) -> Result<Owned, LambdaError> {
    next.updated_at = ports.clock().now();
    let expect = Expect::Step {
        execution: o.release.execution.clone(),
        step: o.release.step,
    };
    let record = record.detail("step", next.step.map_or("none", |s| s.as_str()));
    if !ports.store().save(account, &next, &expect, &record).await? {
        return Err(conflict(format!(
            "the release of {} changed meanwhile",
            next.account_id
        )));
    }
    Ok(Owned {
        account: account.clone(),
        release: next,
    })
}

/// [`save`] at `step`, the account unchanged.
pub(crate) async fn advance<P: ReleasePorts>(
    ports: &P,
    o: &Owned,
    mut next: Release,
    step: ReleaseStep,
    record: AuditEntry,
) -> Result<Owned, LambdaError> {
    next.step = Some(step);
    save(ports, o, &o.account.clone(), next, record).await
}

/// Crosses the exit's point of no return (its step, recorded before the irreversible call, so
/// a racing cancel loses the condition). Refuses a cancelled release.
pub(crate) async fn cross<P: ReleasePorts>(ports: &P, o: &Owned) -> Result<Owned, LambdaError> {
    live(o)?;
    let step = progress::point_of_no_return(o.release.exit, o.release.keep_email);
    let mut next = o.release.clone();
    next.point_of_no_return_at = Some(ports.clock().now());
    next.polls = 0;
    let record = entry(ports, &next, "point-of-no-return").detail("at", step.as_str());
    advance(ports, o, next, step, record).await
}

/// AWS refused the irreversible call for good (nothing changed): back to `back`, before the
/// point of no return, so cancel is allowed again.
pub(crate) async fn withdraw<P: ReleasePorts>(
    ports: &P,
    o: &Owned,
    back: ReleaseStep,
    error: &LambdaError,
) -> Result<(), LambdaError> {
    let mut next = o.release.clone();
    next.point_of_no_return_at = None;
    let record = entry(ports, &next, "point-of-no-return-withdrawn")
        .outcome(Outcome::Failure)
        .detail("error", error.error_type.as_str());
    advance(ports, o, next, back, record).await.map(|_| ())
}

/// Whether AWS's refusal means the call changed nothing (the crossing may be withdrawn).
pub(crate) fn definitive(e: &LambdaError) -> bool {
    !e.error_type.is_retryable()
}

/// Registers the execution's task token for `kind` (a retry registers its new token).
pub(crate) async fn register_wait<P: ReleasePorts>(
    ports: &P,
    r: &Release,
    kind: Category,
    task_token: &str,
    timeout_seconds: u64,
) -> Result<Wait, LambdaError> {
    let now = ports.clock().now();
    let wait = Wait {
        account: r.account_id.clone(),
        kind,
        execution: r.execution.clone(),
        task_token: task_token.to_owned(),
        expires_at: now + Duration::seconds(i64::try_from(timeout_seconds).unwrap_or(i64::MAX / 2)),
        registered_at: now,
        claimed_by: None,
    };
    ports.waits().register(&wait).await?;
    Ok(wait)
}

/// Removes the execution's waits (its workflow moved on or stopped).
pub(crate) async fn remove_waits<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<(), LambdaError> {
    for kind in WAIT_KINDS {
        ports.waits().remove(account, kind, execution).await?;
    }
    Ok(())
}

/// Custody back as it was before the release began (a cancel before the point of no return):
/// the previous status, step `cancelled`, the execution's waits removed; audit
/// `release.cancelled`. Idempotent.
pub(crate) async fn restore<P: ReleasePorts>(ports: &P, o: &Owned) -> Result<String, LambdaError> {
    let r = &o.release;
    if r.point_of_no_return_at.is_some() {
        return Err(conflict(format!(
            "the release of {} passed its point of no return: custody cannot be restored",
            r.account_id
        )));
    }
    remove_waits(ports, &r.account_id, &r.execution).await?;
    if o.account.status == r.previous_status && r.step == Some(ReleaseStep::Cancelled) {
        return Ok(o.account.status.as_str().to_owned());
    }
    let mut account = o.account.clone();
    account.status = r.previous_status;
    let mut next = r.clone();
    next.step = Some(ReleaseStep::Cancelled);
    let record = entry(ports, &next, "cancelled")
        .detail("restored_status", r.previous_status.as_str())
        .detail(
            "cancelled_by",
            r.cancel_requested_by.clone().unwrap_or_default(),
        );
    save(ports, o, &account, next, record).await?;
    tracing::info!(account = %r.account_id, execution = %r.execution, "release cancelled: custody restored");
    Ok(r.previous_status.as_str().to_owned())
}
