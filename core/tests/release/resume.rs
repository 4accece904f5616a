//! A release stopped between any two steps (its execution ended, the `fail` step recorded it)
//! is adopted by a new approved request's execution, which converges; and a step killed at any
//! port call converges when the state machine retries it.

use rootwarden_core::registry::AccountStatus;
use rootwarden_core::release::{self, Exit, ReleaseStep};
use rootwarden_core::ErrorType;
use serde_json::json;

use super::helpers::*;

async fn finished(p: &rootwarden_testkit::release::MemoryRelease, exit: Exit) {
    let (acct, r) = state(p).await;
    match exit {
        Exit::Close => {
            assert_eq!(acct.status, AccountStatus::Closed);
            assert_eq!(r.step, Some(ReleaseStep::Closed));
        }
        _ => {
            assert_eq!(acct.status, AccountStatus::Released);
            assert_eq!(r.step, Some(ReleaseStep::Certified));
            assert_eq!(p.vault.stored_versions(&account()).await, 0);
            assert!(p.root.root(&account()).mfa_devices.is_empty());
        }
    }
}

fn full_len(exit: Exit) -> usize {
    match exit {
        Exit::Close => 6,
        Exit::Handback => 13,
        Exit::Transfer => 20,
    }
}

#[tokio::test]
async fn a_release_stopped_after_any_step_is_resumed_by_a_new_approval() {
    for exit in Exit::ALL {
        for stop_after in 1..full_len(exit) {
            let p = setup().await;
            let first = approve(&p, "AR-first", terms(exit)).await;
            if asl(&p, &first, Some(stop_after)).await.is_ok() {
                break;
            }
            // The execution stopped (timeout, a Catch): the fail step recorded it.
            timed_out(&p, &first).await;
            if state(&p).await.0.status == AccountStatus::Releasing {
                let r = state(&p).await.1;
                assert_eq!(
                    r.stopped.as_deref(),
                    Some("States.Timeout: timed out"),
                    "{exit:?} after {stop_after}"
                );
            }
            let second = approve(&p, "AR-second", terms(exit)).await;
            asl(&p, &second, None)
                .await
                .unwrap_or_else(|e| panic!("{exit:?} resumed after {stop_after} steps: {e}"));
            finished(&p, exit).await;
            assert_eq!(state(&p).await.1.execution, second.name);
        }
    }
}

#[tokio::test]
async fn a_step_killed_at_any_port_call_converges_when_retried() {
    for exit in Exit::ALL {
        let mut kill = 1;
        loop {
            let p = setup().await;
            let e = approve(&p, "AR-kill", terms(exit)).await;
            p.kill_at(kill);
            asl(&p, &e, None)
                .await
                .unwrap_or_else(|err| panic!("{exit:?} killed at call {kill}: {err}"));
            let calls = p.calls();
            finished(&p, exit).await;
            if kill > calls {
                break;
            }
            kill += 1;
        }
    }
}

#[tokio::test]
async fn a_stopped_poll_is_still_pending_and_resumes() {
    let p = setup().await;
    let first = approve(&p, "AR-slow", terms(Exit::Handback)).await;
    asl(&p, &first, Some(6)).await.unwrap_err(); // through accept-email-update
                                                 // AWS takes its time: the email check gives up after its bound.
    p.email.set(
        &account(),
        &rootwarden_core::RootEmail::parse(OURS).unwrap(),
    );
    let mut err = None;
    for _ in 0..30 {
        if let Err(e) = run(&p, step("check-email", &first.name, json!({}))).await {
            err = Some(e);
            break;
        }
    }
    assert_eq!(
        err.unwrap().error_type,
        rootwarden_core::ErrorType::StillPending
    );
    p.executions.end(&first.arn, "FAILED");
    run(
        &p,
        step(
            "fail",
            &first.name,
            json!({"error": {"Error": "StillPending"}}),
        ),
    )
    .await
    .unwrap();
    p.email.set(
        &account(),
        &rootwarden_core::RootEmail::parse(CUSTOMER_EMAIL).unwrap(),
    );
    let second = approve(&p, "AR-slow-2", terms(Exit::Handback)).await;
    asl(&p, &second, None).await.unwrap();
    finished(&p, Exit::Handback).await;
}

