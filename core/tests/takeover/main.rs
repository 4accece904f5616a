//! The takeover use cases on their in-memory twins: a full takeover in each mode, the code's
//! troubles (wrong code, late code, the resend bound, an address AWS gives to another
//! account), two starts (one execution runs), and (in `resume`) kills between steps and inside
//! them: a fresh run of every step converges.

mod helpers;
mod resume;

use chrono::Duration;
use rootwarden_core::enforcement::Posture;
use rootwarden_core::executions::Executions;
use rootwarden_core::mail::Category;
use rootwarden_core::registry::{AccountMode, AccountStatus};
use rootwarden_core::takeover::{self, address, StartRequest, TakeoverStep, TakeoverStore};
use rootwarden_core::vault::CredentialKind;
use rootwarden_core::{AccountId, ErrorType};
use secrecy::SecretString;
use serde_json::{json, Value};

use helpers::*;

#[tokio::test]
async fn a_credential_less_takeover_takes_the_address_and_deletes_every_root_credential() {
    let ports = setup();
    let s = started(&ports, AccountMode::CredentialLess).await;
    take_email(
        &ports,
        &s.execution,
        &s.execution_arn,
        AccountMode::CredentialLess,
    )
    .await;
    let out = finish_credential_less(&ports, &s.execution).await;
    let a = account();
    let email = ports.email.email(&a).unwrap();
    assert!(address::is_scheme_address(&email, &a, DOMAIN), "{email}");
    assert_eq!(out["root_email"], json!(email.as_str()));
    assert_eq!(out["rotation_due"], Value::Null);
    assert_eq!(ports.root.root(&a), Posture::default());
    let (acct, t) = ports.store.get(&a).await.unwrap().unwrap();
    assert_eq!(acct.status, AccountStatus::Active);
    let t = t.unwrap();
    assert_eq!(t.step, None);
    assert_eq!(
        t.previous_email.as_deref(),
        Some("founder@customer.example")
    );
    assert_eq!(t.requested_by, OPERATOR);
    assert_eq!(
        actions(&ports),
        [
            "takeover.requested",
            "takeover.allocated",
            "takeover.email-update-started",
            "takeover.awaiting-code",
            "takeover.email-updated",
            "takeover.root-credentials-deleted",
            "takeover.keys-deleted",
            "takeover.completed"
        ]
    );
    // Nothing vaulted; the code never in an audit record.
    let code = ports.email.last_code(&a).unwrap();
    assert!(ports
        .audit
        .records(&format!("account/{a}"))
        .iter()
        .all(|r| !format!("{r:?}").contains(&code)));
    // A retry of activate is the same answer.
    assert_eq!(
        run(&ports, step("activate", &s.execution, json!({})))
            .await
            .unwrap(),
        out
    );
}

