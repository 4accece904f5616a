//! The rotation steps run by a takeover (trigger `takeover`): on a vaulted account in status
//! `taking-over` with nothing vaulted, prepare stages version 1 as pending with no current,
//! finish makes it current, abandon discards it; neither touches the rotation schedule (the
//! takeover's `activate` sets it). Other triggers refuse a taking-over account. Killed between
//! any two port calls, each step converges on retry.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Once;

use chrono::{DateTime, Duration, Utc};
use futures::FutureExt;
use rootwarden_core::executions::{Executions, Started};
use rootwarden_core::mail::Category;
use rootwarden_core::registry::{Account, AccountMode, AccountStatus};
use rootwarden_core::rotation::{self, RotationStage, StartInput, TAKEOVER_TRIGGER};
use rootwarden_core::tickets::TicketStore;
use rootwarden_core::vault::{CredentialKind, Stage, Vault};
use rootwarden_core::{AccountId, ErrorType, RootEmail};
use rootwarden_testkit::{MemoryRotationPorts, KILLED};
use secrecy::SecretString;

const SM: &str = "arn:aws:states:us-east-1:999988887777:stateMachine:takeover";
const TOKEN: &str = "takeover-task-token";
const EXEC: &str = "takeover-111122223333-1";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
        .unwrap()
        .to_utc()
}

fn account() -> AccountId {
    AccountId::parse("111122223333").unwrap()
}

fn arn(name: &str) -> String {
    rotation::liveness::execution_arn(SM, name)
}

fn quiet_kills() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let killed = info.payload().downcast_ref::<String>().map(String::as_str)
                == Some(KILLED)
                || info.payload().downcast_ref::<&str>() == Some(&KILLED);
            if !killed {
                default(info);
            }
        }));
    });
}

async fn survive<F: Future>(f: F) -> Option<F::Output> {
    AssertUnwindSafe(f).catch_unwind().await.ok()
}

/// A vaulted account being taken over: registered `taking-over`, no schedule, nothing vaulted;
/// the takeover execution `EXEC` runs.
async fn taking_over() -> MemoryRotationPorts {
    quiet_kills();
    let ports = MemoryRotationPorts::new(now(), "rotation-fn");
    ports.registry.put(Account {
        account_id: account(),
        root_email: RootEmail::parse("aws-111122223333-abcdefgh@root.example.com").unwrap(),
        name: None,
        status: AccountStatus::TakingOver,
        mode: AccountMode::Vaulted,
        max_age_days: 90,
        contacts: vec![],
        onboarded_at: now(),
        last_rotated_at: None,
        rotation_due: None,
        rotation_reason: None,
        rotation_execution: None,
        posture: None,
        posture_checked_at: None,
        recovery_until: None,
    });
    match ports.executions.start(SM, EXEC, "{}").await.unwrap() {
        Started::New { .. } | Started::AlreadyExists => {}
    }
    ports
}

fn input(trigger: &str) -> StartInput {
    StartInput {
        account_id: account().to_string(),
        trigger: Some(trigger.into()),
        apply_timeout_seconds: Some(3600),
    }
}

async fn prepare(ports: &MemoryRotationPorts) -> rotation::Prepared {
    rotation::prepare(ports, EXEC, &arn(EXEC), &input(TAKEOVER_TRIGGER))
        .await
        .unwrap()
}

/// Prepared and awaiting its apply (the takeover's await-apply task waits with [`TOKEN`]).
async fn awaiting() -> MemoryRotationPorts {
    let ports = taking_over().await;
    prepare(&ports).await;
    ports.executions.wait_for_task(&arn(EXEC), TOKEN);
    rotation::await_apply(&ports, &account(), EXEC, TOKEN, 3600)
        .await
        .unwrap();
    ports
}

async fn snapshot(ports: &MemoryRotationPorts) -> String {
    let a = account();
    let head = ports
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap();
    let versions = ports
        .vault
        .versions(&a, CredentialKind::RootPassword)
        .await
        .unwrap();
    let tickets: Vec<_> = TicketStore::list(&ports.tickets, Some(&a))
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.id, t.status, t.priority))
        .collect();
    let wait = ports.waits.record(&a, Category::PasswordChanged, EXEC);
    format!(
        "{head:?}\n{versions:?}\n{:?}\n{:?}\n{tickets:?}\n{wait:?}",
        ports.rotations.records(),
        ports.registry.get(&a)
    )
}

