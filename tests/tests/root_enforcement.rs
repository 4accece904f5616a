//! Root-credential enforcement against the emulator: STS AssumeRoot sessions scoped to the AWS
//! managed task policies, root-context IAM on seeded root user state, the registry's posture,
//! audit chains and tickets. The use case is called directly (the same code the
//! `root-enforcement` Lambda runs); the last test runs the real Lambda and the real CLI.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use chrono::{Duration, Utc};
use rootwarden::clock::FixedClock;
use rootwarden::enforcement::{self, AccountOutcome, Deps, TaskPolicy};
use rootwarden::onboarding::{self, OnboardRequest, OnboardSecrets};
use rootwarden::registry::AccountMode;
use rootwarden::tickets::{TicketStatus, TicketStore};
use rootwarden::{AccountId, ErrorType, SystemClock};
use rootwarden_tests::{build_functions, cli_bin, custody, Emulator};
use serde_json::{json, Value};

const PASSWORD: &str = "Onboard-Pa55word!<current>";
const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// The enforcement use case's dependencies, acting as the root-enforcement function's role.
async fn enforcement_deps(emu: &Emulator) -> Deps {
    Deps::new(
        &custody::config(emu),
        &emu.role_config("RootEnforcementFunction").await,
        Arc::new(SystemClock),
        "root-enforcement-test",
    )
}

/// The same dependencies acting as the operator alice: `account recover` runs in the CLI.
async fn operator_enforcement_deps(emu: &Emulator) -> Deps {
    Deps::new(
        &custody::config(emu),
        &emu.sdk_config_as(emu.operator("alice")).await,
        Arc::new(SystemClock),
        "root-enforcement-test",
    )
}

fn seed(emu: &Emulator, account: &AccountId, state: Value) {
    let (status, body) = emu
        .test_endpoint(
            "PUT",
            &format!("/_rootwarden/root-state/{account}"),
            Some(&state),
        )
        .unwrap();
    assert!(
        (200..300).contains(&status),
        "seeding failed: {status} {body}"
    );
}

fn root_state(emu: &Emulator, account: &AccountId) -> Value {
    emu.test_endpoint("GET", &format!("/_rootwarden/root-state/{account}"), None)
        .unwrap()
        .1
}

fn mfa(account: &AccountId) -> String {
    format!("arn:aws:iam::{account}:mfa/root-account-mfa-device")
}

/// A root user with everything: key, certificate, MFA device, password.
fn everything(account: &AccountId, key: &str) -> Value {
    json!({
        "access_keys": [{"id": key, "status": "Active"}],
        "signing_certificates": [{"id": format!("CERT{account}"), "status": "Active"}],
        "mfa_devices": [{"serial": mfa(account)}],
        "login_profile": true
    })
}

async fn onboard_credential_less(deps: &rootwarden::rotation::Deps, account: &AccountId) {
    onboarding::onboard(
        deps,
        OnboardRequest {
            account_id: account.clone(),
            root_email: custody::root_email(account),
            name: None,
            mode: AccountMode::CredentialLess,
            max_age_days: 90,
            contacts: vec![],
        },
        OnboardSecrets {
            password: None,
            mfa_seed: None,
        },
    )
    .await
    .unwrap();
}

async fn set_status(emu: &Emulator, account: &AccountId, status: &str) {
    aws_sdk_dynamodb::Client::new(&emu.sdk_config().await)
        .update_item()
        .table_name(emu.env("ROOTWARDEN_ACCOUNTS_TABLE"))
        .key("account_id", AttributeValue::S(account.to_string()))
        .update_expression("SET #s = :s")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":s", AttributeValue::S(status.into()))
        .send()
        .await
        .unwrap();
}

