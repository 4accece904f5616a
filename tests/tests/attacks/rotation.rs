//! See `main.rs`. Rotations never wedge an account and never discard a password that may be
//! live. Step Functions runs `infra/statemachines/rotation.asl.json` on the emulator, its tasks
//! invoke the real `rotation` binary through the function host; the sweep, the operator's
//! `rotation start|confirm|reject` and the access check-out are the production use cases.

use std::process::{Command, Stdio};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, Duration, Utc};
use rootwarden::access::{self, AccessStatus, NewRequest};
use rootwarden::clock::FixedClock;
use rootwarden::mail::Priority;
use rootwarden::registry::stamp;
use rootwarden::rotation::{self, sweep, Deps, RotationRecord, RotationStage};
use rootwarden::tickets::TicketStore;
use rootwarden::vault::{CredentialKind, Stage, Vault};
use rootwarden::{AccountId, Clock, ErrorType, SystemClock};
use rootwarden_tests::custody::{awaiting_apply, eventually, execution_arn};
use rootwarden_tests::{build_functions, cli_bin, custody, Emulator};
use secrecy::ExposeSecret;

const PASSWORD: &str = "Onboard-Pa55word!<current>";
const OPERATOR: &str = "arn:aws:iam::123456789012:user/operator";
const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const BOB: &str = "arn:aws:iam::123456789012:user/bob";

async fn functions() -> Emulator {
    build_functions().unwrap();
    Emulator::with_functions().await.unwrap()
}

fn state_machine(emu: &Emulator) -> String {
    custody::rotation_state_machine(emu)
}

async fn ended(deps: &Deps, arn: &str) -> ExecutionStatus {
    eventually("the execution to end", || async {
        let d = deps
            .sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .unwrap();
        (d.status() != &ExecutionStatus::Running).then(|| d.status().clone())
    })
    .await
}

async fn executions(deps: &Deps, sm: &str) -> Vec<String> {
    deps.sfn
        .list_executions()
        .state_machine_arn(sm)
        .send()
        .await
        .unwrap()
        .executions()
        .iter()
        .map(|e| e.name().to_owned())
        .collect()
}

async fn stop(deps: &Deps, arn: &str) {
    deps.sfn
        .stop_execution()
        .execution_arn(arn)
        .cause("stopped from the console")
        .send()
        .await
        .unwrap();
    assert_eq!(ended(deps, arn).await, ExecutionStatus::Aborted);
}

/// Makes the account due at `due` (as its maximum age would).
async fn set_due(deps: &Deps, a: &AccountId, due: DateTime<Utc>) {
    deps.registry
        .client()
        .update_item()
        .table_name(deps.registry.table())
        .key("account_id", AttributeValue::S(a.to_string()))
        .update_expression("SET rotation_due = :d")
        .expression_attribute_values(":d", AttributeValue::S(stamp(due)))
        .send()
        .await
        .unwrap();
}

async fn sweep_at(deps: &Deps, sm: &str, now: DateTime<Utc>) -> sweep::SweepReport {
    sweep::sweep(&deps.registry, &deps.sfn, sm, now, 4)
        .await
        .unwrap()
}

/// The account's single sweep-started execution awaiting its apply step.
/// `world` sets the account due and reads; `sched` sweeps as the rotation scheduler's role.
async fn swept_rotation(world: &Deps, sched: &Deps, sm: &str, a: &AccountId) -> RotationRecord {
    let deps = world;
    let now = Utc::now();
    set_due(deps, a, now - Duration::hours(1)).await;
    let first = sweep_at(sched, sm, now).await;
    assert_eq!(first.started, 1, "{first:?}");
    let name = deps
        .registry
        .get(a)
        .await
        .unwrap()
        .unwrap()
        .rotation_execution
        .unwrap();
    awaiting_apply(deps, a, &name).await
}

async fn pending_stage(deps: &Deps, a: &AccountId, version: u32) -> Stage {
    deps.vault
        .versions(a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.version == version)
        .unwrap()
        .stage
}

