//! A release approved through the access function's URL starts the exit's state machine, on
//! the emulator with the deployed functions: two IAM users (requester, approver) sign with
//! their own keys through the CLI (`rootwarden release close`, `release approve`); the
//! execution is `release-<account>-<request id>` with the request in its input; the request
//! stays `approved`, is never checked out, and approving again starts nothing new.
//!
//! Needs the release state machines in the template, the access function's
//! `ROOTWARDEN_RELEASE_*_STATE_MACHINE_ARN` and its `states:StartExecution` on them (the
//! infrastructure's part of the release).

use std::process::Command;
use std::sync::Arc;

use rootwarden::access::{self, AccessStatus, Deps};
use rootwarden::audit::{AuditLog, Stream};
use rootwarden::rotation::{self, Clients};
use rootwarden::{AccountId, SystemClock};
use rootwarden_tests::{cli_bin, custody, Emulator};

const PASSWORD: &str = "Onboard-Pa55word!<release>";

struct Person {
    arn: String,
    key: String,
    secret: String,
}

async fn person(emu: &Emulator, name: &str) -> Person {
    let p = emu.break_glass_user(name).await.unwrap();
    Person {
        arn: p.arn,
        key: p.access_key_id,
        secret: p.secret_access_key,
    }
}

fn cli_as(emu: &Emulator, who: &Person, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(cli_bin())
        .args(args)
        .envs(emu.process_env())
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

/// One variable of the deployed access function's environment.
async fn access_env(emu: &Emulator, var: &str) -> String {
    let lambda = aws_sdk_lambda::Client::new(&emu.sdk_config().await);
    let function = emu.stack().resources["AccessFunction"]
        .physical_id
        .clone()
        .unwrap();
    let conf = lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .unwrap();
    conf.environment()
        .and_then(|e| e.variables())
        .and_then(|v| v.get(var))
        .cloned()
        .unwrap_or_else(|| panic!("the access function has no {var}"))
}

async fn onboarded(emu: &Emulator) -> AccountId {
    let a = custody::account(516, 1);
    let op = emu.operator("alice");
    let d = rotation::Deps::new(
        &custody::config(emu),
        Clients::new(&emu.sdk_config_as(op).await),
        Arc::new(SystemClock),
        op.arn.clone(),
    );
    custody::onboard(&d, &a, PASSWORD, None).await.unwrap();
    a
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_through_the_url_starts_the_release_state_machine_once() {
    rootwarden_tests::build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let alice = person(&emu, "alice").await;
    let bob = person(&emu, "bob").await;
    let policy = format!(
        r#"{{"principals": [
            {{"arn": "{}", "roles": ["requester"]}},
            {{"arn": "{}", "roles": ["approver"]}}
        ], "ticket_pattern": "^INC-[0-9]+$", "approval_ttl_minutes": 60}}"#,
        alice.arn, bob.arn
    );
    emu.set_function_env("AccessFunction", "ROOTWARDEN_ACCESS_POLICY", &policy)
        .await
        .unwrap();
    let a = onboarded(&emu).await;

    // Terms the exit does not take are refused before anything is stored.
    let (code, _, err) = cli_as(
        &emu,
        &alice,
        &[
            "release",
            "handback",
            "--account",
            a.as_str(),
            "--ticket",
            "INC-1",
            "--customer-email",
            "owner@customer.example",
            "--customer-phone",
            "555",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("E.164"), "{err}");

    let (code, out, err) = cli_as(
        &emu,
        &alice,
        &[
            "release",
            "close",
            "--account",
            a.as_str(),
            "--ticket",
            "INC-1",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let id = out.trim().to_owned();
    assert!(
        err.contains("rootwarden release approve --request"),
        "{err}"
    );

    // The requester cannot approve it.
    let (code, _, err) = cli_as(&emu, &alice, &["release", "approve", "--request", &id]);
    assert_eq!(code, 2);
    assert!(err.contains("not authorized to approve"), "{err}");

    let (code, _, err) = cli_as(&emu, &bob, &["release", "approve", "--request", &id]);
    assert_eq!(code, 0, "{err}");
    let name = format!("release-{a}-{id}");
    assert!(err.contains(&name), "{err}");

    // The execution, named for the request, with the request in its input.
    let machine = access_env(&emu, "ROOTWARDEN_RELEASE_CLOSE_STATE_MACHINE_ARN").await;
    let sfn = aws_sdk_sfn::Client::new(&emu.sdk_config().await);
    let arn = format!(
        "{}:{name}",
        machine.replacen(":stateMachine:", ":execution:", 1)
    );
    let exec = sfn
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    let input: serde_json::Value = serde_json::from_str(exec.input().unwrap()).unwrap();
    assert_eq!(
        (&input["account_id"], &input["exit"], &input["request_id"]),
        (
            &serde_json::json!(a.as_str()),
            &serde_json::json!("close"),
            &serde_json::json!(id)
        )
    );

    // Approving again starts nothing new.
    let (code, _, err) = cli_as(&emu, &bob, &["release", "approve", "--request", &id]);
    assert_eq!(code, 0, "{err}");
    let runs = sfn
        .list_executions()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(
        runs.executions()
            .iter()
            .filter(|e| e.name() == name)
            .count(),
        1,
        "one execution per request"
    );

    // The request stays approved and is never checked out.
    let (code, _, err) = cli_as(&emu, &alice, &["access", "checkout", &id]);
    assert_eq!(code, 2);
    assert!(err.contains("shows no credential"), "{err}");
    let mut config = custody::config(&emu);
    config.access_policy = Some(policy.clone());
    let sdk = emu.role_config("AccessFunction").await;
    let d = Deps::new(
        &config,
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_kms::Client::new(&sdk),
        Arc::new(SystemClock),
    )
    .unwrap();
    let stored = access::get(&d, &id).await.unwrap().unwrap();
    assert_eq!(stored.status, AccessStatus::Approved);
    assert_eq!(stored.approvals, vec![bob.arn.clone()]);

    // The approval's record names the execution, under the approver AWS authenticated.
    let records = custody::audit_log(&emu)
        .await
        .read_stream(&Stream::Account(a.clone()).key())
        .await
        .unwrap();
    let approved = records
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .find(|r| r.action == "access.approved")
        .expect("approval recorded");
    assert_eq!(approved.actor, bob.arn);
    let details: serde_json::Value = serde_json::from_str(&approved.details).unwrap();
    assert_eq!(details["execution"], name.as_str());
}
