//! The audit log on DynamoDB (emulator): chaining, concurrent appends, fail-closed writes, and
//! tamper detection through `rootwarden audit verify` after editing the table directly.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use rootwarden::audit::{self, AuditEntry, AuditLog, DynamoAuditLog, Fault, Stream};
use rootwarden::{AccountId, SystemClock};
use rootwarden_tests::{build_functions, cli_bin, Emulator};

const ACCOUNT: &str = "123456789012";

fn stream() -> Stream {
    Stream::Account(AccountId::parse(ACCOUNT).unwrap())
}

async fn setup(records: usize) -> (Emulator, DynamoAuditLog, aws_sdk_dynamodb::Client, String) {
    let emu = Emulator::with_stack().await.unwrap();
    let table = emu.env("ROOTWARDEN_AUDIT_TABLE");
    let ddb = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
    let log = DynamoAuditLog::new(ddb.clone(), &table, Arc::new(SystemClock));
    for i in 0..records {
        log.append(
            &AuditEntry::new(
                stream(),
                "arn:aws:iam::123456789012:user/alice",
                "audit.annotate",
            )
            .reason(format!("note {i}")),
        )
        .await
        .unwrap();
    }
    (emu, log, ddb, table)
}

fn key(seq: u64) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            "stream".to_owned(),
            AttributeValue::S(format!("account/{ACCOUNT}")),
        ),
        ("seq".to_owned(), AttributeValue::N(seq.to_string())),
    ])
}

async fn get(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    seq: u64,
) -> HashMap<String, AttributeValue> {
    ddb.get_item()
        .table_name(table)
        .set_key(Some(key(seq)))
        .send()
        .await
        .unwrap()
        .item
        .unwrap()
}

