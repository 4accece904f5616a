//! The access function's caller is who AWS says, and nobody else; dual control means two
//! people. Every test goes through the real path: the `access` Lambda on the function host
//! behind the emulator's function URL (SigV4 verified against the key's secret), the CLI
//! signing with `aws-sigv4`, and principals that are real IAM users and STS sessions, each
//! allowed by its identity policy to call the access function's URL (and nothing more), as
//! `OperatorRole` is. Onboarding runs as an operator; request state is read as the access
//! function reads it.

use std::process::Command;

use aws_sdk_lambda::primitives::Blob;
use rootwarden::access::{self, AccessStatus};
use rootwarden::audit::AuditLog;
use rootwarden::rotation::{Clients, Deps};
use rootwarden::{AccountId, SystemClock};
use rootwarden_tests::{cli_bin, custody, Emulator};
use serde_json::{json, Value};

const PASSWORD: &str = "Onboard-Pa55word!<attack>";
const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// Credentials of an IAM user or an STS session, and the ARN AWS gives them.
#[derive(Clone)]
struct Creds {
    arn: String,
    key: String,
    secret: String,
    token: Option<String>,
}

async fn user(emu: &Emulator, name: &str) -> Creds {
    let p = emu.break_glass_user(name).await.unwrap();
    Creds {
        arn: p.arn,
        key: p.access_key_id,
        secret: p.secret_access_key,
        token: None,
    }
}

/// Creates the role (if new) at `path` and returns its ARN.
async fn role(emu: &Emulator, path: &str, name: &str) -> String {
    let iam = aws_sdk_iam::Client::new(&emu.sdk_config().await);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]});
    let arn = iam
        .create_role()
        .role_name(name)
        .path(path)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    iam.put_role_policy()
        .role_name(name)
        .policy_name("access-function-url")
        .policy_document(emu.break_glass_policy())
        .send()
        .await
        .unwrap();
    arn
}

/// A session of `role_arn` named `session`.
async fn session(emu: &Emulator, role_arn: &str, session: &str) -> Creds {
    let sts = aws_sdk_sts::Client::new(&emu.sdk_config().await);
    let out = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session)
        .send()
        .await
        .unwrap();
    let c = out.credentials.unwrap();
    let arn = out.assumed_role_user.unwrap().arn;
    Creds {
        arn,
        key: c.access_key_id,
        secret: c.secret_access_key,
        token: Some(c.session_token),
    }
}

fn physical(emu: &Emulator, logical: &str) -> String {
    emu.stack().resources[logical].physical_id.clone().unwrap()
}

/// The access function's policy, as a deployment sets it (the template's `AccessPolicy`).
async fn set_policy(emu: &Emulator, policy: &Value) {
    emu.set_function_env(
        "AccessFunction",
        "ROOTWARDEN_ACCESS_POLICY",
        &policy.to_string(),
    )
    .await
    .unwrap();
}

async fn stack() -> (Emulator, AccountId) {
    rootwarden_tests::build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let a = custody::account(610, 1);
    // Onboarding is the CLI's: an operator's session of OperatorRole.
    let op = emu.operator("alice");
    let d = Deps::new(
        &custody::config(&emu),
        Clients::new(&emu.sdk_config_as(op).await),
        std::sync::Arc::new(SystemClock),
        op.arn.clone(),
    );
    custody::onboard(&d, &a, PASSWORD, Some(SEED))
        .await
        .unwrap();
    (emu, a)
}

