//! Closure: `CloseAccount` (the point of no return; the quota's refusal says when a slot
//! frees), the wait for `SUSPENDED` (AWS's "account closed" mail completes it early), and the
//! account `closed`, its vault sealed until the reinstatement window ends.

use chrono::Duration;
use serde::Serialize;

use super::flow::{self, cross, definitive, entry, owned, owned_in, register_wait, save, withdraw};
use super::poll::{self, wait_seconds};
use super::ports::{MemberStatus, Organizations, ReleasePorts, ReleaseStore};
use super::record::{Exit, ReleaseStep};
use super::{Polled, REINSTATEMENT_DAYS};
use crate::mail::Category;
use crate::registry::{stamp, AccountStatus};
use crate::workflows::WorkflowWaits;
use crate::{AccountId, ErrorType, LambdaError};

fn require_close(o: &flow::Owned) -> Result<(), LambdaError> {
    if o.release.exit != Exit::Close {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            format!("the release of {} is not a closure", o.release.account_id),
        ));
    }
    Ok(())
}

/// `CloseAccount`, after recording the point of no return. A quota refusal (or any definitive
/// one) withdraws it and says when closing is possible again.
pub async fn close_account<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<(), LambdaError> {
    let o = owned(ports, account, execution).await?;
    require_close(&o)?;
    let crossed = if o.reached(ReleaseStep::CloseRequested) {
        o
    } else {
        cross(ports, &o).await?
    };
    match ports.orgs().close(account).await {
        Ok(()) => {
            tracing::info!(account = %account, execution, "CloseAccount requested");
            Ok(())
        }
        Err(e) => {
            let mut err = LambdaError::from(e);
            if err.error_type == ErrorType::CloseQuotaExceeded {
                let now = ports.clock().now();
                let since = now - Duration::days(super::quota::WINDOW_DAYS);
                let mut closures = ports.store().closures_since(since).await?;
                // This refused attempt recorded its point of no return first; AWS did not
                // count it, so neither does the date.
                if let Some(own) = crossed.release.point_of_no_return_at {
                    // (whole seconds: the registry keeps its times to the second)
                    let own = own.timestamp();
                    if let Some(i) = closures.iter().position(|c| c.timestamp() == own) {
                        closures.swap_remove(i);
                    }
                }
                err.message = super::quota::exceeded_message(account.as_str(), &closures, now);
            }
            if definitive(&err) && crossed.release.step == Some(ReleaseStep::CloseRequested) {
                withdraw(ports, &crossed, ReleaseStep::Begun, &err).await?;
            }
            Err(err)
        }
    }
}

/// Registers the wait for AWS's "account closed" mail; its timeout is the poll's back-off.
pub async fn await_closure_mail<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
    task_token: &str,
    timeout_seconds: u64,
) -> Result<(), LambdaError> {
    let o = owned(ports, account, execution).await?;
    require_close(&o)?;
    register_wait(
        ports,
        &o.release,
        Category::AccountClosed,
        task_token,
        timeout_seconds,
    )
    .await?;
    Ok(())
}

/// `DescribeAccount`: done at `SUSPENDED`; otherwise the next wait, until the bound
/// (`StillPending`).
pub async fn check_closure<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<Polled, LambdaError> {
    let o = owned(ports, account, execution).await?;
    require_close(&o)?;
    let member = ports.orgs().describe(account).await?;
    let status = member.as_ref().map(|m| m.status);
    if matches!(status, Some(MemberStatus::Suspended) | None) {
        ports
            .waits()
            .remove(account, Category::AccountClosed, execution)
            .await?;
        return Ok(Polled {
            done: true,
            wait_seconds: 0,
        });
    }
    polled(
        ports,
        &o,
        poll::Wait::Closure,
        "closure-polled",
        status
            .map_or("not a member", MemberStatus::as_str)
            .to_owned(),
    )
    .await
}

/// Counts a poll that was not done yet: the wait before the next, or `StillPending`.
pub(crate) async fn polled<P: ReleasePorts>(
    ports: &P,
    o: &flow::Owned,
    what: poll::Wait,
    action: &str,
    seen: String,
) -> Result<Polled, LambdaError> {
    bounded(ports, o, what.max_polls(), action, seen).await
}

pub(crate) async fn bounded<P: ReleasePorts>(
    ports: &P,
    o: &flow::Owned,
    max_polls: u32,
    action: &str,
    seen: String,
) -> Result<Polled, LambdaError> {
    let r = &o.release;
    if r.polls >= max_polls {
        return Err(LambdaError::new(
            ErrorType::StillPending,
            format!(
                "{} of {} still pending after {} polls ({seen}): resume with a new approval",
                action.trim_end_matches("-polled"),
                r.account_id,
                r.polls
            ),
        ));
    }
    let wait = wait_seconds(r.poll_seconds, r.polls);
    let mut next = r.clone();
    next.polls += 1;
    let record = entry(ports, &next, action)
        .detail("polls", next.polls)
        .detail("seen", seen)
        .detail("wait_seconds", wait);
    save(ports, o, &o.account.clone(), next, record).await?;
    Ok(Polled {
        done: false,
        wait_seconds: wait,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Closed {
    pub account_id: String,
    pub closed_at: String,
    pub shred_after: String,
}

/// The account is `closed` (AWS reports it `SUSPENDED`): its vault stays sealed (check-outs
/// need `active`) until `shred_after`, the end of the reinstatement window.
pub async fn closed<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<Closed, LambdaError> {
    if let Ok(o) = owned_in(ports, account, execution, AccountStatus::Closed).await {
        if let (Some(c), Some(s)) = (o.release.closed_at, o.release.shred_after) {
            return Ok(Closed {
                account_id: account.to_string(),
                closed_at: stamp(c),
                shred_after: stamp(s),
            });
        }
    }
    let o = owned(ports, account, execution).await?;
    require_close(&o)?;
    let member = ports.orgs().describe(account).await?;
    if member
        .as_ref()
        .is_some_and(|m| m.status != MemberStatus::Suspended)
    {
        return Err(LambdaError::new(
            ErrorType::StillPending,
            format!("{account} is not SUSPENDED yet"),
        ));
    }
    let now = ports.clock().now();
    let mut acct = o.account.clone();
    acct.status = AccountStatus::Closed;
    acct.rotation_due = None;
    acct.rotation_reason = None;
    let mut next = o.release.clone();
    next.step = Some(ReleaseStep::Closed);
    next.closed_at = Some(now);
    next.shred_after = Some(now + Duration::days(REINSTATEMENT_DAYS));
    next.polls = 0;
    let record = entry(ports, &next, "closed").detail(
        "shred_after",
        next.shred_after.map(stamp).unwrap_or_default(),
    );
    let done = save(ports, &o, &acct, next, record).await?;
    flow::remove_waits(ports, account, execution).await?;
    tracing::info!(account = %account, execution, "account closed; vault sealed");
    Ok(Closed {
        account_id: account.to_string(),
        closed_at: done.release.closed_at.map(stamp).unwrap_or_default(),
        shred_after: done.release.shred_after.map(stamp).unwrap_or_default(),
    })
}