async fn put(ddb: &aws_sdk_dynamodb::Client, table: &str, item: HashMap<String, AttributeValue>) {
    ddb.put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

/// Runs `rootwarden audit verify` against the emulator; returns (exit code, stdout+stderr).
fn cli_verify(emu: &Emulator) -> (i32, String) {
    build_functions().unwrap();
    let out = Command::new(cli_bin())
        .args(["audit", "verify"])
        .envs(emu.process_env())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn appends_form_a_verified_chain_and_the_cli_agrees() {
    let (emu, log, _ddb, _table) = setup(4).await;
    let items = log.read_stream(&stream().key()).await.unwrap();
    let recs: Vec<_> = items.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        recs.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(recs[0].prev_hash, audit::GENESIS_HASH);
    assert!(recs.windows(2).all(|w| w[1].prev_hash == w[0].hash));
    assert!(audit::verify(&log, None).await.unwrap().is_ok());
    let (code, text) = cli_verify(&emu);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("1 chains, 4 records, all intact"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_appends_all_land_in_order() {
    let (_emu, log, _ddb, _table) = setup(0).await;
    // Two at once, then twenty at once: none lost, none overwritten, one contiguous chain.
    for batch in [2usize, 20] {
        let tasks = (0..batch).map(|i| {
            let log = log.clone();
            tokio::spawn(async move {
                log.append(
                    &AuditEntry::new(stream(), "arn:aws:iam::1:user/w", "audit.annotate")
                        .reason(format!("writer {i}")),
                )
                .await
            })
        });
        for r in futures::future::join_all(tasks).await {
            r.unwrap().unwrap();
        }
    }
    let report = audit::verify(&log, Some(&stream())).await.unwrap();
    assert_eq!(report.chains[0].fault, None);
    assert_eq!(report.chains[0].records, 22);
    assert_eq!(report.chains[0].head_seq, 22);
    let reasons: std::collections::HashSet<String> = log
        .read_stream(&stream().key())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap().reason)
        .collect();
    assert_eq!(
        reasons.len(),
        20,
        "every distinct writer's record is present"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn append_fails_closed_when_the_table_is_unavailable() {
    let emu = Emulator::start().await.unwrap();
    let ddb = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
    let log = DynamoAuditLog::new(ddb, "no-such-audit-table", Arc::new(SystemClock));
    let err = log
        .append(&AuditEntry::new(stream(), "arn:a", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, audit::AuditError::WriteFailed { .. }),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn modified_record_is_named_by_the_cli() {
    let (emu, _log, ddb, table) = setup(5).await;
    let mut item = get(&ddb, &table, 3).await;
    item.insert(
        "reason".into(),
        AttributeValue::S("nothing to see here".into()),
    );
    put(&ddb, &table, item).await;
    let (code, text) = cli_verify(&emu);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("account/123456789012 record 3: record 3 does not match its hash"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_record_is_named_by_the_cli() {
    let (emu, _log, ddb, table) = setup(5).await;
    ddb.delete_item()
        .table_name(&table)
        .set_key(Some(key(2)))
        .send()
        .await
        .unwrap();
    let (code, text) = cli_verify(&emu);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("record 2 is missing (deleted)"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn reordered_records_are_caught() {
    let (emu, log, ddb, table) = setup(5).await;
    let (mut a, mut b) = (get(&ddb, &table, 2).await, get(&ddb, &table, 4).await);
    // Swap the two records' contents, keeping each item's key.
    a.insert("seq".into(), AttributeValue::N("4".into()));
    b.insert("seq".into(), AttributeValue::N("2".into()));
    put(&ddb, &table, a).await;
    put(&ddb, &table, b).await;
    let report = audit::verify(&log, Some(&stream())).await.unwrap();
    assert_eq!(report.chains[0].fault, Some(Fault::Modified { seq: 2 }));
    let (code, text) = cli_verify(&emu);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("record 2"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn inserted_record_is_caught() {
    let (emu, log, ddb, table) = setup(4).await;
    // Make room at 3 by moving 3 and 4 up, then forge a well-formed record 3 linked to 2.
    for seq in [4u64, 3] {
        let mut item = get(&ddb, &table, seq).await;
        item.insert("seq".into(), AttributeValue::N((seq + 1).to_string()));
        put(&ddb, &table, item).await;
    }
    let prev = match get(&ddb, &table, 2).await.get("hash") {
        Some(AttributeValue::S(h)) => h.clone(),
        other => panic!("{other:?}"),
    };
    let forged = audit::AuditRecord::seal(
        &AuditEntry::new(stream(), "arn:aws:iam::1:user/mallory", "audit.annotate")
            .reason("backdated"),
        3,
        &prev,
        chrono::Utc::now(),
    );
    let mut item = get(&ddb, &table, 2).await;
    item.insert("seq".into(), AttributeValue::N(forged.seq.to_string()));
    for (k, v) in [
        ("ts", &forged.timestamp),
        ("actor", &forged.actor),
        ("reason", &forged.reason),
        ("details", &forged.details),
        ("prev_hash", &forged.prev_hash),
        ("hash", &forged.hash),
    ] {
        item.insert(k.into(), AttributeValue::S(v.clone()));
    }
    put(&ddb, &table, item).await;
    let report = audit::verify(&log, Some(&stream())).await.unwrap();
    let fault = report.chains[0].fault.clone().unwrap();
    assert_eq!(
        fault.seq(),
        4,
        "the first displaced record is named: {fault}"
    );
    let (code, text) = cli_verify(&emu);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("record 4"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_annotate_and_log_use_the_callers_identity() {
    let (emu, _log, _ddb, _table) = setup(0).await;
    build_functions().unwrap();
    let out = Command::new(cli_bin())
        .args([
            "audit",
            "annotate",
            "--account",
            ACCOUNT,
            "--reason",
            "called the customer",
            "--ticket",
            "CHG-1",
        ])
        .envs(emu.process_env())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(cli_bin())
        .args(["audit", "log", "--account", ACCOUNT, "--output", "json"])
        .envs(emu.process_env())
        .output()
        .unwrap();
    assert!(out.status.success());
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(line["action"], "audit.annotate");
    assert_eq!(line["reason"], "called the customer");
    assert_eq!(line["details"], r#"{"ticket":"CHG-1"}"#);
    // The actor is what STS says the caller is, not anything the caller typed.
    assert!(
        line["actor"].as_str().unwrap().starts_with("arn:aws:"),
        "{line}"
    );
    // A bad account id is a usage error (exit 2), not a panic.
    let out = Command::new(cli_bin())
        .args(["audit", "log", "--account", "12"])
        .envs(emu.process_env())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
