//! The rotation use cases on their in-memory twins: every step and stage move, the operator's
//! decisions, the sweep, and kills between any two port calls of each step (a retry converges
//! to the uninterrupted result and the live root password is always in the vault).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Once;

use chrono::{DateTime, Duration, Utc};
use futures::FutureExt;
use rootwarden_core::executions::{ExecutionState, Executions, Started};
use rootwarden_core::mail::Category;
use rootwarden_core::registry::{stamp, Account, AccountMode, AccountStatus, RotationReason};
use rootwarden_core::rotation::{
    self, liveness::execution_arn, sweep, RotationStage, StartInput, REJECTED_ERROR,
};
use rootwarden_core::tickets::{TicketStatus, TicketStore};
use rootwarden_core::vault::{CredentialKind, Vault};
use rootwarden_core::{AccountId, ErrorType, RootEmail};
use rootwarden_testkit::{MemoryRotationPorts, TaskResult, KILLED};
use secrecy::{ExposeSecret, SecretString};

const SM: &str = "arn:aws:states:us-east-1:999988887777:stateMachine:rotation";
const OLD: &str = "the-old-root-password-1!A";
const TOKEN: &str = "task-token-1";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn now() -> DateTime<Utc> {
    t("2026-11-24T10:00:00Z")
}

fn account() -> AccountId {
    AccountId::parse("111122223333").unwrap()
}

/// One active vaulted account, due now, its root password vaulted as version 1.
async fn setup() -> MemoryRotationPorts {
    quiet_kills();
    let ports = MemoryRotationPorts::new(now(), "rotation-fn");
    let a = account();
    ports.registry.put(Account {
        account_id: a.clone(),
        root_email: RootEmail::parse("aws+111122223333@example.com").unwrap(),
        name: Some("Acme prod".into()),
        status: AccountStatus::Active,
        mode: AccountMode::Vaulted,
        max_age_days: 90,
        contacts: vec!["ops@example.com".into()],
        onboarded_at: now() - Duration::days(90),
        last_rotated_at: None,
        rotation_due: Some(now()),
        rotation_reason: Some(RotationReason::MaxAge),
        rotation_execution: None,
        posture: None,
        posture_checked_at: None,
        recovery_until: None,
    });
    ports
        .vault
        .seed(
            &a,
            CredentialKind::RootPassword,
            &SecretString::from(OLD),
            "onboarding",
        )
        .await
        .unwrap();
    ports
}

#[tokio::test]
async fn the_next_due_date_follows_the_accounts_max_age_recorded_at_prepare() {
    let ports = setup().await;
    let a = account();
    let thirty = Account {
        max_age_days: 30,
        ..ports.registry.get(&a).unwrap()
    };
    ports.registry.put(thirty.clone());
    prepare(&ports, "r1").await;
    let r = ports.rotations.records().pop().unwrap();
    assert_eq!(r.max_age_days, Some(30), "kept with the rotation");
    // The finish does not read the registry for it: an outage there after the reschedule's
    // read would be the only way to tell, so the record's figure is changed instead.
    ports.rotations.put(rotation::RotationRecord {
        max_age_days: Some(45),
        ..r.clone()
    });
    let f = rotation::finish(&ports, &a, "r1", &serde_json::json!({"ticket_id": "t-9"}))
        .await
        .unwrap();
    assert_eq!(f.next_due, Some(stamp(now() + Duration::days(45))));

    // A record written before the age was kept: the registry's is read.
    let ports = setup().await;
    ports.registry.put(thirty);
    prepare(&ports, "r2").await;
    let r = ports.rotations.records().pop().unwrap();
    ports.rotations.put(rotation::RotationRecord {
        max_age_days: None,
        ..r
    });
    let f = rotation::finish(&ports, &a, "r2", &serde_json::json!({"ticket_id": "t-9"}))
        .await
        .unwrap();
    assert_eq!(f.next_due, Some(stamp(now() + Duration::days(30))));
}

/// A kill's panic is expected: keep it out of the test output.
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

/// Runs `f`; `None` if it was killed.
async fn survive<F: Future>(f: F) -> Option<F::Output> {
    AssertUnwindSafe(f).catch_unwind().await.ok()
}

/// Starts the execution `name` in the twin and returns its ARN.
async fn started(ports: &MemoryRotationPorts, name: &str) -> String {
    match ports.executions.start(SM, name, "{}").await.unwrap() {
        Started::New { execution_arn } => execution_arn,
        Started::AlreadyExists => execution_arn(SM, name),
    }
}

