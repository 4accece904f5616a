//! AWS calls per operation, counted by the emulator's own request log (server side: every AWS
//! request it served, by caller and operation; `emulator/rootwarden_ext/requestlog.py`), while the
//! real Lambda binaries run each operation on the function host exactly as production drives it:
//!
//! - inbound mail: the raw message stored by SES's S3 action, the `inbound-mail` function invoked
//!   with SES's receipt event (a plain notice, then AWS's reset-link mail);
//! - rotation: the operator starts the rotation state machine, which runs the real `rotation`
//!   binary; the human step (the operator's `rotation confirm`) is done here and its calls are
//!   the operator's, not counted; counted: the rotation function's calls and the state machine's
//!   own task calls (its Lambda invokes);
//! - check-out: `rootwarden access checkout` through the access function's URL (SigV4); counted:
//!   the access function's calls;
//! - sweep: the `rotation-scheduler` function over an estate with N due accounts, per due account;
//! - enforcement: the `root-enforcement` function with `{"account_id"}` of a clean account; counted:
//!   the function's calls and those of the AssumeRoot session it opens;
//! - digest: the hourly audit-digest state machine (plan, one child per 5,000-chain segment,
//!   sign) over 5,000 chains (first digest: every page new); counted: the function's calls and
//!   the state machine's Lambda invokes, per 1,000 chains.
//!
//! Each operation is counted once its function is warm (an earlier invocation ran), so the
//! figure is the per-operation cost, not a cold start's. A window of the log is attributed to
//! an operation by the caller: the function's role session (session name = the function's name,
//! as Lambda names it) or the state machine's role.
//!
//! Run: `make bench-calls` (prints the table, writes `target/bench/calls.json`).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_lambda::primitives::Blob;
use chrono::Utc;
use rootwarden::audit::{AuditEntry, AuditRecord, Stream, GENESIS_HASH, RECORD_VERSION};
use rootwarden::rotation;
use rootwarden::AccountId;
use rootwarden_tests::custody::{self, awaiting_apply, eventually, execution_arn};
use rootwarden_tests::{build_functions, cli_bin, http_json, repo_root, seed, Emulator};
use serde::Deserialize;
use serde_json::{json, Value};

const PASSWORD: &str = "Onboard-Pa55word!<current>";
const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SWEEP_DUE: usize = 10;
const DIGEST_CHAINS: u64 = 5000;

#[derive(Debug, Clone, Deserialize)]
struct Rec {
    caller: String,
    service: String,
    op: String,
    status: u16,
    #[serde(default)]
    target: String,
}

#[derive(Deserialize)]
struct Page {
    records: Vec<Rec>,
    last: u64,
}

fn page(emu: &Emulator, after: u64) -> Page {
    let (status, body) = http_json(
        emu.port,
        "GET",
        &format!("/_rootwarden/requests?after={after}"),
        None,
    )
    .expect("request log");
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).expect("request log shape")
}

/// The log's position now.
fn mark(emu: &Emulator) -> u64 {
    page(emu, u64::MAX).last
}

/// Who an operation's calls come from: a function's own role session, the AssumeRoot sessions it
/// opens, a state machine's role.
#[derive(Clone, Default)]
struct Callers(Vec<String>);

impl Callers {
    fn function(mut self, emu: &Emulator, logical_id: &str) -> Self {
        let role = emu.role_arn(logical_id);
        let role_name = role.rsplit('/').next().unwrap_or_default();
        let function = emu.stack().resources[logical_id]
            .physical_id
            .clone()
            .expect("function name");
        self.0.push(format!(
            ":assumed-role/{role_name}/{}",
            &function[..function.len().min(64)]
        ));
        self
    }
    fn state_machine(mut self, emu: &Emulator, logical_id: &str) -> Self {
        let role = emu.role_arn(logical_id);
        let role_name = role.rsplit('/').next().unwrap_or_default();
        self.0
            .push(format!(":assumed-role/{role_name}/states-execution"));
        self
    }
    fn root_sessions(mut self) -> Self {
        self.0.push("root-session:".into());
        self
    }
    fn matches(&self, caller: &str) -> bool {
        self.0.iter().any(|c| {
            if c.starts_with("root-session:") {
                caller.starts_with(c.as_str())
            } else {
                caller.ends_with(c.as_str())
            }
        })
    }
}

