//! Who may open a request, and who may approve or deny it. Dual control counts people
//! ([`AccessPolicy::person`]): an approver is never the requester, nor another session of the
//! same person, nor someone who already approved.

use chrono::{DateTime, Utc};

use crate::registry::{AccountMode, AccountStatus};
use crate::release::RELEASE_REASON;
use crate::rotation::{RotationRecord, TAKEOVER_TRIGGER};
use crate::tickets::Ticket;
use crate::AccountId;

use super::record::{AccessRequest, AccessStatus};
use super::refusal::Refusal;
use super::{AccessPolicy, Caller, Person, ReasonRule, Role};

/// The reason whose check-out shows the pending password too.
pub const ROTATION_APPLY: &str = "rotation-apply";
/// The takeover's apply: like [`ROTATION_APPLY`] it shows the pending password of the
/// rotation awaiting its apply (a takeover's, trigger `takeover`), with the password reset
/// link AWS mailed; only for an account in status `taking-over`, which has no current
/// password yet.
pub const TAKEOVER: &str = "takeover";

/// Whether a check-out for `reason` applies a pending password (and so is not a use of the
/// current one: it marks nothing for rotation).
pub fn applies_pending(reason: &str) -> bool {
    reason == ROTATION_APPLY || reason == TAKEOVER
}

/// What an admissible request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub rule: ReasonRule,
    pub duration_minutes: u32,
    /// Trimmed.
    pub ticket: String,
}

/// Whether `who` may ask for root access for `reason` with `ticket`, for `duration_minutes`
/// (`None`: the reason's maximum). The ticket itself, the account and a `rotation-apply`'s
/// rotation are checked next ([`ticket_admits`], [`account_admits`],
/// [`rotation_apply_admits`]).
pub fn may_request(
    policy: &AccessPolicy,
    who: &Caller,
    reason: &str,
    ticket: &str,
    duration_minutes: Option<u32>,
) -> Result<Terms, Refusal> {
    if !policy.has(who, Role::Requester) {
        return Err(Refusal::NotARequester {
            caller: who.arn().to_owned(),
        });
    }
    let Some(rule) = policy.reason(reason).cloned() else {
        return Err(Refusal::UnknownReason {
            reason: reason.to_owned(),
            allowed: policy.reasons.keys().cloned().collect(),
        });
    };
    let duration = duration_minutes.unwrap_or(rule.max_minutes);
    if duration == 0 || duration > rule.max_minutes {
        return Err(Refusal::BadDuration {
            reason: reason.to_owned(),
            max_minutes: rule.max_minutes,
        });
    }
    let ticket = ticket.trim();
    if ticket.is_empty() {
        return Err(Refusal::NoTicket);
    }
    Ok(Terms {
        rule,
        duration_minutes: duration,
        ticket: ticket.to_owned(),
    })
}

/// Whether `ticket` needs to be one of ours (it does not match the external ticket pattern).
pub fn ticket_is_internal(policy: &AccessPolicy, ticket: &str) -> bool {
    !policy.external_ticket(ticket)
}

/// Whether an internal `ticket` (`stored`: as found, `None`: no such ticket) may justify access
/// to `account`: it exists and belongs to no account or to this one.
pub fn ticket_admits(
    ticket: &str,
    account: &AccountId,
    stored: Option<&Ticket>,
) -> Result<(), Refusal> {
    match stored {
        Some(t) if t.account_id.as_ref().is_none_or(|a| a == account) => Ok(()),
        Some(_) => Err(Refusal::TicketOfAnotherAccount {
            ticket: ticket.to_owned(),
        }),
        None => Err(Refusal::UnknownTicket {
            ticket: ticket.to_owned(),
        }),
    }
}

/// Whether `account` (`registered`: its status and mode, `None`: not registered) has a root
/// credential to check out for `reason`: active and vaulted; for [`TAKEOVER`], vaulted and
/// `taking-over` (and no other reason is admitted while it is taken over). A release
/// ([`RELEASE_REASON`]) shows no credential: it needs the account `active`, in any mode, or
/// `releasing`: a new approved request is how a stopped release resumes (its `begin` adopts
/// the recorded release only if that one's execution no longer runs and the exit matches).
pub fn account_admits(
    account: &AccountId,
    registered: Option<(AccountStatus, AccountMode)>,
    reason: &str,
) -> Result<(), Refusal> {
    if reason == RELEASE_REASON {
        return match registered {
            Some((AccountStatus::Active | AccountStatus::Releasing, _)) => Ok(()),
            Some((status, _)) => Err(Refusal::NotReleasable {
                account: account.clone(),
                status,
            }),
            None => Err(Refusal::AccountNotRegistered {
                account: account.clone(),
            }),
        };
    }
    let wanted = if reason == TAKEOVER {
        AccountStatus::TakingOver
    } else {
        AccountStatus::Active
    };
    match registered {
        Some((status, AccountMode::Vaulted)) if status == wanted => Ok(()),
        Some((status, mode)) => Err(Refusal::NothingToCheckOut {
            account: account.clone(),
            status,
            mode,
        }),
        None => Err(Refusal::AccountNotRegistered {
            account: account.clone(),
        }),
    }
}

/// Whether a request for `reason` needs a rotation awaiting its apply step.
pub fn needs_awaiting_rotation(reason: &str) -> bool {
    applies_pending(reason)
}

/// Whether `rotation` (awaiting its apply step) is the kind `reason` applies: a takeover's
/// for [`TAKEOVER`], any other for [`ROTATION_APPLY`]. `Err` is the refusal's why.
pub fn rotation_fits(reason: &str, rotation: &RotationRecord) -> Result<(), String> {
    let takeover = rotation.trigger == TAKEOVER_TRIGGER;
    match (reason == TAKEOVER, takeover) {
        (true, true) | (false, false) => Ok(()),
        (true, false) => Err(format!(
            "rotation {} is not a takeover's (trigger {})",
            rotation.execution, rotation.trigger
        )),
        (false, true) => Err(format!(
            "rotation {} is a takeover's: check out with reason takeover",
            rotation.execution
        )),
    }
}

