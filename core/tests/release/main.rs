//! The release use cases on their in-memory twins: each exit's happy path driven as its ASL
//! does, each failure the issue names, the operator's cancel / status / otp, the certificate,
//! the scheduled shred, and (in `resume`) stops and kills anywhere: a new execution (or a
//! retry) converges.

mod helpers;
mod resume;

use chrono::Duration;
use rootwarden_core::access::AccessStatus;
use rootwarden_core::audit::Stream;
use rootwarden_core::enforcement::Posture;
use rootwarden_core::mail::Category;
use rootwarden_core::registry::AccountStatus;
use rootwarden_core::release::{
    self, verify_certificate, Exit, MemberStatus, ReleaseStep, ReleaseTerms,
};
use rootwarden_core::vault::{Actor, CredentialKind, Vault};
use rootwarden_core::workflows::WorkflowWaits;
use rootwarden_core::ErrorType;
use rootwarden_testkit::TaskResult;
use secrecy::SecretString;
use serde_json::json;

use helpers::*;

fn err_type(r: Result<serde_json::Value, rootwarden_core::LambdaError>) -> ErrorType {
    r.expect_err("must fail").error_type
}

#[tokio::test]
async fn a_closure_closes_the_account_and_seals_its_vault_until_the_window_ends() {
    let p = setup().await;
    let mut open = request("AR-open-checkout", terms(Exit::Close));
    open.reason = "billing-issue".into();
    open.release = None;
    p.access.put(open);
    let e = approve(&p, "AR-close-1", terms(Exit::Close)).await;
    TWICE.with(|t| t.set(true));
    let out = asl(&p, &e, None).await.unwrap();
    TWICE.with(|t| t.set(false));
    let (acct, r) = state(&p).await;
    assert_eq!(acct.status, AccountStatus::Closed);
    assert_eq!(r.step, Some(ReleaseStep::Closed));
    let closed_at = r.closed_at.unwrap();
    assert_eq!(r.shred_after, Some(closed_at + Duration::days(90)));
    assert_eq!(
        out["shred_after"],
        json!(rootwarden_core::registry::stamp(
            closed_at + Duration::days(90)
        ))
    );
    assert_eq!(p.orgs.closed(), vec![account()]);
    // Sealed, not shredded: AWS can reinstate it for 90 days.
    assert_eq!(p.vault.stored_versions(&account()).await, 1);
    // Custody stopped: the open request was revoked, the release's own was not.
    assert_eq!(
        p.access.get("AR-open-checkout").unwrap().status,
        AccessStatus::Revoked
    );
    assert_eq!(
        p.access.get("AR-close-1").unwrap().status,
        AccessStatus::Approved
    );
    let a = actions(&p);
    for want in [
        "release.begun",
        "access.revoke",
        "release.point-of-no-return",
        "release.closed",
    ] {
        assert!(a.contains(&want.to_owned()), "{want} in {a:?}");
    }
    let s = release::status(&p, &account()).await.unwrap();
    assert!(s.point_of_no_return_passed && !s.cancel_allowed);
    assert_eq!(
        s.shred_after,
        r.shred_after.map(rootwarden_core::registry::stamp)
    );
}