/// Kills `step` at each port call on a fresh `before()`, retries it, and compares with an
/// uninterrupted run. Returns the number of kill points.
async fn kill_everywhere<B, BF, S, SF, T>(before: B, step: S) -> usize
where
    B: Fn() -> BF,
    BF: Future<Output = MemoryRotationPorts>,
    S: Fn(MemoryRotationPorts) -> SF,
    SF: Future<Output = T>,
    T: PartialEq + std::fmt::Debug,
{
    let clean = before().await;
    clean.kill_at(0);
    let expected = step(clean.clone()).await;
    let calls = clean.calls();
    let expected_state = snapshot(&clean).await;
    assert_eq!(step(clean.clone()).await, expected, "retry after success");
    assert_eq!(snapshot(&clean).await, expected_state);
    for n in 1..=calls {
        let ports = before().await;
        ports.kill_at(n);
        assert!(survive(step(ports.clone())).await.is_none(), "call {n}");
        ports.kill_at(0);
        assert_eq!(step(ports.clone()).await, expected, "retry after kill {n}");
        assert_eq!(
            snapshot(&ports).await,
            expected_state,
            "state after kill {n}"
        );
    }
    calls
}

#[tokio::test]
async fn a_takeover_stages_the_first_password_with_no_current_and_finish_makes_it_current() {
    let ports = taking_over().await;
    let a = account();
    let p = prepare(&ports).await;
    assert_eq!((p.pending_version, p.current_version), (1, None));
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["current_version"], serde_json::Value::Null);
    let head = ports
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((head.current, head.pending), (None, Some(1)));
    // No current password to reveal; the ticket says how a takeover applies it.
    let e = ports
        .vault
        .reveal(&a, CredentialKind::RootPassword, None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no root-password is current"), "{e}");
    let ticket = TicketStore::get(&ports.tickets, &p.ticket_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        ticket.summary.contains("reason takeover"),
        "{}",
        ticket.summary
    );
    let record = &ports.rotations.records()[0];
    assert_eq!(
        (record.trigger.as_str(), record.current_version),
        (TAKEOVER_TRIGGER, None)
    );
    // A retry of prepare reuses the pending version.
    assert_eq!(prepare(&ports).await, p);

    ports.executions.wait_for_task(&arn(EXEC), TOKEN);
    rotation::await_apply(&ports, &a, EXEC, TOKEN, 3600)
        .await
        .unwrap();
    let f = rotation::finish(&ports, &a, EXEC, &serde_json::json!({"ticket_id": "t-1"}))
        .await
        .unwrap();
    assert_eq!((f.current_version, f.next_due), (1, None));
    let head = ports
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (head.current, head.previous, head.pending),
        (Some(1), None, None)
    );
    let versions = ports
        .vault
        .versions(&a, CredentialKind::RootPassword)
        .await
        .unwrap();
    assert_eq!(versions[0].stage, Stage::Current);
    // The schedule is the takeover's to set (its `activate` step); the account stays as it was.
    let registered = ports.registry.get(&a).unwrap();
    assert_eq!(registered.status, AccountStatus::TakingOver);
    assert_eq!(
        (registered.rotation_due, registered.last_rotated_at),
        (None, None)
    );
    assert_eq!(ports.rotations.records()[0].stage, RotationStage::Completed);
    // Once a password is current a takeover never stages over it.
    let e = rotation::prepare(
        &ports,
        "takeover-111122223333-2",
        &arn("takeover-111122223333-2"),
        &input(TAKEOVER_TRIGGER),
    )
    .await
    .unwrap_err();
    assert_eq!(e.error_type, ErrorType::Conflict, "{e}");
}

#[tokio::test]
async fn an_abandoned_takeover_rotation_discards_pending_and_leaves_the_schedule_alone() {
    let ports = awaiting().await;
    let a = account();
    let out = rotation::abandon(
        &ports,
        &a,
        EXEC,
        &serde_json::json!({"Error": "States.Timeout"}),
    )
    .await
    .unwrap();
    assert_eq!((out.discarded_version, out.retry_at), (Some(1), None));
    let head = ports
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((head.current, head.pending), (None, None));
    let registered = ports.registry.get(&a).unwrap();
    assert_eq!(
        (registered.rotation_due, registered.rotation_reason),
        (None, None)
    );
    // The resumed takeover (a new execution) stages a fresh version.
    let next = "takeover-111122223333-2";
    ports.executions.start(SM, next, "{}").await.unwrap();
    let p = rotation::prepare(&ports, next, &arn(next), &input(TAKEOVER_TRIGGER))
        .await
        .unwrap();
    assert_eq!((p.pending_version, p.current_version), (2, None));
}