/// AWS accepted the email change, then the step died before it recorded so (or its audit
/// write failed), and AWS's change has not propagated (GetPrimaryEmail still says ours for up
/// to four hours). The retry's accept is refused (no update is pending any more): that must not
/// withdraw the point of no return, or cancel would hand custody "back" while the customer
/// owns the root email.
#[tokio::test]
async fn an_accept_retried_after_aws_accepted_keeps_the_point_of_no_return() {
    let customer = rootwarden_core::RootEmail::parse(CUSTOMER_EMAIL).unwrap();
    let (mut kill, mut after_aws) = (1, 0);
    loop {
        let p = setup().await;
        let e = approve(&p, "AR-accept", terms(Exit::Handback)).await;
        let x = &e.name;
        run(&p, begin(&e)).await.unwrap();
        run(&p, step("start-email-update", x, json!({})))
            .await
            .unwrap();
        let token = json!({"task_token": "tok-code", "timeout_seconds": 3600});
        run(&p, step("await-code", x, token)).await.unwrap();
        relay_newest(&p).await.unwrap();
        p.kill_at(kill);
        let first = attempt(&p, step("accept-email-update", x, json!({}))).await;
        p.kill_at(0);
        if first.is_ok() {
            break; // past the step's last call
        }
        if p.email.email(&account()).as_ref() == Some(&customer) {
            after_aws += 1;
            p.email.set(
                &account(),
                &rootwarden_core::RootEmail::parse(OURS).unwrap(),
            );
            let retry = attempt(&p, step("accept-email-update", x, json!({}))).await;
            assert!(retry.is_ok(), "killed at call {kill}: {retry:?}");
            let (_, r) = state(&p).await;
            assert!(r.point_of_no_return_at.is_some(), "killed at call {kill}");
            assert_eq!(
                r.step,
                Some(ReleaseStep::EmailAccepted),
                "killed at call {kill}"
            );
            let refused =
                rootwarden_core::release::cancel(&p.acting_as(OPERATOR), &account()).await;
            assert!(refused.is_err(), "killed at call {kill}: cancel allowed");
            assert!(
                actions(&p).contains(&"release.email-accepted".to_owned()),
                "killed at call {kill}: {:?}",
                actions(&p)
            );
        }
        kill += 1;
    }
    assert!(after_aws > 0, "no kill point after AWS's accept was tried");
}

/// A transfer's AcceptInvitation reached AWS (the account left our organization) and the
/// execution ended before it recorded so. A new approved request must finish the release
/// (departure, shred, certificate), not stop for ever at the preconditions of an account that
/// is no longer ours.
#[tokio::test]
async fn a_transfer_whose_acceptance_was_not_recorded_finishes_when_resumed() {
    use rootwarden_core::release::MemberAccount;
    let mut found = false;
    for stop_after in 1..full_len(Exit::Transfer) {
        let p = setup().await;
        let first = approve(&p, "AR-first", terms(Exit::Transfer)).await;
        if asl(&p, &first, Some(stop_after)).await.is_ok() {
            break;
        }
        if state(&p).await.1.step != Some(ReleaseStep::InvitationFound) {
            continue;
        }
        found = true;
        // The earlier execution's accept got through; then it died, and it ended.
        let handshake = invitation(CUSTOMER_ORG, "aws").handshake_id;
        p.orgs.accept(&account(), &handshake).await.unwrap();
        // AWS answers no account-API call about an account outside our organization.
        p.email.fail(true);
        timed_out(&p, &first).await;
        let second = approve(&p, "AR-second", terms(Exit::Transfer)).await;
        asl(&p, &second, None)
            .await
            .unwrap_or_else(|e| panic!("resumed after {stop_after} steps: {e}"));
        finished(&p, Exit::Transfer).await;
        assert!(actions(&p).contains(&"release.handshake-accepted".to_owned()));
    }
    assert!(found, "no stop left the transfer at invitation-found");
}

