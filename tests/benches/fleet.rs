//! Fleet-scale enforcement on the emulator (`make bench-fleet`): 10,000 registered accounts
//! (`FLEET_BENCH_ACCOUNTS` to change), 1% of them with AssumeRoot faults injected (half
//! transient: three throttled calls, so one SDK call fails and the page's next attempt succeeds;
//! half persistent: throttled on every call), then one run of the enforcement state machine
//! end to end: the real `root-enforcement` binary behind the function host, the Distributed Map
//! run by moto's interpreter under IAM enforcement.
//!
//! Counted from the run, never typed: wall time (StartExecution to the end), children (pages
//! with a stored result), accounts enforced exactly once (`root.posture-recorded` records per
//! account chain in the audit table), failures reported (the Summarize output) and retried
//! (the emulator's AssumeRoot count per faulty account), AWS calls per account (the emulator's
//! IAM call log for the function's and state machine's roles, plus the root sessions' IAM calls
//! from `/_rootwarden/root-calls`). Writes `target/bench/fleet.json` (bench/README.md).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use chrono::Utc;
use rootwarden::registry::{Account, AccountItem, AccountMode};
use rootwarden::AccountId;
use rootwarden_testkit::contract::fixtures::registered_account;
use rootwarden_tests::{build_functions, repo_root, seed, Emulator};
use serde_json::{json, Value};

const PAGE_SIZE: usize = rootwarden::fleet::PAGE_SIZE;

fn id(n: usize) -> AccountId {
    AccountId::parse(&format!("{:012}", 710_000_000_000u64 + n as u64)).unwrap()
}

fn registered(n: usize) -> Account {
    // Credential-less with an empty root user: compliant, so each account costs exactly the
    // audit session's reads and the records.
    registered_account(id(n), AccountMode::CredentialLess)
}

async fn register(ddb: &aws_sdk_dynamodb::Client, table: &str, total: usize) {
    let items = (0..total).map(|n| registered(n).to_item());
    seed::batch_put(ddb, table, items, 8).await.unwrap();
}