#[tokio::test]
async fn other_triggers_refuse_a_taking_over_account_and_takeover_refuses_an_active_one() {
    let ports = taking_over().await;
    for trigger in ["schedule", "manual", "checkout", "max-age"] {
        let e = rotation::prepare(&ports, EXEC, &arn(EXEC), &input(trigger))
            .await
            .unwrap_err();
        assert_eq!(e.error_type, ErrorType::ValidationError, "{trigger}");
        assert!(e.message.contains("taking-over"), "{e}");
    }
    // No trigger at all is a manual one.
    let mut none = input("x");
    none.trigger = None;
    assert!(rotation::prepare(&ports, EXEC, &arn(EXEC), &none)
        .await
        .is_err());
    assert!(ports.rotations.records().is_empty());
    assert_eq!(
        ports
            .vault
            .head(&account(), CredentialKind::RootPassword)
            .await
            .unwrap(),
        None
    );
    // A takeover trigger on an active account (with a password vaulted) is refused too.
    let mut active = ports.registry.get(&account()).unwrap();
    active.status = AccountStatus::Active;
    ports.registry.put(active);
    ports
        .vault
        .seed(
            &account(),
            CredentialKind::RootPassword,
            &SecretString::from("the-old-root-password-1!A"),
            "onboarding",
        )
        .await
        .unwrap();
    let e = rotation::prepare(&ports, EXEC, &arn(EXEC), &input(TAKEOVER_TRIGGER))
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::ValidationError);
    // `rotation start` (the operator's) refuses a taking-over account.
    let mut taking = ports.registry.get(&account()).unwrap();
    taking.status = AccountStatus::TakingOver;
    ports.registry.put(taking);
    let e = rotation::start(&ports, SM, &account(), None)
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::ValidationError);
}

#[tokio::test]
async fn an_orphaned_takeover_pending_awaits_the_operators_decision() {
    // The takeover execution stopped while its password awaited apply: it may be live.
    let ports = awaiting().await;
    ports.executions.end(&arn(EXEC), "ABORTED");
    let next = "takeover-111122223333-2";
    ports.executions.start(SM, next, "{}").await.unwrap();
    let e = rotation::prepare(&ports, next, &arn(next), &input(TAKEOVER_TRIGGER))
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::PendingDecisionRequired, "{e}");
    // `rotation confirm` finishes it: version 1 becomes current, no schedule set.
    let r = rotation::confirm(&ports, &account()).await.unwrap();
    assert_eq!(r.execution, EXEC);
    let head = ports
        .vault
        .head(&account(), CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((head.current, head.pending), (Some(1), None));
    assert_eq!(ports.registry.get(&account()).unwrap().rotation_due, None);
}

#[tokio::test]
async fn takeover_prepare_killed_at_any_call_converges() {
    let n = kill_everywhere(taking_over, |p| async move {
        let out = prepare(&p).await;
        (out.pending_version, out.current_version, out.ticket_id)
    })
    .await;
    assert!(n >= 5, "{n} kill points");
}

#[tokio::test]
async fn takeover_finish_killed_at_any_call_converges() {
    let n = kill_everywhere(awaiting, |p| async move {
        let out = rotation::finish(&p, &account(), EXEC, &serde_json::json!({"actor": "alice"}))
            .await
            .unwrap();
        (out.current_version, out.next_due)
    })
    .await;
    assert!(n >= 5, "{n} kill points");
}

#[tokio::test]
async fn takeover_abandon_killed_at_any_call_converges() {
    let n = kill_everywhere(awaiting, |p| async move {
        let out = rotation::abandon(
            &p,
            &account(),
            EXEC,
            &serde_json::json!({"Error": "States.Timeout"}),
        )
        .await
        .unwrap();
        (out.reason, out.retry_at)
    })
    .await;
    assert!(n >= 5, "{n} kill points");
    let _ = Duration::zero();
}
