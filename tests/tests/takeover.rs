//! The takeover state machine end to end on the emulator (credential-less mode): the real
//! `rootwarden` CLI starts it as the operator, Step Functions runs
//! `infra/statemachines/takeover.asl.json`, its tasks invoke the real `takeover` binary through
//! the function host, AWS's account API (emulated) mails the one-time code, and afterwards the
//! account is active at its allocated address with no root credential left.
//!
//! TODO(mail path): until the emulator mails the code through SES inbound to the inbound-mail
//! function, [`deliver_code`] stands in for it: it reads the code from the emulator's test
//! endpoint, vaults it and completes the wait with the inbound-mail function's own adapters and
//! role. Once the mail path is merged, deliver it as SES does and drop that stand-in.

use std::process::{Command, Stdio};

use aws_sdk_sfn::types::ExecutionStatus;
use chrono::Utc;
use rootwarden::mail::{Category, SecretKind};
use rootwarden::registry::AccountStatus;
use rootwarden::takeover::{address, TakeoverStore};
use rootwarden::vault::TransientStore;
use rootwarden::workflows::WorkflowWaits;
use rootwarden::AccountId;
use rootwarden_tests::custody::{self, eventually};
use rootwarden_tests::{build_functions, cli_bin, Emulator};
use secrecy::SecretString;
use serde_json::{json, Value};

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