#[tokio::test]
async fn a_vaulted_takeover_enables_recovery_waits_for_the_humans_and_verifies_mfa() {
    let ports = setup();
    let s = started(&ports, AccountMode::Vaulted).await;
    let (e, a) = (s.execution.as_str(), account());
    take_email(&ports, e, &s.execution_arn, AccountMode::Vaulted).await;
    // The founder's MFA device is still on the root user: it goes (ours comes at await-mfa).
    ports.root.set_root(
        &a,
        Posture {
            mfa_devices: vec!["arn:aws:iam::111122223333:mfa/founder".into()],
            ..Posture::default()
        },
    );
    let out = run(&ports, step("enable-recovery", e, json!({})))
        .await
        .unwrap();
    assert!(ports.root.root(&a).mfa_devices.is_empty());
    assert_eq!(out["login_profile_created"], json!(true));
    assert_eq!(
        (
            out["password_current"].clone(),
            out["mfa_seed_current"].clone()
        ),
        (json!(false), json!(false))
    );
    assert!(ports.root.root(&a).login_profile);
    // (The rotation function prepares the pending password here.)
    run(
        &ports,
        step("await-reset-link", e, json!({"task_token": "tok-reset"})),
    )
    .await
    .unwrap();
    let wait = ports.waits.record(&a, Category::PasswordReset, e).unwrap();
    assert_eq!(wait.expires_at, now() + Duration::days(1));
    let st = takeover::status(&ports, &a).await.unwrap();
    assert_eq!(st.step.as_deref(), Some("awaiting-reset-link"));
    assert_eq!(st.waiting_for.len(), 1);
    assert_eq!(st.waiting_for[0].kind, "password-reset");
    // (Reset link, apply, finish: the rotation function promotes the password.)
    let r = run(
        &ports,
        step(
            "await-mfa",
            e,
            json!({"task_token": "tok-mfa", "timeout_seconds": 3600}),
        ),
    )
    .await;
    r.unwrap();
    assert!(ports.waits.record(&a, Category::Mfa, e).is_some());
    // No device, no seed: not enrolled.
    let err = run(&ports, step("verify-mfa", e, json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::MfaNotEnrolled);
    let mut p = ports.root.root(&a);
    p.mfa_devices
        .push("arn:aws:iam::111122223333:mfa/root".into());
    ports.root.set_root(&a, p);
    let err = run(&ports, step("verify-mfa", e, json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::MfaNotEnrolled, "{err}");
    ports
        .vault
        .seed(
            &a,
            CredentialKind::MfaSeed,
            &SecretString::from("JBSWY3DPEHPK3PXP"),
            "mfa-seed",
        )
        .await
        .unwrap();
    let out = run(&ports, step("verify-mfa", e, json!({}))).await.unwrap();
    assert_eq!(out["mfa_devices"], json!(1));
    // Resumed now (a stop after the MFA step): recovery says what is vaulted, so the state
    // machine skips the password and MFA phases, and our device stays.
    let out = run(&ports, step("enable-recovery", e, json!({})))
        .await
        .unwrap();
    assert_eq!(out["mfa_seed_current"], json!(true));
    assert_eq!(ports.root.root(&a).mfa_devices.len(), 1, "our device stays");
    run(&ports, step("delete-keys", e, json!({})))
        .await
        .unwrap();
    let out = run(&ports, step("activate", e, json!({}))).await.unwrap();
    assert_eq!(out["rotation_due"], json!("2027-03-01T10:00:00Z"));
    let p = ports.root.root(&a);
    assert!(p.login_profile && p.mfa_devices.len() == 1 && p.access_keys.is_empty());
    let (acct, _) = ports.store.get(&a).await.unwrap().unwrap();
    assert_eq!(acct.status, AccountStatus::Active);
    assert_eq!(acct.rotation_due, Some(now() + Duration::days(90)));
}

#[tokio::test]
async fn a_wrong_code_is_refused_and_a_resend_recovers() {
    let ports = setup();
    let (e, arn) = (
        "takeover-x",
        "arn:aws:states:r:1:execution:takeover:takeover-x",
    );
    run(&ports, allocate(e, arn, AccountMode::CredentialLess))
        .await
        .unwrap();
    run(&ports, step("start-email-update", e, json!({})))
        .await
        .unwrap();
    // Nothing is asked of AWS before the code's wait is registered.
    assert_eq!(ports.email.mailed(&account()), 0);
    run(&ports, await_code(e)).await.unwrap();
    assert_eq!(ports.email.mailed(&account()), 1);
    deliver_code(&ports, "000000", 1).await;
    let err = run(&ports, step("accept-email-update", e, json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::WrongCode);
    assert!(!err.message.contains("000000"));
    let out = run(&ports, step("resend", e, json!({}))).await.unwrap();
    assert_eq!(out["resends"], json!(1));
    // The new code is asked for once its wait is registered again.
    assert_eq!(ports.email.mailed(&account()), 1);
    run(&ports, await_code(e)).await.unwrap();
    assert_eq!(ports.email.mailed(&account()), 2);
    ports.clock.advance(Duration::seconds(1));
    let code = ports.email.last_code(&account()).unwrap();
    deliver_code(&ports, &code, 2).await;
    run(&ports, step("accept-email-update", e, json!({})))
        .await
        .unwrap();
    // No code at all is a wrong code too (the workflow resends).
    let ports = setup();
    run(&ports, allocate(e, arn, AccountMode::CredentialLess))
        .await
        .unwrap();
    run(&ports, step("start-email-update", e, json!({})))
        .await
        .unwrap();
    run(&ports, await_code(e)).await.unwrap();
    let err = run(&ports, step("accept-email-update", e, json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::WrongCode);
}

#[tokio::test]
async fn resends_are_bounded_then_code_not_received() {
    let ports = setup();
    let (e, arn) = (
        "takeover-x",
        "arn:aws:states:r:1:execution:takeover:takeover-x",
    );
    run(&ports, allocate(e, arn, AccountMode::CredentialLess))
        .await
        .unwrap();
    run(&ports, step("start-email-update", e, json!({})))
        .await
        .unwrap();
    run(&ports, await_code(e)).await.unwrap();
    for n in 1..=takeover::MAX_RESENDS {
        let out = run(&ports, step("resend", e, json!({}))).await.unwrap();
        assert_eq!(out["resends"], json!(n));
        run(&ports, await_code(e)).await.unwrap();
        // A retry of the await step does not void the code just asked for.
        run(&ports, await_code(e)).await.unwrap();
    }
    let err = run(&ports, step("resend", e, json!({}))).await.unwrap_err();
    assert_eq!(err.error_type, ErrorType::CodeNotReceived);
    assert_eq!(ports.email.mailed(&account()), 4);
    // The fail step records it; the account stays taking-over.
    let out = run(
        &ports,
        step(
            "fail",
            e,
            json!({"error": {"Error": "CodeNotReceived", "Cause": "no code"}}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(out["stopped"], json!("CodeNotReceived"));
    let (acct, t) = ports.store.get(&account()).await.unwrap().unwrap();
    assert_eq!(acct.status, AccountStatus::TakingOver);
    assert_eq!(t.unwrap().stopped.as_deref(), Some("CodeNotReceived"));
    assert_eq!(actions(&ports).last().unwrap(), "takeover.stopped");
}

#[tokio::test]
async fn an_address_of_another_aws_account_is_an_email_conflict() {
    let ports = setup();
    ports.tags.lock().unwrap().push("aaaabbbb".into());
    let (e, arn) = (
        "takeover-x",
        "arn:aws:states:r:1:execution:takeover:takeover-x",
    );
    run(&ports, allocate(e, arn, AccountMode::CredentialLess))
        .await
        .unwrap();
    ports
        .email
        .take(&format!("aws-{}-aaaabbbb@{DOMAIN}", account()));
    run(&ports, step("start-email-update", e, json!({})))
        .await
        .unwrap();
    let err = run(&ports, await_code(e)).await.unwrap_err();
    assert_eq!(err.error_type, ErrorType::EmailConflict);
    run(
        &ports,
        step("fail", e, json!({"error": {"Error": "EmailConflict"}})),
    )
    .await
    .unwrap();
    // Started again: a new address is drawn, the takeover completes.
    ports.tags.lock().unwrap().push("ccccdddd".into());
    let (e2, arn2) = (
        "takeover-y",
        "arn:aws:states:r:1:execution:takeover:takeover-y",
    );
    take_email(&ports, e2, arn2, AccountMode::CredentialLess).await;
    assert_eq!(
        ports.email.email(&account()).unwrap().as_str(),
        format!("aws-{}-ccccdddd@{DOMAIN}", account())
    );
}

#[tokio::test]
async fn start_refuses_accounts_in_custody_and_a_running_takeover() {
    let ports = setup();
    let s = started(&ports, AccountMode::CredentialLess).await;
    assert!(s
        .execution
        .starts_with("takeover-111122223333-20261201T100000Z-"));
    run(
        &ports,
        allocate(&s.execution, &s.execution_arn, AccountMode::CredentialLess),
    )
    .await
    .unwrap();
    // A second start while the first runs: refused, naming it.
    let err = takeover::start(
        &ports.acting_as(OPERATOR),
        SM,
        &StartRequest {
            account_id: account(),
            mode: AccountMode::Vaulted,
            reason: "again".into(),
            ticket: "CHG-43".into(),
            code_timeout_seconds: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type, ErrorType::Conflict);
    assert!(err.message.contains(&s.execution));
    // Two started before either allocated: the second's allocation loses.
    let other = "arn:aws:states:us-east-1:999988887777:execution:takeover:takeover-b";
    ports
        .executions
        .start(SM, "takeover-b", "{}")
        .await
        .unwrap();
    let err = run(&ports, allocate("takeover-b", other, AccountMode::Vaulted))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::Conflict);
    run(
        &ports,
        step(
            "fail",
            "takeover-b",
            json!({"error": {"Error": "Conflict"}}),
        ),
    )
    .await
    .unwrap();
    let (_, t) = ports.store.get(&account()).await.unwrap().unwrap();
    assert_eq!(
        t.unwrap().execution,
        s.execution,
        "the loser changed nothing"
    );
    // Once active, a start is refused.
    take_email(
        &ports,
        &s.execution,
        &s.execution_arn,
        AccountMode::CredentialLess,
    )
    .await;
    finish_credential_less(&ports, &s.execution).await;
    let err = takeover::start(
        &ports.acting_as(OPERATOR),
        SM,
        &StartRequest {
            account_id: account(),
            mode: AccountMode::Vaulted,
            reason: "again".into(),
            ticket: "CHG-44".into(),
            code_timeout_seconds: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type, ErrorType::Conflict);
    assert!(err.message.contains("active"));
}

#[tokio::test]
async fn same_second_starts_get_different_names() {
    let mut rng = rand::thread_rng();
    let a = takeover::execution_name(&account(), now(), &mut rng);
    let b = takeover::execution_name(&account(), now(), &mut rng);
    assert_ne!(a, b);
    assert!(a.len() <= 80);
}

#[tokio::test]
async fn status_names_the_step_and_what_it_waits_for() {
    let ports = setup();
    let s = started(&ports, AccountMode::CredentialLess).await;
    run(
        &ports,
        allocate(&s.execution, &s.execution_arn, AccountMode::CredentialLess),
    )
    .await
    .unwrap();
    run(&ports, step("start-email-update", &s.execution, json!({})))
        .await
        .unwrap();
    run(
        &ports,
        step(
            "await-code",
            &s.execution,
            json!({"task_token": "t", "timeout_seconds": 600}),
        ),
    )
    .await
    .unwrap();
    let st = takeover::status(&ports, &account()).await.unwrap();
    assert_eq!(st.status, "taking-over");
    assert_eq!(st.execution_state.as_deref(), Some("RUNNING"));
    assert_eq!(
        st.step.as_deref(),
        Some(TakeoverStep::AwaitingCode.as_str())
    );
    assert_eq!(st.waiting_for[0].kind, "verification-code");
    assert_eq!(st.waiting_for[0].deadline, "2026-12-01T10:10:00Z");
    let unknown = AccountId::parse("444455556666").unwrap();
    assert_eq!(
        takeover::status(&ports, &unknown)
            .await
            .unwrap_err()
            .error_type,
        ErrorType::NotFound
    );
}

#[tokio::test]
async fn fail_records_for_an_owner_and_a_loser_but_not_when_the_registry_is_down() {
    let ports = setup();
    let (e, arn) = (
        "takeover-x",
        "arn:aws:states:r:1:execution:takeover:takeover-x",
    );
    run(&ports, allocate(e, arn, AccountMode::CredentialLess))
        .await
        .unwrap();
    ports.store.fail(true);
    let err = run(
        &ports,
        step("fail", e, json!({"error": {"Error": "AwsError"}})),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type, ErrorType::TransientAwsError);
    ports.store.fail(false);
    let before = actions(&ports).len();
    // Retried: recorded once on the owner's item.
    for _ in 0..2 {
        run(
            &ports,
            step("fail", e, json!({"error": {"Error": "AwsError"}})),
        )
        .await
        .unwrap();
    }
    assert_eq!(actions(&ports).len(), before + 1);
    let (_, t) = ports.store.get(&account()).await.unwrap().unwrap();
    assert_eq!(t.unwrap().stopped.as_deref(), Some("AwsError"));
    // A name outside the vocabulary is not recorded as given.
    run(
        &ports,
        step(
            "fail",
            "takeover-other",
            json!({"error": {"Error": "<script>"}}),
        ),
    )
    .await
    .unwrap();
    let last = ports
        .audit
        .records(&format!("account/{}", account()))
        .pop()
        .unwrap();
    assert_eq!(last.action, "takeover.stopped");
    assert!(
        last.details.contains("\"error\":\"InternalError\""),
        "{}",
        last.details
    );
}