/// `root.posture-recorded` records per account stream (one Scan of the audit table).
async fn posture_records(ddb: &aws_sdk_dynamodb::Client, table: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    let mut start = None;
    loop {
        let out = ddb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in out.items() {
            let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
            if text("action").as_deref() == Some("root.posture-recorded") {
                if let Some(stream) = text("stream") {
                    let account = stream.trim_start_matches("account/").to_owned();
                    *counts.entry(account).or_default() += 1;
                }
            }
        }
        start = out.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    counts
}

fn fmt_int(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[tokio::main]
async fn main() {
    let part_started = Instant::now();
    let total: usize = std::env::var("FLEET_BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    build_functions().expect("building the function binaries");
    let emu = Emulator::with_functions().await.expect("emulator");
    let conf = emu.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
    let sfn = aws_sdk_sfn::Client::new(&conf);

    let seeding = Instant::now();
    register(&ddb, &emu.env("ROOTWARDEN_ACCOUNTS_TABLE"), total).await;
    // 1% faulty: every 100th account; every other one of those transient.
    let faulty: Vec<usize> = (0..total).filter(|n| n % 100 == 50).collect();
    let transient: BTreeSet<String> = faulty
        .iter()
        .filter(|n| *n % 200 == 50)
        .map(|n| id(*n).to_string())
        .collect();
    let persistent: BTreeSet<String> = faulty
        .iter()
        .filter(|n| *n % 200 != 50)
        .map(|n| id(*n).to_string())
        .collect();
    for n in &faulty {
        let a = id(*n).to_string();
        let throttle = if transient.contains(&a) { 3 } else { 1_000_000 };
        let (status, body) = emu
            .test_endpoint(
                "PUT",
                &format!("/_rootwarden/root-state/{a}"),
                Some(&json!({"assume_root_throttle": throttle})),
            )
            .unwrap();
        assert!((200..300).contains(&status), "{status} {body}");
    }
    let seed_seconds = seeding.elapsed().as_secs_f64();
    for path in ["/_rootwarden/iam/calls", "/_rootwarden/root-calls"] {
        let (status, body) = emu.test_endpoint("DELETE", path, None).unwrap();
        assert!((200..300).contains(&status), "{path}: {status} {body}");
    }

    let arn = emu.stack().resources["EnforcementStateMachine"]
        .arn
        .clone()
        .unwrap();
    println!(
        "fleet enforcement: {total} accounts ({} faulty: {} transient, {} persistent), seeded in {seed_seconds:.1} s; emulator at {}",
        faulty.len(),
        transient.len(),
        persistent.len(),
        emu.endpoint
    );
    let started = Instant::now();
    let exec = sfn
        .start_execution()
        .state_machine_arn(&arn)
        .name(format!(
            "fleet-bench-{}",
            Utc::now().format("%Y%m%dT%H%M%S")
        ))
        .input("{}")
        .send()
        .await
        .unwrap();
    let done = loop {
        let d = sfn
            .describe_execution()
            .execution_arn(exec.execution_arn())
            .send()
            .await
            .unwrap();
        if d.status() != &ExecutionStatus::Running {
            break d;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3600),
            "the enforcement execution ran for an hour"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let wall = started.elapsed().as_secs_f64();
    println!(
        "execution {:?} ({:?}) after {wall:.1} s",
        done.status(),
        done.error()
    );

    // The Summarize task's output, from the execution history.
    let mut summary = Value::Null;
    let mut token = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(exec.execution_arn())
            .set_next_token(token)
            .max_results(1000)
            .send()
            .await
            .unwrap();
        for e in page.events() {
            if let Some(p) = e
                .task_succeeded_event_details()
                .and_then(|d| d.output())
                .and_then(|o| serde_json::from_str::<Value>(o).ok())
                .map(|o| o["Payload"].clone())
                .filter(|p| p.get("failed").is_some())
            {
                summary = p;
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert!(summary.is_object(), "no Summarize output: {done:?}");
    let n = |k: &str| summary[k].as_u64().unwrap_or(0) as usize;

    // The stored summary lists every failed account.
    let s3 = rootwarden::sdk::s3_client(&conf);
    let object = s3
        .get_object()
        .bucket(summary["summary"]["Bucket"].as_str().unwrap())
        .key(summary["summary"]["Key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let stored: Value =
        serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap();
    let failed: BTreeSet<String> = stored["report"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["verdict"] == json!("failed"))
        .filter_map(|a| a["account_id"].as_str().map(str::to_owned))
        .collect();
    let retried: BTreeSet<String> = stored["retried"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();

    // Exactly once: one posture record per healthy or transient account, none for the others.
    let records = posture_records(&ddb, &emu.env("ROOTWARDEN_AUDIT_TABLE")).await;
    let expected: BTreeSet<String> = (0..total)
        .map(|n| id(n).to_string())
        .filter(|a| !persistent.contains(a))
        .collect();
    let exactly_once = expected
        .iter()
        .filter(|a| records.get(*a) == Some(&1))
        .count();
    let stray = records
        .iter()
        .filter(|(a, c)| !expected.contains(*a) || **c != 1)
        .count();

    // Calls: the roles' calls from the IAM call log, the root sessions' from the root-calls log.
    let (_, iam_calls) = emu
        .test_endpoint("GET", "/_rootwarden/iam/calls", None)
        .unwrap();
    let mut by_action: BTreeMap<String, u64> = BTreeMap::new();
    for c in iam_calls["calls"].as_array().into_iter().flatten() {
        let principal = c["principal"].as_str().unwrap_or_default();
        let role = ["RootEnforcementFunction", "EnforcementStateMachine"]
            .into_iter()
            .find(|r| principal.contains(*r));
        if let Some(role) = role {
            *by_action
                .entry(format!("{role} {}", c["action"].as_str().unwrap_or("?")))
                .or_default() += c["count"].as_u64().unwrap_or(0);
        }
    }
    let (_, root_calls) = emu
        .test_endpoint("GET", "/_rootwarden/root-calls", None)
        .unwrap();
    let mut assume_root: BTreeMap<String, u64> = BTreeMap::new();
    for c in root_calls["calls"].as_array().into_iter().flatten() {
        let action = c["action"].as_str().unwrap_or("?");
        let count = c["count"].as_u64().unwrap_or(0);
        if action == "sts:AssumeRoot" {
            *assume_root
                .entry(c["account_id"].as_str().unwrap_or("?").to_owned())
                .or_default() += count;
        } else {
            *by_action
                .entry(format!("root session {action}"))
                .or_default() += count;
        }
    }
    let calls: u64 = by_action.values().sum();
    let per_account = calls as f64 / total as f64;
    let healthy_assume_root = (0..total)
        .map(|n| id(n).to_string())
        .filter(|a| !transient.contains(a) && !persistent.contains(a))
        .map(|a| assume_root.get(&a).copied().unwrap_or(0))
        .sum::<u64>() as f64
        / (total - faulty.len()).max(1) as f64;
    let transient_done = transient
        .iter()
        .filter(|a| records.get(*a) == Some(&1) && assume_root.get(*a) == Some(&4))
        .count();

    let pages = total.div_ceil(PAGE_SIZE);
    let finished = done.status() != &ExecutionStatus::Running
        && n("pages") == pages
        && n("pages_missing") == 0;
    let reported = failed == persistent
        && n("failed") == persistent.len()
        && done.error() == Some("EnforcementIncomplete");
    // Every injected account was retried; others may be too (a real transient error of the
    // loaded emulator), which is the retry working, not a fault of the run.
    let all_retried = transient.is_subset(&retried) && persistent.is_subset(&retried);
    let others_retried = retried
        .iter()
        .filter(|a| !transient.contains(*a) && !persistent.contains(*a))
        .count();
    let rows = vec![
        json!({"what": format!("enforcement map over {} accounts: wall time (StartExecution to end)", fmt_int(total)),
               "figure": format!("{wall:.0} s ({:.1} min)", wall / 60.0), "goal": "the map finishes", "met": finished}),
        json!({"what": "children (one per page of accounts) / pages without a result",
               "figure": format!("{} / {}", n("pages"), n("pages_missing")),
               "goal": format!("{pages} pages of {PAGE_SIZE} / 0"), "met": n("pages") == pages && n("pages_missing") == 0}),
        json!({"what": "accounts enforced exactly once (posture records per chain)",
               "figure": format!("{} of {} ({} with 0 or 2+)", fmt_int(exactly_once), fmt_int(expected.len()), stray),
               "goal": "every account not failed by injection, once", "met": exactly_once == expected.len() && stray == 0}),
        json!({"what": format!("injected AssumeRoot faults in 1% ({} accounts): transient ones retried and done", faulty.len()),
               "figure": format!("{} of {} done after 1 retry ({others_retried} other accounts retried after a real transient error, all done once)", transient_done, transient.len()),
               "goal": "retried on their own, then done", "met": transient_done == transient.len() && all_retried}),
        json!({"what": "persistent faults: reported failed in the summary (execution EnforcementIncomplete, the alarm's signal)",
               "figure": format!("{} of {} reported, after {} attempts each", failed.intersection(&persistent).count(), persistent.len(), rootwarden::fleet::MAX_ATTEMPTS),
               "goal": "reported; the others not blocked", "met": reported}),
        json!({"what": "AWS calls per account (function and state machine roles, root sessions)",
               "figure": format!("{per_account:.2} ({} calls; AssumeRoot per healthy account {healthy_assume_root:.2})", fmt_int(calls as usize)),
               "goal": null, "met": null}),
    ];
    for r in &rows {
        println!(
            "{:<95} {:>28}  goal: {}  met: {}",
            r["what"].as_str().unwrap(),
            r["figure"].as_str().unwrap(),
            r["goal"],
            r["met"]
        );
    }
    let breakdown: Vec<String> = by_action
        .iter()
        .map(|(k, v)| format!("{k} {:.2}", *v as f64 / total as f64))
        .collect();
    println!(
        "calls per account by role and action: {}",
        breakdown.join(", ")
    );
    let out = repo_root().join("target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("fleet.json"),
        serde_json::to_string_pretty(&json!({
            "part": "fleet",
            "title": "Fleet enforcement (Distributed Map)",
            "seconds": part_started.elapsed().as_secs_f64(),
            "rows": rows,
            "notes": [
                format!("Fleet: {} registered accounts seeded with BatchWriteItem in {seed_seconds:.0} s; faults injected through the emulator's root-state endpoint (assume_root_throttle): {} transient (3 throttled AssumeRoot calls = one SDK call with its own retries), {} persistent.", fmt_int(total), transient.len(), persistent.len()),
                format!("Fleet calls per account by role and action: {}.", breakdown.join(", ")),
                "Fleet: moto 5.2.5 runs the map's children in-process (no child executions, ToleratedFailurePercentage not enforced); the wall time is the emulator's (one Python process, 2 cores), not AWS's.".to_owned(),
            ],
            "summary": summary,
        }))
        .unwrap(),
    )
    .unwrap();
}
