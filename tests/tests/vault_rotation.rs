//! The credential vault, onboarding, the rotation steps and the sweep, against the emulator with
//! the stack provisioned (no function host: the use cases are called directly, with the same
//! SDK clients a Lambda builds).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, Utc};
use rootwarden::error::Classify;
use rootwarden::registry::{stamp, AccountMode, RotationReason};
use rootwarden::rotation::{self, sweep, Deps, RotationStage, StartInput};
use rootwarden::tickets::{TicketStatus, TicketStore};
use rootwarden::vault::{partition, version_key};
use rootwarden::vault::{Actor, CredentialKind, Stage, Vault, VaultError};
use rootwarden::{AccountId, ErrorType};
use rootwarden_tests::custody::{self, KillPoint, KillSwitch};
use rootwarden_tests::Emulator;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

const PASSWORD: &str = "Onboard-Pa55word!<current>";
const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn actor(reason: &str) -> Actor {
    Actor {
        actor: "test".into(),
        correlation_id: "test".into(),
        reason: reason.into(),
    }
}

/// Every version of every kind decrypts, and exactly one is current.
async fn assert_vault_sound(deps: &Deps, account: &AccountId) {
    let head = deps
        .vault
        .head(account, CredentialKind::RootPassword)
        .await
        .unwrap()
        .expect("head");
    let versions = deps
        .vault
        .versions(account, CredentialKind::RootPassword)
        .await
        .unwrap();
    let current: Vec<_> = versions
        .iter()
        .filter(|v| v.stage == Stage::Current)
        .collect();
    assert_eq!(current.len(), 1, "exactly one current: {versions:?}");
    assert_eq!(current[0].version, head.current.unwrap());
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        (1..head.next_version).collect::<Vec<_>>(),
        "no version lost, none skipped"
    );
    for v in &versions {
        deps.vault
            .reveal(account, CredentialKind::RootPassword, Some(v.version))
            .await
            .unwrap_or_else(|e| panic!("version {} does not decrypt: {e}", v.version));
    }
    let pending = versions
        .iter()
        .filter(|v| v.stage == Stage::Pending)
        .count();
    assert_eq!(pending, usize::from(head.pending.is_some()));
}