async fn ticket_ids(emu: &Emulator) -> Vec<String> {
    let out = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await)
        .scan()
        .table_name(emu.env("ROOTWARDEN_TICKETS_TABLE"))
        .send()
        .await
        .unwrap();
    let mut ids: Vec<String> = out
        .items()
        .iter()
        .filter(|i| i.get("sk").and_then(|v| v.as_s().ok()).map(String::as_str) == Some("ticket"))
        .filter_map(|i| i.get("pk").and_then(|v| v.as_s().ok()))
        .filter_map(|pk| pk.strip_prefix("ticket#").map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn enforcement_removes_root_keys_records_posture_and_survives_a_failing_account() {
    let emu = Emulator::with_stack().await.unwrap();
    let custody_deps = custody::operator_deps(&emu, "test-operator").await;
    let vaulted = custody::account(411, 1); // everything seeded
    let bare = custody::account(411, 2); // credential-less with a password, MFA and a key
    let drifted = custody::account(411, 3); // vaulted, no MFA device
    let released = custody::account(411, 4); // released: never touched
    let outside = custody::account(411, 5); // AssumeRoot refused (left the organization)
    let clean = custody::account(411, 6); // compliant
    for a in [&vaulted, &drifted, &released, &outside, &clean] {
        custody::onboard(&custody_deps, a, PASSWORD, Some(SEED))
            .await
            .unwrap();
    }
    onboard_credential_less(&custody_deps, &bare).await;
    set_status(&emu, &released, "released").await;
    seed(&emu, &vaulted, everything(&vaulted, "AKIAROOTVAULTED00001"));
    seed(&emu, &bare, everything(&bare, "AKIAROOTBARE00000001"));
    seed(&emu, &drifted, json!({"login_profile": true}));
    seed(
        &emu,
        &released,
        everything(&released, "AKIAROOTRELEASED0001"),
    );
    let mut denied = everything(&outside, "AKIAROOTOUTSIDE00001");
    denied["assume_root_denied"] = json!(true);
    seed(&emu, &outside, denied);
    seed(
        &emu,
        &clean,
        json!({"login_profile": true, "mfa_devices": [{"serial": mfa(&clean)}]}),
    );

    let deps = enforcement_deps(&emu).await;
    let report = enforcement::enforce(&deps, None, "run-1").await.unwrap();
    let verdicts: BTreeMap<String, AccountOutcome> = report
        .accounts
        .iter()
        .map(|a| (a.account_id.clone(), a.verdict))
        .collect();
    assert_eq!(report.checked, 5, "{report:?}");
    assert_eq!(report.skipped, 1);
    assert_eq!(report.compliant, 1);
    assert_eq!(report.remediated, 2);
    assert_eq!(report.drift, 1);
    assert_eq!(report.failed, 1);
    assert_eq!(verdicts[vaulted.as_str()], AccountOutcome::Remediated);
    assert_eq!(verdicts[bare.as_str()], AccountOutcome::Remediated);
    assert_eq!(verdicts[drifted.as_str()], AccountOutcome::Drift);
    assert_eq!(verdicts[outside.as_str()], AccountOutcome::Failed);
    let failure = report.failure().expect("the run reports its failure");
    assert_eq!(failure.error_type, ErrorType::AwsError);
    assert!(failure.message.contains(outside.as_str()), "{failure}");

    // Vaulted: key and certificate gone; MFA and password (the vaulted ones) kept.
    let st = root_state(&emu, &vaulted);
    assert_eq!(st["access_keys"], json!([]));
    assert_eq!(st["signing_certificates"], json!([]));
    assert_eq!(st["mfa_devices"].as_array().unwrap().len(), 1);
    assert_eq!(st["login_profile"], json!(true));
    // Credential-less: nothing left at all.
    let st = root_state(&emu, &bare);
    assert_eq!(st["access_keys"], json!([]));
    assert_eq!(st["signing_certificates"], json!([]));
    assert_eq!(st["mfa_devices"], json!([]));
    assert_eq!(st["login_profile"], json!(false));
    // Released and refused accounts: untouched.
    for a in [&released, &outside] {
        assert_eq!(
            root_state(&emu, a)["access_keys"].as_array().unwrap().len(),
            1
        );
    }

    // Posture on the registry, without secrets, with what was removed.
    let reg = deps
        .registry
        .accounts()
        .get(&vaulted)
        .await
        .unwrap()
        .unwrap();
    let posture = reg.posture.expect("posture recorded");
    assert_eq!(posture["access_keys"], json!([]));
    assert_eq!(posture["login_profile"], json!(true));
    assert_eq!(
        posture["removed"],
        json!([
            "access-key AKIAROOTVAULTED00001",
            format!("signing-certificate CERT{vaulted}")
        ])
    );
    assert!(reg.posture_checked_at.is_some());
    let drift = deps
        .registry
        .accounts()
        .get(&drifted)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        drift.posture.unwrap()["findings"],
        json!(["root-mfa-absent"])
    );
    assert!(deps
        .registry
        .accounts()
        .get(&released)
        .await
        .unwrap()
        .unwrap()
        .posture
        .is_none());

    // Audit: every removal recorded before and after, then the posture.
    let actions = custody::audit_actions(&emu, &vaulted).await;
    let tail: Vec<&str> = actions
        .iter()
        .map(String::as_str)
        .skip_while(|a| !a.starts_with("root."))
        .collect();
    assert_eq!(
        tail,
        vec![
            "root.credential-removal-started",
            "root.credential-removed",
            "root.credential-removal-started",
            "root.credential-removed",
            "root.posture-recorded"
        ],
        "{actions:?}"
    );
    assert!(actions.contains(&"ticket.created".to_owned()));
    let outside_actions = custody::audit_actions(&emu, &outside).await;
    assert_eq!(outside_actions.last().unwrap(), "root.enforcement-failed");

    // Tickets: one per remediated account (high priority, security), one for the drift.
    let day = Utc::now().format("%Y%m%d");
    let t = custody_deps
        .tickets
        .get(&format!("enforce-{vaulted}-{day}"))
        .await
        .unwrap()
        .expect("removal ticket");
    assert_eq!(t.priority.as_str(), "high");
    assert_eq!(t.category.as_str(), "security");
    assert_eq!(t.status, TicketStatus::Open);
    assert!(
        t.summary.contains("access-key AKIAROOTVAULTED00001"),
        "{}",
        t.summary
    );
    assert!(custody_deps
        .tickets
        .get(&format!("enforce-{bare}-{day}"))
        .await
        .unwrap()
        .unwrap()
        .summary
        .contains("login-profile"));
    assert!(custody_deps
        .tickets
        .get(&format!("posture-{drifted}-root-mfa-absent"))
        .await
        .unwrap()
        .is_some());
    let tickets_after_first = ticket_ids(&emu).await;
    assert_eq!(tickets_after_first.len(), 3, "{tickets_after_first:?}");

    // A second run converges: nothing removed, no new tickets; the refused account still fails.
    let again = enforcement::enforce(&deps, None, "run-2").await.unwrap();
    assert_eq!(again.remediated, 0, "{again:?}");
    assert_eq!(again.compliant, 3);
    assert_eq!(again.drift, 1);
    assert_eq!(again.failed, 1);
    assert_eq!(ticket_ids(&emu).await, tickets_after_first);
    let vaulted_actions = custody::audit_actions(&emu, &vaulted).await;
    assert_eq!(vaulted_actions.len(), actions.len() + 1);
    assert_eq!(vaulted_actions.last().unwrap(), "root.posture-recorded");

    // One account on request; an unknown one is NotFound.
    let one = enforcement::enforce(&deps, Some(&clean), "run-3")
        .await
        .unwrap();
    assert_eq!((one.checked, one.compliant), (1, 1));
    let err = enforcement::enforce(&deps, Some(&custody::account(411, 99)), "run-4")
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::NotFound);

    custody::assert_audit_intact(&emu, None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn root_sessions_are_scoped_to_their_task_policy() {
    let emu = Emulator::with_stack().await.unwrap();
    let deps = enforcement_deps(&emu).await;
    let a = custody::account(412, 1);
    seed(&emu, &a, everything(&a, "AKIAROOTSCOPED000001"));

    // The audit session reads everything but deletes nothing.
    let audit_iam = deps
        .root_iam(&a, TaskPolicy::AuditRootUserCredentials)
        .await
        .unwrap();
    let posture = enforcement::read_posture(&audit_iam).await.unwrap();
    assert_eq!(posture.access_keys[0].id, "AKIAROOTSCOPED000001");
    assert_eq!(posture.signing_certificates.len(), 1);
    assert_eq!(posture.mfa_devices, vec![mfa(&a)]);
    assert!(posture.login_profile);
    let err = audit_iam
        .delete_access_key()
        .access_key_id("AKIAROOTSCOPED000001")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");
    let err = audit_iam.delete_login_profile().send().await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));

    // The password-recovery session (opened by an operator's `account recover`) can create a
    // login profile, nothing else.
    let create_iam = operator_enforcement_deps(&emu)
        .await
        .root_iam(&a, TaskPolicy::CreateRootUserPassword)
        .await
        .unwrap();
    let err = create_iam.list_access_keys().send().await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
    let err = create_iam
        .delete_access_key()
        .access_key_id("AKIAROOTSCOPED000001")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
    // No session acts on IAM users, or outside IAM's root-credential actions.
    let err = audit_iam.list_users().send().await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
    let err = audit_iam
        .list_access_keys()
        .user_name("someone")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
    assert_eq!(
        root_state(&emu, &a)["access_keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A policy that is not a root task policy: the function's role may not even ask (its
    // policy pins sts:TaskPolicyArn to the two task policies it uses), and STS itself refuses
    // it to a caller allowed every AssumeRoot (the harness).
    let admin_sts = aws_sdk_sts::Client::new(&emu.sdk_config().await);
    for (sts, code) in [(&deps.sts, "AccessDenied"), (&admin_sts, "ValidationError")] {
        let err = sts
            .assume_root()
            .target_principal(a.as_str())
            .task_policy_arn(
                aws_sdk_sts::types::PolicyDescriptorType::builder()
                    .arn("arn:aws:iam::aws:policy/AdministratorAccess")
                    .build(),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(code), "{err:?}");
    }

    // Only the delete session removes.
    let delete_iam = deps
        .root_iam(&a, TaskPolicy::DeleteRootUserCredentials)
        .await
        .unwrap();
    delete_iam
        .delete_access_key()
        .access_key_id("AKIAROOTSCOPED000001")
        .send()
        .await
        .unwrap();
    assert_eq!(root_state(&emu, &a)["access_keys"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn recovery_enables_a_root_password_and_enforcement_respects_its_window() {
    let emu = Emulator::with_stack().await.unwrap();
    let custody_deps = custody::operator_deps(&emu, "test-operator").await;
    let a = custody::account(413, 1);
    onboard_credential_less(&custody_deps, &a).await;
    seed(&emu, &a, json!({}));
    let deps = enforcement_deps(&emu).await;
    let ops = operator_enforcement_deps(&emu).await;

    // Bad requests are refused by name and change nothing.
    let err = enforcement::recover(&ops, &a, "  ").await.unwrap_err();
    assert_eq!(err.error_type, ErrorType::ValidationError);
    let err = enforcement::recover(&ops, &custody::account(413, 99), "lost")
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::NotFound);
    assert_eq!(root_state(&emu, &a)["login_profile"], json!(false));

    let done = enforcement::recover(&ops, &a, "customer billing dispute needs root")
        .await
        .unwrap();
    assert!(done.created);
    assert_eq!(root_state(&emu, &a)["login_profile"], json!(true));
    let reg = deps.registry.accounts().get(&a).await.unwrap().unwrap();
    let until = reg.recovery_until.expect("window recorded");
    assert!(until > Utc::now() + Duration::hours(23));
    let actions = custody::audit_actions(&emu, &a).await;
    assert!(actions.ends_with(&[
        "root.password-recovery-requested".to_owned(),
        "root.password-recovery-enabled".to_owned()
    ]));
    // Again: idempotent (the profile exists), audited.
    let again = enforcement::recover(&ops, &a, "second try").await.unwrap();
    assert!(!again.created);

    // Inside the window the daily job leaves the new password alone...
    let report = enforcement::enforce(&deps, Some(&a), "run-window")
        .await
        .unwrap();
    assert_eq!(report.accounts[0].verdict, AccountOutcome::Drift);
    assert_eq!(report.accounts[0].findings, vec!["recovery-window-open"]);
    assert_eq!(root_state(&emu, &a)["login_profile"], json!(true));
    // ... and after it, a credential-less account is credential-less again.
    let mut later = enforcement_deps(&emu).await;
    later.clock = Arc::new(FixedClock(Utc::now() + Duration::hours(25)));
    let report = enforcement::enforce(&later, Some(&a), "run-after")
        .await
        .unwrap();
    assert_eq!(report.accounts[0].verdict, AccountOutcome::Remediated);
    assert_eq!(report.accounts[0].removed, vec!["login-profile"]);
    assert_eq!(root_state(&emu, &a)["login_profile"], json!(false));

    // Not for released accounts.
    set_status(&emu, &a, "released").await;
    let err = enforcement::recover(&ops, &a, "x").await.unwrap_err();
    assert_eq!(err.error_type, ErrorType::ValidationError);
    custody::assert_audit_intact(&emu, None).await;
}

fn cli(emu: &Emulator, args: &[&str]) -> (i32, String) {
    let out = Command::new(cli_bin())
        .args(args)
        .envs(emu.process_env())
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
async fn the_lambda_and_the_cli_enforce_on_the_emulator() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let custody_deps = custody::operator_deps(&emu, "test-operator").await;
    let a = custody::account(414, 1);
    let b = custody::account(414, 2);
    custody::onboard(&custody_deps, &a, PASSWORD, Some(SEED))
        .await
        .unwrap();
    onboard_credential_less(&custody_deps, &b).await;
    seed(&emu, &a, everything(&a, "AKIAROOTLAMBDA000001"));
    seed(&emu, &b, json!({}));

    let lambda = aws_sdk_lambda::Client::new(&emu.sdk_config().await);
    let function = emu.stack().resources["RootEnforcementFunction"]
        .physical_id
        .clone()
        .unwrap();
    let invoke = |payload: Value| {
        let lambda = lambda.clone();
        let function = function.clone();
        async move {
            lambda
                .invoke()
                .function_name(function)
                .payload(Blob::new(payload.to_string()))
                .send()
                .await
                .unwrap()
        }
    };
    let bad = invoke(json!({"account_id": "not-an-account"})).await;
    assert_eq!(bad.function_error(), Some("Unhandled"));
    let body: Value = serde_json::from_slice(bad.payload().unwrap().as_ref()).unwrap();
    assert_eq!(body["errorType"], "ValidationError", "{body}");

    let out = invoke(json!({})).await;
    assert!(out.function_error().is_none(), "{:?}", out.payload());
    let report: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(report["remediated"], 1, "{report}");
    assert_eq!(report["compliant"], 1, "{report}");
    assert_eq!(
        report["accounts"][0]["removed"],
        json!([
            "access-key AKIAROOTLAMBDA000001",
            format!("signing-certificate CERT{a}")
        ])
    );
    assert_eq!(root_state(&emu, &a)["access_keys"], json!([]));
    let actions = custody::audit_actions(&emu, &a).await;
    assert_eq!(actions.last().unwrap(), "root.posture-recorded");

    // The CLI: recovery for the credential-less account, then enforcement of it.
    let (code, text) = cli(
        &emu,
        &[
            "account",
            "recover",
            "--account",
            b.as_str(),
            "--reason",
            "billing issue",
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("recovery enabled"), "{text}");
    assert_eq!(root_state(&emu, &b)["login_profile"], json!(true));
    let (code, text) = cli(
        &emu,
        &[
            "account",
            "enforce",
            "--account",
            b.as_str(),
            "--output",
            "json",
        ],
    );
    assert_eq!(code, 0, "{text}");
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        report["accounts"][0]["findings"],
        json!(["recovery-window-open"])
    );
    let (code, text) = cli(&emu, &["account", "show", "--account", a.as_str()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("\"access_keys\":[]"), "{text}");
    assert!(!text.contains(PASSWORD) && !text.contains(SEED));

    // The root sessions' secrets never reach a log: every emulator session token starts with
    // this prefix, and the Lambda's log (read here: it names the removed key) has none.
    let mut logs = String::new();
    for entry in std::fs::read_dir(emu.log_dir()).unwrap().flatten() {
        if let Ok(s) = std::fs::read_to_string(entry.path()) {
            logs.push_str(&s);
        }
    }
    assert!(
        logs.contains("root credential removed"),
        "the Lambda's log was not read"
    );
    assert!(
        !logs.contains("IQoJb3JpZ2luX2VjE"),
        "a root session token was logged"
    );
    assert!(!logs.contains(PASSWORD) && !logs.contains(SEED));
    custody::assert_audit_intact(&emu, None).await;
}
