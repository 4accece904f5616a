//! Opening a request, approving and denying it. The decisions are [`super::approval`]'s; every
//! refusal is audited.

use chrono::{DateTime, Utc};
use rand::RngCore;

use super::approval;
use super::attempt::{entry, Attempt};
use super::checkout::LockMove;
use super::expire::expire_one;
use super::identity::Caller;
use super::ledger::{commit, get, transition, ATTEMPTS};
use super::ports::{AccessAccounts, AccessPorts, AccessTickets, RotationLookup, Written};
use super::record::{AccessRequest, AccessStatus};
use super::refusal::Refusal;
use super::release;
use crate::audit::backoff;
use crate::mail::{Category, Priority};
use crate::release::ReleaseTerms;
use crate::tickets::Ticket;
use crate::{AccountId, ErrorType, LambdaError};

/// A request to open.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub account: AccountId,
    pub reason: String,
    pub ticket: String,
    /// Minutes; `None`: the reason's maximum.
    pub duration_minutes: Option<u32>,
    /// A release's terms: required with reason `release`, refused with any other.
    pub release: Option<ReleaseTerms>,
}

fn new_id(now: DateTime<Utc>) -> String {
    let mut b = [0u8; 5];
    rand::thread_rng().fill_bytes(&mut b);
    format!("AR-{}-{}", now.format("%Y%m%d"), hex::encode(b))
}

/// Opens a request. Refusals (not a requester, unknown account, reason or ticket, too long) are
/// audited and returned as `AccessDenied` / `ValidationError` / `NotFound`.
pub async fn request<P: AccessPorts>(
    ports: &P,
    caller: impl Into<Caller>,
    req: NewRequest,
) -> Result<AccessRequest, LambdaError> {
    let who: Caller = caller.into();
    let caller = who.arn();
    let account = &req.account;
    let target = format!("account {account}");
    let attempt = Attempt {
        ports,
        caller,
        account,
        action: "request",
        target: &target,
    };
    let policy = ports.policy();
    let terms = approval::may_request(policy, &who, &req.reason, &req.ticket, req.duration_minutes);
    let terms = match terms {
        Ok(t) => t,
        Err(refusal) => return Err(attempt.refused(refusal).await),
    };
    if let Err(refusal) = release::release_admits(&req.reason, &terms.rule, req.release.as_ref()) {
        return Err(attempt.refused(refusal).await);
    }
    if approval::ticket_is_internal(policy, &terms.ticket) {
        let stored = ports
            .tickets()
            .ticket(&terms.ticket)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
        if let Err(refusal) = approval::ticket_admits(&terms.ticket, account, stored.as_ref()) {
            return Err(attempt.refused(refusal).await);
        }
    }
    let registered = ports.accounts().standing(account).await?;
    if let Err(refusal) = approval::account_admits(account, registered, &req.reason) {
        return Err(attempt.refused(refusal).await);
    }
    if approval::needs_awaiting_rotation(&req.reason) {
        let awaits = ports
            .rotations()
            .awaiting_apply(account)
            .await?
            .is_some_and(|r| approval::rotation_fits(&req.reason, &r).is_ok());
        if let Err(refusal) = approval::rotation_apply_admits(&req.reason, account, awaits) {
            return Err(attempt.refused(refusal).await);
        }
    }
    let now = ports.clock().now();
    let (duration, self_service) = (terms.duration_minutes, terms.rule.self_service);
    let mut r = approval::opened(policy, &who, new_id(now), account, &req.reason, terms, now);
    r.release = req.release;
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
        let review = ports
            .tickets()
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
    let mut record = entry(caller, account, action, &r)
        .reason(format!("{} ({})", r.reason, r.ticket))
        .detail("duration_minutes", duration);
    if let Some(t) = &r.release {
        record = record.detail("exit", t.exit.as_str());
    }
    for attempt in 0..ATTEMPTS {
        match commit(ports, &r, &record, LockMove::Keep).await? {
            Written::Done => {
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

/// An approver other than the requester approves. The approval that makes a release request
/// `approved` starts its execution (named in the approval's audit record); approving an
/// approved release request again starts it again if it did not start ([`super::release`]).
pub async fn approve<P: AccessPorts>(
    ports: &P,
    caller: impl Into<Caller>,
    id: &str,
) -> Result<AccessRequest, LambdaError> {
    let who: Caller = caller.into();
    if let Some(r) = get(ports, id).await? {
        if r.release.is_some() && r.status == AccessStatus::Approved {
            return release::restart(ports, &who, r).await;
        }
    }
    let (who, caller) = (&who, who.arn());
    let r = transition(ports, id, |r| async move {
        let account = r.account_id.clone();
        let attempt = Attempt {
            ports,
            caller,
            account: &account,
            action: "approve",
            target: id,
        };
        let r = match approval::may_approve(ports.policy(), who, r, ports.clock().now()) {
            Ok(r) => r,
            Err(refusal) => {
                let lapsed = matches!(refusal, Refusal::RequestLapsed { .. });
                let err = attempt.refused(refusal).await;
                if lapsed {
                    // Ended for good (audited), so it lists as expired, not waiting.
                    let _ = expire_one(ports, caller, id).await;
                }
                return Err(err);
            }
        };
        let needed = ports.policy().approvals_required;
        let mut record = entry(caller, &account, "access.approved", &r)
            .reason(format!("approval {} of {needed}", r.approvals.len()));
        if r.status == AccessStatus::Approved && r.release.is_some() {
            record = record.detail("execution", release::execution_name(&account, &r.id));
        }
        Ok((r, record, LockMove::Keep))
    })
    .await?;
    if r.status == AccessStatus::Approved && r.release.is_some() {
        release::start(ports, &r).await?;
    }
    Ok(r)
}

/// An approver (not the requester) or an admin denies. Final.
pub async fn deny<P: AccessPorts>(
    ports: &P,
    caller: impl Into<Caller>,
    id: &str,
    note: &str,
) -> Result<AccessRequest, LambdaError> {
    let who: Caller = caller.into();
    let (who, caller) = (&who, who.arn());
    transition(ports, id, |r| async move {
        let account = r.account_id.clone();
        let attempt = Attempt {
            ports,
            caller,
            account: &account,
            action: "deny",
            target: id,
        };
        let r = match approval::may_deny(ports.policy(), who, r, note, ports.clock().now()) {
            Ok(r) => r,
            Err(refusal) => return Err(attempt.refused(refusal).await),
        };
        let record = entry(caller, &account, "access.denied", &r).reason(note);
        Ok((r, record, LockMove::Keep))
    })
    .await
}
