//! The takeover state machine end to end on the emulator, with mail doing the relay: the real
//! `rootwarden` CLI starts it as the operator, Step Functions runs
//! `infra/statemachines/takeover.asl.json`, its tasks invoke the real `takeover` and `rotation`
//! binaries, AWS's account API (emulated) mails the one-time code to the allocated address
//! through SES inbound (S3 + the real `inbound-mail` binary), which vaults it and completes the
//! workflow's wait. Console steps (Forgot password, reset, MFA enrolment) are the emulator's
//! stand-ins for a human in a browser. Nobody relays the code.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use rootwarden::audit::{AuditLog, Stream};
use rootwarden::registry::AccountStatus;
use rootwarden::takeover::{address, TakeoverStore};
use rootwarden::vault::{CredentialKind, Vault};
use rootwarden::AccountId;
use rootwarden_tests::custody::{self, eventually};
use rootwarden_tests::leaks::{everything_stored, execution_histories, logs};
use rootwarden_tests::{build_functions, cli_bin, Emulator};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

/// The CLI as the operator alice (`OperatorRole`), optionally with stdin.
fn cli(emu: &Emulator, args: &[&str], stdin: Option<&str>) -> (i32, String) {
    cli_env(emu, emu.process_env(), args, stdin)
}

fn cli_env(
    emu: &Emulator,
    env: Vec<(String, String)>,
    args: &[&str],
    stdin: Option<&str>,
) -> (i32, String) {
    let _ = emu;
    let mut child = Command::new(cli_bin())
        .args(args)
        .envs(env)
        .env_remove("ROOTWARDEN_ACCESS_POLICY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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

/// What happens to the account's next one-time-code mails: deliver, hold (until released) or
/// drop (never sent).
fn mail_mode(emu: &Emulator, account: &AccountId, mode: &str) {
    endpoint(
        emu,
        "POST",
        &format!("/_rootwarden/primary-email/{account}/mail"),
        Some(json!({ "mode": mode })),
    );
}

/// The customer's account as we find it: its own root address, a root access key, an MFA
/// device and (or not) a password.
fn seed_customer(emu: &Emulator, account: &AccountId, login_profile: bool) {
    endpoint(
        emu,
        "PUT",
        &format!("/_rootwarden/primary-email/{account}"),
        Some(json!({"email": format!("founder-{account}@customer.example")})),
    );
    endpoint(
        emu,
        "PUT",
        &format!("/_rootwarden/root-state/{account}"),
        Some(json!({
            "access_keys": [{"id": format!("AKIA{account}"), "status": "Active"}],
            "signing_certificates": [],
            "mfa_devices": [{"serial": format!("arn:aws:iam::{account}:mfa/root-account-mfa-device")}],
            "login_profile": login_profile
        })),
    );
}

/// `account takeover` as alice: the execution's name and ARN.
fn start(emu: &Emulator, account: &AccountId, mode: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec![
        "--output",
        "json",
        "account",
        "takeover",
        "--account",
        account.as_str(),
        "--mode",
        mode,
        "--reason",
        "custody of the acquired account",
        "--ticket",
        "CHG-42",
    ];
    args.extend_from_slice(extra);
    let (code, out) = cli(emu, &args, None);
    assert_eq!(code, 0, "{out}");
    let started: Value = serde_json::from_str(&out).unwrap();
    (
        started["execution"].as_str().unwrap().to_owned(),
        started["execution_arn"].as_str().unwrap().to_owned(),
    )
}

/// `account takeover-status` as JSON.
fn status(emu: &Emulator, account: &AccountId) -> Value {
    try_status(emu, account).unwrap_or_else(|e| panic!("{e}"))
}

fn try_status(emu: &Emulator, account: &AccountId) -> Result<Value, String> {
    let (code, out) = cli(
        emu,
        &[
            "--output",
            "json",
            "account",
            "takeover-status",
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

/// Waits until the takeover of `account` has reached `step` (as `takeover-status` shows it).
async fn reaches(emu: &Emulator, account: &AccountId, step: &str) -> Value {
    eventually(&format!("step {step}"), || async {
        // Before the execution allocates, the account is not registered yet.
        try_status(emu, account).ok().filter(|s| s["step"] == step)
    })
    .await
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

/// The account's audit actions and the execution's history, for a failure message.
async fn explain(emu: &Emulator, account: &AccountId, arn: &str) -> String {
    let sfn = aws_sdk_sfn::Client::new(&emu.sdk_config().await);
    let events = sfn
        .get_execution_history()
        .execution_arn(arn)
        .send()
        .await
        .unwrap();
    let records: Vec<String> = custody::audit_log(emu)
        .await
        .read_stream(&Stream::Account(account.clone()).key())
        .await
        .unwrap()
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| format!("{} {:?}", r.action, r.details))
        .collect();
    format!("{:?}\n{}", events.events(), records.join("\n"))
}

async fn succeeds(emu: &Emulator, account: &AccountId, arn: &str) {
    let end = ended(emu, arn).await;
    assert_eq!(
        end,
        ExecutionStatus::Succeeded,
        "{}",
        explain(emu, account, arn).await
    );
}

/// Every one-time code AWS mailed to `address`, read from the raw messages SES stored.
async fn codes_mailed_to(emu: &Emulator, address: &str) -> Vec<String> {
    // Listed as the harness; read as inbound mail reads them (the bucket's key lets only it
    // decrypt), with the one call its role makes.
    let lister = rootwarden::sdk::s3_client(&emu.sdk_config().await);
    let s3 = rootwarden::sdk::s3_client(&emu.role_config("InboundMailFunction").await);
    let bucket = emu.env("ROOTWARDEN_MAIL_BUCKET");
    let list = lister
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(emu.env("ROOTWARDEN_MAIL_PREFIX"))
        .send()
        .await
        .unwrap();
    let mut codes = Vec::new();
    for o in list.contents() {
        let body = s3
            .get_object()
            .bucket(&bucket)
            .key(o.key().unwrap())
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        let text = String::from_utf8_lossy(&body);
        if !text.contains(address) {
            continue;
        }
        if let Some(i) = text.find("verification code is: ") {
            let code: String = text[i + 22..].chars().take(6).collect();
            codes.push(code);
        }
    }
    codes
}

/// Whether `secret` occurs in `haystack` as a token of its own (not inside a longer number or
/// a fraction of a second).
fn occurs(haystack: &str, secret: &str) -> bool {
    haystack.match_indices(secret).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + secret.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.')
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

/// No secret anywhere: tables (ciphertexts included), the emulator's and the Lambdas' logs,
/// Step Functions' inputs, outputs and histories, the given CLI outputs.
async fn assert_nowhere(emu: &Emulator, account: &AccountId, secrets: &[(&str, &str)], seen: &str) {
    let sm = emu.env("ROOTWARDEN_TAKEOVER_STATE_MACHINE_ARN");
    let haystack = format!(
        "{}{}{}{seen}",
        everything_stored(emu).await,
        logs(emu),
        execution_histories(emu, &sm).await
    );
    assert!(
        haystack.contains(account.as_str()),
        "the search saw the account"
    );
    assert!(
        haystack.contains("takeover.completed"),
        "the search saw the audit"
    );
    for (what, secret) in secrets {
        assert!(secret.len() >= 6, "{what}");
        assert!(!occurs(&haystack, secret), "{what} leaked");
    }
}

/// The human's "Forgot password" for `address`; returns once AWS's reset mail was vaulted and
/// the workflow waits for the password to be set (the rotation's apply wait).
async fn forgot_password(emu: &Emulator, account: &AccountId, address: &str) {
    let sent = endpoint(
        emu,
        "POST",
        &format!("/_rootwarden/console/{account}/forgot-password"),
        Some(json!({ "email": address })),
    );
    assert_eq!(sent["sent"], true, "{sent}");
    let inbound = emu.inbound_adapters(&emu.role_config("InboundMailFunction").await);
    eventually("the apply wait", || async {
        let w = rootwarden::workflows::WorkflowWaits::waiting(
            &inbound.waits,
            account,
            rootwarden::mail::Category::PasswordChanged,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        (!w.is_empty()).then_some(())
    })
    .await;
}

/// The human enrols a virtual MFA device (signing in with `password`); the operator pipes the
/// seed it shows to `account mfa-seed`. (seed, the command's output)
fn enrol_mfa(emu: &Emulator, account: &AccountId, password: &str) -> (String, String) {
    let enrolled = endpoint(
        emu,
        "POST",
        &format!("/_rootwarden/console/{account}/mfa"),
        Some(json!({ "password": password })),
    );
    let seed = enrolled["seed"].as_str().unwrap().to_owned();
    let (code, out) = cli(
        emu,
        &["account", "mfa-seed", "--account", account.as_str()],
        Some(&format!("{seed}\n")),
    );
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains(&seed), "{out}");
    (seed, out)
}

/// The vault holds `password` as the current root password and `seed` as the MFA seed.
async fn assert_vaulted(emu: &Emulator, account: &AccountId, password: &str, seed: &str) {
    let ops = custody::inspector_deps(emu).await;
    let (_, current) = ops
        .vault
        .reveal(account, CredentialKind::RootPassword, None)
        .await
        .unwrap();
    assert_eq!(
        current.expose_secret(),
        password,
        "the password set is current"
    );
    let (_, vaulted_seed) = ops
        .vault
        .reveal(account, CredentialKind::MfaSeed, None)
        .await
        .unwrap();
    assert_eq!(vaulted_seed.expose_secret(), seed);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credential_less_takeover_runs_end_to_end_with_mail_doing_the_relay() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let account = custody::account(777, 1);
    seed_customer(&emu, &account, true);
    // The first code is late (held): the takeover waits for it.
    mail_mode(&emu, &account, "hold");
    let (first, first_arn) = start(&emu, &account, "credential-less", &[]);
    let waiting = reaches(&emu, &account, "awaiting-code").await;
    assert_eq!(waiting["waiting_for"][0]["kind"], "verification-code");
    let address = waiting["root_email"].as_str().unwrap().to_owned();
    assert!(address::is_scheme_address(
        &rootwarden::RootEmail::parse(&address).unwrap(),
        &account,
        &emu.env("ROOTWARDEN_ROOT_MAIL_DOMAIN")
    ));

    // A second start while it runs is refused, naming it.
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
        None,
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains(&first), "{out}");

    // Killed while it waits (nothing records a stop): a new start resumes the takeover. It
    // adopts the account, keeps the address, and asks AWS for a new code, which mail relays.
    let sfn = aws_sdk_sfn::Client::new(&emu.sdk_config().await);
    sfn.stop_execution()
        .execution_arn(&first_arn)
        .send()
        .await
        .unwrap();
    mail_mode(&emu, &account, "deliver");
    let (second, arn) = start(&emu, &account, "credential-less", &[]);
    succeeds(&emu, &account, &arn).await;

    let deps = rootwarden::takeover::Deps::new(
        &custody::config(&emu),
        &emu.sdk_config().await,
        std::sync::Arc::new(rootwarden::SystemClock),
        "test",
    );
    let (acct, t) = deps.store.get(&account).await.unwrap().unwrap();
    assert_eq!(acct.status, AccountStatus::Active);
    assert_eq!(
        acct.root_email.as_str(),
        address,
        "the resumed takeover kept its address"
    );
    let t = t.unwrap();
    assert_eq!((t.step, t.execution.as_str()), (None, second.as_str()));
    let primary = endpoint(
        &emu,
        "GET",
        &format!("/_rootwarden/primary-email/{account}"),
        None,
    );
    assert_eq!(primary["email"], address);
    let root = endpoint(
        &emu,
        "GET",
        &format!("/_rootwarden/root-state/{account}"),
        None,
    );
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

    let codes = codes_mailed_to(&emu, &address).await;
    assert_eq!(
        codes.len(),
        1,
        "only the resumed takeover's code was delivered"
    );
    let secrets: Vec<(&str, &str)> = codes
        .iter()
        .map(|c| ("one-time code", c.as_str()))
        .collect();
    assert_nowhere(&emu, &account, &secrets, "").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vaulted_takeover_through_reset_apply_and_mfa() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let (alice, bob) = break_glass(&emu).await;
    let account = custody::account(777, 2);
    seed_customer(&emu, &account, false);
    let (_, arn) = start(&emu, &account, "vaulted", &[]);
    // The email step needs nobody; then recovery is enabled and the pending password prepared,
    // and the workflow waits for a human's "Forgot password".
    let waiting = reaches(&emu, &account, "awaiting-reset-link").await;
    let address = waiting["root_email"].as_str().unwrap().to_owned();
    let root = endpoint(
        &emu,
        "GET",
        &format!("/_rootwarden/root-state/{account}"),
        None,
    );
    assert_eq!(root["login_profile"], json!(true), "{root}");

    // The human: "Forgot password" at the root sign-in page. AWS mails the reset link; mail
    // vaults it and completes the wait.
    forgot_password(&emu, &account, &address).await;

    // The operator checks out the reset link and the pending password (reason `takeover`,
    // dual control) and applies them.
    let (pending, link) = takeover_checkout(&emu, &alice, &bob, &account);
    assert!(link.starts_with("https://signin.aws.amazon.com/"), "{link}");
    let reset = endpoint(
        &emu,
        "POST",
        &format!("/_rootwarden/console/{account}/reset-password"),
        Some(json!({ "link": link, "password": pending })),
    );
    assert_eq!(reset["reset"], true);

    // AWS's "password changed" mail promotes pending to current; then the MFA enrolment.
    reaches(&emu, &account, "awaiting-mfa").await;
    // The human enrols a device (AWS mails "MFA device added", which is ticketed); the
    // operator pipes its seed to `account mfa-seed`.
    let (seed, out) = enrol_mfa(&emu, &account, &pending);
    succeeds(&emu, &account, &arn).await;

    assert_vaulted(&emu, &account, &pending, &seed).await;
    let deps = rootwarden::takeover::Deps::new(
        &custody::config(&emu),
        &emu.sdk_config().await,
        std::sync::Arc::new(rootwarden::SystemClock),
        "test",
    );
    let (acct, _) = deps.store.get(&account).await.unwrap().unwrap();
    assert_eq!(acct.status, AccountStatus::Active);
    assert!(
        acct.rotation_due.is_some(),
        "it entered the rotation schedule"
    );
    let root = endpoint(
        &emu,
        "GET",
        &format!("/_rootwarden/root-state/{account}"),
        None,
    );
    assert_eq!(root["access_keys"], json!([]), "{root}");
    let actions = custody::audit_actions(&emu, &account).await;
    for a in [
        "takeover.email-updated",
        "takeover.recovery-enabled",
        "takeover.awaiting-reset-link",
        "account.mfa-seed-vaulted",
        "takeover.mfa-verified",
        "takeover.keys-deleted",
        "takeover.completed",
    ] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} missing from {actions:?}"
        );
    }
    custody::assert_audit_intact(&emu, Some(&account)).await;
    let tickets = emu.inbound_adapters(&emu.sdk_config().await).tickets;
    let tickets = rootwarden::tickets::TicketStore::list(&tickets, Some(&account))
        .await
        .unwrap();
    for category in [
        "verification-code",
        "password-reset",
        "password-changed",
        "mfa",
    ] {
        assert!(
            tickets.iter().any(|t| t.category.as_str() == category),
            "AWS's {category} mail was ticketed: {tickets:?}"
        );
    }

    let codes = codes_mailed_to(&emu, &address).await;
    assert_eq!(codes.len(), 1);
    let token = link
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert_nowhere(
        &emu,
        &account,
        &[
            ("one-time code", codes[0].as_str()),
            ("reset link token", token),
            ("password", pending.as_str()),
            ("MFA seed", seed.as_str()),
        ],
        &out,
    )
    .await;
}

/// A lookalike sender's "verification code" never completes the email step; a wrong code and a
/// late code are resent (bounded); an address AWS says is another account's stops the takeover,
/// and a new start draws a new address. Four accounts on one stack, side by side.
#[tokio::test(flavor = "multi_thread")]
async fn the_email_step_refuses_forged_mail_and_recovers_from_wrong_late_and_conflicting_codes() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    tokio::join!(
        forged(&emu, custody::account(778, 1)),
        wrong_code(&emu, custody::account(778, 2)),
        late_code(&emu, custody::account(778, 3)),
        conflict(&emu, custody::account(778, 4)),
    );
}

async fn forged(emu: &Emulator, account: AccountId) {
    seed_customer(emu, &account, true);
    mail_mode(emu, &account, "hold");
    let (_, arn) = start(emu, &account, "credential-less", &[]);
    let waiting = reaches(emu, &account, "awaiting-code").await;
    let address = waiting["root_email"].as_str().unwrap().to_owned();
    // The attacker owns verify-signin.aws: SPF, DKIM and DMARC pass for *his* domain.
    let raw = format!(
        "From: Amazon Web Services <no-reply@verify-signin.aws>\r\nTo: {address}\r\n\
         Subject: AWS Account Email Change Verification\r\nMessage-ID: <forged-{account}@verify-signin.aws>\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nContent-Type: text/plain\r\n\r\n\
         Your AWS verification code is: 424242\r\n"
    );
    let answer = endpoint(
        emu,
        "POST",
        "/_rootwarden/ses/receive",
        Some(json!({
            "raw_b64": aws_smithy_types::base64::encode(raw.as_bytes()),
            "recipients": [address],
            "dkim_domain": "verify-signin.aws",
        })),
    );
    assert!(answer["message_id"].is_string(), "{answer}");
    // Its ticket is written (so inbound mail has decided), and the takeover still waits.
    let tickets = emu.inbound_adapters(&emu.sdk_config().await).tickets;
    let ticket = eventually("the forged mail's ticket", || async {
        let t = rootwarden::tickets::TicketStore::list(&tickets, Some(&account))
            .await
            .unwrap();
        t.into_iter().find(|t| t.subject.contains("Verification"))
    })
    .await;
    // Not a credential mail of AWS: an operator must look at it.
    assert!(
        ticket.quarantined || ticket.priority >= rootwarden::mail::Priority::High,
        "{ticket:?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(status(emu, &account)["step"], "awaiting-code");
    // Its "code" was not vaulted either (nothing could use it).
    let ddb = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
    let transient = ddb
        .query()
        .table_name(emu.env("ROOTWARDEN_VAULT_TABLE"))
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("transient#{account}")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(transient.count(), 0, "the forged code was vaulted");
    // The genuine code, late, completes it.
    endpoint(
        emu,
        "POST",
        &format!("/_rootwarden/primary-email/{account}/mail/release"),
        None,
    );
    succeeds(emu, &account, &arn).await;
}

async fn wrong_code(emu: &Emulator, account: AccountId) {
    seed_customer(emu, &account, true);
    mail_mode(emu, &account, "hold");
    let (_, arn) = start(emu, &account, "credential-less", &[]);
    let waiting = reaches(emu, &account, "awaiting-code").await;
    let address = waiting["root_email"].as_str().unwrap().to_owned();
    // Someone asks AWS again (the code held in transit is now void; the new one is lost).
    mail_mode(emu, &account, "drop");
    let api = aws_sdk_account::Client::new(&emu.sdk_config().await);
    api.start_primary_email_update()
        .account_id(account.as_str())
        .primary_email(&address)
        .send()
        .await
        .unwrap();
    mail_mode(emu, &account, "deliver");
    endpoint(
        emu,
        "POST",
        &format!("/_rootwarden/primary-email/{account}/mail/release"),
        None,
    );
    succeeds(emu, &account, &arn).await;
    // AWS refused the void code (WrongCode) and the workflow asked for a new one at once: a
    // resend well inside the code wait's 15 minutes, which no timeout explains.
    let actions = custody::audit_actions(emu, &account).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "takeover.code-resent")
            .count(),
        1,
        "{actions:?}"
    );
}