/// The calls `who` made after `from`: total and per `service:Operation`.
/// With `CALLS_BENCH_TRACE` set, prints them in order (caller, operation, what it touched).
fn calls_since(emu: &Emulator, from: u64, who: &Callers) -> (u64, BTreeMap<String, u64>) {
    count_calls(
        emu,
        from,
        who,
        std::env::var_os("CALLS_BENCH_TRACE").is_some(),
    )
}

fn count_calls(
    emu: &Emulator,
    from: u64,
    who: &Callers,
    trace: bool,
) -> (u64, BTreeMap<String, u64>) {
    let mut by_op = BTreeMap::new();
    let mut n = 0;
    for r in page(emu, from).records {
        if who.matches(&r.caller) {
            n += 1;
            if trace {
                let role = r.caller.rsplit(['/', ':']).nth(1).unwrap_or_default();
                eprintln!(
                    "  {n:>3} {role:40} {}:{} {} {}",
                    r.service, r.op, r.status, r.target
                );
            }
            let failed = if r.status >= 400 {
                format!(" (HTTP {})", r.status)
            } else {
                String::new()
            };
            *by_op
                .entry(format!("{}:{}{failed}", r.service, r.op))
                .or_insert(0) += 1;
        }
    }
    (n, by_op)
}

/// Waits until `who` has made no call for `quiet` (the end of asynchronous work), then counts.
async fn settle(
    emu: &Emulator,
    from: u64,
    who: &Callers,
    quiet: Duration,
) -> (u64, BTreeMap<String, u64>) {
    let mut last = count_calls(emu, from, who, false);
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = count_calls(emu, from, who, false);
        if now.0 != last.0 {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            return calls_since(emu, from, who);
        }
    }
}

struct Row {
    what: String,
    figure: f64,
    unit: &'static str,
    goal: String,
    met: bool,
    calls: BTreeMap<String, u64>,
    detail: String,
}

fn row(
    what: &str,
    (n, calls): (u64, BTreeMap<String, u64>),
    per: f64,
    unit: &'static str,
    goal_max: f64,
    goal: &str,
    detail: &str,
) -> Row {
    let figure = n as f64 / per;
    let r = Row {
        what: what.into(),
        figure,
        unit,
        goal: goal.into(),
        met: figure <= goal_max,
        calls,
        detail: detail.into(),
    };
    println!(
        "{:48} {:>8} {:10} goal {:22} {}  {:?}",
        r.what,
        fmt(r.figure),
        r.unit,
        r.goal,
        if r.met { "met" } else { "NOT MET" },
        r.calls
    );
    r
}

fn fmt(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.2}")
    }
}

async fn invoke(emu: &Emulator, logical_id: &str, payload: &Value) -> Value {
    let lambda = aws_sdk_lambda::Client::new(&emu.sdk_config().await);
    let name = emu.stack().resources[logical_id]
        .physical_id
        .clone()
        .expect("function name");
    let out = lambda
        .invoke()
        .function_name(name)
        .payload(Blob::new(payload.to_string()))
        .send()
        .await
        .expect("invoke");
    let body: Value = serde_json::from_slice(out.payload().map(|b| b.as_ref()).unwrap_or(b"null"))
        .unwrap_or(Value::Null);
    assert!(
        out.function_error().is_none(),
        "{logical_id} failed: {body}"
    );
    body
}

fn ses_event(ses_id: &str, recipient: &str) -> Value {
    let mut e: Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("tests/fixtures/ses/lambda-event.json")).unwrap(),
    )
    .unwrap();
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    e["Records"][0]["ses"]["mail"]["messageId"] = json!(ses_id);
    e["Records"][0]["ses"]["receipt"]["recipients"] = json!([recipient]);
    e["Records"][0]["ses"]["receipt"]["timestamp"] = json!(now);
    e["Records"][0]["ses"]["mail"]["timestamp"] = json!(now);
    e
}

