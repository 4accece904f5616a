//! Every access decision, over plain data: allowed, refused (each reason, with the
//! `error_type` and message callers see), dual control, expiry boundaries, revoke.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::approval::{
    account_admits, approver_persons, needs_awaiting_rotation, opened, requester_person,
    rotation_apply_admits, self_approved, ticket_admits, ticket_is_internal, ROTATION_APPLY,
};
use super::checkout::{check_out, lock_admits};
use super::expiry::{checkout_ended, checkout_ends_at};
use super::*;
use crate::mail::{Category, Priority};
use crate::registry::{AccountMode, AccountStatus};
use crate::tickets::Ticket;
use crate::{AccountId, ErrorType, LambdaError};

const ACCT: &str = "123456789012";
const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const CAROL: &str = "arn:aws:iam::123456789012:user/carol";
const BOB: &str = "arn:aws:iam::123456789012:user/bob";
const DAVE: &str = "arn:aws:iam::123456789012:user/dave";
const ADMIN: &str = "arn:aws:iam::123456789012:user/admin";
const MALLORY: &str = "arn:aws:iam::123456789012:user/mallory";
const OPS: &str = "arn:aws:iam::123456789012:role/Ops";
const BOUND: &str = "arn:aws:iam::123456789012:role/Bound";

fn policy_json(approvals_required: u32) -> String {
    format!(
        r#"{{
        "principals": [
            {{"arn": "{ALICE}", "roles": ["requester"]}},
            {{"arn": "{CAROL}", "roles": ["requester"]}},
            {{"arn": "{BOB}", "roles": ["approver"]}},
            {{"arn": "{DAVE}", "roles": ["approver"]}},
            {{"arn": "{ADMIN}", "roles": ["admin"]}},
            {{"arn": "{OPS}", "roles": ["requester", "approver"]}},
            {{"arn": "{BOUND}", "roles": ["requester", "approver"]}}
        ],
        "approvals_required": {approvals_required},
        "approval_ttl_minutes": 60,
        "ticket_pattern": "^INC-[0-9]+$",
        "person_bound_roles": ["{BOUND}"],
        "reasons": {{"security-incident": {{"max_minutes": 30, "self_service": true}}}}
    }}"#
    )
}

fn policy() -> AccessPolicy {
    AccessPolicy::from_json(&policy_json(1)).unwrap()
}

fn policy_of_two() -> AccessPolicy {
    AccessPolicy::from_json(&policy_json(2)).unwrap()
}

fn user(arn: &str) -> Caller {
    Caller::from_arn(arn)
}

/// A session of `role_arn`, resolved (its path known).
fn session(role_arn: &str, name: &str) -> Caller {
    let role = role_arn.rsplit('/').next().unwrap();
    Caller::from_arn(&format!("arn:aws:sts::{ACCT}:assumed-role/{role}/{name}"))
        .with_role(role_arn)
        .unwrap()
}