async fn late_code(emu: &Emulator, account: AccountId) {
    seed_customer(emu, &account, true);
    mail_mode(emu, &account, "drop");
    let (_, arn) = start(emu, &account, "credential-less", &["--code-timeout", "10s"]);
    reaches(emu, &account, "awaiting-code").await;
    mail_mode(emu, &account, "deliver");
    // No code within 10 s: the wait times out, a new code is asked for and relayed.
    succeeds(emu, &account, &arn).await;
    let actions = custody::audit_actions(emu, &account).await;
    assert!(
        actions.iter().any(|a| a == "takeover.code-resent"),
        "{actions:?}"
    );
}

async fn conflict(emu: &Emulator, account: AccountId) {
    seed_customer(emu, &account, true);
    let glob = format!("aws-{account}-*");
    endpoint(
        emu,
        "PUT",
        "/_rootwarden/primary-email/conflicts",
        Some(json!({ "emails": [format!("{glob}@*")] })),
    );
    let (_, arn) = start(emu, &account, "credential-less", &[]);
    assert_eq!(ended(emu, &arn).await, ExecutionStatus::Failed);
    let first = status(emu, &account);
    assert_eq!(first["stopped"], "EmailConflict", "{first}");
    let actions = custody::audit_actions(emu, &account).await;
    assert_eq!(actions.last().map(String::as_str), Some("takeover.stopped"));
    endpoint(
        emu,
        "PUT",
        "/_rootwarden/primary-email/conflicts",
        Some(json!({ "emails": [] })),
    );
    let (_, arn) = start(emu, &account, "credential-less", &[]);
    succeeds(emu, &account, &arn).await;
    let (_, body) = emu
        .test_endpoint(
            "GET",
            &format!("/_rootwarden/primary-email/{account}"),
            None,
        )
        .unwrap();
    assert_ne!(
        body["email"], first["root_email"],
        "a new address was drawn"
    );
}