#[tokio::test(flavor = "multi_thread")]
async fn onboarding_vaults_current_atomically_once_and_refuses_bad_input() {
    let emu = Emulator::with_stack().await.unwrap();
    let deps = custody::deps(&emu, "arn:aws:iam::123456789012:user/alice").await;
    let ops = custody::operator_deps(&emu, "arn:aws:iam::123456789012:user/alice").await;
    let a = custody::account(1, 1);
    custody::onboard(&ops, &a, PASSWORD, Some(SEED))
        .await
        .unwrap();

    let inspect = custody::inspector_deps(&emu).await;
    let registered = deps.registry.get(&a).await.unwrap().unwrap();
    assert_eq!(registered.mode, AccountMode::Vaulted);
    let due = registered.rotation_due.unwrap();
    assert!(
        (due - (Utc::now() + Duration::days(90)))
            .num_minutes()
            .abs()
            < 5
    );
    for (kind, value) in [
        (CredentialKind::RootPassword, PASSWORD),
        (CredentialKind::MfaSeed, SEED),
    ] {
        let (info, secret) = inspect.vault.reveal(&a, kind, None).await.unwrap();
        assert_eq!((info.version, info.stage), (1, Stage::Current));
        assert_eq!(secret.expose_secret(), value);
    }
    // The inbound-mail registry finds it by its root email (same table).
    let by_email = rootwarden::registry::AccountRegistry::by_root_email(
        &inspect.registry,
        &custody::root_email(&a),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(by_email.account_id, a);
    assert_eq!(
        custody::audit_actions(&emu, &a).await,
        vec!["account.onboarded"]
    );

    // Again: a conflict, and nothing changes (the vault still holds the first password).
    let e = custody::onboard(&ops, &a, "Another-Pa55word!!", None)
        .await
        .unwrap_err();
    let e = e.downcast::<rootwarden::LambdaError>().unwrap();
    assert_eq!(e.error_type, ErrorType::Conflict);
    let (_, secret) = inspect
        .vault
        .reveal(&a, CredentialKind::RootPassword, None)
        .await
        .unwrap();
    assert_eq!(secret.expose_secret(), PASSWORD);
    assert_eq!(custody::audit_actions(&emu, &a).await.len(), 1);

    // A vault head left without a registry item (e.g. written by hand) makes the whole
    // onboarding transaction fail: no registry item appears.
    let b = custody::account(1, 2);
    let items = deps
        .vault
        .initial_items(
            &b,
            CredentialKind::RootPassword,
            &SecretString::from("x".repeat(12)),
            "t",
        )
        .await
        .unwrap();
    deps.registry
        .client()
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
        .unwrap();
    let e = custody::onboard(&ops, &b, PASSWORD, None)
        .await
        .unwrap_err();
    assert_eq!(
        e.downcast::<rootwarden::LambdaError>().unwrap().error_type,
        ErrorType::Conflict
    );
    assert!(deps.registry.get(&b).await.unwrap().is_none());
    custody::assert_audit_intact(&emu, Some(&a)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ciphertext_under_another_context_does_not_decrypt() {
    let emu = Emulator::with_stack().await.unwrap();
    let ops = custody::operator_deps(&emu, "test").await;
    let a = custody::account(2, 1);
    custody::onboard(&ops, &a, PASSWORD, Some(SEED))
        .await
        .unwrap();
    // the attacker with table access, and the vault read as the access function would
    let inspect = custody::inspector_deps(&emu).await;
    let ddb = inspect.registry.client().clone();
    let table = emu.env("ROOTWARDEN_VAULT_TABLE");
    let get = |pk: String, sk: String| {
        let ddb = ddb.clone();
        let table = table.clone();
        async move {
            ddb.get_item()
                .table_name(table)
                .key("pk", AttributeValue::S(pk))
                .key("sk", AttributeValue::S(sk))
                .send()
                .await
                .unwrap()
                .item
                .unwrap()
        }
    };
    let password_item = get(partition(&a, CredentialKind::RootPassword), version_key(1)).await;
    let blob = password_item["ciphertext"].as_b().unwrap().clone();

    // Plaintext never reaches DynamoDB: the item holds only ciphertext and metadata.
    let text = format!("{password_item:?}");
    assert!(!text.contains(PASSWORD));

    // Directly with KMS: the right context decrypts, every wrong one fails.
    // As the access function, the only role that decrypts root passwords (after dual control).
    let kms = aws_sdk_kms::Client::new(&emu.role_config("AccessFunction").await);
    let ctx = |acct: &str, kind: &str, v: &str| {
        HashMap::from([
            ("rootwarden:account".to_owned(), acct.to_owned()),
            ("rootwarden:kind".to_owned(), kind.to_owned()),
            ("rootwarden:version".to_owned(), v.to_owned()),
        ])
    };
    let ok = kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .set_encryption_context(Some(ctx(a.as_str(), "root-password", "1")))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.plaintext().unwrap().as_ref(), PASSWORD.as_bytes());
    for wrong in [
        ctx(a.as_str(), "root-password", "2"),
        ctx(a.as_str(), "mfa-seed", "1"),
        ctx("999999999999", "root-password", "1"),
        HashMap::new(),
    ] {
        let e = kms
            .decrypt()
            .ciphertext_blob(blob.clone())
            .set_encryption_context(Some(wrong.clone()))
            .send()
            .await
            .unwrap_err();
        // a missing rootwarden:kind is refused by the key policy before KMS even tries
        let refused_by_policy = wrong.is_empty()
            && e.as_service_error().and_then(|s| s.meta().code()) == Some("AccessDeniedException");
        assert!(
            refused_by_policy
                || e.as_service_error()
                    .unwrap()
                    .is_invalid_ciphertext_exception(),
            "{wrong:?}: {e:?}"
        );
    }

    // Through the vault: a ciphertext copied onto another kind's version does not decrypt, and
    // the error names no secret.
    ddb.update_item()
        .table_name(&table)
        .key(
            "pk",
            AttributeValue::S(partition(&a, CredentialKind::MfaSeed)),
        )
        .key("sk", AttributeValue::S(version_key(1)))
        .update_expression("SET ciphertext = :c")
        .expression_attribute_values(":c", AttributeValue::B(blob))
        .send()
        .await
        .unwrap();
    let e = inspect
        .vault
        .reveal(&a, CredentialKind::MfaSeed, None)
        .await
        .unwrap_err();
    assert!(matches!(e, VaultError::Key { .. }), "{e:?}");
    assert_eq!(e.error_type(), ErrorType::AwsError);
    assert!(!e.to_string().contains(PASSWORD) && !e.to_string().contains(SEED));
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_stage_moves_have_exactly_one_winner() {
    let emu = Emulator::with_stack().await.unwrap();
    let deps = custody::deps(&emu, "test").await;
    let ops = custody::operator_deps(&emu, "test").await;
    let a = custody::account(3, 1);
    custody::onboard(&ops, &a, PASSWORD, None).await.unwrap();
    let kind = CredentialKind::RootPassword;

    // Eight rotations stage a pending version at once: one wins, seven get a clear conflict.
    let results = futures::future::join_all((0..8).map(|i| {
        let deps = deps.clone();
        let a = a.clone();
        async move {
            deps.vault
                .stage_pending(
                    &a,
                    kind,
                    &format!("exec-{i}"),
                    &SecretString::from(format!("Pending-Pa55word-{i}!")),
                    &actor("race"),
                )
                .await
        }
    }))
    .await;
    let winners: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in results.iter().filter(|r| r.is_err()) {
        let e = r.as_ref().unwrap_err();
        assert_eq!(e.error_type(), ErrorType::Conflict, "{e}");
    }
    let head = deps.vault.head(&a, kind).await.unwrap().unwrap();
    let owner = head.pending_execution.clone().unwrap();
    assert_eq!(head.pending, Some(2));
    // The same execution again reuses its version (idempotent), another is refused.
    let again = deps
        .vault
        .stage_pending(
            &a,
            kind,
            &owner,
            &SecretString::from("ignored-Pa55word!!"),
            &actor("retry"),
        )
        .await
        .unwrap();
    assert_eq!(again, (2, false));

    // Promote and discard race for the same pending version: exactly one takes effect.
    let (pa, da) = (actor("promote"), actor("discard"));
    let (p, d) = tokio::join!(
        deps.vault.promote(&a, kind, &owner, &pa),
        deps.vault.discard_pending(&a, kind, &owner, &da),
    );
    let head = deps.vault.head(&a, kind).await.unwrap().unwrap();
    match (&p, &d) {
        (Ok(2), Ok(None)) | (Ok(2), Err(_)) => {
            assert_eq!((head.current, head.previous), (Some(2), Some(1)))
        }
        (Err(_), Ok(Some(2))) => assert_eq!((head.current, head.previous), (Some(1), None)),
        other => panic!("both or neither won: {other:?}"),
    }
    assert_eq!(head.pending, None);
    assert_vault_sound(&custody::inspector_deps(&emu).await, &a).await;
    custody::assert_audit_intact(&emu, Some(&a)).await;
}

/// Runs `step` with a kill at AWS call 1, 2, 3, ... (before the call, and after its effect),
/// then once more without faults, and checks after each that the vault is sound and that the
/// re-run converged to `check`. Returns how many AWS calls the step makes.
macro_rules! converges {
    ($emu:expr, $prefix:expr, $setup:expr, $step:expr, $check:expr) => {{
        let emu: &Emulator = $emu;
        let healthy = custody::deps(emu, "test").await;
        let ops = custody::operator_deps(emu, "test").await;
        // the test's own checks read as the harness and decrypt as the access function
        let inspect = custody::inspector_deps(emu).await;
        let mut n_calls = 0;
        let mut case = 0u64;
        for point in [KillPoint::BeforeSend, KillPoint::AfterEffect] {
            for kill_at in 1..200 {
                case += 1;
                let a = custody::account($prefix, case);
                custody::onboard(&ops, &a, PASSWORD, None).await.unwrap();
                let exec = format!("exec-{case}");
                ($setup)(healthy.clone(), a.clone(), exec.clone()).await;
                let kill = KillSwitch::new(kill_at, point);
                let faulty = custody::faulty_deps(emu, "test", &kill).await;
                let first = ($step)(faulty, a.clone(), exec.clone()).await;
                if !kill.fired() {
                    first.unwrap_or_else(|e| panic!("fault-free run failed: {e}"));
                    ($check)(inspect.clone(), a.clone(), exec.clone()).await;
                    n_calls = kill.calls();
                    break;
                }
                assert_vault_sound(&inspect, &a).await;
                ($step)(healthy.clone(), a.clone(), exec.clone())
                    .await
                    .unwrap_or_else(|e| {
                        panic!("re-run after kill at {kill_at} ({point:?}) failed: {e}")
                    });
                ($check)(inspect.clone(), a.clone(), exec.clone()).await;
                assert_vault_sound(&inspect, &a).await;
                custody::assert_audit_intact(emu, Some(&a)).await;
            }
        }
        n_calls
    }};
}

fn arn(exec: &str) -> String {
    format!("arn:aws:states:us-east-1:123456789012:execution:nowhere:{exec}")
}

async fn prepare(deps: Deps, a: AccountId, exec: String) -> Result<(), rootwarden::LambdaError> {
    let input = StartInput {
        account_id: a.to_string(),
        trigger: Some("manual".into()),
        apply_timeout_seconds: Some(600),
    };
    rotation::prepare(&deps, &exec, &arn(&exec), &input)
        .await
        .map(|_| ())
}

async fn await_apply(
    deps: Deps,
    a: AccountId,
    exec: String,
) -> Result<(), rootwarden::LambdaError> {
    rotation::await_apply(&deps, &a, &exec, &format!("token-{exec}"), 600).await
}

async fn prepare_ok(deps: Deps, a: AccountId, exec: String) {
    prepare(deps, a, exec).await.unwrap();
}

async fn prepared(deps: Deps, a: AccountId, exec: String) {
    prepare(deps.clone(), a.clone(), exec.clone())
        .await
        .unwrap();
    await_apply(deps, a, exec).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rotation_step_converges_after_a_kill_between_any_two_aws_calls() {
    let emu = Emulator::with_stack().await.unwrap();

    let calls = converges!(
        &emu,
        41,
        |_d: Deps, _a: AccountId, _e: String| async {},
        prepare,
        |d: Deps, a: AccountId, e: String| async move {
            let head = d
                .vault
                .head(&a, CredentialKind::RootPassword)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (head.current, head.pending),
                (Some(1), Some(2)),
                "one pending version, reused"
            );
            assert_eq!(head.pending_execution.as_deref(), Some(e.as_str()));
            let r = d.rotations.get(&a, &e).await.unwrap().unwrap();
            assert_eq!(
                (r.stage, r.pending_version),
                (RotationStage::AwaitingApply, 2)
            );
            let t = d.tickets.get(&r.ticket_id).await.unwrap().unwrap();
            assert_eq!(t.status, TicketStatus::Open);
        }
    );
    assert!(calls >= 8, "prepare makes {calls} AWS calls");

    converges!(
        &emu,
        42,
        prepare_ok,
        await_apply,
        |d: Deps, a: AccountId, e: String| async move {
            let r = d.rotations.get(&a, &e).await.unwrap().unwrap();
            assert_eq!(r.task_token.as_deref(), Some(format!("token-{e}").as_str()));
            let waits = rootwarden::workflows::WorkflowWaits::waiting(
                &d.waits,
                &a,
                rootwarden::mail::Category::PasswordChanged,
                Utc::now(),
            )
            .await
            .unwrap();
            assert_eq!(waits.len(), 1);
        }
    );

    converges!(
        &emu,
        43,
        prepared,
        |d: Deps, a: AccountId, e: String| async move {
            rotation::finish(
                &d,
                &a,
                &e,
                &json!({"actor": "arn:aws:iam::123456789012:user/op"}),
            )
            .await
            .map(|_| ())
        },
        |d: Deps, a: AccountId, e: String| async move {
            let head = d
                .vault
                .head(&a, CredentialKind::RootPassword)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (head.current, head.previous, head.pending),
                (Some(2), Some(1), None)
            );
            let r = d.rotations.get(&a, &e).await.unwrap().unwrap();
            assert_eq!(
                (r.stage, r.completed_version),
                (RotationStage::Completed, Some(2))
            );
            assert_eq!(
                d.tickets.get(&r.ticket_id).await.unwrap().unwrap().status,
                TicketStatus::Resolved
            );
            let acct = d.registry.get(&a).await.unwrap().unwrap();
            assert!(acct.rotation_due.unwrap() > Utc::now() + Duration::days(89));
            assert!(acct.last_rotated_at.is_some());
        }
    );

    converges!(
        &emu,
        44,
        prepared,
        |d: Deps, a: AccountId, e: String| async move {
            rotation::abandon(&d, &a, &e, &json!({"Error": "States.Timeout", "Cause": ""}))
                .await
                .map(|_| ())
        },
        |d: Deps, a: AccountId, e: String| async move {
            let head = d
                .vault
                .head(&a, CredentialKind::RootPassword)
                .await
                .unwrap()
                .unwrap();
            assert_eq!((head.current, head.pending), (Some(1), None));
            let versions = d
                .vault
                .versions(&a, CredentialKind::RootPassword)
                .await
                .unwrap();
            assert_eq!(versions[1].stage, Stage::Discarded, "kept, never deleted");
            let r = d.rotations.get(&a, &e).await.unwrap().unwrap();
            assert_eq!(r.stage, RotationStage::Abandoned);
            let t = d.tickets.get(&r.ticket_id).await.unwrap().unwrap();
            assert_eq!(t.status, TicketStatus::Open);
            assert!(t.summary.contains("timed out"));
            let acct = d.registry.get(&a).await.unwrap().unwrap();
            assert_eq!(acct.rotation_reason, Some(RotationReason::Retry));
        }
    );
}

async fn set_due(deps: &Deps, a: &AccountId, due: chrono::DateTime<Utc>) {
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

#[tokio::test(flavor = "multi_thread")]
async fn the_sweep_starts_each_due_account_once() {
    let emu = Emulator::with_stack().await.unwrap();
    // The sweep's logic, run as the harness: its executions go to a parked state machine
    // the test makes, which the scheduler's role may not start (the schedule-fire test runs
    // the real rotation-scheduler with its own role).
    let deps = custody::inspector_deps(&emu).await;
    let ops = custody::operator_deps(&emu, "test").await;
    // Executions that keep running (without the function host the rotation state machine's
    // executions fail at once, and the sweep restarts an ended one).
    let arn = deps
        .sfn
        .create_state_machine()
        .name("parked-rotation")
        .role_arn("arn:aws:iam::123456789012:role/sfn")
        .definition(
            r#"{"StartAt":"Park","States":{"Park":{"Type":"Wait","Seconds":3600,"End":true}}}"#,
        )
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let now = Utc::now();
    let mut due = Vec::new();
    for n in 1..=12 {
        let a = custody::account(5, n);
        custody::onboard(&ops, &a, PASSWORD, None).await.unwrap();
        if n <= 7 {
            set_due(&deps, &a, now - Duration::days(n as i64)).await;
            due.push(a);
        }
    }
    // Not due: the other five (due in 90 days). Never due: a credential-less account.
    rootwarden::onboarding::onboard(
        &deps,
        rootwarden::onboarding::OnboardRequest {
            account_id: custody::account(5, 99),
            root_email: custody::root_email(&custody::account(5, 99)),
            name: None,
            mode: AccountMode::CredentialLess,
            max_age_days: 1,
            contacts: vec![],
        },
        rootwarden::onboarding::OnboardSecrets {
            password: None,
            mfa_seed: None,
        },
    )
    .await
    .unwrap();

    let first = sweep::sweep(&deps.registry, &deps.sfn, &arn, now, 3)
        .await
        .unwrap();
    assert_eq!(
        (first.due, first.started, first.already_started),
        (7, 7, 0),
        "{first:?}"
    );
    let again = sweep::sweep(&deps.registry, &deps.sfn, &arn, now, 3)
        .await
        .unwrap();
    assert_eq!(
        (again.due, again.started, again.already_started),
        (7, 0, 7),
        "{again:?}"
    );

    // A sweep killed between StartExecution and recording it: the next one finds the
    // execution by its name and starts nothing twice.
    deps.registry
        .client()
        .update_item()
        .table_name(deps.registry.table())
        .key("account_id", AttributeValue::S(due[0].to_string()))
        .update_expression("REMOVE rotation_execution")
        .send()
        .await
        .unwrap();
    let third = sweep::sweep(&deps.registry, &deps.sfn, &arn, now, 3)
        .await
        .unwrap();
    // Step Functions answers a repeated StartExecution of a running execution (same name, same
    // input) with success, so the report may count it as started; the listing below proves
    // each account still has exactly one execution.
    assert_eq!(
        (third.started + third.already_started, third.restarted),
        (7, 0),
        "{third:?}"
    );

    let names: Vec<String> = deps
        .sfn
        .list_executions()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap()
        .executions()
        .iter()
        .map(|e| e.name().to_owned())
        .collect();
    assert_eq!(names.len(), 7);
    for a in &due {
        let acct = deps.registry.get(a).await.unwrap().unwrap();
        let expected = sweep::execution_name(a, &stamp(acct.rotation_due.unwrap()));
        assert!(names.contains(&expected), "{expected} not in {names:?}");
        assert_eq!(acct.rotation_execution.as_deref(), Some(expected.as_str()));
    }

    // A check-out marks an account: it is due at once, with a new execution name.
    let marked = custody::account(5, 10);
    deps.registry
        .mark_for_rotation(&marked, now, RotationReason::Checkout)
        .await
        .unwrap();
    let fourth = sweep::sweep(
        &deps.registry,
        &deps.sfn,
        &arn,
        now + Duration::seconds(1),
        3,
    )
    .await
    .unwrap();
    assert_eq!((fourth.due, fourth.started), (8, 1), "{fourth:?}");
    let input: serde_json::Value = serde_json::from_str(
        deps.sfn
            .describe_execution()
            .execution_arn(format!(
                "{}:{}",
                arn.replace(":stateMachine:", ":execution:"),
                sweep::execution_name(&marked, &stamp(now))
            ))
            .send()
            .await
            .unwrap()
            .input()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(input["trigger"], "checkout");
    assert_eq!(input["account_id"], marked.as_str());
}