/// What inbound mail does with AWS's verification mail (see the module's TODO).
async fn deliver_code(emu: &Emulator, account: &AccountId, execution: &str, n: usize) {
    let (status, body) = emu
        .test_endpoint(
            "GET",
            &format!("/_rootwarden/primary-email/{account}/otp"),
            None,
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let code = SecretString::from(body["otp"].as_str().unwrap().to_owned());
    let inbound = emu.inbound_adapters(&emu.role_config("InboundMailFunction").await);
    inbound
        .vault
        .put(
            Some(account),
            SecretKind::VerificationCode,
            &format!("ses-takeover-{account}-{n}"),
            0,
            Utc::now(),
            &code,
        )
        .await
        .unwrap();
    let waits = inbound
        .waits
        .waiting(account, Category::VerificationCode, Utc::now())
        .await
        .unwrap();
    let wait = waits
        .iter()
        .find(|w| w.execution == execution)
        .expect("the execution's code wait");
    inbound
        .waits
        .complete(wait, &json!({"received": true}))
        .await
        .unwrap();
}

async fn code_wait_registered(emu: &Emulator, account: &AccountId, execution: &str) {
    let inbound = emu.inbound_adapters(&emu.role_config("InboundMailFunction").await);
    eventually("the code wait", || async {
        let w = inbound
            .waits
            .waiting(account, Category::VerificationCode, Utc::now())
            .await
            .unwrap();
        w.iter().any(|w| w.execution == execution).then_some(())
    })
    .await;
}

/// How execution `arn` ended.
async fn ended(emu: &Emulator, arn: &str) -> ExecutionStatus {
    let sfn = aws_sdk_sfn::Client::new(&emu.sdk_config().await);
    eventually("the takeover to end", || async {
        let d = sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .unwrap();
        (d.status() != &ExecutionStatus::Running).then(|| d.status().clone())
    })
    .await
}

/// The failed tasks of `arn` and the account's audit records, for a failure message.
async fn explain(emu: &Emulator, account: &AccountId, arn: &str) -> String {
    use rootwarden::audit::{AuditLog, Stream};
    let sfn = aws_sdk_sfn::Client::new(&emu.sdk_config().await);
    let events = sfn
        .get_execution_history()
        .execution_arn(arn)
        .send()
        .await
        .unwrap();
    let failures: Vec<String> = events
        .events()
        .iter()
        .filter(|e| format!("{:?}", e.r#type()).contains("Fail"))
        .map(|e| format!("{:?}", e.r#type()))
        .collect();
    let records: Vec<String> = custody::audit_log(emu)
        .await
        .read_stream(&Stream::Account(account.clone()).key())
        .await
        .unwrap()
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| format!("{} {:?}", r.action, r.details))
        .collect();
    format!("{}\n{}", failures.join("\n"), records.join("\n"))
}

/// The customer's account: its own root address, a root access key, MFA and (or not) a password.
fn seed_customer(emu: &Emulator, account: &AccountId, login_profile: bool) {
    let (status, _) = emu
        .test_endpoint(
            "PUT",
            &format!("/_rootwarden/primary-email/{account}"),
            Some(&json!({"email": format!("founder-{account}@customer.example")})),
        )
        .unwrap();
    assert_eq!(status, 200);
    let (status, body) = emu
        .test_endpoint(
            "PUT",
            &format!("/_rootwarden/root-state/{account}"),
            Some(&json!({
                "access_keys": [{"id": format!("AKIA{account}"), "status": "Active"}],
                "signing_certificates": [],
                "mfa_devices": [{"serial": format!("arn:aws:iam::{account}:mfa/root-account-mfa-device")}],
                "login_profile": login_profile
            })),
        )
        .unwrap();
    assert!((200..300).contains(&status), "{body}");
}

/// `account takeover` as the operator alice: the execution's name and ARN.
fn start(emu: &Emulator, account: &AccountId, mode: &str, reason: &str) -> (String, String) {
    let (code, out) = cli(
        emu,
        &[
            "--output",
            "json",
            "account",
            "takeover",
            "--account",
            account.as_str(),
            "--mode",
            mode,
            "--reason",
            reason,
            "--ticket",
            "CHG-42",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let started: Value = serde_json::from_str(&out).unwrap();
    (
        started["execution"].as_str().unwrap().to_owned(),
        started["execution_arn"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credential_less_takeover_runs_end_to_end() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let account = custody::account(777, 1);
    seed_customer(&emu, &account, true);
    let (first, first_arn) = start(
        &emu,
        &account,
        "credential-less",
        "custody of the acquired account",
    );

    code_wait_registered(&emu, &account, &first).await;
    // A second start while it runs (allocated: it owns the account) is refused, naming it.
    let (code, out) = cli(
        &emu,
        &[
            "account",
            "takeover",
            "--account",
            account.as_str(),
            "--mode",
            "credential-less",
            "--reason",
            "again",
            "--ticket",
            "CHG-43",
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains(&first), "{out}");

    let (code, out) = cli(
        &emu,
        &[
            "--output",
            "json",
            "account",
            "takeover-status",
            "--account",
            account.as_str(),
        ],
    );
    assert_eq!(code, 0, "{out}");
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["step"], "awaiting-code", "{status}");
    assert_eq!(status["waiting_for"][0]["kind"], "verification-code");

    // The first execution is stopped while it waits (nothing records it); a new start resumes
    // the takeover: it adopts the account (the old execution no longer runs), keeps the
    // address, asks for a new code.
    let sfn = aws_sdk_sfn::Client::new(&emu.sdk_config().await);
    sfn.stop_execution()
        .execution_arn(&first_arn)
        .send()
        .await
        .unwrap();
    let (second, arn) = start(
        &emu,
        &account,
        "credential-less",
        "custody of the acquired account (resumed)",
    );
    code_wait_registered(&emu, &account, &second).await;
    deliver_code(&emu, &account, &second, 1).await;

    let end = ended(&emu, &arn).await;
    assert_eq!(
        end,
        ExecutionStatus::Succeeded,
        "{}",
        explain(&emu, &account, &arn).await
    );

    let deps = rootwarden::takeover::Deps::new(
        &custody::config(&emu),
        &emu.sdk_config().await,
        std::sync::Arc::new(rootwarden::SystemClock),
        "test",
    );
    let (acct, t) = deps.store.get(&account).await.unwrap().unwrap();
    assert_eq!(acct.status, AccountStatus::Active);
    assert!(address::is_scheme_address(
        &acct.root_email,
        &account,
        &emu.env("ROOTWARDEN_ROOT_MAIL_DOMAIN")
    ));
    assert_eq!(
        status["root_email"],
        acct.root_email.as_str(),
        "the resumed takeover kept its address"
    );
    let t = t.unwrap();
    assert_eq!(t.step, None);
    assert_eq!(t.execution, second);
    let (_, body) = emu
        .test_endpoint(
            "GET",
            &format!("/_rootwarden/primary-email/{account}"),
            None,
        )
        .unwrap();
    assert_eq!(body["email"], acct.root_email.as_str());
    let (_, root) = emu
        .test_endpoint("GET", &format!("/_rootwarden/root-state/{account}"), None)
        .unwrap();
    assert_eq!(root["access_keys"], json!([]), "{root}");
    assert_eq!(root["mfa_devices"], json!([]), "{root}");
    assert_eq!(root["login_profile"], json!(false), "{root}");
    let actions = custody::audit_actions(&emu, &account).await;
    for a in [
        "takeover.requested",
        "takeover.allocated",
        "takeover.awaiting-code",
        "takeover.email-updated",
        "takeover.root-credentials-deleted",
        "takeover.keys-deleted",
        "takeover.completed",
    ] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} missing from {actions:?}"
        );
    }
    custody::assert_audit_intact(&emu, Some(&account)).await;
}

/// Vaulted mode up to its first human step: the email is taken, password recovery is enabled
/// (a login profile without a password, through an `IAMCreateRootUserPassword` session), then
/// the rotation function prepares the pending password and the workflow waits for the reset
/// link (a human's "Forgot password").
///
/// TODO(rotation trigger `takeover`, Category::Mfa waits, `account mfa-seed`): until the rotation
/// function prepares for a `taking-over` account, its prepare refuses, the pending step is
/// abandoned and the takeover stops (recorded, resumable): both outcomes are accepted here. Once
/// those are merged, drive the rest: reset link and apply (check-out `--reason takeover`), the
/// MFA seed, verify-mfa, activation.
#[tokio::test(flavor = "multi_thread")]
async fn a_vaulted_takeover_enables_recovery_before_its_password_steps() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let account = custody::account(777, 2);
    seed_customer(&emu, &account, false);
    let (name, arn) = start(&emu, &account, "vaulted", "custody of the acquired account");
    code_wait_registered(&emu, &account, &name).await;
    deliver_code(&emu, &account, &name, 1).await;

    let inbound = emu.inbound_adapters(&emu.role_config("InboundMailFunction").await);
    let sfn = aws_sdk_sfn::Client::new(&emu.sdk_config().await);
    let waiting = eventually("the reset-link wait or the end", || async {
        let w = inbound
            .waits
            .waiting(&account, Category::PasswordReset, Utc::now())
            .await
            .unwrap();
        if w.iter().any(|w| w.execution == name) {
            return Some(true);
        }
        let d = sfn
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .unwrap();
        (d.status() != &ExecutionStatus::Running).then_some(false)
    })
    .await;
    let (_, root) = emu
        .test_endpoint("GET", &format!("/_rootwarden/root-state/{account}"), None)
        .unwrap();
    assert_eq!(root["login_profile"], json!(true), "{root}");
    let actions = custody::audit_actions(&emu, &account).await;
    for a in ["takeover.email-updated", "takeover.recovery-enabled"] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} missing from {actions:?}"
        );
    }
    if waiting {
        let (code, out) = cli(
            &emu,
            &[
                "--output",
                "json",
                "account",
                "takeover-status",
                "--account",
                account.as_str(),
            ],
        );
        assert_eq!(code, 0, "{out}");
        let status: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(status["step"], "awaiting-reset-link", "{status}");
    } else {
        assert_eq!(
            ended(&emu, &arn).await,
            ExecutionStatus::Failed,
            "{}",
            explain(&emu, &account, &arn).await
        );
        assert_eq!(actions.last().map(String::as_str), Some("takeover.stopped"));
        eprintln!(
            "vaulted takeover stopped at the password steps (expected until the rotation \
             function prepares for a taking-over account):\n{}",
            explain(&emu, &account, &arn).await
        );
    }
    custody::assert_audit_intact(&emu, Some(&account)).await;
}