fn input() -> StartInput {
    StartInput {
        account_id: account().to_string(),
        trigger: Some("max-age".into()),
        apply_timeout_seconds: None,
    }
}

async fn prepare(ports: &MemoryRotationPorts, exec: &str) -> rotation::Prepared {
    let arn = execution_arn(SM, exec);
    rotation::prepare(ports, exec, &arn, &input())
        .await
        .unwrap()
}

/// Prepared and awaiting its apply step (execution `exec` running, waiting with [`TOKEN`]).
async fn awaiting(exec: &str) -> MemoryRotationPorts {
    let ports = setup().await;
    let arn = started(&ports, exec).await;
    prepare(&ports, exec).await;
    ports.executions.wait_for_task(&arn, TOKEN);
    rotation::await_apply(&ports, &account(), exec, TOKEN, 3600)
        .await
        .unwrap();
    ports
}

/// What a step leaves behind (no secrets): vault head, records, schedule, tickets, waits.
async fn snapshot(ports: &MemoryRotationPorts) -> String {
    let a = account();
    let head = ports
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap();
    let tickets: Vec<_> = TicketStore::list(&ports.tickets, Some(&a))
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.id, t.status, t.priority, t.summary))
        .collect();
    let waits: Vec<_> = ["r1", "r2"]
        .iter()
        .map(|e| ports.waits.record(&a, Category::PasswordChanged, e))
        .collect();
    format!(
        "{head:?}\n{:?}\n{:?}\n{tickets:?}\n{waits:?}",
        ports.rotations.records(),
        ports.registry.get(&a)
    )
}

/// The live root password is in the vault: `current` decrypts, and is the old password until
/// a pending version was promoted.
async fn live_password_vaulted(ports: &MemoryRotationPorts) {
    let (info, secret) = ports
        .vault
        .reveal(&account(), CredentialKind::RootPassword, None)
        .await
        .expect("current decrypts");
    if info.version == 1 {
        assert_eq!(secret.expose_secret(), OLD);
    } else {
        assert_ne!(secret.expose_secret(), OLD);
    }
}

// ------------------------------------------------------------------------ steps, in order

#[tokio::test]
async fn prepare_await_apply_and_finish_move_pending_to_current() {
    let ports = setup().await;
    let a = account();
    let p = prepare(&ports, "r1").await;
    assert_eq!((p.pending_version, p.current_version), (2, Some(1)));
    assert_eq!(p.ticket_id, rotation::ticket_id("r1"));
    let head = ports
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((head.current, head.pending), (Some(1), Some(2)));
    let r = ports.rotations.records().pop().unwrap();
    assert_eq!(r.stage, RotationStage::AwaitingApply);
    assert_eq!(r.task_token, None);

    let arn = started(&ports, "r1").await;
    ports.executions.wait_for_task(&arn, TOKEN);
    rotation::await_apply(&ports, &a, "r1", TOKEN, 3600)
        .await
        .unwrap();
    let r = ports.rotations.records().pop().unwrap();
    assert_eq!(r.task_token.as_deref(), Some(TOKEN));
    assert_eq!(r.apply_deadline, Some(stamp(now() + Duration::hours(1))));
    assert!(ports
        .waits
        .record(&a, Category::PasswordChanged, "r1")
        .is_some());

    ports.clock.advance(Duration::minutes(5));
    let f = rotation::finish(&ports, &a, "r1", &serde_json::json!({"ticket_id": "t-9"}))
        .await
        .unwrap();
    let later = now() + Duration::minutes(5);
    assert_eq!(f.current_version, 2);
    assert_eq!(f.next_due, Some(stamp(later + Duration::days(90))));
    let head = ports
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (head.current, head.previous, head.pending),
        (Some(2), Some(1), None)
    );
    let r = ports.rotations.records().pop().unwrap();
    assert_eq!(r.stage, RotationStage::Completed);
    assert_eq!(r.completed_version, Some(2));
    assert_eq!(r.task_token, None);
    let registered = ports.registry.get(&a).unwrap();
    assert_eq!(registered.rotation_due, Some(later + Duration::days(90)));
    assert_eq!(registered.last_rotated_at, Some(later));
    assert_eq!(registered.rotation_reason, Some(RotationReason::MaxAge));
    let ticket = ports.tickets.get(&p.ticket_id).await.unwrap().unwrap();
    assert_eq!(ticket.status, TicketStatus::Resolved);
    assert!(ports
        .waits
        .record(&a, Category::PasswordChanged, "r1")
        .is_none());
    live_password_vaulted(&ports).await;
    // An ended rotation never prepares or takes a token again.
    let again = rotation::prepare(&ports, "r1", &arn, &input())
        .await
        .unwrap_err();
    assert_eq!(again.error_type, ErrorType::Conflict);
    let token = rotation::await_apply(&ports, &a, "r1", "t2", 60)
        .await
        .unwrap_err();
    assert_eq!(token.error_type, ErrorType::Conflict);
}

