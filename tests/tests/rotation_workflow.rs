//! The rotation state machine end to end on the emulator: Step Functions runs
//! `infra/statemachines/rotation.asl.json`, its tasks invoke the real `rotation` binary through
//! the function host, "password changed" mail goes through the real `inbound-mail` binary, and
//! operators use the real `rootwarden` CLI. Then every table, log and execution history is
//! searched for the secrets involved.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration as StdDuration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{Duration, Utc};
use rootwarden::registry::RotationReason;
use rootwarden::rotation::{self, RotationStage};
use rootwarden::tickets::{TicketStatus, TicketStore};
use rootwarden::vault::{CredentialKind, Stage, Vault};
use rootwarden::AccountId;
use rootwarden_tests::custody::{awaiting_apply, eventually, execution_arn};
use rootwarden_tests::leaks::{everything_stored, execution_histories, logs};
use rootwarden_tests::{build_functions, cli_bin, custody, repo_root, Emulator};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

const PASSWORD: &str = "Onboard-Pa55word!<current>";
const SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

async fn functions() -> Emulator {
    build_functions().unwrap();
    Emulator::with_functions().await.unwrap()
}

fn arn_of(emu: &Emulator) -> String {
    custody::rotation_state_machine(emu)
}

async fn finished(emu: &Emulator, arn: &str) -> (ExecutionStatus, Value) {
    let sfn = aws_sdk_sfn::Client::new(&emu.sdk_config().await);
    eventually("the execution to end", || async {
        let d = sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .unwrap();
        (d.status() != &ExecutionStatus::Running).then(|| {
            let out = d
                .output()
                .and_then(|o| serde_json::from_str(o).ok())
                .unwrap_or(Value::Null);
            (d.status().clone(), out)
        })
    })
    .await
}