/// `rootwarden access ...` signed with `who`'s credentials: (exit code, stdout, stderr).
fn cli(emu: &Emulator, who: &Creds, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(cli_bin());
    cmd.arg("access")
        .args(args)
        .envs(emu.process_env())
        .env("AWS_ACCESS_KEY_ID", &who.key)
        .env("AWS_SECRET_ACCESS_KEY", &who.secret)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("ROOTWARDEN_ACCESS_POLICY");
    if let Some(t) = &who.token {
        cmd.env("AWS_SESSION_TOKEN", t);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn request(emu: &Emulator, who: &Creds, account: &AccountId, ticket: &str) -> String {
    let (code, out, err) = cli(
        emu,
        who,
        &[
            "request",
            "--account",
            account.as_str(),
            "--reason",
            "billing-issue",
            "--ticket",
            ticket,
        ],
    );
    assert_eq!(code, 0, "request as {}: {err}", who.arn);
    out.trim().to_owned()
}

/// A request's status, read as the access function reads it (`access show`).
async fn status(emu: &Emulator, id: &str) -> AccessStatus {
    let mut config = custody::config(emu);
    config.access_policy = Some(r#"{"principals": []}"#.into());
    let sdk = emu.role_config("AccessFunction").await;
    let d = access::Deps::new(
        &config,
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_kms::Client::new(&sdk),
        std::sync::Arc::new(SystemClock),
    )
    .unwrap();
    access::get(&d, id).await.unwrap().unwrap().status
}

/// A function URL event as AWS would build it for `victim`, made by hand.
fn forged(victim: &str, body: Value) -> Value {
    let path = rootwarden_tests::repo_root().join("functions/access/fixtures/url-request.json");
    let mut e: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    e["requestContext"]["authorizer"]["iam"]["userArn"] = json!(victim);
    e["requestContext"]["authorizer"]["iam"]["accountId"] = json!("123456789012");
    e["body"] = json!(body.to_string());
    e
}

/// A direct Lambda Invoke with `who`'s credentials: Ok(function error, payload) or the API error
/// code.
async fn invoke(
    emu: &Emulator,
    who: &Creds,
    function: &str,
    payload: &Value,
) -> Result<(Option<String>, Value), String> {
    let conf = emu
        .sdk_config_with(&who.key, &who.secret, who.token.clone())
        .await;
    let out = aws_sdk_lambda::Client::new(&conf)
        .invoke()
        .function_name(function)
        .payload(Blob::new(payload.to_string()))
        .send()
        .await
        .map_err(|e| {
            aws_sdk_lambda::error::ProvideErrorMetadata::code(&e)
                .unwrap_or("unknown")
                .to_owned()
        })?;
    let body = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap_or(Value::Null);
    Ok((out.function_error().map(str::to_owned), body))
}

fn policy(principals: Value) -> Value {
    json!({"principals": principals, "ticket_pattern": "^INC-[0-9]+$"})
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_invoke_with_a_forged_request_context_cannot_approve_or_check_out() {
    let (emu, a) = stack().await;
    let alice = user(&emu, "alice").await;
    let bob = user(&emu, "bob").await;
    let mallory = user(&emu, "mallory").await;
    set_policy(
        &emu,
        &policy(json!([
            {"arn": alice.arn, "roles": ["requester"]},
            {"arn": bob.arn, "roles": ["approver"]}])),
    )
    .await;
    let id = request(&emu, &alice, &a, "INC-1");
    let function = physical(&emu, "AccessFunction");

    // mallory invokes the function directly, naming bob as the caller: AWS refuses the invoke.
    let approve = forged(&bob.arn, json!({"action": "approve", "request_id": id}));
    let e = invoke(&emu, &mallory, &function, &approve)
        .await
        .unwrap_err();
    assert_eq!(e, "AccessDeniedException");
    assert_eq!(status(&emu, &id).await, AccessStatus::Requested);

    // bob really approves (through the URL); mallory then names alice to check out.
    let (code, _, err) = cli(&emu, &bob, &["approve", &id]);
    assert_eq!(code, 0, "{err}");
    let checkout = forged(&alice.arn, json!({"action": "checkout", "request_id": id}));
    let e = invoke(&emu, &mallory, &function, &checkout)
        .await
        .unwrap_err();
    assert_eq!(e, "AccessDeniedException");
    assert_eq!(status(&emu, &id).await, AccessStatus::Approved);
    // Through its URL, mallory is mallory.
    let (code, out, err) = cli(&emu, &mallory, &["checkout", &id]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("AccessDenied"), "{err}");
    assert!(!out.contains(PASSWORD) && !err.contains(PASSWORD));
    assert_eq!(status(&emu, &id).await, AccessStatus::Approved);
    // Nothing in the audit trail is blamed on alice or bob that they did not do.
    let log = custody::audit_log(&emu).await;
    let records = log
        .read_stream(&rootwarden::audit::Stream::Account(a.clone()).key())
        .await
        .unwrap();
    let refused = records
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter(|r| r.action == "access.refused")
        .collect::<Vec<_>>();
    assert!(
        refused.iter().all(|r| r.actor == mallory.arn),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_expiry_schedule_cannot_act_as_anyone() {
    let (emu, a) = stack().await;
    let alice = user(&emu, "alice").await;
    let bob = user(&emu, "bob").await;
    set_policy(
        &emu,
        &policy(json!([
            {"arn": alice.arn, "roles": ["requester"]},
            {"arn": bob.arn, "roles": ["approver"]}])),
    )
    .await;
    let id = request(&emu, &alice, &a, "INC-2");
    // The schedule's own credentials: a session of its role, as EventBridge Scheduler gets it
    // (the role trusts only scheduler.amazonaws.com).
    let p = emu.role_principal("AccessExpirySchedulerRole").unwrap();
    let scheduler = Creds {
        arn: p.arn,
        key: p.access_key_id,
        secret: p.secret_access_key,
        token: p.session_token,
    };
    let approve = forged(&bob.arn, json!({"action": "approve", "request_id": id}));

    // It may not invoke the access function at all...
    let e = invoke(
        &emu,
        &scheduler,
        &physical(&emu, "AccessFunction"),
        &approve,
    )
    .await
    .unwrap_err();
    assert_eq!(e, "AccessDeniedException");
    // ...and the function it does invoke takes nothing but the schedule's {}.
    let expiry = physical(&emu, "AccessExpiryFunction");
    let (err, body) = invoke(&emu, &scheduler, &expiry, &approve).await.unwrap();
    assert_eq!(err.as_deref(), Some("Unhandled"), "{body}");
    assert_eq!(body["errorType"], "ValidationError");
    assert_eq!(status(&emu, &id).await, AccessStatus::Requested);
    let (err, report) = invoke(&emu, &scheduler, &expiry, &json!({})).await.unwrap();
    assert!(err.is_none(), "{report}");
    assert_eq!(report["active"], 0);
    // bob's own approval, through the URL, is what approves.
    let (code, _, errs) = cli(&emu, &bob, &["approve", &id]);
    assert_eq!(code, 0, "{errs}");
    assert_eq!(status(&emu, &id).await, AccessStatus::Approved);
}

#[tokio::test(flavor = "multi_thread")]
async fn unsigned_or_wrongly_signed_url_requests_are_refused_with_403() {
    let (emu, a) = stack().await;
    let alice = user(&emu, "alice").await;
    set_policy(
        &emu,
        &policy(json!([{"arn": alice.arn, "roles": ["requester"]}])),
    )
    .await;
    let url = emu.env("ROOTWARDEN_ACCESS_URL");
    let path = url
        .strip_prefix(&emu.endpoint)
        .expect("the URL is served by the emulator")
        .to_owned();
    let body = json!({"action": "request", "account_id": a.as_str(), "reason": "billing-issue",
                      "ticket": "INC-3"});
    // No signature.
    let (code, answer) = emu.test_endpoint("POST", &path, Some(&body)).unwrap();
    assert_eq!(code, 403, "{answer}");
    // alice's key with the wrong secret; an unknown key; a session key without its token.
    let wrong = Creds {
        secret: "not-the-secret".into(),
        ..alice.clone()
    };
    let unknown = Creds {
        key: "AKIAUNKNOWNKEY000000".into(),
        ..alice.clone()
    };
    for who in [&wrong, &unknown] {
        let (code, out, err) = cli(
            &emu,
            who,
            &[
                "request",
                "--account",
                a.as_str(),
                "--reason",
                "billing-issue",
                "--ticket",
                "INC-3",
            ],
        );
        assert_eq!(code, 2, "{out}");
        assert!(err.contains("AccessDenied"), "{err}");
    }
    // Nothing was requested, nothing recorded; correctly signed, the same request works.
    assert!(custody::audit_actions(&emu, &a)
        .await
        .iter()
        .all(|x| !x.starts_with("access.")));
    let id = request(&emu, &alice, &a, "INC-3");
    assert_eq!(status(&emu, &id).await, AccessStatus::Requested);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_sessions_of_one_assumed_role_cannot_request_and_approve() {
    let (emu, a) = stack().await;
    let ops = role(&emu, "/", "Ops").await;
    set_policy(
        &emu,
        &policy(json!([{"arn": ops, "roles": ["requester", "approver"]}])),
    )
    .await;
    let s1 = session(&emu, &ops, "alice").await;
    let s2 = session(&emu, &ops, "bob").await;
    assert_ne!(s1.arn, s2.arn);
    let id = request(&emu, &s1, &a, "INC-4");
    let (code, _, err) = cli(&emu, &s2, &["approve", &id]);
    assert_eq!(code, 2);
    assert!(err.contains("own request"), "{err}");
    assert_eq!(status(&emu, &id).await, AccessStatus::Requested);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_principal_holding_requester_and_approver_cannot_approve_its_own_request() {
    let (emu, a) = stack().await;
    // An IAM Identity Center role: its session names are people, but the role itself holds
    // both roles, so no session of it approves a request of another of its sessions.
    let sso = role(
        &emu,
        "/aws-reserved/sso.amazonaws.com/",
        "AWSReservedSSO_Security_0123456789abcdef",
    )
    .await;
    set_policy(
        &emu,
        &policy(json!([
            {"arn": "arn:aws:iam::123456789012:role/*AWSReservedSSO_Security_*",
             "roles": ["requester", "approver"]}])),
    )
    .await;
    let alice = session(&emu, &sso, "alice@provider.example").await;
    let bob = session(&emu, &sso, "bob@provider.example").await;
    let id = request(&emu, &alice, &a, "INC-5");
    for who in [&bob, &alice] {
        let (code, _, err) = cli(&emu, who, &["approve", &id]);
        assert_eq!(code, 2);
        assert!(err.contains("own request"), "{err}");
    }
    assert_eq!(status(&emu, &id).await, AccessStatus::Requested);
}

#[tokio::test(flavor = "multi_thread")]
async fn role_path_confusion_does_not_grant_approval() {
    let (emu, a) = stack().await;
    let alice = user(&emu, "alice").await;
    // The policy names the path-less role/Approver; the role of that name is role/a/Approver.
    let impostor = role(&emu, "/a/", "Approver").await;
    assert!(impostor.ends_with(":role/a/Approver"), "{impostor}");
    let team = role(&emu, "/team/", "Approver2").await;
    set_policy(
        &emu,
        &policy(json!([
            {"arn": alice.arn, "roles": ["requester"]},
            {"arn": "arn:aws:iam::123456789012:role/Approver", "roles": ["approver"]},
            {"arn": team, "roles": ["approver"]}])),
    )
    .await;
    let id = request(&emu, &alice, &a, "INC-6");
    let s = session(&emu, &impostor, "eve").await;
    // STS drops the path: the session's ARN looks like role/Approver's.
    assert!(s.arn.ends_with(":assumed-role/Approver/eve"), "{}", s.arn);
    let (code, _, err) = cli(&emu, &s, &["approve", &id]);
    assert_eq!(code, 2);
    assert!(err.contains("not authorized to approve"), "{err}");
    assert_eq!(status(&emu, &id).await, AccessStatus::Requested);
    // The role the policy names with its path approves.
    let t = session(&emu, &team, "tom").await;
    let (code, out, err) = cli(&emu, &t, &["approve", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("approved"), "{out}");
}
