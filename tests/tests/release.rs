//! The three release workflows end to end on the emulator, IAM enforced: two people (IAM users
//! signing with their own keys) ask for and approve a release through the access function's
//! URL with the real CLI; the access function starts the exit's state machine; Step Functions
//! runs `infra/statemachines/release-*.asl.json`, whose tasks invoke the real `release` binary as
//! its template role; AWS's "account closed" mail arrives through SES inbound and the real
//! `inbound-mail` binary; the customer's one-time code is relayed with `release otp` (stdin).
//! Every account is a member of the emulator's organization, onboarded with a vaulted password.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sfn::types::ExecutionStatus;
use rootwarden::onboarding::{self, OnboardRequest, OnboardSecrets};
use rootwarden::registry::AccountMode;
use rootwarden::rotation::{self, Clients};
use rootwarden::vault::CredentialKind;
use rootwarden::{AccountId, RootEmail, SystemClock};
use rootwarden_tests::custody::{self, eventually};
use rootwarden_tests::leaks::{everything_stored, execution_histories, logs};
use rootwarden_tests::{build_functions, cli_bin, Emulator};
use secrecy::SecretString;
use serde_json::{json, Value};

const PASSWORD: &str = "Vaulted-Pa55word!<release-e2e>";
const DOMAIN: &str = "root.provider.example";

struct Person {
    key: String,
    secret: String,
}

/// The release's people: alice asks, bob approves (the access policy says so).
struct People {
    alice: Person,
    bob: Person,
}

async fn people(emu: &Emulator) -> People {
    let a = emu.break_glass_user("alice").await.unwrap();
    let b = emu.break_glass_user("bob").await.unwrap();
    let policy = format!(
        r#"{{"principals": [
            {{"arn": "{}", "roles": ["requester"]}},
            {{"arn": "{}", "roles": ["approver"]}}
        ], "ticket_pattern": "^INC-[0-9]+$", "approval_ttl_minutes": 60}}"#,
        a.arn, b.arn
    );
    emu.set_function_env("AccessFunction", "ROOTWARDEN_ACCESS_POLICY", &policy)
        .await
        .unwrap();
    People {
        alice: Person {
            key: a.access_key_id,
            secret: a.secret_access_key,
        },
        bob: Person {
            key: b.access_key_id,
            secret: b.secret_access_key,
        },
    }
}

/// The CLI: as `who` (an IAM user) or, with `None`, as the operator alice's OperatorRole
/// session; `stdin` piped in.
fn cli(emu: &Emulator, who: Option<&Person>, args: &[&str], stdin: Option<&str>) -> (i32, String) {
    let mut cmd = Command::new(cli_bin());
    cmd.args(args)
        .envs(emu.process_env())
        .env_remove("ROOTWARDEN_ACCESS_POLICY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = who {
        cmd.env("AWS_ACCESS_KEY_ID", &p.key)
            .env("AWS_SECRET_ACCESS_KEY", &p.secret)
            .env_remove("AWS_SESSION_TOKEN");
    }
    let mut child = cmd.spawn().unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
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

fn endpoint(emu: &Emulator, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, answer) = emu.test_endpoint(method, path, body.as_ref()).unwrap();
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {answer}"
    );
    answer
}