#[tokio::test]
async fn abandon_discards_pending_keeps_current_and_retries_in_a_day() {
    let ports = awaiting("r1").await;
    let a = account();
    let out = rotation::abandon(
        &ports,
        &a,
        "r1",
        &serde_json::json!({"Error": "States.Timeout"}),
    )
    .await
    .unwrap();
    assert_eq!(out.discarded_version, Some(2));
    assert_eq!(out.reason, "the apply step timed out");
    let head = ports
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((head.current, head.pending), (Some(1), None));
    let r = ports.rotations.records().pop().unwrap();
    assert_eq!(r.stage, RotationStage::Abandoned);
    let registered = ports.registry.get(&a).unwrap();
    assert_eq!(registered.rotation_due, Some(now() + Duration::days(1)));
    assert_eq!(registered.rotation_reason, Some(RotationReason::Retry));
    // The apply ticket (same id) is escalated: open again, high priority, with the note.
    let ticket = ports
        .tickets
        .get(&rotation::ticket_id("r1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ticket.status, TicketStatus::Open);
    assert_eq!(ticket.priority, rootwarden_core::mail::Priority::High);
    assert!(ticket.summary.contains("the apply step timed out"));
    assert!(ports
        .waits
        .record(&a, Category::PasswordChanged, "r1")
        .is_none());
    live_password_vaulted(&ports).await;
    // An abandoned rotation never finishes; a completed one is never abandoned.
    let finish = rotation::finish(&ports, &a, "r1", &serde_json::json!({})).await;
    assert_eq!(finish.unwrap_err().error_type, ErrorType::Conflict);
    let done = awaiting("r2").await;
    rotation::finish(&done, &a, "r2", &serde_json::json!({}))
        .await
        .unwrap();
    let abandon = rotation::abandon(&done, &a, "r2", &serde_json::json!({})).await;
    assert_eq!(abandon.unwrap_err().error_type, ErrorType::Conflict);
}

// ---------------------------------------------------------------------- operator decisions

#[tokio::test]
async fn confirm_and_reject_of_a_waiting_rotation_answer_its_task() {
    let a = account();
    let ports = awaiting("r1").await;
    let operator = ports.acting_as("arn:aws:iam::999988887777:user/alice");
    let r = rotation::confirm(&operator, &a).await.unwrap();
    assert_eq!(r.execution, "r1");
    let sent = ports.executions.sent();
    assert!(matches!(&sent[..], [(t, TaskResult::Success { output })]
        if t == TOKEN && output["actor"] == "arn:aws:iam::999988887777:user/alice"));
    assert!(ports
        .waits
        .record(&a, Category::PasswordChanged, "r1")
        .is_none());
    assert_eq!(
        ports
            .audit
            .records(&format!("account/{a}"))
            .iter()
            .filter(|r| r.action == "rotation.confirmed")
            .count(),
        1
    );

    let ports = awaiting("r1").await;
    let operator = ports.acting_as("alice");
    let bad = rotation::reject(&operator, &a, "  ").await.unwrap_err();
    assert_eq!(bad.error_type, ErrorType::ValidationError);
    rotation::reject(&operator, &a, "MFA device lost")
        .await
        .unwrap();
    let sent = ports.executions.sent();
    assert!(
        matches!(&sent[..], [(_, TaskResult::Failure { error, cause })]
        if error == REJECTED_ERROR && cause.contains("MFA device lost"))
    );
    assert!(ports
        .waits
        .record(&a, Category::PasswordChanged, "r1")
        .is_none());
    // Its pending version stays until the state machine runs abandon.
    let head = ports
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.pending, Some(2));
}

#[tokio::test]
async fn confirm_of_an_orphaned_rotation_finishes_it_and_reject_abandons_it() {
    let a = account();
    let ports = awaiting("r1").await;
    ports.executions.end(&execution_arn(SM, "r1"), "ABORTED");
    rotation::confirm(&ports.acting_as("alice"), &a)
        .await
        .unwrap();
    let head = ports
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((head.current, head.pending), (Some(2), None));
    assert_eq!(ports.rotations.records()[0].stage, RotationStage::Completed);
    assert!(ports.executions.sent().is_empty(), "no task to answer");
    live_password_vaulted(&ports).await;

    let ports = awaiting("r1").await;
    ports.executions.end(&execution_arn(SM, "r1"), "FAILED");
    rotation::reject(&ports.acting_as("alice"), &a, "never applied")
        .await
        .unwrap();
    let head = ports
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((head.current, head.pending), (Some(1), None));
    let r = &ports.rotations.records()[0];
    assert_eq!(r.stage, RotationStage::Abandoned);
    assert!(r.outcome.as_deref().unwrap().contains("never applied"));
    // Nothing is left to decide.
    let none = rotation::confirm(&ports, &a).await.unwrap_err();
    assert_eq!(none.error_type, ErrorType::NotFound);
}

#[tokio::test]
async fn start_is_refused_while_a_pending_password_awaits_a_decision() {
    let a = account();
    // Running and waiting: a second rotation is refused.
    let ports = awaiting("r1").await;
    let busy = rotation::start(&ports, SM, &a, None).await.unwrap_err();
    assert_eq!(busy.error_type, ErrorType::Conflict);
    // Stopped after a human was told to apply it: the operator decides first.
    ports.executions.end(&execution_arn(SM, "r1"), "ABORTED");
    let e = rotation::start(&ports, SM, &a, None).await.unwrap_err();
    assert_eq!(e.error_type, ErrorType::PendingDecisionRequired);
    // So does the next execution's prepare.
    let e = rotation::prepare(&ports, "r2", &execution_arn(SM, "r2"), &input())
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::PendingDecisionRequired);
    rotation::reject(&ports, &a, "not applied").await.unwrap();
    let name = rotation::start(&ports, SM, &a, Some(600)).await.unwrap();
    let arn = execution_arn(SM, &name);
    assert_eq!(
        ports.executions.state(&arn).await.unwrap(),
        ExecutionState::Running
    );
}

