//! Break-glass access against the emulator, with distinct principals: IAM users created on the
//! emulator, each with its own access keys, identified through STS GetCallerIdentity exactly as
//! the CLI identifies its caller.
//!
//! Each piece of code acts as the principal that runs it in production: the access use cases as
//! the access function's role, the expiry job as the access-expiry function's role, onboarding
//! and `rotation start` as an operator (the CLI's `OperatorRole`), and the people using
//! break-glass access as IAM users allowed to call the access function's URL.

use std::process::Command;
use std::sync::Arc;

use chrono::{Duration, Utc};
use rootwarden::access::{self, AccessStatus, Deps, NewRequest};
use rootwarden::audit::{AuditLog, DynamoAuditLog, Stream};
use rootwarden::clock::FixedClock;
use rootwarden::registry::RotationReason;
use rootwarden::rotation::{self, Clients};
use rootwarden::vault::totp::{self, TotpSeed};
use rootwarden::{AccountId, Clock, ErrorType, SystemClock};
use rootwarden_tests::{cli_bin, custody, Emulator};
use secrecy::{ExposeSecret, SecretString};

const PASSWORD: &str = "Onboard-Pa55word!<current>";
const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// An IAM user on the emulator: its ARN (from STS, with its own keys) and keys.
struct Principal {
    arn: String,
    key: String,
    secret: String,
}

async fn principal(emu: &Emulator, name: &str) -> Principal {
    let p = emu.break_glass_user(name).await.unwrap();
    assert!(p.arn.ends_with(&format!(":user/{name}")), "{}", p.arn);
    Principal {
        arn: p.arn,
        key: p.access_key_id,
        secret: p.secret_access_key,
    }
}

struct World {
    emu: Emulator,
    alice: Principal,   // requester
    bob: Principal,     // approver
    carol: Principal,   // admin and approver
    mallory: Principal, // nobody
    policy: String,
}

async fn world(extra_reasons: &str) -> World {
    world_in(Emulator::with_stack().await.unwrap(), extra_reasons).await
}

async fn world_in(emu: Emulator, extra_reasons: &str) -> World {
    let alice = principal(&emu, "alice").await;
    let bob = principal(&emu, "bob").await;
    let carol = principal(&emu, "carol").await;
    let mallory = principal(&emu, "mallory").await;
    let policy = format!(
        r#"{{"principals": [
            {{"arn": "{}", "roles": ["requester"]}},
            {{"arn": "{}", "roles": ["approver"]}},
            {{"arn": "{}", "roles": ["approver", "admin", "requester"]}}
        ], "ticket_pattern": "^INC-[0-9]+$", "approval_ttl_minutes": 60,
        "reasons": {{{extra_reasons}}}}}"#,
        alice.arn, bob.arn, carol.arn
    );
    World {
        emu,
        alice,
        bob,
        carol,
        mallory,
        policy,
    }
}

/// The access use cases' dependencies, acting as the role of `function` (the access function,
/// or the access-expiry function for the scheduled expiry).
async fn deps_as(w: &World, function: &str, clock: Arc<dyn Clock>) -> Deps {
    let mut config = custody::config(&w.emu);
    config.access_policy = Some(w.policy.clone());
    let sdk = w.emu.role_config(function).await;
    Deps::new(
        &config,
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_kms::Client::new(&sdk),
        clock,
    )
    .unwrap()
}

/// As the access function runs them, at `clock`.
async fn deps_at(w: &World, clock: Arc<dyn Clock>) -> Deps {
    deps_as(w, "AccessFunction", clock).await
}

async fn deps(w: &World) -> Deps {
    deps_at(w, Arc::new(SystemClock)).await
}

/// As the access-expiry function (the schedule's job) runs them, at `clock`.
async fn expiry_deps_at(w: &World, clock: Arc<dyn Clock>) -> Deps {
    deps_as(w, "AccessExpiryFunction", clock).await
}

