//! When access ends by itself: a request not approved within the policy's
//! `request_ttl_minutes`, an approval not used within its `approval_ttl_minutes`, and a
//! check-out at the end of its duration (automatic check-in).

use chrono::{DateTime, Duration, Utc};

use super::checkout::{LockMove, Move};
use super::record::{AccessRequest, AccessStatus};
use super::refusal::Refusal;
use super::AccessPolicy;

/// Whether the approval of `r` has lapsed: strictly more than `approval_ttl_minutes` after it
/// was approved (at the boundary itself it still holds).
pub fn approval_expired(policy: &AccessPolicy, r: &AccessRequest, now: DateTime<Utc>) -> bool {
    r.approved_at
        .is_some_and(|a| a + Duration::minutes(i64::from(policy.approval_ttl_minutes)) < now)
}

/// Whether `r`, still waiting for approvals, has lapsed: strictly more than
/// `request_ttl_minutes` after it was made. An old request is not approved on stale grounds
/// (its ticket, its reason, the account's standing then).
pub fn request_lapsed(policy: &AccessPolicy, r: &AccessRequest, now: DateTime<Utc>) -> bool {
    r.status == AccessStatus::Requested
        && r.created_at + Duration::minutes(i64::from(policy.request_ttl_minutes)) < now
}

/// When a check-out made at `now` for `duration_minutes` ends.
pub fn checkout_ends_at(now: DateTime<Utc>, duration_minutes: u32) -> DateTime<Utc> {
    now + Duration::minutes(i64::from(duration_minutes))
}

/// Whether a check-out ending at `expires_at` has ended: at that instant or later.
pub fn checkout_ended(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    expires_at <= now
}

/// Why a request expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The check-out reached its end: automatic check-in, lock released.
    CheckoutEnded,
    /// Approved, never checked out, and the approval lapsed.
    ApprovalLapsed,
    /// Never approved in time.
    RequestLapsed,
}

impl Expiry {
    /// The reason its audit record gives.
    pub fn reason(self) -> &'static str {
        match self {
            Expiry::CheckoutEnded => "check-out reached its end: automatic check-in",
            Expiry::ApprovalLapsed => "approval expired before check-out",
            Expiry::RequestLapsed => "request not approved in time",
        }
    }
}

/// Whether `r` is due to expire at `now`; if so, the request expired by `actor` (and the lock
/// released for an ended check-out).
pub fn may_expire(
    policy: &AccessPolicy,
    mut r: AccessRequest,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(Move, Expiry), Refusal> {
    let (lock, why) = match r.status {
        AccessStatus::CheckedOut if r.expires_at.is_some_and(|e| checkout_ended(e, now)) => {
            (LockMove::Release, Expiry::CheckoutEnded)
        }
        AccessStatus::Approved if approval_expired(policy, &r, now) => {
            (LockMove::Keep, Expiry::ApprovalLapsed)
        }
        AccessStatus::Requested if request_lapsed(policy, &r, now) => {
            (LockMove::Keep, Expiry::RequestLapsed)
        }
        status => return Err(Refusal::NotDueToExpire { id: r.id, status }),
    };
    r.status = AccessStatus::Expired;
    r.ended_by = Some(actor.to_owned());
    r.ended_at = Some(now);
    Ok((Move { request: r, lock }, why))
}
