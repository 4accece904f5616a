//! Opening a request, approving and denying it. The decisions are the core's
//! (`rootwarden_core::access::approval`); every refusal is audited.

use chrono::{DateTime, Utc};
use rand::RngCore;
use rootwarden_core::access::approval;

use super::ledger::{commit, transition, Commit};
use super::{entry, AccessRequest, Attempt, Caller, Deps, ATTEMPTS};
use crate::audit::backoff;
use crate::mail::{Category, Priority};
use crate::rotation::{RotationRecord, RotationStage};
use crate::tickets::{Ticket, TicketStore};
use crate::{AccountId, ErrorType, LambdaError};

/// A request to open.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub account: AccountId,
    pub reason: String,
    pub ticket: String,
    /// Minutes; `None`: the reason's maximum.
    pub duration_minutes: Option<u32>,
}

fn new_id(now: DateTime<Utc>) -> String {
    let mut b = [0u8; 5];
    rand::thread_rng().fill_bytes(&mut b);
    format!("AR-{}-{}", now.format("%Y%m%d"), hex::encode(b))
}

/// Opens a request. Refusals (not a requester, unknown account, reason or ticket, too long) are
/// audited and returned as `AccessDenied` / `ValidationError` / `NotFound`.
pub async fn request(
    deps: &Deps,
    caller: impl Into<Caller>,
    req: NewRequest,
) -> Result<AccessRequest, LambdaError> {
    let who: Caller = caller.into();
    let caller = who.arn();
    let account = &req.account;
    let target = format!("account {account}");
    let attempt = Attempt {
        deps,
        caller,
        account,
        action: "request",
        target: &target,
    };
    let terms = approval::may_request(
        &deps.policy,
        &who,
        &req.reason,
        &req.ticket,
        req.duration_minutes,
    );
    let terms = match terms {
        Ok(t) => t,
        Err(refusal) => return Err(attempt.refused(refusal).await),
    };
    if approval::ticket_is_internal(&deps.policy, &terms.ticket) {
        let stored = deps
            .tickets
            .get(&terms.ticket)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
        if let Err(refusal) = approval::ticket_admits(&terms.ticket, account, stored.as_ref()) {
            return Err(attempt.refused(refusal).await);
        }
    }
    let registered = deps
        .registry
        .get(account)
        .await?
        .map(|a| (a.status, a.mode));
    if let Err(refusal) = approval::account_admits(account, registered) {
        return Err(attempt.refused(refusal).await);
    }
    if approval::needs_awaiting_rotation(&req.reason) {
        let awaits = awaiting_rotation(deps, account).await?.is_some();
        if let Err(refusal) = approval::rotation_apply_admits(&req.reason, account, awaits) {
            return Err(attempt.refused(refusal).await);
        }
    }
    let now = deps.clock.now();
    let (duration, self_service) = (terms.duration_minutes, terms.rule.self_service);
    let mut r = approval::opened(
        &deps.policy,
        &who,
        new_id(now),
        account,
        &req.reason,
        terms,
        now,
    );
    if self_service {
        // Approved on request; someone else reviews afterwards.
        let review = Ticket::task(
            format!("review-{}", r.id),
            account,
            Category::Security,
            Priority::High,
            format!(
                "Review self-service root access {} to account {account}",
                r.id
            ),
            format!(
                "{caller} used self-service root access (reason {}, ticket {}, up to {duration} \
                 minutes). Dual control was waived for this reason: a second person must review \
                 what was done (CloudTrail of account {account}) and resolve this ticket.",
                r.reason, r.ticket
            ),
            now,
        );
        let review = deps
            .tickets
            .open_task(&review, caller, &r.id)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
        r = approval::self_approved(r, review.id, now);
    }
    let action = if self_service {
        "access.requested-self-service"
    } else {
        "access.requested"
    };
    let record = entry(caller, account, action, &r)
        .reason(format!("{} ({})", r.reason, r.ticket))
        .detail("duration_minutes", duration);
    for attempt in 0..ATTEMPTS {
        match commit(deps, &r, &record, None).await? {
            Commit::Done => {
                r.version += 1;
                return Ok(r);
            }
            _ => backoff(attempt).await,
        }
    }
    Err(LambdaError::new(
        ErrorType::Conflict,
        "could not record the request",
    ))
}

/// The rotation of `account` awaiting its apply step, if any (what a `rotation-apply` request
/// is for).
async fn awaiting_rotation(
    deps: &Deps,
    account: &AccountId,
) -> Result<Option<RotationRecord>, LambdaError> {
    Ok(deps
        .rotations
        .list(account)
        .await?
        .into_iter()
        .find(|r| r.stage == RotationStage::AwaitingApply))
}

/// An approver other than the requester approves.
pub async fn approve(
    deps: &Deps,
    caller: impl Into<Caller>,
    id: &str,
) -> Result<AccessRequest, LambdaError> {
    let who: Caller = caller.into();
    let (who, caller) = (&who, who.arn());
    transition(deps, id, |r| async move {
        let account = r.account_id.clone();
        let attempt = Attempt {
            deps,
            caller,
            account: &account,
            action: "approve",
            target: id,
        };
        let r = match approval::may_approve(&deps.policy, who, r, deps.clock.now()) {
            Ok(r) => r,
            Err(refusal) => return Err(attempt.refused(refusal).await),
        };
        let needed = deps.policy.approvals_required;
        let record = entry(caller, &account, "access.approved", &r)
            .reason(format!("approval {} of {needed}", r.approvals.len()));
        Ok((r, record, None))
    })
    .await
}

/// An approver (not the requester) or an admin denies. Final.
pub async fn deny(
    deps: &Deps,
    caller: impl Into<Caller>,
    id: &str,
    note: &str,
) -> Result<AccessRequest, LambdaError> {
    let who: Caller = caller.into();
    let (who, caller) = (&who, who.arn());
    transition(deps, id, |r| async move {
        let account = r.account_id.clone();
        let attempt = Attempt {
            deps,
            caller,
            account: &account,
            action: "deny",
            target: id,
        };
        let r = match approval::may_deny(&deps.policy, who, r, note, deps.clock.now()) {
            Ok(r) => r,
            Err(refusal) => return Err(attempt.refused(refusal).await),
        };
        let record = entry(caller, &account, "access.denied", &r).reason(note);
        Ok((r, record, None))
    })
    .await
}