/// Custody dependencies as the CLI has them: a session of `OperatorRole` (alice's).
async fn operator_deps(emu: &Emulator) -> rotation::Deps {
    let op = emu.operator("alice");
    rotation::Deps::new(
        &custody::config(emu),
        Clients::new(&emu.sdk_config_as(op).await),
        Arc::new(SystemClock),
        op.arn.clone(),
    )
}

async fn onboarded(w: &World, n: u64) -> AccountId {
    let a = custody::account(515, n);
    let d = operator_deps(&w.emu).await;
    custody::onboard(&d, &a, PASSWORD, Some(SEED))
        .await
        .unwrap();
    a
}

fn ask(account: &AccountId, reason: &str, ticket: &str, minutes: Option<u32>) -> NewRequest {
    NewRequest {
        account: account.clone(),
        reason: reason.into(),
        ticket: ticket.into(),
        duration_minutes: minutes,
        release: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dual_control_checkout_shows_the_secrets_once_and_marks_rotation() {
    let w = world("").await;
    let d = deps(&w).await;
    let a = onboarded(&w, 1).await;

    // Refusals, each by name and each audited.
    let e = access::request(&d, &w.mallory.arn, ask(&a, "billing-issue", "INC-1", None))
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::AccessDenied, "{e}");
    let e = access::request(&d, &w.alice.arn, ask(&a, "curiosity", "INC-1", None))
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::ValidationError);
    assert!(e.message.contains("billing-issue"), "{e}");
    let e = access::request(&d, &w.alice.arn, ask(&a, "billing-issue", " ", None))
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::ValidationError);
    let e = access::request(&d, &w.alice.arn, ask(&a, "billing-issue", "T-none", None))
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::NotFound);
    let e = access::request(
        &d,
        &w.alice.arn,
        ask(&a, "billing-issue", "INC-1", Some(61)),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.error_type,
        ErrorType::ValidationError,
        "longer than the reason allows"
    );
    let refused = custody::audit_actions(&w.emu, &a).await;
    assert_eq!(
        refused.iter().filter(|x| *x == "access.refused").count(),
        5,
        "{refused:?}"
    );

    let r = access::request(
        &d,
        &w.alice.arn,
        ask(&a, "billing-issue", "INC-1", Some(30)),
    )
    .await
    .unwrap();
    assert_eq!(r.status, AccessStatus::Requested);
    // Not yet approved; self-approval is refused; strangers cannot approve.
    let e = access::checkout(&d, &w.alice.arn, &r.id).await.unwrap_err();
    assert_eq!(e.error_type, ErrorType::Conflict);
    let e = access::approve(&d, &w.alice.arn, &r.id).await.unwrap_err();
    assert_eq!(e.error_type, ErrorType::AccessDenied);
    let e = access::approve(&d, &w.mallory.arn, &r.id)
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::AccessDenied);
    let r = access::approve(&d, &w.bob.arn, &r.id).await.unwrap();
    assert_eq!(r.status, AccessStatus::Approved);
    assert_eq!(r.approvals, vec![w.bob.arn.clone()]);

    // Only the requester checks out.
    for other in [&w.bob, &w.mallory, &w.carol] {
        let e = access::checkout(&d, &other.arn, &r.id).await.unwrap_err();
        assert_eq!(e.error_type, ErrorType::AccessDenied);
    }
    let before = Utc::now();
    let shown = access::checkout(&d, &w.alice.arn, &r.id).await.unwrap();
    assert_eq!(shown.password.as_ref().unwrap().expose_secret(), PASSWORD);
    let seed = TotpSeed::parse(&SecretString::from(SEED.to_owned())).unwrap();
    let expected = [before, Utc::now()].map(|t| {
        totp::code(&seed, t)
            .unwrap()
            .code
            .expose_secret()
            .to_owned()
    });
    let code = shown.totp.as_ref().unwrap().code.expose_secret().to_owned();
    assert!(expected.contains(&code), "{code} not in {expected:?}");
    assert!(shown.pending.is_none());
    assert_eq!(shown.request.status, AccessStatus::CheckedOut);
    let ends = shown.request.expires_at.unwrap();
    assert!(ends > before + Duration::minutes(29) && ends <= Utc::now() + Duration::minutes(30));
    // The check-out marked the account for rotation: the sweep picks it up now.
    let reg = d.registry.get(&a).await.unwrap().unwrap();
    assert_eq!(reg.rotation_reason, Some(RotationReason::Checkout));
    assert!(reg.rotation_due.unwrap() <= Utc::now());
    // Shown once.
    let e = access::checkout(&d, &w.alice.arn, &r.id).await.unwrap_err();
    assert_eq!(e.error_type, ErrorType::Conflict);
    assert!(e.message.contains("once"), "{e}");

    // Exclusive: another approved request of the account cannot check out meanwhile.
    let r2 = access::request(&d, &w.carol.arn, ask(&a, "root-only-task", "INC-2", None))
        .await
        .unwrap();
    access::approve(&d, &w.bob.arn, &r2.id).await.unwrap();
    let e = access::checkout(&d, &w.carol.arn, &r2.id)
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::Conflict);
    assert!(e.message.contains(&r.id), "{e}");
    // Check-in: by a stranger refused; by the requester done; then the other may check out.
    let e = access::checkin(&d, &w.mallory.arn, &r.id)
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::AccessDenied);
    let done = access::checkin(&d, &w.alice.arn, &r.id).await.unwrap();
    assert_eq!(done.status, AccessStatus::CheckedIn);
    assert!(access::locks(&d).await.unwrap().is_empty());
    let shown2 = access::checkout(&d, &w.carol.arn, &r2.id).await.unwrap();
    assert_eq!(shown2.password.as_ref().unwrap().expose_secret(), PASSWORD);
    access::checkin(&d, &w.carol.arn, &r2.id).await.unwrap();

    let all = custody::audit_actions(&w.emu, &a).await;
    for expected in [
        "access.requested",
        "access.approved",
        "access.checked-out",
        "access.checked-in",
        "access.refused",
    ] {
        assert!(
            all.iter().any(|x| x == expected),
            "{expected} missing: {all:?}"
        );
    }
    custody::assert_audit_intact(&w.emu, None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_checkouts_of_one_account_let_exactly_one_through() {
    let w = world("").await;
    let d = deps(&w).await;
    let a = onboarded(&w, 2).await;
    let mut ids = Vec::new();
    for p in [&w.alice, &w.carol] {
        let r = access::request(&d, &p.arn, ask(&a, "billing-issue", "INC-7", None))
            .await
            .unwrap();
        access::approve(&d, &w.bob.arn, &r.id).await.unwrap();
        ids.push((p.arn.clone(), r.id));
    }
    let (x, y) = tokio::join!(
        access::checkout(&d, &ids[0].0, &ids[0].1),
        access::checkout(&d, &ids[1].0, &ids[1].1)
    );
    assert_eq!(
        [x.is_ok(), y.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{x:?} {y:?}"
    );
    let loser = if x.is_ok() { y } else { x }.unwrap_err();
    assert_eq!(loser.error_type, ErrorType::Conflict, "{loser}");
    assert_eq!(access::locks(&d).await.unwrap().len(), 1);
    custody::assert_audit_intact(&w.emu, None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn expiry_expired_approval_revoke_and_self_service() {
    let w = world(r#""security-incident": {"max_minutes": 30, "self_service": true}"#).await;
    let d = deps(&w).await;
    let a = onboarded(&w, 3).await;
    let now = Utc::now();

    // An approval not used within its lifetime expires.
    let r = access::request(&d, &w.alice.arn, ask(&a, "billing-issue", "INC-3", None))
        .await
        .unwrap();
    access::approve(&d, &w.bob.arn, &r.id).await.unwrap();
    let later = deps_at(&w, Arc::new(FixedClock(now + Duration::minutes(61)))).await;
    let e = access::checkout(&later, &w.alice.arn, &r.id)
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::AccessDenied);
    assert!(e.message.contains("expired"), "{e}");
    assert_eq!(
        access::get(&d, &r.id).await.unwrap().unwrap().status,
        AccessStatus::Expired
    );

    // A check-out past its end is checked in by the scheduled job.
    let r = access::request(
        &d,
        &w.alice.arn,
        ask(&a, "billing-issue", "INC-4", Some(15)),
    )
    .await
    .unwrap();
    access::approve(&d, &w.bob.arn, &r.id).await.unwrap();
    access::checkout(&d, &w.alice.arn, &r.id).await.unwrap();
    let expiry = expiry_deps_at(&w, Arc::new(SystemClock)).await;
    let early = access::expire_due(&expiry, "access-expiry").await.unwrap();
    assert_eq!((early.active, early.expired.len()), (1, 0));
    let after = expiry_deps_at(&w, Arc::new(FixedClock(now + Duration::minutes(16)))).await;
    let report = access::expire_due(&after, "access-expiry").await.unwrap();
    assert_eq!(report.expired, vec![r.id.clone()], "{report:?}");
    assert!(access::locks(&d).await.unwrap().is_empty());
    let ended = access::get(&d, &r.id).await.unwrap().unwrap();
    assert_eq!(ended.status, AccessStatus::Expired);
    assert_eq!(ended.ended_by.as_deref(), Some("access-expiry"));

    // Revoke: admins only; ends a check-out and frees the account.
    let r = access::request(&d, &w.alice.arn, ask(&a, "root-only-task", "INC-5", None))
        .await
        .unwrap();
    access::approve(&d, &w.carol.arn, &r.id).await.unwrap();
    access::checkout(&d, &w.alice.arn, &r.id).await.unwrap();
    for not_admin in [&w.alice, &w.bob] {
        let e = access::revoke(&d, &not_admin.arn, &r.id, "stop")
            .await
            .unwrap_err();
        assert_eq!(e.error_type, ErrorType::AccessDenied);
    }
    let revoked = access::revoke(&d, &w.carol.arn, &r.id, "incident over")
        .await
        .unwrap();
    assert_eq!(revoked.status, AccessStatus::Revoked);
    assert!(access::locks(&d).await.unwrap().is_empty());
    let e = access::checkin(&d, &w.alice.arn, &r.id).await.unwrap_err();
    assert_eq!(e.error_type, ErrorType::Conflict);

    // Deny is final.
    let r = access::request(&d, &w.alice.arn, ask(&a, "billing-issue", "INC-6", None))
        .await
        .unwrap();
    access::deny(&d, &w.bob.arn, &r.id, "use the billing console role")
        .await
        .unwrap();
    let e = access::approve(&d, &w.carol.arn, &r.id).await.unwrap_err();
    assert_eq!(e.error_type, ErrorType::Conflict);

    // Self-service reason: approved on request, with a review ticket for someone else.
    let r = access::request(
        &d,
        &w.alice.arn,
        ask(&a, "security-incident", "INC-9", None),
    )
    .await
    .unwrap();
    assert_eq!(r.status, AccessStatus::Approved);
    let review = r.review_ticket.clone().unwrap();
    let t = rootwarden::tickets::TicketStore::get(&d.tickets, &review)
        .await
        .unwrap()
        .unwrap();
    assert!(t.subject.contains("Review self-service"), "{}", t.subject);
    let shown = access::checkout(&d, &w.alice.arn, &r.id).await.unwrap();
    assert_eq!(shown.password.as_ref().unwrap().expose_secret(), PASSWORD);
    custody::assert_audit_intact(&w.emu, None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_apply_shows_current_and_pending_and_needs_an_awaiting_rotation() {
    // The stack's rotation state machine and rotation function bring a real rotation to its
    // apply step (the access role may describe only that state machine's executions).
    rootwarden_tests::build_functions().unwrap();
    let w = world_in(Emulator::with_functions().await.unwrap(), "").await;
    let d = deps(&w).await;
    let a = onboarded(&w, 4).await;
    let e = access::request(&d, &w.alice.arn, ask(&a, "rotation-apply", "INC-8", None))
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::ValidationError);

    // A running execution and its apply step: `rootwarden rotation start`, as an operator.
    let ops = operator_deps(&w.emu).await;
    let exec = rotation::start(
        &ops,
        &custody::rotation_state_machine(&w.emu),
        &a,
        Some(600),
    )
    .await
    .unwrap();
    let prepared = custody::awaiting_apply(&ops, &a, &exec).await;
    assert_eq!(
        (prepared.current_version, prepared.pending_version),
        (Some(1), 2)
    );
    let d = d.with_executions(aws_sdk_sfn::Client::new(
        &w.emu.role_config("AccessFunction").await,
    ));
    let due_before = d.registry.get(&a).await.unwrap().unwrap().rotation_due;

    let r = access::request(&d, &w.alice.arn, ask(&a, "rotation-apply", "INC-8", None))
        .await
        .unwrap();
    access::approve(&d, &w.bob.arn, &r.id).await.unwrap();
    let shown = access::checkout(&d, &w.alice.arn, &r.id).await.unwrap();
    assert_eq!(shown.password.as_ref().unwrap().expose_secret(), PASSWORD);
    let (v, pending) = shown.pending.as_ref().expect("pending shown");
    assert_eq!(*v, prepared.pending_version);
    assert_ne!(pending.expose_secret(), PASSWORD);
    assert_eq!(pending.expose_secret().len(), 32);
    // No second rotation for applying this one.
    assert_eq!(
        d.registry.get(&a).await.unwrap().unwrap().rotation_due,
        due_before
    );
    custody::assert_audit_intact(&w.emu, None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_without_its_audit_record() {
    let w = world("").await;
    let d = deps(&w).await;
    let a = onboarded(&w, 5).await;
    let r = access::request(&d, &w.alice.arn, ask(&a, "billing-issue", "INC-10", None))
        .await
        .unwrap();
    access::approve(&d, &w.bob.arn, &r.id).await.unwrap();
    // The audit table becomes unavailable (here: the check-out's audit writes go to a table
    // that does not exist, and that the access role may not write either).
    let mut broken = deps(&w).await;
    let ddb = aws_sdk_dynamodb::Client::new(&w.emu.role_config("AccessFunction").await);
    broken.audit = DynamoAuditLog::new(
        ddb.clone(),
        "audit-table-unavailable",
        Arc::new(SystemClock),
    );
    // The ledger writes the check-out's audit record in its transaction.
    broken.ledger = access::DynamoAccessLedger::new(
        ddb,
        broken.ledger.table().to_owned(),
        broken.audit.clone(),
    );
    let e = access::checkout(&broken, &w.alice.arn, &r.id)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e.error_type,
            ErrorType::AuditWriteFailed | ErrorType::AwsError | ErrorType::TransientAwsError
        ),
        "{e}"
    );
    assert!(!e.message.contains(PASSWORD));
    let still = access::get(&d, &r.id).await.unwrap().unwrap();
    assert_eq!(
        still.status,
        AccessStatus::Approved,
        "nothing was checked out"
    );
    assert!(access::locks(&d).await.unwrap().is_empty());
    // With the audit log back, the same request checks out.
    let shown = access::checkout(&d, &w.alice.arn, &r.id).await.unwrap();
    assert_eq!(shown.password.as_ref().unwrap().expose_secret(), PASSWORD);
}

/// The access function's policy, as a deployment sets it (the template's `AccessPolicy`).
async fn set_policy(emu: &Emulator, policy: &str) {
    emu.set_function_env("AccessFunction", "ROOTWARDEN_ACCESS_POLICY", policy)
        .await
        .unwrap();
}

/// The CLI signing with `who`'s keys; the policy is the function's, not in the CLI's environment.
fn cli_as(w: &World, who: &Principal, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(cli_bin())
        .args(args)
        .envs(w.emu.process_env())
        .env("AWS_ACCESS_KEY_ID", &who.key)
        .env("AWS_SECRET_ACCESS_KEY", &who.secret)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("ROOTWARDEN_ACCESS_POLICY")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CLI calls the access function URL with SigV4; who did what is the identity AWS
/// authenticated, not anything the caller typed.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_takes_the_caller_from_the_signed_request() {
    rootwarden_tests::build_functions().unwrap();
    let w = world_in(Emulator::with_functions().await.unwrap(), "").await;
    set_policy(&w.emu, &w.policy).await;
    let a = onboarded(&w, 6).await;
    let (code, _, err) = cli_as(
        &w,
        &w.mallory,
        &[
            "access",
            "request",
            "--account",
            a.as_str(),
            "--reason",
            "billing-issue",
            "--ticket",
            "INC-11",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("not authorized"), "{err}");
    let (code, out, err) = cli_as(
        &w,
        &w.carol,
        &[
            "access",
            "request",
            "--account",
            a.as_str(),
            "--reason",
            "billing-issue",
            "--ticket",
            "INC-11",
            "--duration",
            "30m",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let id = out.trim().to_owned();
    assert!(err.contains("needs 1 approval(s)"), "{err}");
    let (code, _, err) = cli_as(&w, &w.carol, &["access", "approve", &id]);
    assert_eq!(code, 2);
    assert!(err.contains("own request"), "{err}");
    let (code, out, err) = cli_as(&w, &w.bob, &["access", "approve", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("approved"), "{out}");
    let (code, out, err) = cli_as(&w, &w.carol, &["access", "checkout", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(PASSWORD), "{out}");
    assert!(out.contains("TOTP code:"), "{out}");
    assert!(!err.contains(PASSWORD));
    let (code, out, _) = cli_as(&w, &w.carol, &["access", "show", &id]);
    assert_eq!(code, 0);
    assert!(
        out.contains("checked-out") && !out.contains(PASSWORD),
        "{out}"
    );
    let (code, out, _) = cli_as(&w, &w.carol, &["access", "list", "--account", a.as_str()]);
    assert_eq!(code, 0);
    assert!(out.contains(&id), "{out}");
    let (code, out, _) = cli_as(&w, &w.carol, &["access", "checkin", &id]);
    assert_eq!(code, 0);
    assert!(out.contains("checked-in"), "{out}");
    let (code, out, err) = cli_as(&w, &w.carol, &["access", "expire"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"active\": 0"), "{out}");
    let all = custody::audit_actions(&w.emu, &a).await;
    assert!(all.iter().any(|x| x == "access.checked-in"));
    // Who did what is the authenticated identity, not anything the caller typed.
    let log = custody::audit_log(&w.emu).await;
    let records = log
        .read_stream(&Stream::Account(a.clone()).key())
        .await
        .unwrap();
    let approver = records
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .find(|r| r.action == "access.approved")
        .unwrap();
    assert_eq!(approver.actor, w.bob.arn);
    let refused = records
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .find(|r| r.action == "access.refused")
        .unwrap();
    assert_eq!(refused.actor, w.mallory.arn);
}

/// The deployed wiring: the `access` function on the function host, with the template's
/// environment (the default policy names nobody), answering its function URL only; the
/// schedule's `{}` goes to `access-expiry`.
#[tokio::test(flavor = "multi_thread")]
async fn the_access_function_answers_url_requests_and_the_schedule_runs_access_expiry() {
    rootwarden_tests::build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let function = emu.stack().resources["AccessFunction"]
        .physical_id
        .clone()
        .unwrap();
    let expiry = emu.stack().resources["AccessExpiryFunction"]
        .physical_id
        .clone()
        .unwrap();
    let invoke = |conf: aws_config::SdkConfig, function: String, payload: serde_json::Value| async move {
        let out = aws_sdk_lambda::Client::new(&conf)
            .invoke()
            .function_name(function)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(|e| {
                aws_sdk_lambda::error::ProvideErrorMetadata::code(&e)
                    .unwrap_or_default()
                    .to_owned()
            })?;
        let body: serde_json::Value =
            serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
        Ok::<_, String>((out.function_error().map(str::to_owned), body))
    };
    let event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            rootwarden_tests::repo_root().join("functions/access/fixtures/url-request.json"),
        )
        .unwrap(),
    )
    .unwrap();
    // The template grants lambda:InvokeFunction only through the URL: a direct invoke by a
    // caller whose identity policy grants the URL only (as OperatorRole's does) is refused
    // before the function runs.
    let dave = principal(&emu, "dave").await;
    let dave_conf = emu.sdk_config_with(&dave.key, &dave.secret, None).await;
    let e = invoke(dave_conf, function.clone(), event.clone())
        .await
        .unwrap_err();
    assert_eq!(e, "AccessDeniedException");

    // Through the URL, the template's default policy names nobody: refused, and recorded under
    // the authenticated caller.
    let out = Command::new(cli_bin())
        .args([
            "access",
            "request",
            "--account",
            "314159265358",
            "--reason",
            "billing-issue",
            "--ticket",
            "INC-1",
        ])
        .envs(emu.process_env())
        .env("AWS_ACCESS_KEY_ID", &dave.key)
        .env("AWS_SECRET_ACCESS_KEY", &dave.secret)
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AccessDenied"));
    let refused = custody::audit_log(&emu)
        .await
        .read_stream("account/314159265358")
        .await
        .unwrap();
    let last = refused.last().unwrap().as_ref().unwrap();
    assert_eq!(last.action, "access.refused");
    assert_eq!(last.actor, dave.arn);

    // An identity-policy grant of lambda:InvokeFunction (what the deployment's SCP or boundary
    // must deny) still cannot make the function act on anything but a function URL event.
    let iam = aws_sdk_iam::Client::new(&emu.sdk_config().await);
    let ops = principal(&emu, "ops").await;
    iam.put_user_policy()
        .user_name("ops")
        .policy_name("invoke")
        .policy_document(
            serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": "lambda:InvokeFunction", "Resource": "*"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let conf = emu.sdk_config_with(&ops.key, &ops.secret, None).await;
    for payload in [
        serde_json::json!({}),
        serde_json::json!({"action": "expire"}),
    ] {
        let (err, body) = invoke(conf.clone(), function.clone(), payload)
            .await
            .unwrap();
        assert_eq!(err.as_deref(), Some("Unhandled"));
        assert_eq!(body["errorType"], "ValidationError");
    }
    let mut bad = event.clone();
    bad["body"] = serde_json::json!("{\"action\":\"explode\"}");
    let (_, resp) = invoke(conf.clone(), function.clone(), bad).await.unwrap();
    assert_eq!(resp["statusCode"], 400, "{resp}");

    // The schedule's {} (sent as the schedule's role) runs the expiry function; anything else
    // is refused.
    let schedule = emu.role_config("AccessExpirySchedulerRole").await;
    let (err, report) = invoke(schedule.clone(), expiry.clone(), serde_json::json!({}))
        .await
        .unwrap();
    assert!(err.is_none(), "{report}");
    assert_eq!(report["active"], 0);
    let (err, body) = invoke(schedule, expiry, serde_json::json!({"action": "expire"}))
        .await
        .unwrap();
    assert_eq!(err.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorType"], "ValidationError");
}
