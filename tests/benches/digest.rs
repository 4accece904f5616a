//! Audit digest benchmark on the local emulator: seeds an estate of account chains (10,000 by
//! default, `DIGEST_BENCH_CHAINS` to change; 100,000 works), then times the production digest
//! writer (`rootwarden::audit::write_digest`, the code the `audit-digest` Lambda runs) — a first
//! digest (every page new), a second with nothing changed (no page written) and a third after one
//! chain moved (one page written) — and the verifier (`verify_with_digests`, the code the
//! `audit-verifier` Lambda and `rootwarden audit verify` run), counting AWS calls per operation and
//! per 1,000 chains, and the largest item written against DynamoDB's 400 KB limit. It also
//! measures where the old single-item digest (every head inside the signed item) passed 400 KB.
//!
//! The emulator answers in-process, so times measure the code's own work and call pattern, not
//! AWS latency; the calls per 1,000 chains are what carry over to AWS.
//!
//! Run: `make bench-digest` (prints a table and writes `target/bench/digest.json`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use rootwarden::audit::digest::{item_size, page_to_item, to_item, ChainHead};
use rootwarden::audit::{
    verify_with_digests, write_digest, AuditEntry, AuditLog, AuditRecord, DynamoAuditLog,
    DynamoDigestStore, KmsDigestSigner, Stream, GENESIS_HASH, RECORD_VERSION,
};
use rootwarden::{AccountId, SystemClock};
use rootwarden_tests::{repo_root, seed, Emulator};
use serde_json::json;

const ITEM_LIMIT: usize = 400 * 1024;

/// Counts calls per operation (`DynamoDB.Scan`, `KMS.Sign`, ...).
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

fn account(n: u64) -> Stream {
    Stream::Account(AccountId::parse(&format!("{:012}", 100_000_000_000 + n)).unwrap())
}

fn record_item(r: &AuditRecord) -> HashMap<String, AttributeValue> {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    HashMap::from([
        ("stream".to_owned(), s(&r.stream)),
        ("seq".to_owned(), AttributeValue::N(r.seq.to_string())),
        ("v".to_owned(), s(RECORD_VERSION)),
        ("ts".to_owned(), s(&r.timestamp)),
        ("actor".to_owned(), s(&r.actor)),
        ("action".to_owned(), s(&r.action)),
        ("target".to_owned(), s(&r.target)),
        ("outcome".to_owned(), s(&r.outcome)),
        ("reason".to_owned(), s(&r.reason)),
        ("correlation_id".to_owned(), s(&r.correlation_id)),
        ("details".to_owned(), s(&r.details)),
        ("prev_hash".to_owned(), s(&r.prev_hash)),
        ("hash".to_owned(), s(&r.hash)),
    ])
}

/// The old layout's signed item for `heads`: its `heads` attribute plus the fixed attributes.
fn old_item_size(heads: &[ChainHead]) -> usize {
    let fixed = "streamdigestseq100vtsYYYY-MM-DDTHH:MM:SS.sssZprev_digest_hash".len()
        + 64
        + "digest_hash".len()
        + 64
        + "signature".len()
        + 72
        + "key_id".len()
        + 80
        + "signing_algorithmECDSA_SHA_256streams100000heads".len();
    fixed + serde_json::to_string(heads).unwrap().len()
}

fn per_1000(calls: &BTreeMap<String, u64>, chains: u64) -> BTreeMap<String, f64> {
    calls
        .iter()
        .map(|(k, v)| (k.clone(), (*v as f64) * 1000.0 / chains as f64))
        .collect()
}