/// Our organization (managed from the stack's account) with one member per name, each
/// onboarded with a vaulted password under its root address at our mail domain.
async fn members(emu: &Emulator, names: &[&str]) -> Vec<AccountId> {
    let orgs = aws_sdk_organizations::Client::new(&emu.sdk_config().await);
    orgs.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let op = emu.operator("alice");
    let deps = rotation::Deps::new(
        &custody::config(emu),
        Clients::new(&emu.sdk_config_as(op).await),
        Arc::new(SystemClock),
        op.arn.clone(),
    );
    let account = aws_sdk_account::Client::new(&emu.sdk_config().await);
    let mut ids = Vec::new();
    for name in names {
        let email = format!("aws-{name}@{DOMAIN}");
        let out = orgs
            .create_account()
            .account_name(format!("Customer {name}"))
            .email(&email)
            .send()
            .await
            .unwrap();
        let id =
            AccountId::parse(out.create_account_status().unwrap().account_id().unwrap()).unwrap();
        endpoint(
            emu,
            "PUT",
            &format!("/_rootwarden/primary-email/{id}"),
            Some(json!({ "email": email })),
        );
        // In our organization for a month (a transfer needs 7 days), our MFA device and a
        // root access key someone created.
        endpoint(
            emu,
            "PUT",
            &format!("/_rootwarden/organizations/accounts/{id}"),
            Some(json!({"created_days_ago": 30})),
        );
        endpoint(
            emu,
            "PUT",
            &format!("/_rootwarden/root-state/{id}"),
            Some(json!({
                "access_keys": [{"id": format!("AKIA{id}"), "status": "Active"}],
                "signing_certificates": [],
                "mfa_devices": [{"serial": format!("arn:aws:iam::{id}:mfa/root-account-mfa-device")}],
                "login_profile": true
            })),
        );
        // The primary contact every AWS account has (our postal address, our phone).
        account
            .put_contact_information()
            .account_id(id.as_str())
            .contact_information(
                aws_sdk_account::types::ContactInformation::builder()
                    .full_name("Provider Operations")
                    .address_line1("1 Custody Street")
                    .city("Dublin")
                    .country_code("IE")
                    .postal_code("D01")
                    .phone_number("+35315550000")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        onboarding::onboard(
            &deps,
            OnboardRequest {
                account_id: id.clone(),
                root_email: RootEmail::parse(&email).unwrap(),
                name: Some(format!("Customer {name}")),
                mode: AccountMode::Vaulted,
                max_age_days: 90,
                contacts: vec!["ops@provider.example".into()],
            },
            OnboardSecrets {
                password: Some(SecretString::from(PASSWORD.to_owned())),
                mfa_seed: None,
            },
        )
        .await
        .unwrap();
        ids.push(id);
    }
    ids
}

/// Alice asks (`release <exit> ...`), bob approves: the request id and the execution name.
fn ask_and_approve(
    emu: &Emulator,
    p: &People,
    exit: &str,
    account: &AccountId,
    extra: &[&str],
) -> (String, String) {
    let mut args = vec![
        "release",
        exit,
        "--account",
        account.as_str(),
        "--ticket",
        "INC-7",
    ];
    args.extend_from_slice(extra);
    let (code, out) = cli(emu, Some(&p.alice), &args, None);
    assert_eq!(code, 0, "{out}");
    let id = out.lines().next().unwrap().trim().to_owned();
    let (code, out) = cli(
        emu,
        Some(&p.bob),
        &["release", "approve", "--request", &id],
        None,
    );
    assert_eq!(code, 0, "{out}");
    (id.clone(), format!("release-{account}-{id}"))
}

fn status(emu: &Emulator, account: &AccountId) -> Value {
    try_status(emu, account).unwrap_or_else(|e| panic!("{e}"))
}

/// `release status` as JSON; `Err` before the release began (nothing recorded yet).
fn try_status(emu: &Emulator, account: &AccountId) -> Result<Value, String> {
    let (code, out) = cli(
        emu,
        None,
        &[
            "--output",
            "json",
            "release",
            "status",
            "--account",
            account.as_str(),
        ],
        None,
    );
    if code != 0 {
        return Err(out);
    }
    serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))
}

async fn wait_step(emu: &Emulator, account: &AccountId, step: &str) -> Value {
    eventually(&format!("release of {account} at {step}"), || async {
        let st = try_status(emu, account).ok()?;
        if let Some(stopped) = st["stopped"].as_str() {
            panic!("release of {account} stopped: {stopped}: {st}");
        }
        (st["step"] == step).then_some(st)
    })
    .await
}

async fn execution_status(emu: &Emulator, exit: &str, name: &str) -> ExecutionStatus {
    let sfn = aws_sdk_sfn::Client::new(&emu.sdk_config().await);
    let machine = emu.env(&format!(
        "ROOTWARDEN_RELEASE_{}_STATE_MACHINE_ARN",
        exit.to_uppercase()
    ));
    let arn = format!(
        "{}:{name}",
        machine.replacen(":stateMachine:", ":execution:", 1)
    );
    sfn.describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .unwrap()
        .status()
        .clone()
}

async fn wait_execution(emu: &Emulator, exit: &str, name: &str, want: ExecutionStatus) {
    eventually(&format!("{name} {want:?}"), || async {
        (execution_status(emu, exit, name).await == want).then_some(())
    })
    .await;
}