/// SES stores the message, then invokes inbound-mail with its receipt event.
async fn deliver(emu: &Emulator, ses_id: &str, fixture: &str, to: &str) -> Value {
    let raw = std::fs::read(repo_root().join("tests/fixtures/mail").join(fixture)).unwrap();
    emu.deliver_raw_mail(ses_id, &rootwarden_tests::readdressed(&raw, to))
        .unwrap();
    let out = invoke(emu, "InboundMailFunction", &ses_event(ses_id, to)).await;
    out["processed"][0].clone()
}

async fn mail_rows(emu: &Emulator, rows: &mut Vec<Row>) {
    let ops = custody::operator_deps(emu, "arn:aws:iam::123456789012:user/operator").await;
    let a = custody::account(901, 1);
    custody::onboard(&ops, &a, PASSWORD, Some(SEED))
        .await
        .unwrap();
    let to = custody::root_email(&a).to_string();
    let who = Callers::default().function(emu, "InboundMailFunction");
    // Warm-up (cold start), not counted.
    deliver(emu, "calls-warm-1", "billing-03-free-tier-alert.eml", &to).await;

    let from = mark(emu);
    let p = deliver(
        emu,
        "calls-plain-1",
        "service-notice-02-scheduled-maintenance.eml",
        &to,
    )
    .await;
    assert_eq!(
        (p["outcome"].as_str(), p["secrets_vaulted"].as_u64()),
        (Some("created"), Some(0)),
        "{p}"
    );
    rows.push(row(
        "one plain inbound mail",
        calls_since(emu, from, &who),
        1.0,
        "calls",
        4.0,
        "≤ 4",
        "a service notice to a registered account: new ticket, no secret, no notification channel",
    ));

    let from = mark(emu);
    let p = deliver(
        emu,
        "calls-reset-1",
        "password-reset-01-signin-aws.eml",
        &to,
    )
    .await;
    assert_eq!(
        (
            p["outcome"].as_str(),
            p["category"].as_str(),
            p["secrets_vaulted"].as_u64()
        ),
        (Some("created"), Some("password-reset"), Some(1)),
        "{p}"
    );
    rows.push(row(
        "one mail carrying a reset link",
        calls_since(emu, from, &who),
        1.0,
        "calls",
        5.0,
        "≤ 5 (plain + 1 KMS)",
        "AWS's reset mail: new ticket and the link encrypted into the vault",
    ));
}

async fn rotation_row(emu: &Emulator, rows: &mut Vec<Row>) {
    let sm = custody::rotation_state_machine(emu);
    let ops = custody::operator_deps(emu, "arn:aws:iam::123456789012:user/operator").await;
    let inspect = custody::inspector_deps(emu).await;
    let who = Callers::default()
        .function(emu, "RotationFunction")
        .state_machine(emu, "RotationStateMachine");
    let mut last = (0, BTreeMap::new());
    // The first rotation warms the function; the second is counted.
    for n in 1..=2 {
        let a = custody::account(902, n);
        custody::onboard(&ops, &a, PASSWORD, Some(SEED))
            .await
            .unwrap();
        let from = mark(emu);
        let name = rotation::start(&ops, &sm, &a, Some(600)).await.unwrap();
        awaiting_apply(&inspect, &a, &name).await;
        // The human step: the operator confirms the new password is applied (not counted:
        // the operator's calls).
        rotation::confirm(&ops, &a).await.unwrap();
        let sfn = aws_sdk_sfn::Client::new(&emu.sdk_config().await);
        let arn = execution_arn(&sm, &name);
        let status = eventually("the rotation to end", || async {
            let d = sfn
                .describe_execution()
                .execution_arn(&arn)
                .send()
                .await
                .unwrap();
            (d.status() != &aws_sdk_sfn::types::ExecutionStatus::Running)
                .then(|| d.status().clone())
        })
        .await;
        assert_eq!(status, aws_sdk_sfn::types::ExecutionStatus::Succeeded);
        last = settle(emu, from, &who, Duration::from_secs(1)).await;
    }
    rows.push(row(
        "one rotation, end to end (no human step)",
        last,
        1.0,
        "calls",
        8.0,
        "≤ 8",
        "prepare, await-apply, finish: the rotation function's calls and the state machine's Lambda invokes",
    ));
}

