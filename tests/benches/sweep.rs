//! Rotation sweep benchmark on the local emulator: seeds an estate of accounts (10,000 by
//! default, `SWEEP_BENCH_ACCOUNTS` to change), a tenth of them due, then times the production
//! sweep (`rootwarden::rotation::sweep::sweep`, the code the `rotation-scheduler` Lambda runs)
//! at several concurrencies and counts its AWS calls per operation. After every sweep a second
//! one must start nothing (deterministic execution names).
//!
//! The emulator answers in-process in about a millisecond, so the figures measure the sweep's
//! own work and call pattern, not AWS latency; calls per due account and the index-only reads
//! (no Scan) are what carry over to AWS.
//!
//! Run: `make bench-sweep` (prints a table and writes `target/bench/sweep.json`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use chrono::{DateTime, Duration, Utc};
use rootwarden::registry::{
    Account, AccountItem, AccountMode, AccountStatus, DynamoAccountRegistry,
};
use rootwarden::rotation::sweep;
use rootwarden::{AccountId, RootEmail};
use rootwarden_tests::{http_json, repo_root, seed, Emulator};
use serde_json::json;

const TABLE: &str = "bench-accounts";
const CONCURRENCIES: [usize; 3] = [1, 8, 32];

/// Counts calls per operation (`DynamoDB.Query`, `SFN.StartExecution`, ...).
#[derive(Debug, Clone, Default)]
struct Counter(Arc<Mutex<BTreeMap<String, u64>>>);

impl Counter {
    fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "Counter"
    }
    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg
            .load::<Metadata>()
            .map(|m| format!("{}.{}", m.service(), m.name()))
            .unwrap_or_else(|| "unknown".into());
        *self.0.lock().unwrap().entry(name).or_default() += 1;
        Ok(())
    }
}

fn account(n: usize) -> AccountId {
    AccountId::parse(&format!("{:012}", 500_000_000_000u64 + n as u64)).unwrap()
}

fn record(n: usize, due: DateTime<Utc>, now: DateTime<Utc>) -> Account {
    let id = account(n);
    Account {
        root_email: RootEmail::parse(&format!("aws-root+{id}@provider.example")).unwrap(),
        account_id: id,
        name: Some(format!("Customer {n}")),
        status: AccountStatus::Active,
        mode: AccountMode::Vaulted,
        max_age_days: 90,
        contacts: vec![],
        onboarded_at: now - Duration::days(200),
        last_rotated_at: None,
        rotation_due: Some(due),
        rotation_reason: None,
        rotation_execution: None,
        posture: None,
        posture_checked_at: None,
        recovery_until: None,
    }
}