/// The break-glass principals alice (requester) and bob (approver), and the access policy
/// naming them, set on the access function as a deployment does.
async fn break_glass(emu: &Emulator) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let alice = emu.break_glass_user("alice-bg").await.unwrap();
    let bob = emu.break_glass_user("bob-bg").await.unwrap();
    let policy = format!(
        r#"{{"principals": [{{"arn": "{}", "roles": ["requester"]}}, {{"arn": "{}", "roles": ["approver"]}}], "ticket_pattern": "^CHG-[0-9]+$"}}"#,
        alice.arn, bob.arn
    );
    emu.set_function_env("AccessFunction", "ROOTWARDEN_ACCESS_POLICY", &policy)
        .await
        .unwrap();
    let env_of = |p: &rootwarden_tests::Principal| -> Vec<(String, String)> {
        let mut env = emu.process_env();
        env.retain(|(k, _)| {
            !matches!(
                k.as_str(),
                "AWS_SESSION_TOKEN" | "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY"
            )
        });
        env.push(("AWS_ACCESS_KEY_ID".into(), p.access_key_id.clone()));
        env.push(("AWS_SECRET_ACCESS_KEY".into(), p.secret_access_key.clone()));
        env
    };
    (env_of(&alice), env_of(&bob))
}

/// alice checks out the account's reset link and pending password (reason `takeover`, bob
/// approves): (pending password, reset link).
fn takeover_checkout(
    emu: &Emulator,
    alice: &[(String, String)],
    bob: &[(String, String)],
    account: &AccountId,
) -> (String, String) {
    let (code, out) = cli_env(
        emu,
        alice.to_vec(),
        &[
            "access",
            "request",
            "--account",
            account.as_str(),
            "--reason",
            "takeover",
            "--ticket",
            "CHG-42",
        ],
        None,
    );
    assert_eq!(code, 0, "{out}");
    let id = out.lines().next().unwrap().trim().to_owned();
    let (code, out) = cli_env(emu, bob.to_vec(), &["access", "approve", &id], None);
    assert_eq!(code, 0, "{out}");
    let (code, shown) = cli_env(
        emu,
        alice.to_vec(),
        &["--output", "json", "access", "checkout", &id],
        None,
    );
    assert_eq!(code, 0, "{shown}");
    let revealed: Value = serde_json::Deserializer::from_str(&shown[shown.find('{').unwrap()..])
        .into_iter::<Value>()
        .next()
        .unwrap()
        .unwrap();
    assert!(revealed["password"].is_null(), "nothing is current yet");
    (
        revealed["pending"]["password"].as_str().unwrap().to_owned(),
        revealed["reset_links"][0].as_str().unwrap().to_owned(),
    )
}