fn cli_as(emu: &Emulator, key: &str, secret: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(cli_bin())
        .args(args)
        .envs(emu.process_env())
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
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

async fn checkout_row(emu: &Emulator, rows: &mut Vec<Row>) {
    let carol = emu.break_glass_user("calls-carol").await.unwrap();
    let bob = emu.break_glass_user("calls-bob").await.unwrap();
    let policy = json!({"principals": [
            {"arn": carol.arn, "roles": ["requester", "approver"]},
            {"arn": bob.arn, "roles": ["approver"]}],
        "ticket_pattern": "^INC-[0-9]+$", "approval_ttl_minutes": 60, "reasons": {}});
    emu.set_function_env(
        "AccessFunction",
        "ROOTWARDEN_ACCESS_POLICY",
        &policy.to_string(),
    )
    .await
    .unwrap();
    let ops = custody::operator_deps(emu, "arn:aws:iam::123456789012:user/operator").await;
    let who = Callers::default().function(emu, "AccessFunction");
    let mut last = (0, BTreeMap::new());
    for n in 1..=2 {
        let a = custody::account(903, n);
        custody::onboard(&ops, &a, PASSWORD, Some(SEED))
            .await
            .unwrap();
        let (code, out, err) = cli_as(
            emu,
            &carol.access_key_id,
            &carol.secret_access_key,
            &[
                "access",
                "request",
                "--account",
                a.as_str(),
                "--reason",
                "billing-issue",
                "--ticket",
                "INC-7",
                "--duration",
                "30m",
            ],
        );
        assert_eq!(code, 0, "{err}");
        let id = out.trim().to_owned();
        let (code, _, err) = cli_as(
            emu,
            &bob.access_key_id,
            &bob.secret_access_key,
            &["access", "approve", &id],
        );
        assert_eq!(code, 0, "{err}");
        let from = mark(emu);
        let (code, out, err) = cli_as(
            emu,
            &carol.access_key_id,
            &carol.secret_access_key,
            &["access", "checkout", &id],
        );
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(PASSWORD) && out.contains("TOTP code:"));
        last = calls_since(emu, from, &who);
    }
    rows.push(row(
        "one check-out",
        last,
        1.0,
        "calls",
        6.0,
        "≤ 6",
        "through the function URL: password and MFA seed decrypted, the check-out and its audit record written",
    ));
}

async fn sweep_row(emu: &Emulator, rows: &mut Vec<Row>) {
    let ops = custody::operator_deps(emu, "arn:aws:iam::123456789012:user/operator").await;
    for n in 1..=SWEEP_DUE as u64 {
        custody::onboard(&ops, &custody::account(904, n), PASSWORD, None)
            .await
            .unwrap();
    }
    let who = Callers::default().function(emu, "RotationSchedulerFunction");
    // Warm-up: a sweep of a moment when nothing is due.
    invoke(
        emu,
        "RotationSchedulerFunction",
        &json!({"now": Utc::now().to_rfc3339()}),
    )
    .await;
    // Every account onboarded here (and above) is due 90 days after onboarding.
    let from = mark(emu);
    let report = invoke(
        emu,
        "RotationSchedulerFunction",
        &json!({"now": (Utc::now() + chrono::Duration::days(91)).to_rfc3339()}),
    )
    .await;
    let due = report["due"].as_u64().unwrap_or(0);
    assert!(due >= SWEEP_DUE as u64, "{report}");
    // Accounts rotated above may still have their execution: already started, not again.
    let n = |k: &str| report[k].as_u64().unwrap_or(0);
    assert_eq!(n("started") + n("already_started"), due, "{report}");
    rows.push(row(
        "one sweep, per due account",
        calls_since(emu, from, &who),
        due as f64,
        "calls",
        2.0,
        "≤ 2",
        &format!("{due} due accounts"),
    ));
}