fn account() -> AccountId {
    AccountId::parse("210987654321").unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn mins(m: i64) -> Duration {
    Duration::minutes(m)
}

fn secs(s: i64) -> Duration {
    Duration::seconds(s)
}

/// A request opened by `who` at `t0` for 60 minutes of `billing-issue`.
fn requested_by(p: &AccessPolicy, who: &Caller) -> AccessRequest {
    let terms = may_request(p, who, "billing-issue", "INC-1", None).unwrap();
    opened(
        p,
        who,
        "AR-1".into(),
        &account(),
        "billing-issue",
        terms,
        t0(),
    )
}

fn requested() -> AccessRequest {
    requested_by(&policy(), &user(ALICE))
}

fn approved() -> AccessRequest {
    may_approve(&policy(), &user(BOB), requested(), t0()).unwrap()
}

fn checked_out() -> AccessRequest {
    check_out(approved(), ALICE, t0() + mins(5))
        .unwrap()
        .request
}

fn in_status(status: AccessStatus) -> AccessRequest {
    let mut r = match status {
        AccessStatus::Requested => requested(),
        AccessStatus::Approved => approved(),
        _ => checked_out(),
    };
    r.status = status;
    r
}

const ALL: [AccessStatus; 7] = [
    AccessStatus::Requested,
    AccessStatus::Approved,
    AccessStatus::Denied,
    AccessStatus::CheckedOut,
    AccessStatus::CheckedIn,
    AccessStatus::Expired,
    AccessStatus::Revoked,
];

/// The refusal as callers see it.
#[track_caller]
fn seen(r: Refusal, error_type: ErrorType, contains: &str) {
    let e = LambdaError::from(r);
    assert_eq!(e.error_type, error_type, "{e}");
    assert!(
        e.message.contains(contains),
        "{:?} lacks {contains:?}",
        e.message
    );
}

// ---- Requesting ----

#[test]
fn a_requester_may_request_for_a_known_reason_up_to_its_maximum() {
    let p = policy();
    let t = may_request(&p, &user(ALICE), "billing-issue", "  INC-7 ", None).unwrap();
    assert_eq!((t.duration_minutes, t.ticket.as_str()), (60, "INC-7"));
    let t = may_request(&p, &user(ALICE), "billing-issue", "INC-7", Some(60)).unwrap();
    assert_eq!(t.duration_minutes, 60);
    let t = may_request(&p, &user(ALICE), "billing-issue", "INC-7", Some(1)).unwrap();
    assert_eq!(t.duration_minutes, 1);
    let t = may_request(&p, &session(OPS, "x"), "security-incident", "T-1", None).unwrap();
    assert!(t.rule.self_service);
    assert_eq!(t.duration_minutes, 30);
}

#[test]
fn a_request_is_refused_for_each_reason() {
    let p = policy();
    for who in [MALLORY, BOB, ADMIN] {
        seen(
            may_request(&p, &user(who), "billing-issue", "INC-1", None).unwrap_err(),
            ErrorType::AccessDenied,
            &format!("{who} is not authorized to request root access"),
        );
    }
    let e = may_request(&p, &user(ALICE), "curiosity", "INC-1", None).unwrap_err();
    assert!(matches!(e, Refusal::UnknownReason { .. }));
    seen(
        e.clone(),
        ErrorType::ValidationError,
        "unknown reason \"curiosity\"",
    );
    seen(e, ErrorType::ValidationError, "billing-issue");
    for d in [0, 61] {
        seen(
            may_request(&p, &user(ALICE), "billing-issue", "INC-1", Some(d)).unwrap_err(),
            ErrorType::ValidationError,
            "duration must be from 1 to 60 minutes for billing-issue",
        );
    }
    for blank in ["", "   "] {
        assert_eq!(
            may_request(&p, &user(ALICE), "billing-issue", blank, None).unwrap_err(),
            Refusal::NoTicket
        );
    }
    seen(
        Refusal::NoTicket,
        ErrorType::ValidationError,
        "a ticket reference is required",
    );
    // The role is checked first: a stranger learns nothing about reasons or durations.
    assert!(matches!(
        may_request(&p, &user(MALLORY), "curiosity", "", Some(0)).unwrap_err(),
        Refusal::NotARequester { .. }
    ));
}

#[test]
fn an_internal_ticket_must_exist_and_belong_to_no_other_account() {
    let p = policy();
    assert!(!ticket_is_internal(&p, "INC-12"));
    assert!(ticket_is_internal(&p, "T-12"));
    let here = Ticket::task(
        "T-1",
        &account(),
        Category::Security,
        Priority::High,
        "s",
        "b",
        t0(),
    );
    let other = AccountId::parse("111111111111").unwrap();
    let there = Ticket::task(
        "T-2",
        &other,
        Category::Security,
        Priority::High,
        "s",
        "b",
        t0(),
    );
    let mut anywhere = here.clone();
    anywhere.account_id = None;
    assert_eq!(ticket_admits("T-1", &account(), Some(&here)), Ok(()));
    assert_eq!(ticket_admits("T-1", &account(), Some(&anywhere)), Ok(()));
    seen(
        ticket_admits("T-2", &account(), Some(&there)).unwrap_err(),
        ErrorType::ValidationError,
        "ticket T-2 belongs to another account",
    );
    seen(
        ticket_admits("T-9", &account(), None).unwrap_err(),
        ErrorType::NotFound,
        "ticket T-9 does not exist and does not match the external ticket pattern",
    );
}

#[test]
fn only_an_active_vaulted_account_has_something_to_check_out() {
    let a = account();
    assert_eq!(
        account_admits(
            &a,
            Some((AccountStatus::Active, AccountMode::Vaulted)),
            "billing-issue"
        ),
        Ok(())
    );
    seen(
        account_admits(
            &a,
            Some((AccountStatus::Active, AccountMode::CredentialLess)),
            "billing-issue",
        )
        .unwrap_err(),
        ErrorType::ValidationError,
        "account 210987654321 is active and credential-less: nothing to check out",
    );
    for status in [
        AccountStatus::Released,
        AccountStatus::Closed,
        AccountStatus::TakingOver,
    ] {
        seen(
            account_admits(&a, Some((status, AccountMode::Vaulted)), "rotation-apply").unwrap_err(),
            ErrorType::ValidationError,
            &format!("is {} and vaulted", status.as_str()),
        );
    }
    seen(
        account_admits(&a, None, "billing-issue").unwrap_err(),
        ErrorType::NotFound,
        "account 210987654321 is not registered",
    );
}

#[test]
fn the_takeover_reason_is_only_for_a_vaulted_account_being_taken_over() {
    let a = account();
    let taking = Some((AccountStatus::TakingOver, AccountMode::Vaulted));
    assert_eq!(account_admits(&a, taking, "takeover"), Ok(()));
    for standing in [
        Some((AccountStatus::Active, AccountMode::Vaulted)),
        Some((AccountStatus::TakingOver, AccountMode::CredentialLess)),
    ] {
        assert_eq!(
            account_admits(&a, standing, "takeover")
                .unwrap_err()
                .error_type(),
            ErrorType::ValidationError
        );
    }
    assert!(needs_awaiting_rotation("takeover") && needs_awaiting_rotation("rotation-apply"));
    assert!(!needs_awaiting_rotation("billing-issue"));
    assert_eq!(policy::default_reasons()["takeover"].max_minutes, 60);
}

#[test]
fn rotation_apply_needs_a_rotation_awaiting_its_apply_step() {
    let a = account();
    assert!(needs_awaiting_rotation(ROTATION_APPLY));
    assert!(!needs_awaiting_rotation("billing-issue"));
    assert_eq!(rotation_apply_admits(ROTATION_APPLY, &a, true), Ok(()));
    assert_eq!(rotation_apply_admits("billing-issue", &a, false), Ok(()));
    seen(
        rotation_apply_admits(ROTATION_APPLY, &a, false).unwrap_err(),
        ErrorType::ValidationError,
        "no rotation of account 210987654321 awaits its apply step",
    );
}

#[test]
fn an_opened_request_records_its_requester_as_a_person() {
    let p = policy();
    let r = requested_by(&p, &session(OPS, "alice"));
    assert_eq!(r.status, AccessStatus::Requested);
    assert_eq!(r.requester_person.as_deref(), Some(OPS));
    assert_eq!((r.version, r.duration_minutes), (0, 60));
    let r = requested_by(&p, &session(BOUND, "x@example.com"));
    assert_eq!(
        r.requester_person.as_deref(),
        Some(format!("{BOUND}#x@example.com").as_str())
    );
    let s = self_approved(requested(), "review-AR-1".into(), t0() + secs(1));
    assert_eq!(s.status, AccessStatus::Approved);
    assert_eq!(s.approved_at, Some(t0() + secs(1)));
    assert_eq!(s.review_ticket.as_deref(), Some("review-AR-1"));
    assert!(s.approvals.is_empty());
}

// ---- Approving (dual control) ----

#[test]
fn another_person_with_the_approver_role_approves() {
    let r = may_approve(&policy(), &user(BOB), requested(), t0() + mins(1)).unwrap();
    assert_eq!(r.status, AccessStatus::Approved);
    assert_eq!(r.approved_at, Some(t0() + mins(1)));
    assert_eq!(r.approvals, [BOB]);
    assert_eq!(r.approver_persons, [BOB]);
}

#[test]
fn who_is_not_an_approver_never_approves() {
    for who in [MALLORY, CAROL, ADMIN] {
        seen(
            may_approve(&policy(), &user(who), requested(), t0()).unwrap_err(),
            ErrorType::AccessDenied,
            &format!("{who} is not authorized to approve root access"),
        );
    }
}

#[test]
fn the_requester_never_approves_their_own_request_through_any_session() {
    let p = policy();
    // One role holding both roles: its sessions are one person.
    let r = requested_by(&p, &session(OPS, "alice"));
    for approver in [session(OPS, "alice"), session(OPS, "bob")] {
        let e = may_approve(&p, &approver, r.clone(), t0()).unwrap_err();
        assert!(matches!(e, Refusal::OwnRequest { .. }), "{e}");
        seen(e, ErrorType::AccessDenied, "own request");
    }
    // Unresolved sessions of the role are that person too.
    let raw = Caller::from_arn(&format!("arn:aws:sts::{ACCT}:assumed-role/Ops/bob"));
    assert!(matches!(
        may_approve(&p, &raw, r.clone(), t0()).unwrap_err(),
        Refusal::OwnRequest { .. }
    ));
    // A person-bound role: another person, but the requester's own principal.
    let r = requested_by(&p, &session(BOUND, "x@example.com"));
    assert!(matches!(
        may_approve(&p, &session(BOUND, "y@example.com"), r, t0()).unwrap_err(),
        Refusal::OwnRequest { .. }
    ));
    // A request stored before persons were recorded: the person comes from its ARN.
    let mut legacy = requested_by(&p, &session(OPS, "alice"));
    legacy.requester_person = None;
    assert_eq!(requester_person(&p, &legacy).as_str(), OPS);
    assert!(matches!(
        may_approve(&p, &session(OPS, "bob"), legacy, t0()).unwrap_err(),
        Refusal::OwnRequest { .. }
    ));
    // Another principal with both roles approves.
    let r = may_approve(&p, &session(OPS, "x"), requested(), t0()).unwrap();
    assert_eq!(r.status, AccessStatus::Approved);
}

#[test]
fn only_a_requested_request_is_approved() {
    for status in ALL {
        let result = may_approve(&policy(), &user(BOB), in_status(status), t0());
        if status == AccessStatus::Requested {
            assert!(result.is_ok());
        } else {
            seen(
                result.unwrap_err(),
                ErrorType::Conflict,
                &format!("request AR-1 is {}", status.as_str()),
            );
        }
    }
    // Authorization is decided before state: a stranger is denied, not told the state.
    assert!(matches!(
        may_approve(&policy(), &user(MALLORY), approved(), t0()).unwrap_err(),
        Refusal::NotAnApprover { .. }
    ));
}

#[test]
fn two_approvals_need_two_people() {
    let p = policy_of_two();
    let r = may_approve(&p, &user(BOB), requested_by(&p, &user(ALICE)), t0()).unwrap();
    assert_eq!(r.status, AccessStatus::Requested);
    assert_eq!(r.approved_at, None);
    // The same approver again.
    let e = may_approve(&p, &user(BOB), r.clone(), t0()).unwrap_err();
    seen(e, ErrorType::Conflict, "already approved request AR-1");
    // Another person completes it.
    let done = may_approve(&p, &user(DAVE), r, t0() + mins(2)).unwrap();
    assert_eq!(done.status, AccessStatus::Approved);
    assert_eq!(done.approved_at, Some(t0() + mins(2)));
    assert_eq!(done.approvals, [BOB, DAVE]);
    assert_eq!(done.approver_persons, [BOB, DAVE]);
}

#[test]
fn two_sessions_of_one_role_are_one_approval() {
    let p = policy_of_two();
    let r = may_approve(&p, &session(OPS, "x"), requested_by(&p, &user(ALICE)), t0()).unwrap();
    let e = may_approve(&p, &session(OPS, "y"), r.clone(), t0()).unwrap_err();
    assert!(matches!(e, Refusal::AlreadyApproved { .. }), "{e}");
    // Also when the approvers were stored without persons (from their ARNs).
    let mut legacy = r;
    legacy.approver_persons.clear();
    assert_eq!(approver_persons(&p, &legacy).len(), 1);
    assert!(matches!(
        may_approve(&p, &session(OPS, "y"), legacy, t0()).unwrap_err(),
        Refusal::AlreadyApproved { .. }
    ));
}

#[test]
fn sessions_of_a_person_bound_role_are_different_people() {
    let p = policy_of_two();
    let r = requested_by(&p, &user(ALICE));
    let r = may_approve(&p, &session(BOUND, "x@example.com"), r, t0()).unwrap();
    let r = may_approve(&p, &session(BOUND, "y@example.com"), r, t0()).unwrap();
    assert_eq!(r.status, AccessStatus::Approved);
    assert_eq!(
        r.approver_persons,
        [
            format!("{BOUND}#x@example.com"),
            format!("{BOUND}#y@example.com")
        ]
    );
    // An unresolved session of that role is the role itself: not person-bound.
    let raw = Caller::from_arn(&format!("arn:aws:sts::{ACCT}:assumed-role/Bound/x"));
    assert_eq!(
        policy().person(&raw).as_str(),
        format!("arn:aws:iam::{ACCT}:role/Bound")
    );
}

// ---- Denying ----

#[test]
fn an_admin_or_another_approver_denies_an_open_request() {
    let p = policy();
    for who in [user(ADMIN), user(BOB), session(OPS, "x")] {
        for status in [AccessStatus::Requested, AccessStatus::Approved] {
            let r = may_deny(&p, &who, in_status(status), "no", t0() + mins(3)).unwrap();
            assert_eq!(r.status, AccessStatus::Denied);
            assert_eq!(r.ended_by.as_deref(), Some(who.arn()));
            assert_eq!(r.note.as_deref(), Some("no"));
            assert_eq!(r.ended_at, Some(t0() + mins(3)));
        }
    }
}

#[test]
fn a_deny_is_refused_to_strangers_to_the_requester_and_after_check_out() {
    let p = policy();
    for who in [user(MALLORY), user(ALICE), user(CAROL)] {
        seen(
            may_deny(&p, &who, requested(), "no", t0()).unwrap_err(),
            ErrorType::AccessDenied,
            &format!("{} is not authorized to deny request AR-1", who.arn()),
        );
    }
    // The requester's own role, even as an approver.
    let r = requested_by(&p, &session(OPS, "alice"));
    assert!(matches!(
        may_deny(&p, &session(OPS, "bob"), r, "no", t0()).unwrap_err(),
        Refusal::MayNotDeny { .. }
    ));
    for status in ALL {
        if matches!(status, AccessStatus::Requested | AccessStatus::Approved) {
            continue;
        }
        seen(
            may_deny(&p, &user(ADMIN), in_status(status), "no", t0()).unwrap_err(),
            ErrorType::Conflict,
            &format!("request AR-1 is {}", status.as_str()),
        );
    }
}

// ---- Checking out ----

#[test]
fn the_requester_checks_out_an_approved_request_once() {
    let p = policy();
    let r = approved();
    assert_eq!(may_checkout(&p, &user(ALICE), &r, t0() + mins(10)), Ok(()));
    let now = t0() + mins(10);
    let m = check_out(r, ALICE, now).unwrap();
    assert_eq!(m.request.status, AccessStatus::CheckedOut);
    assert_eq!(m.request.checked_out_at, Some(now));
    assert_eq!(m.request.expires_at, Some(now + mins(60)));
    assert_eq!(
        m.lock,
        LockMove::Take {
            expires_at: now + mins(60)
        }
    );
    // Shown once.
    let e = may_checkout(&p, &user(ALICE), &m.request, now).unwrap_err();
    seen(
        e,
        ErrorType::Conflict,
        "request AR-1 was already checked out (secrets are shown once)",
    );
}

#[test]
fn only_the_requester_arn_checks_out() {
    let p = policy();
    for who in [user(BOB), user(CAROL), user(ADMIN), user(MALLORY)] {
        seen(
            may_checkout(&p, &who, &approved(), t0()).unwrap_err(),
            ErrorType::AccessDenied,
            "only the requester can check out request AR-1",
        );
    }
    // Another session of the requester's role is not the requester.
    let r = requested_by(&p, &session(OPS, "alice"));
    let r = may_approve(&p, &user(BOB), r, t0()).unwrap();
    assert_eq!(may_checkout(&p, &session(OPS, "alice"), &r, t0()), Ok(()));
    assert!(matches!(
        may_checkout(&p, &session(OPS, "bob"), &r, t0()).unwrap_err(),
        Refusal::NotTheRequester { .. }
    ));
}

#[test]
fn a_requester_who_lost_the_role_no_longer_checks_out() {
    let without_alice = policy_json(1).replace(
        &format!(r#"{{"arn": "{ALICE}", "roles": ["requester"]}},"#),
        "",
    );
    let p = AccessPolicy::from_json(&without_alice).unwrap();
    seen(
        may_checkout(&p, &user(ALICE), &approved(), t0()).unwrap_err(),
        ErrorType::AccessDenied,
        &format!("{ALICE} is no longer authorized to request root access"),
    );
}

#[test]
fn an_approval_holds_for_its_lifetime_and_not_a_second_longer() {
    let p = policy();
    let r = approved(); // approved at t0, ttl 60 minutes
    assert_eq!(may_checkout(&p, &user(ALICE), &r, t0() + mins(60)), Ok(()));
    assert!(!approval_expired(&p, &r, t0() + mins(60)));
    assert!(approval_expired(&p, &r, t0() + mins(60) + secs(1)));
    let e = may_checkout(&p, &user(ALICE), &r, t0() + mins(60) + secs(1)).unwrap_err();
    assert_eq!(
        e,
        Refusal::ApprovalExpired {
            id: "AR-1".into(),
            ttl_minutes: 60
        }
    );
    seen(
        e,
        ErrorType::AccessDenied,
        "the approval of request AR-1 expired (60 minutes)",
    );
    // A request never approved has no approval to expire.
    assert!(!approval_expired(&p, &requested(), t0() + mins(10_000)));
}

#[test]
fn only_an_approved_request_is_checked_out() {
    for status in ALL {
        let result = may_checkout(&policy(), &user(ALICE), &in_status(status), t0());
        match status {
            AccessStatus::Approved => assert_eq!(result, Ok(())),
            AccessStatus::CheckedOut => {
                assert!(matches!(result, Err(Refusal::AlreadyCheckedOut { .. })))
            }
            _ => seen(
                result.unwrap_err(),
                ErrorType::Conflict,
                &format!("request AR-1 is {}", status.as_str()),
            ),
        }
    }
}

#[test]
fn the_check_out_is_refused_when_the_request_changed_meanwhile() {
    for status in ALL {
        if status == AccessStatus::Approved {
            continue;
        }
        let e = check_out(in_status(status), ALICE, t0()).unwrap_err();
        seen(
            e,
            ErrorType::Conflict,
            &format!(
                "request AR-1 changed during check-out ({})",
                status.as_str()
            ),
        );
    }
    assert!(matches!(
        check_out(approved(), CAROL, t0()).unwrap_err(),
        Refusal::ChangedDuringCheckout { .. }
    ));
}

fn lock(request_id: &str, expires_at: &str) -> Lock {
    Lock {
        account_id: account(),
        request_id: request_id.into(),
        expires_at: expires_at.into(),
    }
}

#[test]
fn a_check_out_is_exclusive_per_account_until_the_lock_ends() {
    let a = account();
    let now = t0();
    assert_eq!(lock_admits(&a, None, now), Ok(LockState::Free));
    let held = lock("AR-0", "2026-03-01T12:00:01Z");
    seen(
        lock_admits(&a, Some(&held), now).unwrap_err(),
        ErrorType::Conflict,
        "account 210987654321 is checked out by request AR-0 until 2026-03-01T12:00:01Z",
    );
    // At its end exactly, the lock is stale: sweep it, then go ahead.
    let ended = lock("AR-0", "2026-03-01T12:00:00Z");
    assert_eq!(
        lock_admits(&a, Some(&ended), now),
        Ok(LockState::Stale("AR-0"))
    );
    // A lock whose end cannot be read never ends by itself: fail closed.
    let garbled = lock("AR-0", "soon");
    assert!(!garbled.ended(now + mins(100_000)));
    assert!(matches!(
        lock_admits(&a, Some(&garbled), now).unwrap_err(),
        Refusal::AccountCheckedOut { .. }
    ));
}

// ---- Checking in ----

#[test]
fn the_requester_or_an_admin_checks_in_and_releases_the_lock() {
    let p = policy();
    for who in [user(ALICE), user(ADMIN)] {
        let m = may_checkin(&p, &who, checked_out(), t0() + mins(20)).unwrap();
        assert_eq!(m.request.status, AccessStatus::CheckedIn);
        assert_eq!(m.request.ended_by.as_deref(), Some(who.arn()));
        assert_eq!(m.request.ended_at, Some(t0() + mins(20)));
        assert_eq!(m.lock, LockMove::Release);
    }
    for who in [user(BOB), user(CAROL), user(MALLORY)] {
        seen(
            may_checkin(&p, &who, checked_out(), t0()).unwrap_err(),
            ErrorType::AccessDenied,
            "only the requester or an admin can check in request AR-1",
        );
    }
    for status in ALL {
        if status == AccessStatus::CheckedOut {
            continue;
        }
        seen(
            may_checkin(&p, &user(ALICE), in_status(status), t0()).unwrap_err(),
            ErrorType::Conflict,
            &format!("request AR-1 is {}", status.as_str()),
        );
    }
}

// ---- Revoking ----

#[test]
fn an_admin_revokes_any_open_request_and_only_an_admin() {
    let p = policy();
    for status in ALL {
        let result = may_revoke(&p, &user(ADMIN), in_status(status), "why", t0() + mins(7));
        if status.is_final() {
            seen(
                result.unwrap_err(),
                ErrorType::Conflict,
                &format!("request AR-1 is {}", status.as_str()),
            );
            continue;
        }
        let m = result.unwrap();
        assert_eq!(m.request.status, AccessStatus::Revoked);
        assert_eq!(m.request.ended_by.as_deref(), Some(ADMIN));
        assert_eq!(m.request.note.as_deref(), Some("why"));
        assert_eq!(m.request.ended_at, Some(t0() + mins(7)));
        let expected = if status == AccessStatus::CheckedOut {
            LockMove::Release
        } else {
            LockMove::Keep
        };
        assert_eq!(m.lock, expected, "{status:?}");
    }
    for who in [ALICE, BOB, MALLORY] {
        seen(
            may_revoke(&p, &user(who), checked_out(), "why", t0()).unwrap_err(),
            ErrorType::AccessDenied,
            &format!("{who} is not an access admin"),
        );
    }
}

// ---- Expiry ----

#[test]
fn a_check_out_ends_at_its_end_exactly() {
    let start = t0() + mins(5);
    assert_eq!(checkout_ends_at(start, 60), start + mins(60));
    let end = start + mins(60);
    assert!(!checkout_ended(end, end - secs(1)));
    assert!(checkout_ended(end, end));
    assert!(checkout_ended(end, end + secs(1)));
    let l = lock("AR-1", "2026-03-01T13:05:00Z");
    assert!(!l.ended(end - secs(1)));
    assert!(l.ended(end));
}

#[test]
fn an_ended_check_out_expires_and_releases_its_lock() {
    let p = policy();
    let r = checked_out(); // from t0+5m for 60 minutes
    let end = t0() + mins(65);
    let e = may_expire(&p, r.clone(), "access-expiry", end - secs(1)).unwrap_err();
    seen(
        e,
        ErrorType::Conflict,
        "request AR-1 is checked-out and not due to expire",
    );
    let (m, why) = may_expire(&p, r, "access-expiry", end).unwrap();
    assert_eq!(why, Expiry::CheckoutEnded);
    assert_eq!(
        why.reason(),
        "check-out reached its end: automatic check-in"
    );
    assert_eq!(m.lock, LockMove::Release);
    assert_eq!(m.request.status, AccessStatus::Expired);
    assert_eq!(m.request.ended_by.as_deref(), Some("access-expiry"));
    assert_eq!(m.request.ended_at, Some(end));
}

#[test]
fn an_unused_approval_expires_after_its_lifetime() {
    let p = policy();
    let at_ttl = t0() + mins(60);
    assert!(matches!(
        may_expire(&p, approved(), ALICE, at_ttl).unwrap_err(),
        Refusal::NotDueToExpire {
            status: AccessStatus::Approved,
            ..
        }
    ));
    let (m, why) = may_expire(&p, approved(), ALICE, at_ttl + secs(1)).unwrap();
    assert_eq!(why, Expiry::ApprovalLapsed);
    assert_eq!(why.reason(), "approval expired before check-out");
    assert_eq!(m.lock, LockMove::Keep);
    assert_eq!(m.request.status, AccessStatus::Expired);
    assert_eq!(m.request.ended_by.as_deref(), Some(ALICE));
}

#[test]
fn a_request_waiting_for_approvals_lapses_after_its_ttl() {
    let p = policy();
    let day = mins(i64::from(p.request_ttl_minutes));
    assert_eq!(p.request_ttl_minutes, 24 * 60, "default: a day");
    let r = in_status(AccessStatus::Requested);
    assert!(may_expire(&p, r.clone(), ALICE, r.created_at + day).is_err());
    let (m, why) = may_expire(&p, r.clone(), ALICE, r.created_at + day + secs(1)).unwrap();
    assert_eq!(why, Expiry::RequestLapsed);
    assert_eq!(m.request.status, AccessStatus::Expired);
    assert!(matches!(
        may_approve(&p, &user(BOB), r.clone(), r.created_at + day + secs(1)),
        Err(Refusal::RequestLapsed { .. })
    ));
    assert!(AccessPolicy::from_json(r#"{"principals": [], "request_ttl_minutes": 0}"#).is_err());
}

#[test]
fn nothing_else_ever_expires() {
    let p = policy();
    let much_later = t0() + mins(1_000_000);
    for status in ALL {
        if matches!(
            status,
            AccessStatus::Approved | AccessStatus::CheckedOut | AccessStatus::Requested
        ) {
            continue;
        }
        assert!(
            matches!(
                may_expire(&p, in_status(status), "access-expiry", much_later),
                Err(Refusal::NotDueToExpire { .. })
            ),
            "{status:?}"
        );
    }
    // A check-out without an end (never written so) does not expire by itself.
    let mut r = checked_out();
    r.expires_at = None;
    assert!(may_expire(&p, r, "access-expiry", much_later).is_err());
}

// ---- The whole flow ----

#[test]
fn the_whole_life_of_a_request() {
    let p = policy();
    let alice = user(ALICE);
    let r = requested_by(&p, &alice);
    let r = may_approve(&p, &user(BOB), r, t0() + mins(1)).unwrap();
    may_checkout(&p, &alice, &r, t0() + mins(2)).unwrap();
    let m = check_out(r, ALICE, t0() + mins(2)).unwrap();
    let m = may_checkin(&p, &alice, m.request, t0() + mins(3)).unwrap();
    assert_eq!(m.request.status, AccessStatus::CheckedIn);
    // Final: nothing moves it any more.
    let r = m.request;
    assert!(may_approve(&p, &user(BOB), r.clone(), t0()).is_err());
    assert!(may_deny(&p, &user(ADMIN), r.clone(), "x", t0()).is_err());
    assert!(may_checkout(&p, &alice, &r, t0()).is_err());
    assert!(may_checkin(&p, &alice, r.clone(), t0()).is_err());
    assert!(may_revoke(&p, &user(ADMIN), r.clone(), "x", t0()).is_err());
    assert!(may_expire(&p, r, "access-expiry", t0() + mins(10_000)).is_err());
}

#[test]
fn every_refusal_maps_to_its_error_type() {
    let a = account();
    let s = AccessStatus::Approved;
    let s_ = || "x".to_owned();
    for (r, t) in [
        (
            Refusal::NotARequester { caller: s_() },
            ErrorType::AccessDenied,
        ),
        (
            Refusal::UnknownReason {
                reason: s_(),
                allowed: vec![],
            },
            ErrorType::ValidationError,
        ),
        (
            Refusal::BadDuration {
                reason: s_(),
                max_minutes: 1,
            },
            ErrorType::ValidationError,
        ),
        (Refusal::NoTicket, ErrorType::ValidationError),
        (
            Refusal::TicketOfAnotherAccount { ticket: s_() },
            ErrorType::ValidationError,
        ),
        (Refusal::UnknownTicket { ticket: s_() }, ErrorType::NotFound),
        (
            Refusal::AccountNotRegistered { account: a.clone() },
            ErrorType::NotFound,
        ),
        (
            Refusal::NothingToCheckOut {
                account: a.clone(),
                status: AccountStatus::Closed,
                mode: AccountMode::Vaulted,
            },
            ErrorType::ValidationError,
        ),
        (
            Refusal::NoRotationAwaitsApply { account: a.clone() },
            ErrorType::ValidationError,
        ),
        (
            Refusal::NotAnApprover { caller: s_() },
            ErrorType::AccessDenied,
        ),
        (
            Refusal::OwnRequest {
                caller: s_(),
                requester: s_(),
            },
            ErrorType::AccessDenied,
        ),
        (
            Refusal::AlreadyApproved {
                caller: s_(),
                id: s_(),
            },
            ErrorType::Conflict,
        ),
        (
            Refusal::MayNotDeny {
                caller: s_(),
                id: s_(),
            },
            ErrorType::AccessDenied,
        ),
        (
            Refusal::NotTheRequester { id: s_() },
            ErrorType::AccessDenied,
        ),
        (
            Refusal::NoLongerARequester { caller: s_() },
            ErrorType::AccessDenied,
        ),
        (
            Refusal::ApprovalExpired {
                id: s_(),
                ttl_minutes: 1,
            },
            ErrorType::AccessDenied,
        ),
        (Refusal::AlreadyCheckedOut { id: s_() }, ErrorType::Conflict),
        (
            Refusal::AccountCheckedOut {
                account: a.clone(),
                request_id: s_(),
                until: s_(),
            },
            ErrorType::Conflict,
        ),
        (
            Refusal::RotationApply { why: s_() },
            ErrorType::AccessDenied,
        ),
        (Refusal::Takeover { why: s_() }, ErrorType::AccessDenied),
        (
            Refusal::ChangedDuringCheckout {
                id: s_(),
                status: s,
            },
            ErrorType::Conflict,
        ),
        (Refusal::MayNotCheckIn { id: s_() }, ErrorType::AccessDenied),
        (
            Refusal::NotAnAdmin { caller: s_() },
            ErrorType::AccessDenied,
        ),
        (
            Refusal::NotDueToExpire {
                id: s_(),
                status: s,
            },
            ErrorType::Conflict,
        ),
        (
            Refusal::WrongState {
                id: s_(),
                status: s,
            },
            ErrorType::Conflict,
        ),
    ] {
        assert_eq!(r.error_type(), t, "{r}");
        assert_eq!(LambdaError::from(r.clone()).message, r.to_string());
    }
    seen(
        Refusal::RotationApply {
            why: "no execution".into(),
        },
        ErrorType::AccessDenied,
        "rotation-apply: no execution",
    );
}