async fn registry_item(
    emu: &Emulator,
    account: &AccountId,
) -> std::collections::HashMap<String, AttributeValue> {
    let ddb = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
    ddb.get_item()
        .table_name(emu.env("ROOTWARDEN_ACCOUNTS_TABLE"))
        .key("account_id", AttributeValue::S(account.to_string()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item()
        .cloned()
        .unwrap()
}

fn text(item: &std::collections::HashMap<String, AttributeValue>, k: &str) -> String {
    item.get(k)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// The customer's one-time code AWS mailed (the emulator shows it to tests only).
fn customer_code(emu: &Emulator, account: &AccountId) -> String {
    let out = endpoint(
        emu,
        "GET",
        &format!("/_rootwarden/primary-email/{account}/otp"),
        None,
    );
    out["otp"].as_str().unwrap().to_owned()
}

async fn vault_items(emu: &Emulator, account: &AccountId) -> usize {
    let ddb = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
    let mut n = 0;
    for kind in CredentialKind::ALL {
        n += ddb
            .query()
            .table_name(emu.env("ROOTWARDEN_VAULT_TABLE"))
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(
                ":pk",
                AttributeValue::S(format!("cred#{account}#{}", kind.as_str())),
            )
            .send()
            .await
            .unwrap()
            .items()
            .len();
    }
    n
}

#[tokio::test(flavor = "multi_thread")]
async fn closure_seals_the_vault_then_shreds_it_after_the_window() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let p = people(&emu).await;
    let ids = members(&emu, &["close"]).await;
    let a = &ids[0];

    let (_, name) = ask_and_approve(&emu, &p, "close", a, &[]);
    // AWS closes it after a few seconds and mails "account closed" to our root address: the
    // inbound pipeline completes the workflow's wait, the status poll confirms SUSPENDED.
    wait_execution(&emu, "close", &name, ExecutionStatus::Succeeded).await;
    let st = status(&emu, a);
    assert_eq!(
        (st["status"].as_str(), st["step"].as_str()),
        (Some("closed"), Some("closed")),
        "{st}"
    );
    assert_eq!(st["cancel_allowed"], false, "{st}");
    let (code, out) = cli(
        &emu,
        None,
        &["release", "cancel", "--account", a.as_str()],
        None,
    );
    assert_ne!(
        code, 0,
        "a closed account's release cannot be cancelled: {out}"
    );

    // The vault is sealed: versions kept, no check-out possible (access needs `active`).
    assert!(vault_items(&emu, a).await > 0);
    let (code, out) = cli(
        &emu,
        Some(&p.alice),
        &[
            "access",
            "request",
            "--account",
            a.as_str(),
            "--reason",
            "billing-issue",
            "--ticket",
            "INC-8",
        ],
        None,
    );
    assert_ne!(code, 0, "{out}");

    // Inside the 90-day window, the daily sweep leaves it; past it, it crypto-shreds.
    // The daily schedule's invocation, synchronously, as the schedule's role.
    let lambda = aws_sdk_lambda::Client::new(&emu.role_config("ReleaseShredSchedulerRole").await);
    let function = emu.stack().resources["ReleaseFunction"]
        .physical_id
        .clone()
        .unwrap();
    let fire = || async {
        let out = lambda
            .invoke()
            .function_name(&function)
            .payload(aws_smithy_types::Blob::new(r#"{"action": "shred-due"}"#))
            .send()
            .await
            .unwrap();
        assert!(out.function_error().is_none(), "{out:?}");
        let report: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
        report
    };
    let report = fire().await;
    assert_eq!(report["waiting"], 1, "{report}");
    assert!(vault_items(&emu, a).await > 0, "shredded inside the window");
    let ddb = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
    ddb.update_item()
        .table_name(emu.env("ROOTWARDEN_ACCOUNTS_TABLE"))
        .key("account_id", AttributeValue::S(a.to_string()))
        .update_expression("SET release_shred_after = :t")
        .expression_attribute_values(":t", AttributeValue::S("2026-01-01T00:00:00Z".into()))
        .send()
        .await
        .unwrap();
    let report = fire().await;
    assert_eq!(report["shredded"], json!([a.as_str()]), "{report}");
    assert_eq!(
        vault_items(&emu, a).await,
        0,
        "the sealed versions are destroyed"
    );
    let actions = custody::audit_actions(&emu, a).await;
    for want in [
        "release.begun",
        "release.point-of-no-return",
        "release.closed",
        "release.vault-shredded",
    ] {
        assert!(
            actions.iter().any(|x| x == want),
            "{want} not in {actions:?}"
        );
    }
    custody::assert_audit_intact(&emu, Some(a)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn handback_gives_the_customer_the_account_and_a_certificate_they_can_verify() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let p = people(&emu).await;
    let ids = members(&emu, &["back"]).await;
    let a = &ids[0];
    let old = format!("aws-back@{DOMAIN}");
    let customer = "owner@customer.example";

    let (_, name) = ask_and_approve(
        &emu,
        &p,
        "handback",
        a,
        &[
            "--customer-email",
            customer,
            "--customer-phone",
            "+15550100",
            "--customer-name",
            "Ada Owner",
        ],
    );
    let st = wait_step(&emu, a, "awaiting-code").await;
    assert_eq!(st["cancel_allowed"], true, "{st}");

    // A wrong code: AWS refuses it, the workflow asks AWS for a new one and waits again.
    let first = customer_code(&emu, a);
    let wrong = if first == "AAAAAA" {
        "BBBBBB"
    } else {
        "AAAAAA"
    };
    let (code, out) = cli(
        &emu,
        None,
        &["release", "otp", "--account", a.as_str()],
        Some(wrong),
    );
    assert_eq!(code, 0, "{out}");
    eventually("a new code asked for", || async {
        let st = status(&emu, a);
        (st["step"] == "awaiting-code" && customer_code(&emu, a) != first).then_some(())
    })
    .await;
    let code_value = customer_code(&emu, a);
    let (code, out) = cli(
        &emu,
        None,
        &["release", "otp", "--account", a.as_str()],
        Some(&code_value),
    );
    assert_eq!(code, 0, "{out}");
    wait_execution(&emu, "handback", &name, ExecutionStatus::Succeeded).await;

    // The account is the customer's: root email, contacts, no credential of ours left, a
    // password only they can set through Forgot password on their own inbox.
    let st = status(&emu, a);
    assert_eq!(st["status"], "released", "{st}");
    let primary = endpoint(
        &emu,
        "GET",
        &format!("/_rootwarden/primary-email/{a}"),
        None,
    );
    assert_eq!(primary["email"], customer, "{primary}");
    let root = endpoint(&emu, "GET", &format!("/_rootwarden/root-state/{a}"), None);
    assert_eq!(root["access_keys"], json!([]), "{root}");
    assert_eq!(root["mfa_devices"], json!([]), "{root}");
    assert_eq!(root["login_profile"], true, "{root}");
    let forgot = endpoint(
        &emu,
        "POST",
        &format!("/_rootwarden/console/{a}/forgot-password"),
        Some(json!({"email": old})),
    );
    assert_ne!(
        forgot["sent"], true,
        "our old address can no longer reset: {forgot}"
    );
    assert_eq!(vault_items(&emu, a).await, 0, "vault shredded");
    let item = registry_item(&emu, a).await;
    assert_eq!(text(&item, "status"), "released");

    // The certificate verifies offline with the published key; one changed byte does not.
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.json");
    let key = dir.path().join("key.pem");
    let (code, out) = cli(
        &emu,
        None,
        &[
            "release",
            "certificate",
            "get",
            "--account",
            a.as_str(),
            "--out",
            cert.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = cli(
        &emu,
        None,
        &[
            "release",
            "certificate",
            "public-key",
            "--out",
            key.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = cli(
        &emu,
        None,
        &[
            "release",
            "certificate",
            "verify",
            cert.to_str().unwrap(),
            "--public-key",
            key.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(a.as_str()) && out.contains(customer), "{out}");
    let body = std::fs::read_to_string(&cert).unwrap();
    let forged_path = dir.path().join("forged.json");
    std::fs::write(&forged_path, body.replace(customer, "mallory@evil.example")).unwrap();
    let (code, out) = cli(
        &emu,
        None,
        &[
            "release",
            "certificate",
            "verify",
            forged_path.to_str().unwrap(),
            "--public-key",
            key.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 1, "a forged certificate must not verify: {out}");

    // Nothing secret anywhere: the codes, the vaulted password.
    let sm = emu.env("ROOTWARDEN_RELEASE_HANDBACK_STATE_MACHINE_ARN");
    let haystack = format!(
        "{}{}{}",
        everything_stored(&emu).await,
        logs(&emu),
        execution_histories(&emu, &sm).await
    );
    assert!(
        haystack.contains("release.certified"),
        "the search saw the audit"
    );
    for secret in [first.as_str(), code_value.as_str(), PASSWORD] {
        assert!(!haystack.contains(secret), "a secret leaked");
    }
    custody::assert_audit_intact(&emu, Some(a)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn transfer_checks_preconditions_hands_over_and_joins_the_customers_organization() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let p = people(&emu).await;
    let ids = members(&emu, &["move", "ct"]).await;
    let (a, enrolled) = (&ids[0], &ids[1]);

    // Control Tower still manages one: the transfer stops early, named, nothing handed over;
    // cancelling restores custody.
    endpoint(
        &emu,
        "PUT",
        &format!("/_rootwarden/organizations/accounts/{enrolled}"),
        Some(json!({"control_tower": true})),
    );
    let (_, name) = ask_and_approve(
        &emu,
        &p,
        "transfer",
        enrolled,
        &[
            "--customer-org",
            "o-customer0001",
            "--customer-phone",
            "+15550101",
            "--keep-email",
        ],
    );
    wait_execution(&emu, "transfer", &name, ExecutionStatus::Failed).await;
    let st = status(&emu, enrolled);
    assert!(
        st["stopped"]
            .as_str()
            .unwrap_or("")
            .contains("TransferPreconditionFailed"),
        "{st}"
    );
    assert!(
        st["stopped"]
            .as_str()
            .unwrap_or("")
            .contains("Control Tower"),
        "{st}"
    );
    let (code, out) = cli(
        &emu,
        None,
        &["release", "cancel", "--account", enrolled.as_str()],
        None,
    );
    assert_eq!(code, 0, "{out}");
    let item = registry_item(&emu, enrolled).await;
    assert_eq!(text(&item, "status"), "active", "custody restored");
    let root = endpoint(
        &emu,
        "GET",
        &format!("/_rootwarden/root-state/{enrolled}"),
        None,
    );
    assert_eq!(
        root["mfa_devices"].as_array().map(Vec::len),
        Some(1),
        "nothing handed over"
    );

    // The customer's organization invites the account; the transfer hands it over and accepts.
    let inv = endpoint(
        &emu,
        "POST",
        "/_rootwarden/organizations/customer-org",
        Some(json!({"account_id": a.as_str()})),
    );
    let org = inv["organization_id"].as_str().unwrap().to_owned();
    let (_, name) = ask_and_approve(
        &emu,
        &p,
        "transfer",
        a,
        &[
            "--customer-org",
            &org,
            "--customer-phone",
            "+15550102",
            "--customer-email",
            "cloud@customer.example",
        ],
    );
    wait_step(&emu, a, "awaiting-code").await;
    let code_value = customer_code(&emu, a);
    let (code, out) = cli(
        &emu,
        None,
        &["release", "otp", "--account", a.as_str()],
        Some(&code_value),
    );
    assert_eq!(code, 0, "{out}");
    wait_execution(&emu, "transfer", &name, ExecutionStatus::Succeeded).await;
    let st = status(&emu, a);
    assert_eq!(st["status"], "released", "{st}");
    let orgs = aws_sdk_organizations::Client::new(&emu.sdk_config().await);
    assert!(
        orgs.describe_account()
            .account_id(a.as_str())
            .send()
            .await
            .is_err(),
        "the account left our organization"
    );
    let root = endpoint(&emu, "GET", &format!("/_rootwarden/root-state/{a}"), None);
    assert_eq!(root["mfa_devices"], json!([]), "{root}");
    let (code, out) = cli(
        &emu,
        None,
        &["release", "certificate", "get", "--account", a.as_str()],
        None,
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&org),
        "the certificate names the organization: {out}"
    );
    custody::assert_audit_intact(&emu, Some(a)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_handback_resumes_from_where_it_stopped_and_cancel_works_until_the_point_of_no_return(
) {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let p = people(&emu).await;
    let ids = members(&emu, &["resume", "cancel"]).await;
    let (a, c) = (&ids[0], &ids[1]);
    let terms = [
        "--customer-email",
        "new@customer.example",
        "--customer-phone",
        "+15550103",
    ];

    // Cancel while it waits for the customer's code: the wait fails with Cancelled, custody
    // comes back (active, vault intact, rotation schedule as before).
    let (_, name) = ask_and_approve(&emu, &p, "handback", c, &terms);
    wait_step(&emu, c, "awaiting-code").await;
    let (code, out) = cli(
        &emu,
        None,
        &["release", "cancel", "--account", c.as_str()],
        None,
    );
    assert_eq!(code, 0, "{out}");
    wait_execution(&emu, "handback", &name, ExecutionStatus::Succeeded).await;
    assert_eq!(text(&registry_item(&emu, c).await, "status"), "active");
    assert!(vault_items(&emu, c).await > 0, "the vault is intact");
    let st = status(&emu, c);
    assert_eq!(st["step"], "cancelled", "{st}");

    // Killed (the execution stopped) after the email change was accepted: a new approved
    // request resumes without asking for a code again, and finishes. AWS's change has not
    // propagated yet (the emulator holds it), so the first execution polls at email-accepted
    // and is stopped there, never racing to the end on its own.
    let held = format!("/_rootwarden/primary-email/{a}/propagation");
    endpoint(&emu, "POST", &held, Some(json!({"mode": "hold"})));
    let (_, first) = ask_and_approve(&emu, &p, "handback", a, &terms);
    wait_step(&emu, a, "awaiting-code").await;
    let code_value = customer_code(&emu, a);
    let (code, out) = cli(
        &emu,
        None,
        &["release", "otp", "--account", a.as_str()],
        Some(&code_value),
    );
    assert_eq!(code, 0, "{out}");
    eventually("the email change accepted", || async {
        let st = status(&emu, a);
        (st["point_of_no_return_passed"] == true).then_some(())
    })
    .await;
    let sfn = aws_sdk_sfn::Client::new(&emu.sdk_config().await);
    let machine = emu.env("ROOTWARDEN_RELEASE_HANDBACK_STATE_MACHINE_ARN");
    sfn.stop_execution()
        .execution_arn(format!(
            "{}:{first}",
            machine.replacen(":stateMachine:", ":execution:", 1)
        ))
        .send()
        .await
        .unwrap();
    let (code, out) = cli(
        &emu,
        None,
        &["release", "cancel", "--account", a.as_str()],
        None,
    );
    assert_ne!(code, 0, "no cancel after the point of no return: {out}");
    let st = status(&emu, a);
    assert_eq!(
        st["step"], "email-accepted",
        "stopped before the change propagated: {st}"
    );
    endpoint(&emu, "POST", &held, Some(json!({"mode": "now"})));
    let (_, second) = ask_and_approve(&emu, &p, "handback", a, &terms);
    wait_execution(&emu, "handback", &second, ExecutionStatus::Succeeded).await;
    assert_eq!(status(&emu, a)["status"], "released");
    let actions = custody::audit_actions(&emu, a).await;
    assert_eq!(
        actions
            .iter()
            .filter(|x| *x == "release.email-accepted")
            .count(),
        1,
        "the email change was accepted once: {actions:?}"
    );
    custody::assert_audit_intact(&emu, Some(a)).await;
}

/// Each failure the issue names stops the release with its name and why, safe and resumable:
/// the closure quota (when a slot frees: core/tests/release has the dated case, from Root
/// Warden's own closures), an address that belongs to another AWS
/// account (terminal for that address; cancel gives custody back), and a transfer of an
/// account that joined our organization less than 7 days ago.
#[tokio::test(flavor = "multi_thread")]
async fn failures_stop_named_with_their_reason_and_leave_the_account_safe() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let p = people(&emu).await;
    let ids = members(&emu, &["quota", "taken", "young"]).await;
    let (q, taken, young) = (&ids[0], &ids[1], &ids[2]);

    // Ten closures in the last 30 days (the quota of an organization this small): the
    // eleventh is refused, and the release says when closing is possible again.
    let orgs = aws_sdk_organizations::Client::new(&emu.sdk_config().await);
    for i in 0..10 {
        let other = orgs
            .create_account()
            .account_name(format!("Closed {i}"))
            .email(format!("aws-closed{i}@{DOMAIN}"))
            .send()
            .await
            .unwrap();
        let id = other
            .create_account_status()
            .unwrap()
            .account_id()
            .unwrap()
            .to_owned();
        orgs.close_account().account_id(id).send().await.unwrap();
    }
    let (_, name) = ask_and_approve(&emu, &p, "close", q, &[]);
    wait_execution(&emu, "close", &name, ExecutionStatus::Failed).await;
    let st = status(&emu, q);
    let stopped = st["stopped"].as_str().unwrap_or("");
    assert!(stopped.starts_with("CloseQuotaExceeded: "), "{st}");
    // Those ten were closed outside Root Warden, and AWS names no date: the message says so.
    assert!(
        stopped.contains("used up") && stopped.contains("within 30 days"),
        "says when: {st}"
    );
    assert_eq!(
        st["cancel_allowed"], true,
        "a refused CloseAccount is no point of no return"
    );
    let (code, out) = cli(
        &emu,
        None,
        &["release", "cancel", "--account", q.as_str()],
        None,
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(text(&registry_item(&emu, q).await, "status"), "active");

    // The customer's address already belongs to another AWS account.
    endpoint(
        &emu,
        "PUT",
        "/_rootwarden/primary-email/conflicts",
        Some(json!({"emails": ["taken@customer.example"]})),
    );
    let (_, name) = ask_and_approve(
        &emu,
        &p,
        "handback",
        taken,
        &[
            "--customer-email",
            "taken@customer.example",
            "--customer-phone",
            "+15550104",
        ],
    );
    wait_execution(&emu, "handback", &name, ExecutionStatus::Failed).await;
    let st = status(&emu, taken);
    assert!(
        st["stopped"]
            .as_str()
            .unwrap_or("")
            .starts_with("EmailConflict: "),
        "{st}"
    );
    let primary = endpoint(
        &emu,
        "GET",
        &format!("/_rootwarden/primary-email/{taken}"),
        None,
    );
    assert_eq!(
        primary["email"],
        format!("aws-taken@{DOMAIN}"),
        "our address kept"
    );
    assert!(
        vault_items(&emu, taken).await > 0,
        "the live credential stays vaulted"
    );

    // In our organization for 2 days only.
    endpoint(
        &emu,
        "PUT",
        &format!("/_rootwarden/organizations/accounts/{young}"),
        Some(json!({"created_days_ago": 2})),
    );
    let (_, name) = ask_and_approve(
        &emu,
        &p,
        "transfer",
        young,
        &[
            "--customer-org",
            "o-customer0002",
            "--customer-phone",
            "+15550105",
            "--keep-email",
        ],
    );
    wait_execution(&emu, "transfer", &name, ExecutionStatus::Failed).await;
    let st = status(&emu, young);
    let stopped = st["stopped"].as_str().unwrap_or("");
    assert!(
        stopped.starts_with("TransferPreconditionFailed: ") && stopped.contains("7 days"),
        "{st}"
    );
    let root = endpoint(
        &emu,
        "GET",
        &format!("/_rootwarden/root-state/{young}"),
        None,
    );
    assert_eq!(
        root["mfa_devices"].as_array().map(Vec::len),
        Some(1),
        "nothing handed over"
    );
    // An operator cannot skip dual control by starting a release state machine directly:
    // only the access function's role may, after an approval.
    let sfn = aws_sdk_sfn::Client::new(&emu.sdk_config_as(emu.operator("alice")).await);
    let direct = sfn
        .start_execution()
        .state_machine_arn(emu.env("ROOTWARDEN_RELEASE_CLOSE_STATE_MACHINE_ARN"))
        .name(format!("release-{q}-forged"))
        .input(
            json!({"account_id": q.as_str(), "exit": "close", "request_id": "AR-forged"})
                .to_string(),
        )
        .send()
        .await;
    let err = format!(
        "{:?}",
        direct.expect_err("an operator may not start a release")
    );
    assert!(err.contains("AccessDenied"), "{err}");
    assert!(err.contains("states:StartExecution"), "{err}");
    for a in [q, taken, young] {
        custody::assert_audit_intact(&emu, Some(a)).await;
    }
}