fn seed_root_state(emu: &Emulator, account: &AccountId, state: Value) {
    let (status, body) = emu
        .test_endpoint(
            "PUT",
            &format!("/_rootwarden/root-state/{account}"),
            Some(&state),
        )
        .unwrap();
    assert!((200..300).contains(&status), "{status} {body}");
}

async fn enforcement_row(emu: &Emulator, rows: &mut Vec<Row>) {
    let ops = custody::operator_deps(emu, "arn:aws:iam::123456789012:user/operator").await;
    let who = Callers::default()
        .function(emu, "RootEnforcementFunction")
        .root_sessions();
    let mut last = (0, BTreeMap::new());
    for n in 1..=2 {
        let a = custody::account(905, n);
        custody::onboard(&ops, &a, PASSWORD, Some(SEED))
            .await
            .unwrap();
        seed_root_state(
            emu,
            &a,
            json!({"login_profile": true,
                   "mfa_devices": [{"serial": format!("arn:aws:iam::{a}:mfa/root-account-mfa-device")}]}),
        );
        let from = mark(emu);
        let report = invoke(
            emu,
            "RootEnforcementFunction",
            &json!({"account_id": a.as_str()}),
        )
        .await;
        assert_eq!(report["compliant"], 1, "{report}");
        last = calls_since(emu, from, &who);
    }
    rows.push(row(
        "one enforcement of a clean account",
        last,
        1.0,
        "calls",
        8.0,
        "≤ 8",
        "AssumeRoot, the root user's credentials read, posture and audit record written",
    ));
}

