//! The enforcement state machine on the emulator: a Distributed Map over the manifest the real
//! `root-enforcement` binary plans, one child workflow per page, with faults injected into
//! AssumeRoot. An account throttled once (three calls: the SDK's own retries, then the page's
//! next attempt) is retried on its own and done; one throttled on every call is reported failed
//! after every attempt; the others are enforced exactly once, and the execution fails with
//! `EnforcementIncomplete`, the signal of the job's one alarm.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sfn::types::ExecutionStatus;
use rootwarden::audit::AuditLog;
use rootwarden::registry::{Account, AccountItem, AccountMode};
use rootwarden::AccountId;
use rootwarden_testkit::contract::fixtures::registered_account;
use rootwarden_tests::{build_functions, custody, Emulator};
use serde_json::{json, Value};

const ACCOUNTS: u64 = 60;

fn id(n: u64) -> AccountId {
    AccountId::parse(&format!("{:012}", 615_000_000_000 + n)).unwrap()
}

fn registered(n: u64) -> Account {
    registered_account(id(n), AccountMode::Vaulted)
}

fn seed(emu: &Emulator, account: &AccountId, state: Value) {
    let (status, body) = emu
        .test_endpoint(
            "PUT",
            &format!("/_rootwarden/root-state/{account}"),
            Some(&state),
        )
        .unwrap();
    assert!((200..300).contains(&status), "seeding: {status} {body}");
}

fn root_state(emu: &Emulator, account: &AccountId) -> Value {
    emu.test_endpoint("GET", &format!("/_rootwarden/root-state/{account}"), None)
        .unwrap()
        .1
}

/// How many `root.posture-recorded` records each account's chain holds.
async fn posture_records(emu: &Emulator) -> BTreeMap<String, usize> {
    let log = custody::audit_log(emu).await;
    let mut counts = BTreeMap::new();
    for n in 0..ACCOUNTS {
        let a = id(n);
        let records = log.read_stream(&format!("account/{a}")).await.unwrap();
        let recorded = records
            .into_iter()
            .filter_map(Result::ok)
            .filter(|r| r.action == "root.posture-recorded")
            .count();
        counts.insert(a.to_string(), recorded);
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn the_map_enforces_every_page_retries_a_throttled_account_and_reports_the_one_that_stays_failed(
) {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let conf = emu.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
    let table = emu.env("ROOTWARDEN_ACCOUNTS_TABLE");
    for n in 0..ACCOUNTS {
        ddb.put_item()
            .table_name(&table)
            .set_item(Some(registered(n).to_item()))
            .send()
            .await
            .unwrap();
        let a = id(n);
        let mfa = format!("arn:aws:iam::{a}:mfa/root-account-mfa-device");
        seed(
            &emu,
            &a,
            json!({"mfa_devices": [{"serial": mfa}], "login_profile": true}),
        );
    }
    // A root access key to remove (the delete session), a transient fault (three throttled
    // AssumeRoot calls: one SDK call with its retries), and a fault that never clears.
    let (with_key, transient, broken) = (id(3), id(17), id(55));
    let mfa = |a: &AccountId| format!("arn:aws:iam::{a}:mfa/root-account-mfa-device");
    seed(
        &emu,
        &with_key,
        json!({"access_keys": [{"id": "AKIAFLEETKEY00000001"}], "mfa_devices": [{"serial": mfa(&with_key)}], "login_profile": true}),
    );
    seed(
        &emu,
        &transient,
        json!({"mfa_devices": [{"serial": mfa(&transient)}], "login_profile": true, "assume_root_throttle": 3}),
    );
    seed(
        &emu,
        &broken,
        json!({"mfa_devices": [{"serial": mfa(&broken)}], "login_profile": true, "assume_root_throttle": 100000}),
    );

    let sfn = aws_sdk_sfn::Client::new(&conf);
    let arn = emu.stack().resources["EnforcementStateMachine"]
        .arn
        .clone()
        .unwrap();
    let exec = sfn
        .start_execution()
        .state_machine_arn(&arn)
        .name("fleet-e2e")
        .input("{}")
        .send()
        .await
        .unwrap();
    let mut done = None;
    for _ in 0..1800 {
        let d = sfn
            .describe_execution()
            .execution_arn(exec.execution_arn())
            .send()
            .await
            .unwrap();
        if d.status() != &ExecutionStatus::Running {
            done = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done = done.expect("the enforcement execution finished within 3 minutes");

    // The alarm's signal: the execution failed, naming why.
    assert_eq!(done.status(), &ExecutionStatus::Failed, "{done:?}");
    assert_eq!(done.error(), Some("EnforcementIncomplete"));

    // The summary step's output (in the history) reports the failure and the retry.
    let history = sfn
        .get_execution_history()
        .execution_arn(exec.execution_arn())
        .max_results(1000)
        .send()
        .await
        .unwrap();
    let summary: Value = history
        .events()
        .iter()
        .filter_map(|e| e.task_succeeded_event_details())
        .filter_map(|d| d.output())
        .filter_map(|o| serde_json::from_str::<Value>(o).ok())
        .map(|o| o["Payload"].clone())
        .find(|p| p.get("failed").is_some())
        .expect("the Summarize task's output");
    assert_eq!(summary["pages"], json!(2), "{summary}");
    assert_eq!(summary["pages_missing"], json!(0), "{summary}");
    assert_eq!(summary["checked"], json!(ACCOUNTS), "{summary}");
    assert_eq!(summary["remediated"], json!(1), "{summary}");
    assert_eq!(summary["compliant"], json!(ACCOUNTS - 2), "{summary}");
    assert_eq!(summary["failed"], json!(1), "{summary}");
    assert_eq!(
        summary["failed_accounts"],
        json!([broken.to_string()]),
        "{summary}"
    );
    assert_eq!(summary["retried"], json!(2), "{summary}");

    // The whole summary, in the fleet bucket.
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
    assert_eq!(
        stored["retried"],
        json!([transient.to_string(), broken.to_string()])
    );
    let failed: Vec<&Value> = stored["report"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["verdict"] == json!("failed"))
        .collect();
    assert_eq!(failed.len(), 1, "{stored}");
    assert_eq!(failed[0]["account_id"], json!(broken.to_string()));
    assert_eq!(failed[0]["error_type"], json!("TransientAwsError"));

    // Each account enforced exactly once: one posture record per chain, none for the broken one
    // (its three attempts were each refused before any IAM call).
    let records = posture_records(&emu).await;
    for (account, n) in &records {
        let expected = usize::from(*account != broken.to_string());
        assert_eq!(*n, expected, "{account}: {n} posture records");
    }
    // The transient one was throttled exactly as injected, then done; the broken one on every
    // attempt (three SDK calls per attempt, three attempts).
    assert_eq!(
        root_state(&emu, &transient)["assume_root_throttled"],
        json!(3)
    );
    assert_eq!(root_state(&emu, &broken)["assume_root_throttled"], json!(9));
    assert_eq!(root_state(&emu, &with_key)["access_keys"], json!([]));

    // The registry holds every enforced account's posture.
    let item = ddb
        .get_item()
        .table_name(&table)
        .key("account_id", AttributeValue::S(transient.to_string()))
        .send()
        .await
        .unwrap();
    assert!(
        item.item().unwrap().contains_key("posture_checked_at"),
        "{item:?}"
    );
}