fn cli(emu: &Emulator, args: &[&str], stdin: Option<&str>) -> (i32, String) {
    let mut child = Command::new(cli_bin())
        .args(args)
        .envs(emu.process_env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Delivers AWS's "password changed" mail for `account` through S3 and the inbound Lambda.
async fn deliver_password_changed(emu: &Emulator, account: &AccountId, ses_id: &str) -> Value {
    let conf = emu.sdk_config().await;
    let raw =
        std::fs::read(repo_root().join("tests/fixtures/mail/password-changed-01-sub-address.eml"))
            .unwrap();
    let raw = String::from_utf8(raw)
        .unwrap()
        .replace("314159265358", account.as_str());
    emu.deliver_raw_mail(ses_id, raw.as_bytes()).unwrap();
    let mut event: Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("tests/fixtures/ses/lambda-event.json")).unwrap(),
    )
    .unwrap();
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    event["Records"][0]["ses"]["mail"]["messageId"] = json!(ses_id);
    event["Records"][0]["ses"]["receipt"]["recipients"] =
        json!([format!("aws-root+{account}@provider.example")]);
    event["Records"][0]["ses"]["receipt"]["timestamp"] = json!(now);
    event["Records"][0]["ses"]["mail"]["timestamp"] = json!(now);
    let out = aws_sdk_lambda::Client::new(&conf)
        .invoke()
        .function_name(
            emu.stack().resources["InboundMailFunction"]
                .physical_id
                .clone()
                .unwrap(),
        )
        .payload(Blob::new(event.to_string()))
        .send()
        .await
        .unwrap();
    assert!(out.function_error().is_none(), "{:?}", out.payload());
    serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_completed_by_password_changed_mail_leaks_no_secret() {
    let emu = functions().await;
    let sm = arn_of(&emu);
    // the test's own checks: the harness reads, the access function decrypts
    let deps = custody::inspector_deps(&emu).await;
    let ops = custody::operator_deps(&emu, "arn:aws:iam::123456789012:user/operator").await;
    let a = custody::account(6, 1);
    custody::onboard(&ops, &a, PASSWORD, Some(SEED))
        .await
        .unwrap();

    let name = rotation::start(&ops, &sm, &a, Some(600)).await.unwrap();
    let record = awaiting_apply(&deps, &a, &name).await;
    assert_eq!(
        (record.current_version, record.pending_version),
        (Some(1), 2)
    );
    // A second rotation while one awaits its apply step is refused.
    let e = rotation::start(&ops, &sm, &a, None).await.unwrap_err();
    assert_eq!(e.error_type, rootwarden::ErrorType::Conflict);
    let ticket = deps.tickets.get(&record.ticket_id).await.unwrap().unwrap();
    assert_eq!(ticket.status, TicketStatus::Open);
    assert!(ticket.subject.contains("Apply pending root password"));
    let (_, pending) = deps
        .vault
        .reveal(&a, CredentialKind::RootPassword, Some(2))
        .await
        .unwrap();
    let pending = pending.expose_secret().to_owned();
    assert_eq!(pending.len(), 32);
    assert_ne!(pending, PASSWORD);

    // AWS's authenticated "password changed" mail completes the apply step.
    let processed = deliver_password_changed(&emu, &a, "seschanged-rot-1").await;
    assert_eq!(
        processed["processed"][0]["workflows_completed"], 1,
        "{processed}"
    );
    let (status, _) = finished(&emu, &execution_arn(&sm, &name)).await;
    assert_eq!(status, ExecutionStatus::Succeeded);

    let head = deps
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (head.current, head.previous, head.pending),
        (Some(2), Some(1), None)
    );
    let (_, current) = deps
        .vault
        .reveal(&a, CredentialKind::RootPassword, None)
        .await
        .unwrap();
    assert_eq!(current.expose_secret(), pending);
    let record = deps.rotations.get(&a, &name).await.unwrap().unwrap();
    assert_eq!(record.stage, RotationStage::Completed);
    assert!(record.outcome.unwrap().contains("password-changed mail"));
    assert_eq!(
        deps.tickets
            .get(&record.ticket_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        TicketStatus::Resolved
    );
    let acct = deps.registry.get(&a).await.unwrap().unwrap();
    assert!(acct.rotation_due.unwrap() > Utc::now() + Duration::days(89));
    custody::assert_audit_intact(&emu, Some(&a)).await;

    // `rotation status` shows stages and versions, never a secret.
    let (code, out) = cli(&emu, &["rotation", "status", "--account", a.as_str()], None);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("current v2, previous v1") && out.contains("completed"),
        "{out}"
    );

    // No secret anywhere: tables (binary attributes included), Lambda and emulator logs,
    // Step Functions inputs, outputs and histories, CLI output.
    let haystack = format!(
        "{}{}{}{out}",
        everything_stored(&emu).await,
        logs(&emu),
        execution_histories(&emu, &sm).await
    );
    assert!(haystack.len() > 10_000, "the search covered too little");
    assert!(
        haystack.contains(a.as_str()),
        "the search saw the account's data"
    );
    // ... including the Lambdas' own log lines and the vault's ciphertext.
    assert!(haystack.contains("rotation prepared") && haystack.contains("rotation completed"));
    assert!(haystack.contains("ROOTWARDEN_VAULT_TABLE.ciphertext="));
    for (what, secret) in [
        ("onboarded password", PASSWORD),
        ("MFA seed", SEED),
        ("generated password", pending.as_str()),
    ] {
        assert!(!haystack.contains(secret), "the {what} leaked");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_onboard_confirm_and_reject_with_the_cli() {
    let emu = functions().await;
    // the test's own checks: the harness reads, the access function decrypts
    let deps = custody::inspector_deps(&emu).await;
    let a = custody::account(7, 1);
    let root_email = custody::root_email(&a);

    // Onboarding reads the secrets from stdin only.
    let (code, out) = cli(
        &emu,
        &[
            "account",
            "onboard",
            "--account",
            a.as_str(),
            "--root-email",
            root_email.as_str(),
            "--name",
            "Acme prod",
            "--max-age",
            "30d",
            "--contacts",
            "ops@provider.example,sec@provider.example",
        ],
        Some(&format!("{PASSWORD}\n{SEED}\n")),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("vaulted: root-password, mfa-seed"), "{out}");
    assert!(!out.contains(PASSWORD) && !out.contains(SEED));
    let (_, seed) = deps
        .vault
        .reveal(&a, CredentialKind::MfaSeed, None)
        .await
        .unwrap();
    assert_eq!(seed.expose_secret(), SEED);
    // Without a password on stdin a vaulted onboarding is refused, naming what is missing.
    let b = custody::account(7, 2);
    let (code, out) = cli(
        &emu,
        &[
            "account",
            "onboard",
            "--account",
            b.as_str(),
            "--root-email",
            custody::root_email(&b).as_str(),
        ],
        Some(""),
    );
    assert_eq!(code, 2);
    assert!(out.contains("stdin"), "{out}");

    let (code, out) = cli(&emu, &["account", "list"], None);
    assert_eq!(code, 0);
    assert!(
        out.contains(a.as_str()) && out.contains("Acme prod") && !out.contains(b.as_str()),
        "{out}"
    );
    let (code, out) = cli(&emu, &["account", "show", "--account", a.as_str()], None);
    assert_eq!(code, 0);
    assert!(
        out.contains("root-password  current v1 (1 versions)") && out.contains("mfa-seed"),
        "{out}"
    );

    // Confirm.
    let (code, out) = cli(&emu, &["rotation", "start", "--account", a.as_str()], None);
    assert_eq!(code, 0, "{out}");
    let name = out.split_whitespace().nth(2).unwrap().to_owned();
    awaiting_apply(&deps, &a, &name).await;
    let (code, out) = cli(&emu, &["rotation", "status", "--account", a.as_str()], None);
    assert!(
        code == 0 && out.contains("awaiting-apply") && out.contains("pending v2"),
        "{out}"
    );
    let (code, out) = cli(
        &emu,
        &["rotation", "confirm", "--account", a.as_str()],
        None,
    );
    assert_eq!(code, 0, "{out}");
    let sm = arn_of(&emu);
    let (status, _) = finished(&emu, &execution_arn(&sm, &name)).await;
    assert_eq!(status, ExecutionStatus::Succeeded);
    let r = deps.rotations.get(&a, &name).await.unwrap().unwrap();
    assert!(
        r.outcome.unwrap().contains("operator arn:aws:"),
        "the caller's ARN, from STS"
    );

    // Reject: pending discarded, current kept, ticket escalated, retry in a day.
    tokio::time::sleep(StdDuration::from_millis(1100)).await; // a new manual execution name
    let (code, out) = cli(&emu, &["rotation", "start", "--account", a.as_str()], None);
    assert_eq!(code, 0, "{out}");
    let name = out.split_whitespace().nth(2).unwrap().to_owned();
    awaiting_apply(&deps, &a, &name).await;
    let (code, out) = cli(
        &emu,
        &[
            "rotation",
            "reject",
            "--account",
            a.as_str(),
            "--reason",
            "MFA device unavailable",
        ],
        None,
    );
    assert_eq!(code, 0, "{out}");
    let (status, _) = finished(&emu, &execution_arn(&sm, &name)).await;
    assert_eq!(status, ExecutionStatus::Failed);
    let r = deps.rotations.get(&a, &name).await.unwrap().unwrap();
    assert_eq!(r.stage, RotationStage::Abandoned);
    assert_eq!(
        r.outcome.as_deref(),
        Some("rejected: MFA device unavailable")
    );
    let head = deps
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((head.current, head.pending), (Some(2), None));
    let versions = deps
        .vault
        .versions(&a, CredentialKind::RootPassword)
        .await
        .unwrap();
    assert_eq!(versions[2].stage, Stage::Discarded);
    let t = deps.tickets.get(&r.ticket_id).await.unwrap().unwrap();
    assert_eq!(
        (t.status, t.priority.as_str()),
        (TicketStatus::Open, "high")
    );
    let acct = deps.registry.get(&a).await.unwrap().unwrap();
    assert_eq!(acct.rotation_reason, Some(RotationReason::Retry));
    // Nothing awaits now: confirm has nothing to confirm.
    let (code, out) = cli(
        &emu,
        &["rotation", "confirm", "--account", a.as_str()],
        None,
    );
    assert!(code == 2 && out.contains("no rotation"), "{out}");
    custody::assert_audit_intact(&emu, Some(&a)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timed_out_rotation_is_abandoned_and_a_killed_one_is_superseded() {
    let emu = functions().await;
    let sm = arn_of(&emu);
    // the test's own checks: the harness reads, the access function decrypts
    let deps = custody::inspector_deps(&emu).await;
    let ops = custody::operator_deps(&emu, "arn:aws:iam::123456789012:user/operator").await;
    let a = custody::account(8, 1);
    custody::onboard(&ops, &a, PASSWORD, None).await.unwrap();

    // Timeout: the apply step gives up; pending is discarded, current stays.
    let name = rotation::start(&ops, &sm, &a, Some(3)).await.unwrap();
    let (status, _) = finished(&emu, &execution_arn(&sm, &name)).await;
    assert_eq!(status, ExecutionStatus::Failed);
    let r = deps.rotations.get(&a, &name).await.unwrap().unwrap();
    assert_eq!(r.stage, RotationStage::Abandoned);
    assert_eq!(r.outcome.as_deref(), Some("the apply step timed out"));
    let head = deps
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((head.current, head.pending), (Some(1), None));

    // A workflow killed while awaiting apply leaves its pending version behind. It may have
    // been applied, so the next rotation refuses until the operator decides (here: reject,
    // which discards it); then it carries on.
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    let killed = rotation::start(&ops, &sm, &a, Some(600)).await.unwrap();
    awaiting_apply(&deps, &a, &killed).await;
    deps.sfn
        .stop_execution()
        .execution_arn(execution_arn(&sm, &killed))
        .send()
        .await
        .unwrap();
    let head = deps
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.pending, Some(3));
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    let e = rotation::start(&ops, &sm, &a, Some(600)).await.unwrap_err();
    assert_eq!(
        e.error_type,
        rootwarden::ErrorType::PendingDecisionRequired,
        "{e}"
    );
    rotation::reject(&ops, &a, "killed before it was applied")
        .await
        .unwrap();
    let next = rotation::start(&ops, &sm, &a, Some(600)).await.unwrap();
    let r = awaiting_apply(&deps, &a, &next).await;
    assert_eq!(r.pending_version, 4);
    let old = deps.rotations.get(&a, &killed).await.unwrap().unwrap();
    assert_eq!(old.stage, RotationStage::Abandoned);
    assert!(old
        .outcome
        .unwrap()
        .contains("killed before it was applied"));
    rotation::confirm(&ops, &a).await.unwrap();
    let (status, _) = finished(&emu, &execution_arn(&sm, &next)).await;
    assert_eq!(status, ExecutionStatus::Succeeded);
    let versions = deps
        .vault
        .versions(&a, CredentialKind::RootPassword)
        .await
        .unwrap();
    let stages: Vec<_> = versions.iter().map(|v| v.stage).collect();
    assert_eq!(
        stages,
        vec![
            Stage::Previous,
            Stage::Discarded,
            Stage::Discarded,
            Stage::Current
        ]
    );
    for v in 1..=4 {
        deps.vault
            .reveal(&a, CredentialKind::RootPassword, Some(v))
            .await
            .unwrap();
    }
    custody::assert_audit_intact(&emu, Some(&a)).await;
}