/// The refused attempt recorded its point of no return before calling AWS: it must not date
/// the next free slot itself (AWS did not count it).
#[tokio::test]
async fn a_refused_closure_does_not_count_itself_in_the_quota_date() {
    let p = setup().await;
    let e = approve(&p, "AR-close-own", terms(Exit::Close)).await;
    run(&p, begin(&e)).await.unwrap();
    p.orgs.set_quota(Some(0));
    let err = run(&p, step("close-account", &e.name, json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::CloseQuotaExceeded);
    assert!(
        err.message.contains("outside Root Warden"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn the_closure_quota_names_when_a_slot_frees_and_leaves_the_release_cancellable() {
    let p = setup().await;
    // Another account Root Warden closed 10 days ago.
    let (mut other, _) = p.store.item(&account()).await.unwrap();
    other.account_id = rootwarden_core::AccountId::parse("444455556666").unwrap();
    other.status = AccountStatus::Closed;
    let e = approve(&p, "AR-close-q", terms(Exit::Close)).await;
    run(&p, begin(&e)).await.unwrap();
    let (_, mut r) = state(&p).await;
    r.account_id = other.account_id.clone();
    r.point_of_no_return_at = Some(now() - Duration::days(10));
    r.closed_at = Some(now() - Duration::days(10));
    p.store.put_with(other, r).await;
    p.orgs.set_quota(Some(0));
    let err = run(&p, step("close-account", &e.name, json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::CloseQuotaExceeded);
    let free = rootwarden_core::registry::stamp(now() + Duration::days(20));
    assert!(err.message.contains(&free), "{}", err.message);
    let (acct, r) = state(&p).await;
    assert_eq!(acct.status, AccountStatus::Releasing);
    assert_eq!(r.step, Some(ReleaseStep::Begun));
    assert_eq!(r.point_of_no_return_at, None);
    assert!(
        release::status(&p, &account())
            .await
            .unwrap()
            .cancel_allowed
    );
    assert!(actions(&p).contains(&"release.point-of-no-return-withdrawn".to_owned()));
}

#[tokio::test]
async fn a_handback_hands_over_email_contacts_and_root_and_certifies_it() {
    let p = setup().await;
    let e = approve(&p, "AR-hb-1", terms(Exit::Handback)).await;
    TWICE.with(|t| t.set(true));
    let out = asl(&p, &e, None).await.unwrap();
    TWICE.with(|t| t.set(false));
    let a = account();
    let (acct, r) = state(&p).await;
    assert_eq!(acct.status, AccountStatus::Released);
    assert_eq!(r.step, Some(ReleaseStep::Certified));
    assert_eq!(
        acct.root_email.as_str(),
        OURS,
        "our old address stays on the item, retired"
    );
    assert_eq!(p.email.email(&a).unwrap().as_str(), CUSTOMER_EMAIL);
    let primary = p.contacts.primary(&a).unwrap();
    assert_eq!(
        (primary.name.as_str(), primary.phone.as_str()),
        ("Customer Ops", "+4930123456")
    );
    for kind in ["BILLING", "OPERATIONS", "SECURITY"] {
        assert_eq!(
            p.contacts.alternate(&a, kind).unwrap().email.as_deref(),
            Some(CUSTOMER_EMAIL)
        );
    }
    // Ours removed; a login profile without a password for the customer's "Forgot password".
    assert_eq!(
        p.root.root(&a),
        Posture {
            login_profile: true,
            ..Posture::default()
        }
    );
    assert_eq!(p.vault.stored_versions(&a).await, 0);
    assert!(
        p.transient.stored().is_empty(),
        "transient secrets shredded"
    );
    // The certificate verifies offline and names what was handed over.
    let cert = release::certificate(&p, &a).await.unwrap();
    let st = verify_certificate(&cert, &p.signer.public_key_der()).unwrap();
    assert_eq!(out["statement"]["account_id"], json!(a.as_str()));
    assert_eq!(st.new_root_email.as_deref(), Some(CUSTOMER_EMAIL));
    assert_eq!(st.exit, "handback");
    assert_eq!(st.approved_by, vec![APPROVER.to_owned()]);
    assert!(
        st.removed.iter().any(|x| x.contains("root-ours")),
        "{:?}",
        st.removed
    );
    assert!(st.removed.iter().any(|x| x.contains("AKIASTRAYROOTKEY")));
    assert!(st.removed.contains(&"login-profile".to_owned()));
    let records = p.audit.records(&Stream::Account(a.clone()).key());
    let head = records
        .iter()
        .find(|r| r.seq == st.audit_head.sequence)
        .unwrap();
    assert_eq!(head.hash, st.audit_head.hash);
    assert_eq!(
        records.last().unwrap().action,
        "release.certified",
        "the certificate names the chain head before its own record"
    );
    // Flip one byte of the statement: it no longer verifies.
    let i = cert.find(CUSTOMER_EMAIL).unwrap();
    let mut bytes = cert.clone().into_bytes();
    bytes[i] = b'0';
    let flipped = String::from_utf8(bytes).unwrap();
    assert!(verify_certificate(&flipped, &p.signer.public_key_der()).is_err());
    let s = release::status(&p, &a).await.unwrap();
    assert!(s.certificate_available && s.point_of_no_return_passed && !s.cancel_allowed);
}

#[tokio::test]
async fn a_wrong_code_withdraws_the_point_of_no_return_and_resends_are_bounded() {
    let p = setup().await;
    let e = approve(&p, "AR-hb-wrong", terms(Exit::Handback)).await;
    let x = e.name.as_str();
    run(&p, begin(&e)).await.unwrap();
    run(&p, step("start-email-update", x, json!({})))
        .await
        .unwrap();
    run(&p, step("await-code", x, json!({"task_token": "t1"})))
        .await
        .unwrap();
    // Malformed codes are refused before anything is stored.
    let op = p.acting_as(OPERATOR);
    for bad in ["12345", "1234567", "12 456", "12345!"] {
        let r = release::relay_code(&op, &account(), &SecretString::from(bad.to_owned())).await;
        assert_eq!(
            r.unwrap_err().error_type,
            ErrorType::ValidationError,
            "{bad}"
        );
    }
    release::relay_code(&op, &account(), &SecretString::from("ZZ9999".to_owned()))
        .await
        .unwrap();
    assert_eq!(
        p.waits.completed().len(),
        1,
        "the relay completed the code wait"
    );
    let err = err_type(run(&p, step("accept-email-update", x, json!({}))).await);
    assert_eq!(err, ErrorType::WrongCode);
    let (_, r) = state(&p).await;
    assert_eq!(r.point_of_no_return_at, None);
    assert_eq!(r.step, Some(ReleaseStep::AwaitingCode));
    assert!(
        release::status(&p, &account())
            .await
            .unwrap()
            .cancel_allowed
    );
    // The right code of an earlier ask is void after a resend.
    let first = p.email.last_code(&account()).unwrap();
    for n in 1..=release::MAX_RESENDS {
        let out = run(&p, step("resend", x, json!({}))).await.unwrap();
        assert_eq!(out["resends"], json!(n));
    }
    release::relay_code(&op, &account(), &SecretString::from(first))
        .await
        .unwrap();
    assert_eq!(
        err_type(run(&p, step("accept-email-update", x, json!({}))).await),
        ErrorType::WrongCode
    );
    assert_eq!(
        err_type(run(&p, step("resend", x, json!({}))).await),
        ErrorType::CodeNotReceived
    );
    assert_eq!(p.email.email(&account()).unwrap().as_str(), OURS);
}

#[tokio::test]
async fn an_address_taken_by_another_account_is_terminal_and_changes_nothing() {
    let p = setup().await;
    p.email.take(CUSTOMER_EMAIL);
    let e = approve(&p, "AR-hb-conflict", terms(Exit::Handback)).await;
    run(&p, begin(&e)).await.unwrap();
    let r = run(&p, step("start-email-update", &e.name, json!({}))).await;
    assert_eq!(err_type(r), ErrorType::EmailConflict);
    assert!(!ErrorType::EmailConflict.is_retryable());
    let (acct, r) = state(&p).await;
    assert_eq!(
        (acct.status, r.point_of_no_return_at),
        (AccountStatus::Releasing, None)
    );
    assert_eq!(p.email.email(&account()).unwrap().as_str(), OURS);
}

#[tokio::test]
async fn cancel_before_the_point_of_no_return_restores_custody_and_after_it_is_refused() {
    let p = setup().await;
    let e = approve(&p, "AR-hb-cancel", terms(Exit::Handback)).await;
    let x = e.name.as_str();
    run(&p, begin(&e)).await.unwrap();
    run(&p, step("start-email-update", x, json!({})))
        .await
        .unwrap();
    p.executions.wait_for_task(&e.arn, "tok-code");
    run(&p, step("await-code", x, json!({"task_token": "tok-code"})))
        .await
        .unwrap();
    let op = p.acting_as(OPERATOR);
    let c = release::cancel(&op, &account()).await.unwrap();
    assert_eq!((c.restored, c.tasks_failed, c.already), (false, 1, false));
    let sent = p.executions.sent();
    assert!(matches!(&sent[0].1, TaskResult::Failure { error, .. } if error == "Cancelled"));
    // Every later step refuses; the Catch's cancel step restores custody.
    let r = run(&p, step("accept-email-update", x, json!({}))).await;
    assert_eq!(err_type(r), ErrorType::Cancelled);
    let r = run(
        &p,
        step("cancel", x, json!({"error": {"Error": "Cancelled"}})),
    )
    .await;
    assert_eq!(r.unwrap()["status"], json!("active"));
    let (acct, r) = state(&p).await;
    assert_eq!(acct.status, AccountStatus::Active);
    assert_eq!(r.step, Some(ReleaseStep::Cancelled));
    assert_eq!(r.cancel_requested_by.as_deref(), Some(OPERATOR));
    assert!(release::cancel(&op, &account()).await.unwrap().already);
    let a = actions(&p);
    assert!(
        a.contains(&"release.cancel-requested".to_owned())
            && a.contains(&"release.cancelled".to_owned())
    );

    // After the point of no return: refused, naming it.
    let p = setup().await;
    let e = approve(&p, "AR-hb-late", terms(Exit::Handback)).await;
    asl(&p, &e, Some(6)).await.unwrap_err();
    let (_, r) = state(&p).await;
    assert!(r.point_of_no_return_at.is_some(), "{:?}", r.step);
    let err = release::cancel(&p.acting_as(OPERATOR), &account())
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::Conflict);
    assert!(err.message.contains("email-accepted"), "{}", err.message);
}

#[tokio::test]
async fn cancel_of_a_release_whose_execution_stopped_restores_custody_at_once() {
    let p = setup().await;
    let e = approve(&p, "AR-close-c", terms(Exit::Close)).await;
    run(&p, begin(&e)).await.unwrap();
    p.executions.end(&e.arn, "FAILED");
    let c = release::cancel(&p.acting_as(OPERATOR), &account())
        .await
        .unwrap();
    assert!(c.restored);
    assert_eq!(state(&p).await.0.status, AccountStatus::Active);
}

#[tokio::test]
async fn a_transfer_fails_early_naming_each_unmet_precondition() {
    type Setup = fn(&rootwarden_testkit::release::MemoryRelease);
    let cases: [(&str, Setup); 4] = [
        ("7 days", |p| {
            p.orgs
                .add(&account(), MemberStatus::Active, now() - Duration::days(3))
        }),
        ("Control Tower", |p| {
            p.orgs.enroll_control_tower(&account(), true)
        }),
        ("SUSPENDED", |p| {
            p.orgs.set_status(&account(), MemberStatus::Suspended)
        }),
        ("not a member", |p| p.orgs.depart(&account())),
    ];
    for (want, arrange) in cases {
        let p = setup().await;
        arrange(&p);
        let e = approve(&p, "AR-tr-pre", terms(Exit::Transfer)).await;
        run(&p, begin(&e)).await.unwrap();
        let err = run(&p, step("check-transfer", &e.name, json!({})))
            .await
            .unwrap_err();
        assert_eq!(err.error_type, ErrorType::TransferPreconditionFailed);
        assert!(err.message.contains(want), "{want}: {}", err.message);
        assert_eq!(state(&p).await.1.point_of_no_return_at, None);
    }
}

#[tokio::test]
async fn a_transfer_waits_for_the_customers_invitation_only() {
    let p = setup().await;
    let e = approve(&p, "AR-tr-inv", terms(Exit::Transfer)).await;
    asl(&p, &e, Some(8)).await.unwrap_err(); // through create-login-profile
    assert_eq!(
        state(&p).await.1.step,
        Some(ReleaseStep::LoginProfileCreated)
    );
    let x = e.name.as_str();
    // Another organization's invitation is recorded and ignored.
    p.orgs.invite(&account(), invitation("o-stranger99", "aws"));
    let out = run(&p, step("check-invitation", x, json!({})))
        .await
        .unwrap();
    assert_eq!(out["found"], json!(false));
    assert_eq!(out["wait_seconds"], json!(10));
    let last = p
        .audit
        .records(&Stream::Account(account()).key())
        .pop()
        .unwrap();
    assert!(last.details.contains("o-stranger99"), "{}", last.details);
    assert_eq!(
        err_type(run(&p, step("accept-invitation", x, json!({}))).await),
        ErrorType::TransferPreconditionFailed
    );
    // The customer's, from another region group: refused.
    p.orgs
        .invite(&account(), invitation(CUSTOMER_ORG, "aws-cn"));
    let err = run(&p, step("check-invitation", x, json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::TransferPreconditionFailed);
    assert!(err.message.contains("region group"), "{}", err.message);
    assert!(p.orgs.accepted().is_empty());
}

#[tokio::test]
async fn the_invitation_wait_is_bounded_by_its_timeout() {
    let p = setup().await;
    let e = approve(&p, "AR-tr-late", terms(Exit::Transfer)).await;
    asl(&p, &e, Some(8)).await.unwrap_err();
    // 3600 s at 10 s doubling: 10+20+…+2560 = 5110 ≥ 3600 after 9 polls.
    let mut polls = 0;
    let err = loop {
        match run(&p, step("check-invitation", &e.name, json!({}))).await {
            Ok(v) => {
                assert_eq!(v["found"], json!(false));
                polls += 1;
            }
            Err(e) => break e,
        }
    };
    assert_eq!((err.error_type, polls), (ErrorType::StillPending, 9));
}

#[tokio::test]
async fn a_transfer_keeping_our_email_hands_over_the_rest_and_leaves() {
    let p = setup().await;
    let mut t = terms(Exit::Transfer);
    t.keep_email = true;
    let e = approve(&p, "AR-tr-keep", t).await;
    TWICE.with(|t| t.set(true));
    asl(&p, &e, None).await.unwrap();
    TWICE.with(|t| t.set(false));
    let a = account();
    let (acct, r) = state(&p).await;
    assert_eq!(acct.status, AccountStatus::Released);
    assert!(r.keep_email);
    assert_eq!(
        p.email.email(&a).unwrap().as_str(),
        OURS,
        "kept, as the customer asked"
    );
    assert_eq!(p.orgs.member(&a), None, "left our organization");
    assert_eq!(
        p.orgs.accepted(),
        vec![(a.clone(), format!("h-{CUSTOMER_ORG}"))]
    );
    let st = verify_certificate(
        &release::certificate(&p, &a).await.unwrap(),
        &p.signer.public_key_der(),
    )
    .unwrap();
    assert_eq!(st.new_root_email, None);
    assert_eq!(st.customer_org.as_deref(), Some(CUSTOMER_ORG));
    let ponr = actions(&p)
        .iter()
        .position(|x| x == "release.point-of-no-return")
        .unwrap();
    assert_eq!(actions(&p)[ponr + 1], "release.contacts-updated");
}

#[tokio::test]
async fn a_transfer_with_a_new_email_completes() {
    let p = setup().await;
    let e = approve(&p, "AR-tr-new", terms(Exit::Transfer)).await;
    asl(&p, &e, None).await.unwrap();
    assert_eq!(p.email.email(&account()).unwrap().as_str(), CUSTOMER_EMAIL);
    assert_eq!(state(&p).await.0.status, AccountStatus::Released);
}

#[tokio::test]
async fn begin_refuses_a_self_approved_or_tampered_start() {
    // Approved by its own requester (another session of the same person counts the same).
    let p = setup().await;
    let mut req = request("AR-self", terms(Exit::Handback));
    req.approvals = vec![format!("{REQUESTER}")];
    req.approver_persons = vec![REQUESTER.into()];
    p.access.put(req);
    let name = release::approval::execution_name(&account(), "AR-self");
    let s = release::Step::Begin {
        execution: name.clone(),
        execution_arn: format!("arn:aws:states:us-east-1:1:execution:release-handback:{name}"),
        input: start_input(Exit::Handback, "AR-self"),
    };
    let err = run(&p, s).await.unwrap_err();
    assert_eq!(err.error_type, ErrorType::AccessDenied);
    assert!(err.message.contains("requester"), "{}", err.message);
    assert_eq!(state_status(&p).await, AccountStatus::Active);
    assert_eq!(actions(&p), vec!["release.refused"]);

    // The input names another exit than the request approved, another account, or an
    // execution the request does not start.
    let p = setup().await;
    let e = approve(&p, "AR-ok", terms(Exit::Handback)).await;
    let mut other_exit = start_input(Exit::Close, "AR-ok");
    other_exit.exit = "close".into();
    let mut other_account = start_input(Exit::Handback, "AR-ok");
    other_account.account_id = "444455556666".into();
    for input in [other_exit, other_account] {
        let s = release::Step::Begin {
            execution: e.name.clone(),
            execution_arn: e.arn.clone(),
            input,
        };
        let err = run(&p, s).await.unwrap_err();
        assert_eq!(err.error_type, ErrorType::AccessDenied, "{}", err.message);
    }
    let s = release::Step::Begin {
        execution: "release-111122223333-AR-other".into(),
        execution_arn:
            "arn:aws:states:us-east-1:1:execution:release-handback:release-111122223333-AR-other"
                .into(),
        input: start_input(Exit::Handback, "AR-ok"),
    };
    assert_eq!(err_type(run(&p, s).await), ErrorType::AccessDenied);
    // A request with another reason never begins a release.
    let mut not_release = request("AR-nr", terms(Exit::Handback));
    not_release.reason = "billing-issue".into();
    p.access.put(not_release);
    let name = release::approval::execution_name(&account(), "AR-nr");
    let s = release::Step::Begin {
        execution: name.clone(),
        execution_arn: format!("arn:aws:states:us-east-1:1:execution:release-handback:{name}"),
        input: start_input(Exit::Handback, "AR-nr"),
    };
    assert_eq!(err_type(run(&p, s).await), ErrorType::AccessDenied);
    assert_eq!(state_status(&p).await, AccountStatus::Active);
    // A pending root password may be live: a decision first.
    let p = setup().await;
    p.vault
        .stage_pending(
            &account(),
            CredentialKind::RootPassword,
            "rotate-1",
            &SecretString::from("Pending-Pw-1234567!".to_owned()),
            &Actor {
                actor: "rotation".into(),
                correlation_id: "rotate-1".into(),
                reason: "max-age".into(),
            },
        )
        .await
        .unwrap();
    let e = approve(&p, "AR-pending", terms(Exit::Close)).await;
    assert_eq!(
        err_type(run(&p, begin(&e)).await),
        ErrorType::PendingDecisionRequired
    );
    assert_eq!(state_status(&p).await, AccountStatus::Active);
}

async fn state_status(p: &rootwarden_testkit::release::MemoryRelease) -> AccountStatus {
    p.store.item(&account()).await.unwrap().0.status
}

#[tokio::test]
async fn shred_due_shreds_after_ninety_days_only_and_reopens_a_reinstated_account() {
    let p = setup().await;
    let e = approve(&p, "AR-close-s", terms(Exit::Close)).await;
    asl(&p, &e, None).await.unwrap();
    let closed_at = state(&p).await.1.closed_at.unwrap();
    advance(&p, Duration::days(89));
    let r = release::shred_due(&p).await.unwrap();
    assert_eq!((r.shredded.len(), r.waiting), (0, 1));
    assert_eq!(p.vault.stored_versions(&account()).await, 1);
    advance(&p, Duration::days(2));
    let out = run(
        &p,
        serde_json::from_value(json!({"action": "shred-due"})).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(out["shredded"], json!([account().to_string()]));
    assert_eq!(p.vault.stored_versions(&account()).await, 0);
    let (acct, r) = state(&p).await;
    assert_eq!(
        (acct.status, r.step),
        (AccountStatus::Closed, Some(ReleaseStep::Shredded))
    );
    assert!(r.shredded_at.unwrap() >= closed_at + Duration::days(90));
    assert!(actions(&p).contains(&"release.vault-shredded".to_owned()));
    assert_eq!(
        release::shred_due(&p).await.unwrap().shredded.len(),
        0,
        "once"
    );

    // Reinstated inside the window: custody again, rotation due now.
    let p = setup().await;
    let e = approve(&p, "AR-close-r", terms(Exit::Close)).await;
    asl(&p, &e, None).await.unwrap();
    advance(&p, Duration::days(5));
    p.orgs.set_status(&account(), MemberStatus::Active);
    let r = release::shred_due(&p).await.unwrap();
    assert_eq!(r.reinstated, vec![account().to_string()]);
    let (acct, _) = state(&p).await;
    assert_eq!(acct.status, AccountStatus::Active);
    assert_eq!(acct.rotation_due, Some(clock_now(&p)));
    assert_eq!(p.vault.stored_versions(&account()).await, 1);
    assert!(actions(&p).contains(&"release.reinstated".to_owned()));
}

#[tokio::test]
async fn no_code_or_password_is_ever_stored_outside_the_vault() {
    let p = setup().await;
    let e = approve(&p, "AR-hb-secret", terms(Exit::Handback)).await;
    let x = e.name.as_str();
    run(&p, begin(&e)).await.unwrap();
    run(&p, step("start-email-update", x, json!({})))
        .await
        .unwrap();
    run(&p, step("await-code", x, json!({"task_token": "t"})))
        .await
        .unwrap();
    let mut codes = vec![p.email.last_code(&account()).unwrap()];
    release::relay_code(
        &p.acting_as(OPERATOR),
        &account(),
        &SecretString::from("QX7Z2K".to_owned()),
    )
    .await
    .unwrap();
    codes.push("QX7Z2K".into());
    run(&p, step("accept-email-update", x, json!({})))
        .await
        .unwrap_err();
    run(&p, step("resend", x, json!({}))).await.unwrap();
    run(&p, step("await-code", x, json!({"task_token": "t2"})))
        .await
        .unwrap();
    codes.push(p.email.last_code(&account()).unwrap());
    asl(&p, &e, None).await.unwrap();
    codes.push(p.email.last_code(&account()).unwrap());
    let mut everything = String::new();
    for stream in [Stream::Account(account()).key(), Stream::System.key()] {
        for r in p.audit.records(&stream) {
            everything.push_str(&format!("{r:?}\n"));
        }
    }
    everything.push_str(&p.store.dump().await);
    everything.push_str(&format!(
        "{:?}{:?}",
        p.waits.completed(),
        p.executions.executions()
    ));
    everything.push_str(&format!(
        "{:?}",
        release::status(&p, &account()).await.unwrap()
    ));
    for secret in codes.iter().map(String::as_str).chain([ROOT_PASSWORD]) {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
    assert!(!p.vault.holds(ROOT_PASSWORD).await, "shredded");
}

#[tokio::test]
async fn status_shows_the_step_what_it_waits_for_and_the_deadline() {
    let p = setup().await;
    let e = approve(&p, "AR-hb-status", terms(Exit::Handback)).await;
    run(&p, begin(&e)).await.unwrap();
    run(&p, step("start-email-update", &e.name, json!({})))
        .await
        .unwrap();
    run(
        &p,
        step(
            "await-code",
            &e.name,
            json!({"task_token": "t", "timeout_seconds": 7200}),
        ),
    )
    .await
    .unwrap();
    let s = release::status(&p, &account()).await.unwrap();
    assert_eq!(s.step.as_deref(), Some("awaiting-code"));
    assert_eq!(s.execution_state, "RUNNING");
    assert!(s.cancel_allowed && !s.point_of_no_return_passed && !s.certificate_available);
    assert_eq!(s.waiting_for.len(), 1);
    assert!(s.waiting_for[0].what.contains("release otp"));
    assert_eq!(
        s.waiting_for[0].deadline,
        rootwarden_core::registry::stamp(now() + Duration::seconds(7200))
    );
    assert!(p
        .waits
        .waiting(&account(), Category::VerificationCode, now())
        .await
        .unwrap()
        .iter()
        .any(|w| w.execution == e.name));
    let _ = ReleaseTerms::clone(&terms(Exit::Close));
}