fn access_deps(emu: &Emulator, sdk: &aws_types::SdkConfig, clock: Arc<dyn Clock>) -> access::Deps {
    let mut config = custody::config(emu);
    config.access_policy = Some(format!(
        r#"{{"principals": [
            {{"arn": "{ALICE}", "roles": ["requester"]}},
            {{"arn": "{BOB}", "roles": ["approver"]}}
        ], "ticket_pattern": "^INC-[0-9]+$"}}"#
    ));
    access::Deps::new(
        &config,
        aws_sdk_dynamodb::Client::new(sdk),
        aws_sdk_kms::Client::new(sdk),
        clock,
    )
    .unwrap()
    .with_executions(aws_sdk_sfn::Client::new(sdk))
}

/// An approved `rotation-apply` request of alice's.
async fn approved_apply_request(d: &access::Deps, a: &AccountId) -> String {
    let r = access::request(
        d,
        ALICE,
        NewRequest {
            account: a.clone(),
            reason: "rotation-apply".into(),
            ticket: "INC-7".into(),
            duration_minutes: None,
            release: None,
        },
    )
    .await
    .unwrap();
    access::approve(d, BOB, &r.id).await.unwrap();
    r.id
}

fn cli(emu: &Emulator, args: &[&str]) -> (i32, String) {
    let out = Command::new(cli_bin())
        .args(args)
        .envs(emu.process_env())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_stopped_from_the_console_does_not_wedge_the_account() {
    let emu = functions().await;
    let sm = state_machine(&emu);
    let ops = custody::operator_deps(&emu, OPERATOR).await;
    // the console, the table and the test's checks (harness; decrypts as the access function)
    let world = custody::inspector_deps(&emu).await;
    let sched = custody::function_deps(&emu, "RotationSchedulerFunction", OPERATOR).await;
    let a = custody::account(1010, 1);
    custody::onboard(&ops, &a, PASSWORD, None).await.unwrap();
    let stopped = swept_rotation(&world, &sched, &sm, &a).await;
    stop(&world, &stopped.execution_arn).await;

    // The account is still due: the next sweep starts a new execution instead of counting the
    // stopped one as "already started" for ever.
    // Two sweeps at once (a retried invocation overlapping the next): DynamoDB's condition on
    // the due date lets exactly one of them start it.
    let now = Utc::now();
    let (x, y) = tokio::join!(
        sweep_at(&sched, &sm, now),
        sweep_at(&sched, &sm, now + Duration::seconds(1))
    );
    // Step Functions answers a second StartExecution of the same name and input with success
    // (it is idempotent), so both sweeps may count the one execution as theirs (seen once
    // under load); that only one was started is what the executions show.
    assert!((1..=2).contains(&(x.started + y.started)), "{x:?} {y:?}");
    let names = executions(&world, &sm).await;
    assert_eq!(names.len(), 2, "{names:?}");
    let restarted = names.iter().find(|n| **n != stopped.execution).unwrap();
    // The stopped rotation's pending version was handed to a human (apply step reached): the
    // new rotation does not discard it, it fails by name (an execution failure, which the
    // rotation alarm watches) and escalates a ticket.
    let status = ended(&world, &execution_arn(&sm, restarted)).await;
    assert_eq!(status, ExecutionStatus::Failed);
    let head = world
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.pending, Some(stopped.pending_version));
    assert_eq!(
        pending_stage(&world, &a, stopped.pending_version).await,
        Stage::Pending
    );
    let ticket = world
        .tickets
        .get(&rotation::ticket_id(restarted))
        .await
        .unwrap()
        .expect("the failed restart escalated a ticket");
    assert_eq!(ticket.priority, Priority::High);
    // No hot loop: the account is due again in a day, not at the next sweep.
    let again = sweep_at(&sched, &sm, now).await;
    assert_eq!((again.due, again.started), (0, 0), "{again:?}");

    // The operator decides (here: it was never applied); the next due sweep rotates.
    let r = rotation::reject(&ops, &a, "stopped before anyone applied it")
        .await
        .unwrap();
    assert_eq!(r.execution, stopped.execution);
    assert_eq!(
        pending_stage(&world, &a, stopped.pending_version).await,
        Stage::Discarded
    );
    let later = sweep_at(&sched, &sm, now + Duration::hours(25)).await;
    assert_eq!(later.started, 1, "{later:?}");
    let name = world
        .registry
        .get(&a)
        .await
        .unwrap()
        .unwrap()
        .rotation_execution
        .unwrap();
    let fresh = awaiting_apply(&world, &a, &name).await;
    assert_eq!(fresh.pending_version, stopped.pending_version + 1);
    let actions = custody::audit_actions(&emu, &a).await;
    assert!(
        actions.contains(&"rotation.rejected".to_owned()),
        "{actions:?}"
    );
    custody::assert_audit_intact(&emu, Some(&a)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_confirmed_password_whose_finish_failed_is_kept_and_the_account_rotates_again() {
    let emu = functions().await;
    let sm = state_machine(&emu);
    let ops = custody::operator_deps(&emu, OPERATOR).await;
    // the console, the table and the test's checks (harness; decrypts as the access function)
    let world = custody::inspector_deps(&emu).await;
    let sched = custody::function_deps(&emu, "RotationSchedulerFunction", OPERATOR).await;
    let a = custody::account(1010, 2);
    custody::onboard(&ops, &a, PASSWORD, None).await.unwrap();
    let confirmed = swept_rotation(&world, &sched, &sm, &a).await;

    // The password is applied and confirmed, but Finish cannot make it current (the vault key
    // is disabled): the execution ends in FinishFailed with pending kept.
    let kms = aws_sdk_kms::Client::new(&emu.sdk_config().await);
    let key = kms
        .describe_key()
        .key_id(custody::config(&emu).vault_key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    kms.disable_key().key_id(&key).send().await.unwrap();
    rotation::confirm(&ops, &a).await.unwrap();
    let status = ended(&world, &confirmed.execution_arn).await;
    assert_eq!(status, ExecutionStatus::Failed);
    kms.enable_key().key_id(&key).send().await.unwrap();
    let head = world
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (head.current, head.pending),
        (Some(1), Some(confirmed.pending_version))
    );

    // Still due: the next sweep starts a new execution; it does not throw the confirmed
    // password away but fails, asking for the operator's decision.
    let next = sweep_at(&sched, &sm, Utc::now()).await;
    assert_eq!((next.started, next.already_started), (1, 0), "{next:?}");
    let names = executions(&world, &sm).await;
    let restarted = names.iter().find(|n| **n != confirmed.execution).unwrap();
    let status = ended(&world, &execution_arn(&sm, restarted)).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(
        pending_stage(&world, &a, confirmed.pending_version).await,
        Stage::Pending
    );
    let e = rotation::start(&ops, &sm, &a, Some(600)).await.unwrap_err();
    assert_eq!(e.error_type.as_str(), "PendingDecisionRequired", "{e}");

    // The operator confirms again: the kept version becomes current.
    rotation::confirm(&ops, &a).await.unwrap();
    let head = world
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (head.current, head.pending),
        (Some(confirmed.pending_version), None)
    );
    let r = world
        .rotations
        .get(&a, &confirmed.execution)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.stage, RotationStage::Completed);
    custody::assert_audit_intact(&emu, Some(&a)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_start_after_an_applied_pending_was_orphaned_does_not_discard_it() {
    let emu = functions().await;
    let sm = state_machine(&emu);
    let sdk = emu.role_config("AccessFunction").await;
    let ops = custody::operator_deps(&emu, OPERATOR).await;
    // the console, the table and the test's checks (harness; decrypts as the access function)
    let world = custody::inspector_deps(&emu).await;
    let a = custody::account(1010, 3);
    custody::onboard(&ops, &a, PASSWORD, None).await.unwrap();
    let name = rotation::start(&ops, &sm, &a, Some(600)).await.unwrap();
    let orphan = awaiting_apply(&world, &a, &name).await;

    // A human checks out the pending password to apply it ...
    let d = access_deps(&emu, &sdk, Arc::new(SystemClock));
    let id = approved_apply_request(&d, &a).await;
    let shown = access::checkout(&d, ALICE, &id).await.unwrap();
    let (_, applied) = shown.pending.as_ref().expect("pending shown");
    let applied = applied.expose_secret().to_owned();
    access::checkin(&d, ALICE, &id).await.unwrap();
    // ... and meanwhile someone stops the execution.
    stop(&world, &orphan.execution_arn).await;

    // A later start (CLI and use case) refuses by name and keeps the pending version.
    let (code, out) = cli(&emu, &["rotation", "start", "--account", a.as_str()]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("rotation confirm") && out.contains("rotation reject"),
        "{out}"
    );
    let e = rotation::start(&ops, &sm, &a, Some(600)).await.unwrap_err();
    assert_eq!(e.error_type.as_str(), "PendingDecisionRequired", "{e}");
    assert_eq!(executions(&world, &sm).await, vec![name.clone()]);
    assert_eq!(
        pending_stage(&world, &a, orphan.pending_version).await,
        Stage::Pending
    );

    // The operator confirms the orphaned pending: it becomes current, audited.
    rotation::confirm(&ops, &a).await.unwrap();
    let (info, current) = world
        .vault
        .reveal(&a, CredentialKind::RootPassword, None)
        .await
        .unwrap();
    assert_eq!(info.version, orphan.pending_version);
    assert_eq!(current.expose_secret(), applied);
    let actions = custody::audit_actions(&emu, &a).await;
    assert!(
        actions.contains(&"rotation.confirmed".to_owned()),
        "{actions:?}"
    );
    // Now a new rotation may start.
    rotation::start(&ops, &sm, &a, Some(600)).await.unwrap();
    custody::assert_audit_intact(&emu, Some(&a)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_apply_checkout_of_a_stopped_or_expired_rotation_is_refused_and_audited() {
    let emu = functions().await;
    let sm = state_machine(&emu);
    let sdk = emu.role_config("AccessFunction").await;
    let ops = custody::operator_deps(&emu, OPERATOR).await;
    // the console, the table and the test's checks (harness; decrypts as the access function)
    let world = custody::inspector_deps(&emu).await;
    let a = custody::account(1010, 4);
    custody::onboard(&ops, &a, PASSWORD, None).await.unwrap();
    let name = rotation::start(&ops, &sm, &a, Some(600)).await.unwrap();
    let rot = awaiting_apply(&world, &a, &name).await;
    let deadline = DateTime::parse_from_rfc3339(rot.apply_deadline.as_deref().unwrap())
        .unwrap()
        .to_utc();

    // The execution still runs, but its apply deadline has passed.
    let late = access_deps(&emu, &sdk, Arc::new(FixedClock(deadline)));
    let id = approved_apply_request(&late, &a).await;
    let e = access::checkout(&late, ALICE, &id).await.unwrap_err();
    assert_eq!(e.error_type, ErrorType::AccessDenied, "{e}");
    assert!(e.message.contains("deadline"), "{e}");

    // The execution was stopped: its record still says awaiting-apply, AWS says otherwise.
    stop(&world, &rot.execution_arn).await;
    let d = access_deps(&emu, &sdk, Arc::new(SystemClock));
    let e = access::checkout(&d, ALICE, &id).await.unwrap_err();
    assert_eq!(e.error_type, ErrorType::AccessDenied, "{e}");
    assert!(e.message.contains("ABORTED"), "{e}");

    // Nothing was shown or locked; both refusals are in the account's audit chain.
    let r = access::get(&d, &id).await.unwrap().unwrap();
    assert_eq!(r.status, AccessStatus::Approved);
    assert!(access::locks(&d).await.unwrap().is_empty());
    let actions = custody::audit_actions(&emu, &a).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "access.refused").count(),
        2,
        "{actions:?}"
    );
    assert!(!actions.contains(&"access.checked-out".to_owned()));
    custody::assert_audit_intact(&emu, Some(&a)).await;
}
