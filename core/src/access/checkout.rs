//! Who may check out (and check in) a request, and when the account's lock lets them. A
//! check-out is the requester's alone, once, while the approval holds, exclusive per account.

use chrono::{DateTime, Utc};

use super::expiry::{approval_expired, checkout_ends_at};
use super::record::{AccessRequest, AccessStatus, Lock};
use super::refusal::Refusal;
use super::{AccessPolicy, Caller, Role};
use crate::release::RELEASE_REASON;

/// What a decision does to the check-out lock of the request's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMove {
    /// Leaves it as it is.
    Keep,
    /// Takes it (only if no other request holds it) until `expires_at`.
    Take { expires_at: DateTime<Utc> },
    /// Releases it (only if this request holds it).
    Release,
}

/// A decided change: the request after it, and what it does to the account's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub request: AccessRequest,
    pub lock: LockMove,
}

/// Whether `who` may check out `r` now, before anything is looked at: the requester (same
/// ARN), still a requester, on an approved request whose approval has not lapsed, and never a
/// release request ([`Refusal::ReleaseShowsNoCredential`]).
///
/// [`Refusal::ApprovalExpired`] means the request is due to expire
/// ([`super::expiry::may_expire`]).
pub fn may_checkout(
    policy: &AccessPolicy,
    who: &Caller,
    r: &AccessRequest,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    // A release's approval starts its workflow; nothing of the account is ever shown for it.
    if r.reason == RELEASE_REASON || r.release.is_some() {
        return Err(Refusal::ReleaseShowsNoCredential { id: r.id.clone() });
    }
    if who.arn() != r.requester {
        return Err(Refusal::NotTheRequester { id: r.id.clone() });
    }
    if !policy.has(who, Role::Requester) {
        return Err(Refusal::NoLongerARequester {
            caller: who.arn().to_owned(),
        });
    }
    if r.status == AccessStatus::Approved && approval_expired(policy, r, now) {
        return Err(Refusal::ApprovalExpired {
            id: r.id.clone(),
            ttl_minutes: policy.approval_ttl_minutes,
        });
    }
    match r.status {
        AccessStatus::Approved => Ok(()),
        AccessStatus::CheckedOut => Err(Refusal::AlreadyCheckedOut { id: r.id.clone() }),
        status => Err(Refusal::WrongState {
            id: r.id.clone(),
            status,
        }),
    }
}

/// What the account's current lock means for a new check-out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState<'a> {
    /// No lock: the account is free.
    Free,
    /// A check-out that has ended but was not yet swept: expire it (this request id) first.
    Stale(&'a str),
}

/// Whether the account's `lock` (if any) lets a new check-out of `account` go ahead at `now`.
pub fn lock_admits<'a>(
    account: &crate::AccountId,
    lock: Option<&'a Lock>,
    now: DateTime<Utc>,
) -> Result<LockState<'a>, Refusal> {
    match lock {
        None => Ok(LockState::Free),
        Some(l) if l.ended(now) => Ok(LockState::Stale(&l.request_id)),
        Some(l) => Err(Refusal::AccountCheckedOut {
            account: account.clone(),
            request_id: l.request_id.clone(),
            until: l.expires_at.clone(),
        }),
    }
}

/// The check-out itself, on the request as re-read when it is written: still approved and
/// still the caller's. The request is checked out from `now` for its duration, and takes the
/// account's lock until then.
pub fn check_out(
    mut r: AccessRequest,
    caller_arn: &str,
    now: DateTime<Utc>,
) -> Result<Move, Refusal> {
    if r.status != AccessStatus::Approved || r.requester != caller_arn {
        return Err(Refusal::ChangedDuringCheckout {
            id: r.id,
            status: r.status,
        });
    }
    let expires_at = checkout_ends_at(now, r.duration_minutes);
    r.status = AccessStatus::CheckedOut;
    r.checked_out_at = Some(now);
    r.expires_at = Some(expires_at);
    Ok(Move {
        request: r,
        lock: LockMove::Take { expires_at },
    })
}

/// Whether `who` may check `r` in: the requester (same ARN) or an admin, while it is checked
/// out. If so, the checked-in request, its lock released.
pub fn may_checkin(
    policy: &AccessPolicy,
    who: &Caller,
    mut r: AccessRequest,
    now: DateTime<Utc>,
) -> Result<Move, Refusal> {
    if who.arn() != r.requester && !policy.has(who, Role::Admin) {
        return Err(Refusal::MayNotCheckIn { id: r.id });
    }
    if r.status != AccessStatus::CheckedOut {
        return Err(Refusal::WrongState {
            id: r.id,
            status: r.status,
        });
    }
    r.status = AccessStatus::CheckedIn;
    r.ended_by = Some(who.arn().to_owned());
    r.ended_at = Some(now);
    Ok(Move {
        request: r,
        lock: LockMove::Release,
    })
}

/// Whether `who` may revoke `r`: an admin, while it is open (any state that is not final). If
/// so, the revoked request, and its lock released if it was checked out.
pub fn may_revoke(
    policy: &AccessPolicy,
    who: &Caller,
    mut r: AccessRequest,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Move, Refusal> {
    if !policy.has(who, Role::Admin) {
        return Err(Refusal::NotAnAdmin {
            caller: who.arn().to_owned(),
        });
    }
    if r.status.is_final() {
        return Err(Refusal::WrongState {
            id: r.id,
            status: r.status,
        });
    }
    let lock = if r.status == AccessStatus::CheckedOut {
        LockMove::Release
    } else {
        LockMove::Keep
    };
    r.status = AccessStatus::Revoked;
    r.ended_by = Some(who.arn().to_owned());
    r.note = Some(note.to_owned());
    r.ended_at = Some(now);
    Ok(Move { request: r, lock })
}