#[tokio::test]
async fn a_pending_version_nobody_saw_is_discarded_by_the_next_prepare() {
    let a = account();
    let ports = setup().await;
    // r1 staged its pending version and died before it opened a ticket or recorded itself
    // (calls: registry, record, vault head, vault stage, tickets).
    ports.kill_at(5);
    assert!(survive(prepare(&ports, "r1")).await.is_none());
    ports.kill_at(0);
    let head = ports
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.pending_execution.as_deref(), Some("r1"));
    let p = prepare(&ports, "r2").await;
    assert_eq!(p.pending_version, 3);
    let head = ports
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.pending_execution.as_deref(), Some("r2"));
}

// ---------------------------------------------------------------------------- the sweep

#[tokio::test]
async fn the_sweep_starts_a_due_account_once() {
    let ports = setup().await;
    let a = account();
    let first = sweep::sweep(&ports.registry, &ports.executions, SM, now(), 4)
        .await
        .unwrap();
    assert_eq!((first.due, first.started, first.already_started), (1, 1, 0));
    let name = sweep::execution_name(&a, &stamp(now()));
    assert_eq!(
        ports.registry.get(&a).unwrap().rotation_execution,
        Some(name)
    );
    let again = sweep::sweep(&ports.registry, &ports.executions, SM, now(), 4)
        .await
        .unwrap();
    assert_eq!((again.started, again.already_started), (0, 1));
    assert_eq!(ports.executions.executions().len(), 1);
    // Not due yet: not found.
    let early = sweep::sweep(
        &ports.registry,
        &ports.executions,
        SM,
        now() - Duration::seconds(1),
        4,
    )
    .await
    .unwrap();
    assert_eq!(early.due, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_racing_sweeps_one_starts_the_rotation() {
    let ports = setup().await;
    let sweeps: Vec<_> = (0..4)
        .map(|_| {
            let p = ports.clone();
            tokio::spawn(async move {
                sweep::sweep(&p.registry, &p.executions, SM, now(), 2)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut started = 0;
    for s in sweeps {
        let r = s.await.unwrap();
        assert!(r.failed.is_empty());
        assert_eq!(r.due, 1);
        started += r.started;
    }
    // One execution. (Step Functions answers a start of a running execution with the same
    // input as a success, so two sweeps racing through their starts may both count it.)
    assert!((1..=4).contains(&started));
    let name = sweep::execution_name(&account(), &stamp(now()));
    assert_eq!(
        ports.registry.get(&account()).unwrap().rotation_execution,
        Some(name)
    );
    assert_eq!(ports.executions.executions().len(), 1);
}

#[tokio::test]
async fn the_sweep_restarts_an_execution_that_ended_without_rescheduling() {
    let ports = setup().await;
    let a = account();
    sweep::sweep(&ports.registry, &ports.executions, SM, now(), 1)
        .await
        .unwrap();
    let old = sweep::execution_name(&a, &stamp(now()));
    ports.executions.end(&execution_arn(SM, &old), "ABORTED");
    let later = now() + Duration::hours(2);
    let r = sweep::sweep(&ports.registry, &ports.executions, SM, later, 1)
        .await
        .unwrap();
    assert_eq!((r.started, r.restarted), (1, 1));
    let registered = ports.registry.get(&a).unwrap();
    assert_eq!(registered.rotation_due, Some(later));
    let new = sweep::execution_name(&a, &stamp(later));
    assert_eq!(registered.rotation_execution.as_deref(), Some(new.as_str()));
    assert!(ports
        .executions
        .state(&execution_arn(SM, &new))
        .await
        .unwrap()
        .is_running());
    // Racing restarts: the due date moves once.
    let r = sweep::sweep(&ports.registry, &ports.executions, SM, later, 1)
        .await
        .unwrap();
    assert_eq!((r.started, r.already_started), (0, 1));
}

#[tokio::test]
async fn pages_of_due_accounts_are_all_swept() {
    let ports = setup().await;
    let base = ports.registry.get(&account()).unwrap();
    for i in 0..7u64 {
        let id = AccountId::parse(&format!("{:012}", 200000000000u64 + i)).unwrap();
        ports.registry.put(Account {
            account_id: id,
            ..base.clone()
        });
    }
    use rootwarden_core::registry::schedule::RotationSchedule;
    let page = ports.registry.due_page(now(), None, 3).await.unwrap();
    assert_eq!(page.due.len(), 3);
    assert!(page.next.is_some());
    let r = sweep::sweep(&ports.registry, &ports.executions, SM, now(), 3)
        .await
        .unwrap();
    assert_eq!((r.due, r.started), (8, 8));
}

#[tokio::test]
async fn a_sweep_runs_past_the_first_page_of_the_due_index() {
    let ports = setup().await;
    let base = ports.registry.get(&account()).unwrap();
    // Two full pages and a part: 1,101 due accounts (the set-up's one and 1,100 more).
    for i in 0..1100u64 {
        let id = AccountId::parse(&format!("{:012}", 300000000000u64 + i)).unwrap();
        ports.registry.put(Account {
            account_id: id,
            ..base.clone()
        });
    }
    let r = sweep::sweep(&ports.registry, &ports.executions, SM, now(), 8)
        .await
        .unwrap();
    assert_eq!(sweep::PAGE_SIZE, 500);
    assert_eq!((r.pages, r.due, r.started), (3, 1101, 1101), "{r:?}");
    // One execution per due account, each started once.
    let mut names: Vec<String> = ports
        .executions
        .executions()
        .into_iter()
        .map(|e| e.arn)
        .collect();
    assert_eq!(names.len(), 1101);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 1101);
}

// --------------------------------------------------------------------- kills between calls

/// Kills `step` at each of its port calls in turn (on a fresh `before()` state), runs it
/// again, and checks the result and the state equal an uninterrupted run's, and that the live
/// password was in the vault after the kill. Returns how many kill points there were.
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
    // A retry of a finished step changes nothing.
    assert_eq!(step(clean.clone()).await, expected, "retry after success");
    assert_eq!(
        snapshot(&clean).await,
        expected_state,
        "retry after success"
    );
    for n in 1..=calls {
        let ports = before().await;
        ports.kill_at(n);
        let killed = survive(step(ports.clone())).await;
        assert!(killed.is_none(), "call {n} of {calls} was not reached");
        ports.kill_at(0);
        live_password_vaulted(&ports).await;
        assert_eq!(
            step(ports.clone()).await,
            expected,
            "retry after a kill at call {n}"
        );
        assert_eq!(
            snapshot(&ports).await,
            expected_state,
            "state after a kill at call {n}"
        );
        live_password_vaulted(&ports).await;
    }
    calls
}

#[tokio::test]
async fn prepare_killed_at_any_call_converges() {
    let n = kill_everywhere(setup, |p| async move {
        let arn = execution_arn(SM, "r1");
        let out = rotation::prepare(&p, "r1", &arn, &input()).await.unwrap();
        (out.pending_version, out.current_version, out.ticket_id)
    })
    .await;
    assert!(n >= 6, "{n} kill points");
}

#[tokio::test]
async fn await_apply_killed_at_any_call_converges() {
    let before = || async {
        let p = setup().await;
        prepare(&p, "r1").await;
        p
    };
    let n = kill_everywhere(before, |p| async move {
        rotation::await_apply(&p, &account(), "r1", TOKEN, 3600)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(n, 2);
}

#[tokio::test]
async fn finish_killed_at_any_call_converges() {
    let n = kill_everywhere(
        || awaiting("r1"),
        |p| async move {
            let out =
                rotation::finish(&p, &account(), "r1", &serde_json::json!({"actor": "alice"}))
                    .await
                    .unwrap();
            (out.current_version, out.next_due)
        },
    )
    .await;
    assert!(n >= 6, "{n} kill points");
}

#[tokio::test]
async fn abandon_killed_at_any_call_converges() {
    let n = kill_everywhere(
        || awaiting("r1"),
        |p| async move {
            let out = rotation::abandon(
                &p,
                &account(),
                "r1",
                &serde_json::json!({"Error": "States.Timeout"}),
            )
            .await
            .unwrap();
            // `discarded_version` says what this run discarded: None on a retry.
            (out.reason, out.retry_at)
        },
    )
    .await;
    assert!(n >= 7, "{n} kill points");
}

/// Kills the operator's decision on an orphaned rotation at each port call, then retries the
/// decision. Until the rotation record ended, the retry converges to the uninterrupted state.
/// After it ended (the vault already settled), the retry finds nothing to decide: the ticket,
/// wait and schedule writes after that point are left to the sweep (a known gap, unchanged by
/// the move to the core). Returns the kill points of that kind.
async fn kill_decision<S, SF>(decide: S, current_after: u32) -> usize
where
    S: Fn(MemoryRotationPorts) -> SF,
    SF: Future<Output = Result<String, rootwarden_core::LambdaError>>,
{
    let orphaned = || async {
        let p = awaiting("r1").await;
        p.executions.end(&execution_arn(SM, "r1"), "ABORTED");
        p.kill_at(0);
        p
    };
    let clean = orphaned().await;
    assert_eq!(decide(clean.clone()).await.unwrap(), "r1");
    let calls = clean.calls();
    let expected_state = snapshot(&clean).await;
    let mut unsettled = 0;
    for n in 1..=calls {
        let ports = orphaned().await;
        ports.kill_at(n);
        assert!(
            survive(decide(ports.clone())).await.is_none(),
            "call {n} reached"
        );
        ports.kill_at(0);
        live_password_vaulted(&ports).await;
        match decide(ports.clone()).await {
            Ok(e) => {
                assert_eq!(e, "r1");
                assert_eq!(snapshot(&ports).await, expected_state, "kill at call {n}");
            }
            Err(e) => {
                assert_eq!(e.error_type, ErrorType::NotFound, "kill at call {n}");
                assert_ne!(
                    ports.rotations.records()[0].stage,
                    RotationStage::AwaitingApply
                );
                let head = ports
                    .vault
                    .head(&account(), CredentialKind::RootPassword)
                    .await;
                let head = head.unwrap().unwrap();
                assert_eq!((head.current, head.pending), (Some(current_after), None));
                unsettled += 1;
            }
        }
        live_password_vaulted(&ports).await;
    }
    unsettled
}

#[tokio::test]
async fn an_orphan_decision_killed_at_any_call_keeps_the_live_password() {
    let confirm = kill_decision(
        |p| async move { rotation::confirm(&p, &account()).await.map(|r| r.execution) },
        2,
    )
    .await;
    let reject = kill_decision(
        |p| async move {
            rotation::reject(&p, &account(), "not applied")
                .await
                .map(|r| r.execution)
        },
        1,
    )
    .await;
    // Killed after the record ended: finish has 3 calls left (schedule, ticket, wait:
    // the account's age is the record's), abandon 4 (it reads the registry first).
    assert_eq!((confirm, reject), (3, 4));
}