/// Waits until execution `execution` of the takeover of `account` has reached `step`.
async fn reaches_in(emu: &Emulator, account: &AccountId, execution: &str, step: &str) {
    eventually(&format!("{execution} at {step}"), || async {
        try_status(emu, account)
            .ok()
            .filter(|s| s["execution"] == execution && s["step"] == step)
    })
    .await;
}

async fn stop(emu: &Emulator, arn: &str) {
    aws_sdk_sfn::Client::new(&emu.sdk_config().await)
        .stop_execution()
        .execution_arn(arn)
        .send()
        .await
        .unwrap();
}

/// Killed at each human step, a vaulted takeover resumes from where it was: a pending password
/// it left waits for an operator's `rotation reject` (never applied) or `confirm` (applied), and
/// a password or MFA seed vaulted already is not asked for again.
#[tokio::test(flavor = "multi_thread")]
async fn a_vaulted_takeover_killed_at_each_human_step_resumes() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let (alice, bob) = break_glass(&emu).await;
    let account = custody::account(779, 1);
    seed_customer(&emu, &account, true);

    // Killed while it waits for "Forgot password", after its pending password was staged: a
    // resumed takeover never discards a pending password on its own (the apply ticket named
    // it), so it stops for an operator's decision; nobody applied it, so they reject it, and
    // the next start prepares a new one.
    let (first, arn) = start(&emu, &account, "vaulted", &[]);
    reaches_in(&emu, &account, &first, "awaiting-reset-link").await;
    stop(&emu, &arn).await;
    let (_, arn) = start(&emu, &account, "vaulted", &[]);
    assert_eq!(ended(&emu, &arn).await, ExecutionStatus::Failed);
    assert_eq!(status(&emu, &account)["stopped"], "PendingDecisionRequired");
    let (code, out) = cli(
        &emu,
        &[
            "rotation",
            "reject",
            "--account",
            account.as_str(),
            "--reason",
            "never applied: the takeover stopped before the reset",
        ],
        None,
    );
    assert_eq!(code, 0, "{out}");
    let (second, arn) = start(&emu, &account, "vaulted", &[]);
    reaches_in(&emu, &account, &second, "awaiting-reset-link").await;

    // Killed after the operator checked the pending password out (it may be live): the
    // human sets it anyway; a resumed takeover stops for an operator's decision, which
    // `rotation confirm` gives.
    let address = status(&emu, &account)["root_email"]
        .as_str()
        .unwrap()
        .to_owned();
    forgot_password(&emu, &account, &address).await;
    let (pending, link) = takeover_checkout(&emu, &alice, &bob, &account);
    stop(&emu, &arn).await;
    endpoint(
        &emu,
        "POST",
        &format!("/_rootwarden/console/{account}/reset-password"),
        Some(json!({ "link": link, "password": pending })),
    );
    let (_, arn) = start(&emu, &account, "vaulted", &[]);
    assert_eq!(ended(&emu, &arn).await, ExecutionStatus::Failed);
    assert_eq!(status(&emu, &account)["stopped"], "PendingDecisionRequired");
    let (code, out) = cli(
        &emu,
        &["rotation", "confirm", "--account", account.as_str()],
        None,
    );
    assert_eq!(code, 0, "{out}");

    // Resumed: the password is vaulted, so it goes straight to the MFA step. Killed there
    // after the seed was vaulted: resumed, it verifies the device at once.
    let (fourth, arn) = start(&emu, &account, "vaulted", &[]);
    reaches_in(&emu, &account, &fourth, "awaiting-mfa").await;
    stop(&emu, &arn).await;
    // The human enrols a device (AWS mails "MFA device added", which is ticketed); the
    // operator pipes its seed to `account mfa-seed`.
    let (seed, _) = enrol_mfa(&emu, &account, &pending);
    let (_, arn) = start(&emu, &account, "vaulted", &[]);
    succeeds(&emu, &account, &arn).await;

    assert_vaulted(&emu, &account, &pending, &seed).await;
    let root = endpoint(
        &emu,
        "GET",
        &format!("/_rootwarden/root-state/{account}"),
        None,
    );
    assert_eq!(
        root["mfa_devices"].as_array().map(Vec::len),
        Some(1),
        "{root}"
    );
    let actions = custody::audit_actions(&emu, &account).await;
    assert_eq!(
        actions.last().map(String::as_str),
        Some("takeover.completed")
    );
    custody::assert_audit_intact(&emu, Some(&account)).await;
}