#[tokio::main]
async fn main() {
    let chains: u64 = std::env::var("DIGEST_BENCH_CHAINS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let emu = Emulator::with_stack().await.expect("emulator");
    let sdk = emu.sdk_config().await;
    let counter = Counter::default();
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(&sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let table = emu.env("ROOTWARDEN_AUDIT_TABLE");
    let log = DynamoAuditLog::new(ddb.clone(), &table, Arc::new(SystemClock));
    let store = DynamoDigestStore::new(log.clone());
    let signer = KmsDigestSigner::new(kms, emu.env("ROOTWARDEN_DIGEST_KEY"));

    let started = Instant::now();
    let items: Vec<HashMap<String, AttributeValue>> = (0..chains)
        .map(|n| {
            let entry = AuditEntry::new(account(n), "arn:aws:iam::1:user/op", "audit.annotate");
            record_item(&AuditRecord::seal(
                &entry,
                1,
                GENESIS_HASH,
                chrono::Utc::now(),
            ))
        })
        .collect();
    seed::batch_put(&ddb, &table, items, 8).await.unwrap();
    let seed_seconds = started.elapsed().as_secs_f64();
    counter.take();

    let mut rows = Vec::new();
    let mut last = None;
    for (label, change) in [
        ("first digest (every page new)", false),
        ("second digest (nothing changed)", false),
        ("third digest (one chain moved)", true),
    ] {
        if change {
            log.append(&AuditEntry::new(
                account(chains / 2),
                "arn:a",
                "audit.annotate",
            ))
            .await
            .unwrap();
            counter.take();
        }
        let t = Instant::now();
        let d = write_digest(&store, &signer, &SystemClock).await.unwrap();
        let seconds = t.elapsed().as_secs_f64();
        let calls = counter.take();
        println!(
            "{label:34} {seconds:8.2} s  {:5.1} ms/1000 chains  pages written {:4}  calls/1000 chains {:?}",
            seconds * 1e6 / chains as f64,
            calls.get("DynamoDB.PutItem").copied().unwrap_or(0) - 1,
            per_1000(&calls, chains)
        );
        rows.push(
            json!({"operation": label, "seconds": seconds, "calls": calls,
            "calls_per_1000_chains": per_1000(&calls, chains)}),
        );
        last = Some(d);
    }
    let t = Instant::now();
    let report = verify_with_digests(&log, &store, Some(&signer), None)
        .await
        .unwrap();
    let seconds = t.elapsed().as_secs_f64();
    let calls = counter.take();
    assert!(report.is_ok(), "{:?}", report.digest_faults());
    println!(
        "{:34} {seconds:8.2} s  {:5.1} ms/1000 chains  calls/1000 chains {:?}",
        "verify (chains + digests + pages)",
        seconds * 1e6 / chains as f64,
        per_1000(&calls, chains)
    );
    rows.push(
        json!({"operation": "verify", "seconds": seconds, "calls": calls,
        "calls_per_1000_chains": per_1000(&calls, chains)}),
    );

    // Item sizes, from the stored pages of the last digest.
    let d = last.unwrap();
    let (heads, faults) = rootwarden::audit::digest::load_heads(&store, &d)
        .await
        .unwrap();
    assert!(faults.is_empty());
    let heads: Vec<ChainHead> = heads.into_values().collect();
    let pages = rootwarden::audit::digest::paginate(heads.clone());
    let largest_page = pages
        .iter()
        .map(|p| item_size(&page_to_item(p)))
        .max()
        .unwrap_or(0);
    let signed = item_size(&to_item(&d));
    assert!(largest_page < ITEM_LIMIT && signed < ITEM_LIMIT);
    // The old single item: the first head count whose item passes 400 KB.
    let old_limit = (1..=heads.len()).find(|n| old_item_size(&heads[..*n]) > ITEM_LIMIT);
    println!(
        "{chains} chains: {} pages, largest page item {largest_page} B, signed digest item {signed} B (limit {ITEM_LIMIT} B)",
        pages.len()
    );
    match old_limit {
        Some(n) => println!("old single-item digest: passed {ITEM_LIMIT} B at {n} heads"),
        None => println!("old single-item digest: still under {ITEM_LIMIT} B at {chains} heads"),
    }
    let out = repo_root().join("target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("digest.json"),
        serde_json::to_string_pretty(&json!({
            "chains": chains,
            "seed_seconds": seed_seconds,
            "pages": pages.len(),
            "largest_page_item_bytes": largest_page,
            "signed_digest_item_bytes": signed,
            "old_single_item_limit_heads": old_limit,
            "rounds": rows,
        }))
        .unwrap(),
    )
    .unwrap();
    drop(emu);
}