/// Whether a request for `reason` may be opened, given whether a rotation of `account` awaits
/// its apply step.
pub fn rotation_apply_admits(
    reason: &str,
    account: &AccountId,
    rotation_awaits_apply: bool,
) -> Result<(), Refusal> {
    if needs_awaiting_rotation(reason) && !rotation_awaits_apply {
        return Err(Refusal::NoRotationAwaitsApply {
            account: account.clone(),
        });
    }
    Ok(())
}

/// The request `who` opens (not yet stored, status `requested`).
pub fn opened(
    policy: &AccessPolicy,
    who: &Caller,
    id: String,
    account: &AccountId,
    reason: &str,
    terms: Terms,
    now: DateTime<Utc>,
) -> AccessRequest {
    AccessRequest {
        id,
        account_id: account.clone(),
        requester: who.arn().to_owned(),
        requester_person: Some(policy.person(who).as_str().to_owned()),
        approver_persons: Vec::new(),
        reason: reason.to_owned(),
        ticket: terms.ticket,
        duration_minutes: terms.duration_minutes,
        release: None,
        status: AccessStatus::Requested,
        approvals: Vec::new(),
        review_ticket: None,
        ended_by: None,
        note: None,
        created_at: now,
        approved_at: None,
        checked_out_at: None,
        expires_at: None,
        ended_at: None,
        version: 0,
    }
}

/// A self-service request, approved on request; `review_ticket` is the after-the-fact review.
pub fn self_approved(
    mut r: AccessRequest,
    review_ticket: String,
    now: DateTime<Utc>,
) -> AccessRequest {
    r.status = AccessStatus::Approved;
    r.approved_at = Some(now);
    r.review_ticket = Some(review_ticket);
    r
}

/// The requester as a person (requests stored before persons were recorded: from the ARN).
pub fn requester_person(policy: &AccessPolicy, r: &AccessRequest) -> Person {
    r.requester_person
        .as_deref()
        .map(Person::parse)
        .unwrap_or_else(|| policy.person(&Caller::from_arn(&r.requester)))
}

/// The approvers so far, as people (from their ARNs when persons were not recorded for all).
pub fn approver_persons(policy: &AccessPolicy, r: &AccessRequest) -> Vec<Person> {
    if r.approver_persons.len() == r.approvals.len() {
        r.approver_persons
            .iter()
            .map(|p| Person::parse(p))
            .collect()
    } else {
        r.approvals
            .iter()
            .map(|a| policy.person(&Caller::from_arn(a)))
            .collect()
    }
}

/// Whether `who` may approve `r`: an approver, another person than the requester, on a request
/// still `requested`, not yet approved by this person. If so, the request with the approval
/// added, `approved` once it has `approvals_required` approvals.
pub fn may_approve(
    policy: &AccessPolicy,
    who: &Caller,
    mut r: AccessRequest,
    now: DateTime<Utc>,
) -> Result<AccessRequest, Refusal> {
    let caller = who.arn();
    if !policy.has(who, Role::Approver) {
        return Err(Refusal::NotAnApprover {
            caller: caller.to_owned(),
        });
    }
    let requester = requester_person(policy, &r);
    if !policy.other_person(who, &requester, &[]) {
        return Err(Refusal::OwnRequest {
            caller: caller.to_owned(),
            requester: r.requester,
        });
    }
    if r.status != AccessStatus::Requested {
        return Err(Refusal::WrongState {
            id: r.id,
            status: r.status,
        });
    }
    if super::expiry::request_lapsed(policy, &r, now) {
        return Err(Refusal::RequestLapsed {
            id: r.id,
            ttl_minutes: policy.request_ttl_minutes,
        });
    }
    let approved_by = approver_persons(policy, &r);
    if r.approvals.iter().any(|a| a == caller)
        || !policy.other_person(who, &requester, &approved_by)
    {
        return Err(Refusal::AlreadyApproved {
            caller: caller.to_owned(),
            id: r.id,
        });
    }
    r.approvals.push(caller.to_owned());
    r.approver_persons = approved_by
        .iter()
        .map(|p| p.as_str().to_owned())
        .chain([policy.person(who).as_str().to_owned()])
        .collect();
    if r.approvals.len() >= policy.approvals_required as usize {
        r.status = AccessStatus::Approved;
        r.approved_at = Some(now);
    }
    Ok(r)
}

/// Whether `who` may deny `r`: an admin, or an approver other than the requester, while it is
/// requested or approved (not yet checked out). If so, the denied request. Final.
pub fn may_deny(
    policy: &AccessPolicy,
    who: &Caller,
    mut r: AccessRequest,
    note: &str,
    now: DateTime<Utc>,
) -> Result<AccessRequest, Refusal> {
    let allowed = policy.has(who, Role::Admin)
        || (policy.has(who, Role::Approver)
            && policy.other_person(who, &requester_person(policy, &r), &[]));
    if !allowed {
        return Err(Refusal::MayNotDeny {
            caller: who.arn().to_owned(),
            id: r.id,
        });
    }
    if !matches!(r.status, AccessStatus::Requested | AccessStatus::Approved) {
        return Err(Refusal::WrongState {
            id: r.id,
            status: r.status,
        });
    }
    r.status = AccessStatus::Denied;
    r.ended_by = Some(who.arn().to_owned());
    r.note = Some(note.to_owned());
    r.ended_at = Some(now);
    Ok(r)
}