async fn create_table(ddb: &aws_sdk_dynamodb::Client) {
    // The accounts table's keys and the sparse due-date index, as in infra/template.yaml.
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(t)
            .build()
            .unwrap()
    };
    ddb.create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("account_id"))
        .attribute_definitions(attr("due_shard"))
        .attribute_definitions(attr("rotation_due"))
        .key_schema(key("account_id", KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("rotation-due-index")
                .key_schema(key("due_shard", KeyType::Hash))
                .key_schema(key("rotation_due", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .non_key_attributes("account_id")
                        .non_key_attributes("rotation_reason")
                        .non_key_attributes("rotation_execution")
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

async fn put_all(ddb: &aws_sdk_dynamodb::Client, accounts: Vec<Account>) {
    let items = accounts.iter().map(|a| a.to_item());
    seed::batch_put(ddb, TABLE, items, 16).await.unwrap();
}

#[tokio::main]
async fn main() {
    let total: usize = std::env::var("SWEEP_BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let due_every = 10; // a tenth of the estate is due
    let emu = Emulator::start().await.expect("emulator");
    // Executions are started, not run: the sweep's cost ends at StartExecution.
    let (status, body) = http_json(
        emu.port,
        "POST",
        "/moto-api/config",
        Some(&json!({"stepfunctions": {"execute_state_machine": false}})),
    )
    .expect("moto config");
    assert!((200..300).contains(&status), "moto config: {status} {body}");

    let sdk = emu.sdk_config().await;
    let counter = Counter::default();
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let sfn = aws_sdk_sfn::Client::from_conf(
        aws_sdk_sfn::config::Builder::from(&sdk)
            .interceptor(counter.clone())
            .build(),
    );
    create_table(&ddb).await;
    let arn = sfn
        .create_state_machine()
        .name("bench-rotation")
        .role_arn("arn:aws:iam::123456789012:role/bench")
        .definition(r#"{"StartAt":"Done","States":{"Done":{"Type":"Succeed"}}}"#)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let registry = DynamoAccountRegistry::new(ddb.clone(), TABLE);

    let now = Utc::now();
    let seeding = Instant::now();
    put_all(
        &ddb,
        (0..total)
            .map(|n| {
                let due = if n % due_every == 0 {
                    now - Duration::days(1 + (n % 30) as i64)
                } else {
                    now + Duration::days(1 + (n % 89) as i64)
                };
                record(n, due, now)
            })
            .collect(),
    )
    .await;
    let seed_seconds = seeding.elapsed().as_secs_f64();
    counter.take();

    println!(
        "rotation sweep: {total} accounts, {} due; emulator at {}",
        total.div_ceil(due_every),
        emu.endpoint
    );
    println!(
        "{:>11} {:>6} {:>8} {:>9} {:>10} {:>12} {:>14}  second sweep",
        "concurrency", "due", "started", "seconds", "accounts/s", "calls/due", "calls"
    );
    let mut rows = Vec::new();
    for (round, concurrency) in CONCURRENCIES.into_iter().enumerate() {
        if round > 0 {
            // A new due date for the due accounts: new execution names, a fresh sweep.
            put_all(
                &ddb,
                (0..total)
                    .step_by(due_every)
                    .map(|n| record(n, now - Duration::minutes(round as i64), now))
                    .collect(),
            )
            .await;
            counter.take();
        }
        let t = Instant::now();
        let report = sweep::sweep(&registry, &sfn, &arn, now, concurrency)
            .await
            .unwrap();
        let seconds = t.elapsed().as_secs_f64();
        let calls = counter.take();
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        assert_eq!(report.started, report.due, "{report:?}");
        assert!(!calls.keys().any(|k| k.contains("Scan")), "{calls:?}");

        let t2 = Instant::now();
        let again = sweep::sweep(&registry, &sfn, &arn, now, concurrency)
            .await
            .unwrap();
        let seconds2 = t2.elapsed().as_secs_f64();
        let calls2 = counter.take();
        assert_eq!(
            again.started, 0,
            "a second sweep started executions: {again:?}"
        );

        let n_calls: u64 = calls.values().sum();
        let n_calls2: u64 = calls2.values().sum();
        println!(
            "{:>11} {:>6} {:>8} {:>9.2} {:>10.0} {:>12.2} {:>14}  {} due, {} started, {:.2} s, {} calls",
            concurrency,
            report.due,
            report.started,
            seconds,
            report.due as f64 / seconds,
            n_calls as f64 / report.due.max(1) as f64,
            n_calls,
            again.due,
            again.started,
            seconds2,
            n_calls2
        );
        rows.push(json!({
            "concurrency": concurrency,
            "due": report.due,
            "started": report.started,
            "pages": report.pages,
            "seconds": seconds,
            "calls": calls,
            "calls_per_due_account": n_calls as f64 / report.due.max(1) as f64,
            "second_sweep": {
                "due": again.due,
                "started": again.started,
                "already_started": again.already_started,
                "seconds": seconds2,
                "calls": calls2,
            },
        }));
    }
    println!("calls per operation (last round): see target/bench/sweep.json");
    let out = repo_root().join("target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("sweep.json"),
        serde_json::to_string_pretty(&json!({
            "accounts": total,
            "seed_seconds": seed_seconds,
            "rounds": rows,
        }))
        .unwrap(),
    )
    .unwrap();
}