async fn digest_row(emu: &Emulator, rows: &mut Vec<Row>) {
    let ddb = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
    let table = emu.env("ROOTWARDEN_AUDIT_TABLE");
    let items: Vec<seed::Item> = (0..DIGEST_CHAINS)
        .map(|n| {
            let stream =
                Stream::Account(AccountId::parse(&format!("{:012}", 906_000_000_000 + n)).unwrap());
            let r = AuditRecord::seal(
                &AuditEntry::new(stream, "arn:aws:iam::1:user/op", "audit.annotate"),
                1,
                GENESIS_HASH,
                Utc::now(),
            );
            let s = |v: &str| AttributeValue::S(v.to_owned());
            [
                ("stream", s(&r.stream)),
                ("seq", AttributeValue::N(r.seq.to_string())),
                ("v", s(RECORD_VERSION)),
                ("ts", s(&r.timestamp)),
                ("actor", s(&r.actor)),
                ("action", s(&r.action)),
                ("target", s(&r.target)),
                ("outcome", s(&r.outcome)),
                ("reason", s(&r.reason)),
                ("correlation_id", s(&r.correlation_id)),
                ("details", s(&r.details)),
                ("prev_hash", s(&r.prev_hash)),
                ("hash", s(&r.hash)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
        })
        .collect();
    seed::batch_put(&ddb, &table, items, 8).await.unwrap();
    let who = Callers::default()
        .function(emu, "AuditDigestFunction")
        .state_machine(emu, "AuditDigestStateMachine");
    let sm = emu.stack().resources["AuditDigestStateMachine"]
        .arn
        .clone()
        .expect("state machine arn");
    let sfn = aws_sdk_sfn::Client::new(&emu.sdk_config().await);
    // Two runs as the hourly schedule starts them. The first digest is planned as one segment
    // (no digest counted the chains yet); the second, counted, is planned from the first's
    // count (one segment per 5,000 chains: two for the 5,000 here and the other rows' chains),
    // and every page is new (page boundaries follow the segments): the most calls an hourly run
    // makes.
    let mut counted = (0, BTreeMap::new());
    let mut out = Value::Null;
    for run in ["first", "counted"] {
        let from = mark(emu);
        let exec = sfn
            .start_execution()
            .state_machine_arn(&sm)
            .name(format!("digest-{run}"))
            .input("{}")
            .send()
            .await
            .unwrap();
        let arn = exec.execution_arn().to_owned();
        let done = eventually("the digest run to end", || async {
            let d = sfn
                .describe_execution()
                .execution_arn(&arn)
                .send()
                .await
                .unwrap();
            (d.status() != &aws_sdk_sfn::types::ExecutionStatus::Running).then_some(d)
        })
        .await;
        assert_eq!(
            done.status(),
            &aws_sdk_sfn::types::ExecutionStatus::Succeeded,
            "{done:?}"
        );
        out = serde_json::from_str(done.output().unwrap_or("null")).unwrap();
        counted = settle(emu, from, &who, Duration::from_secs(1)).await;
    }
    let chains = out["streams"].as_u64().unwrap_or(0);
    assert!(chains >= DIGEST_CHAINS, "{out}");
    rows.push(row(
        "one digest per 1,000 chains",
        counted,
        chains as f64 / 1000.0,
        "calls",
        6.0,
        "≤ 6",
        &format!(
            "the hourly state machine over {chains} chains in {} segments (plan, pages, sign; every page new); its Lambda invokes included",
            chains.div_ceil(5000)
        ),
    ));
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    build_functions().expect("function binaries");
    let emu = Emulator::with_functions().await.expect("emulator");
    let (status, body) = http_json(
        emu.port,
        "POST",
        "/_rootwarden/requests",
        Some(&json!({"enabled": true})),
    )
    .expect("request log");
    assert_eq!(status, 200, "{body}");

    let mut rows = Vec::new();
    mail_rows(&emu, &mut rows).await;
    rotation_row(&emu, &mut rows).await;
    checkout_row(&emu, &mut rows).await;
    sweep_row(&emu, &mut rows).await;
    enforcement_row(&emu, &mut rows).await;
    digest_row(&emu, &mut rows).await;

    let seconds = started.elapsed().as_secs_f64();
    let json_rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"what": r.what, "figure": format!("{} {}", fmt(r.figure), r.unit),
                   "goal": r.goal, "met": r.met, "value": r.figure, "calls": r.calls,
                   "detail": r.detail})
        })
        .collect();
    let breakdown: Vec<String> = rows
        .iter()
        .map(|r| {
            let parts: Vec<String> = r.calls.iter().map(|(k, v)| format!("{v}× {k}")).collect();
            format!("{}: {}", r.what, parts.join(", "))
        })
        .collect();
    let mut notes = vec![
        "AWS calls counted server side by the emulator's request log (every request, by caller and operation), with the real Lambda binaries on the function host; each function warm (an earlier invocation ran).".to_owned(),
    ];
    notes.push("Why rotation, check-out and a mail with a reset link stay over the guide. A rotation is three invocations of one function (prepare, await-apply, finish) that Step Functions may each retry, so each reads what it decides on and commits under conditions. Prepare: registry, rotation record and vault head reads, the KMS Encrypt, the audit chain's head, the vault transaction (pending version with its audit record), the ticket transaction (with its record), the rotation record. Await-apply: the task token on the record, the wait mail looks up. Finish: record, vault head and pending version reads, the KMS ReEncrypt that proves the pending version decrypts before it becomes current, the audit head, the vault transaction, the record's end, the schedule (at the maximum age prepare recorded: no registry read), the ticket read and transaction, the wait's removal. Reaching 8 means merging the vault change, the ticket, the record and the wait into one transaction per step, and prepare with await-apply into one invocation: not done. A check-out decrypts two secrets (password and MFA seed: 2 KMS calls, after two BatchGetItem reads, both heads then both current versions), looks for reset links, checks the request and the account's lock, marks the account for rotation and commits the check-out with its audit record. A mail with a reset link adds to a plain one the KMS Encrypt and the query for workflows waiting on that kind of mail; the link is written in the ticket's transaction.".to_owned());
    notes.extend(breakdown);
    let out = repo_root().join("target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("calls.json"),
        serde_json::to_string_pretty(&json!({
            "part": "calls",
            "title": "AWS calls per operation",
            "seconds": seconds,
            "rows": json_rows,
            "notes": notes,
        }))
        .unwrap(),
    )
    .unwrap();
    println!("wrote target/bench/calls.json ({seconds:.0} s)");
}