/// A hand-back stopped after AWS accepted the email change, resumed while the change has not
/// propagated (GetPrimaryEmail still says ours): Begin reads the update's status, so the
/// resumed run confirms the change (check-email) instead of asking for a code again.
#[tokio::test]
async fn a_handback_resumed_before_the_email_change_propagated_does_not_ask_again() {
    let p = setup().await;
    let first = approve(&p, "AR-first", terms(Exit::Handback)).await;
    asl(&p, &first, Some(3)).await.unwrap_err(); // stops after accept-email-update
    assert_eq!(state(&p).await.1.step, Some(ReleaseStep::EmailAccepted));
    timed_out(&p, &first).await;
    p.email.set(
        &account(),
        &rootwarden_core::RootEmail::parse(OURS).unwrap(),
    );
    let mailed = p.email.mailed(&account());
    let second = approve(&p, "AR-second", terms(Exit::Handback)).await;
    let flags = run(&p, begin(&second)).await.unwrap();
    assert_eq!(flags["email_accepted"], true, "{flags}");
    assert_eq!(p.email.mailed(&account()), mailed, "no new code asked for");
}

/// Begin killed at any port call, then retried: the open check-out is revoked whichever call
/// the first attempt died at (before: a kill after the save and before the revoke left it open
/// for the whole release, the retry returning early).
#[tokio::test]
async fn a_begin_killed_anywhere_still_revokes_the_open_check_out() {
    let mut kill = 1;
    loop {
        let p = setup().await;
        let mut open = request("AR-open-checkout", terms(Exit::Close));
        open.reason = "billing-issue".into();
        open.release = None;
        p.access.put(open);
        let e = approve(&p, "AR-begin-kill", terms(Exit::Close)).await;
        p.kill_at(kill);
        let first = attempt(&p, begin(&e)).await;
        p.kill_at(0);
        let calls = p.calls();
        if first.is_err() {
            retried(&p, begin(&e))
                .await
                .unwrap_or_else(|err| panic!("killed at call {kill}: {err}"));
        }
        assert_eq!(
            p.access.get("AR-open-checkout").unwrap().status,
            rootwarden_core::access::AccessStatus::Revoked,
            "killed at call {kill}"
        );
        if first.is_ok() && kill > calls {
            break;
        }
        kill += 1;
    }
}

/// A transfer that keeps our email crosses its point of no return at put-contacts. AWS took
/// the customer's phone as primary contact, then refused the alternate contacts for good: the
/// crossing stands (that phone, with the root email, can recover the root user), so cancel
/// stays refused instead of "restoring custody" with the customer's phone on the account.
#[tokio::test]
async fn contacts_changed_in_part_keep_the_point_of_no_return() {
    let p = setup().await;
    let mut t = terms(Exit::Transfer);
    t.keep_email = true;
    let e = approve(&p, "AR-keep", t).await;
    let x = &e.name;
    run(&p, begin(&e)).await.unwrap();
    run(&p, step("check-transfer", x, json!({}))).await.unwrap();
    p.contacts.deny_alternates(true);
    let err = run(&p, step("put-contacts", x, json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::AwsError, "{err}");
    assert_eq!(
        p.contacts.primary(&account()).map(|c| c.phone),
        Some(customer().phone),
        "AWS took the primary contact"
    );
    let (_, r) = state(&p).await;
    assert!(r.point_of_no_return_at.is_some(), "{:?}", r.step);
    let refused = release::cancel(&p.acting_as(OPERATOR), &account()).await;
    assert!(
        refused.is_err(),
        "cancel allowed after a partial contact change"
    );
    // Fixed (trusted access on), a retry finishes the step.
    p.contacts.deny_alternates(false);
    run(&p, step("put-contacts", x, json!({}))).await.unwrap();
    assert!(p.contacts.alternate(&account(), "SECURITY").is_some());
}
