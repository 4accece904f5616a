//! See `main.rs`. Signed digests at the scale of a real estate: every chain head of thousands of
//! accounts is covered, truncation and page tampering are found, and the daily verifier fails on a
//! bad or stale digest.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_sdk_sfn::types::ExecutionStatus;
use rootwarden::audit::digest::{self, DigestFault, DIGEST_STREAM, PAGE_STREAM_PREFIX};
use rootwarden::audit::{
    self, AuditEntry, AuditRecord, DynamoAuditLog, DynamoDigestStore, KmsDigestSigner, Stream,
    GENESIS_HASH, RECORD_VERSION,
};
use rootwarden::clock::FixedClock;
use rootwarden::{AccountId, SystemClock};
use rootwarden_tests::{build_functions, Emulator};

/// DynamoDB's item size limit.
const ITEM_LIMIT: usize = 400 * 1024;

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

use digest::item_size;

struct Estate {
    emu: Emulator,
    ddb: aws_sdk_dynamodb::Client,
    table: String,
    log: DynamoAuditLog,
    store: DynamoDigestStore,
    /// Signs as the hourly digest job's role; `verifier` verifies as the daily verifier's.
    signer: KmsDigestSigner,
    verifier: KmsDigestSigner,
}

impl Estate {
    async fn new(emu: Emulator) -> Self {
        Self::paged(emu, audit::PAGE_SIZE).await
    }

    /// Digests written in pages of at most `page_size` heads.
    async fn paged(emu: Emulator, page_size: usize) -> Self {
        let table = emu.env("ROOTWARDEN_AUDIT_TABLE");
        let sdk = emu.sdk_config().await;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let log = DynamoAuditLog::new(ddb.clone(), &table, Arc::new(SystemClock));
        Self {
            store: DynamoDigestStore::new(log.clone()).with_page_size(page_size),
            signer: KmsDigestSigner::from_conf(
                &emu.role_config("AuditDigestFunction").await,
                emu.env("ROOTWARDEN_DIGEST_KEY"),
            ),
            verifier: KmsDigestSigner::from_conf(
                &emu.role_config("AuditVerifierFunction").await,
                emu.env("ROOTWARDEN_DIGEST_KEY"),
            ),
            emu,
            ddb,
            table,
            log,
        }
    }

    /// `chains` account chains of `records` records each, written straight to the table (as the
    /// audit writer lays them out) in batches.
    async fn seed(&self, chains: u64, records: u64) {
        let mut items = Vec::new();
        for n in 0..chains {
            let mut prev = GENESIS_HASH.to_owned();
            for seq in 1..=records {
                let entry = AuditEntry::new(account(n), "arn:aws:iam::1:user/op", "audit.annotate");
                let r = AuditRecord::seal(&entry, seq, &prev, chrono::Utc::now());
                prev = r.hash.clone();
                items.push(record_item(&r));
            }
        }
        let batches: Vec<Vec<WriteRequest>> = items
            .chunks(25)
            .map(|c| {
                c.iter()
                    .map(|i| {
                        WriteRequest::builder()
                            .put_request(
                                PutRequest::builder()
                                    .set_item(Some(i.clone()))
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                    })
                    .collect()
            })
            .collect();
        for batch in batches {
            let mut pending = HashMap::from([(self.table.clone(), batch)]);
            while !pending.is_empty() {
                let out = self
                    .ddb
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .unwrap();
                pending = out.unprocessed_items.unwrap_or_default();
                pending.retain(|_, v| !v.is_empty());
            }
        }
    }

    /// Every item the digest writer wrote (keys `digest…`).
    async fn digest_items(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .ddb
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            out.extend(page.items().iter().filter(|i| {
                matches!(i.get("stream"), Some(AttributeValue::S(s)) if s.starts_with("digest"))
            }).cloned());
            start = page.last_evaluated_key;
            if start.is_none() {
                return out;
            }
        }
    }
}

/// More chains than the old single-item digest could hold (it passed 400 KB at ~3,250 heads of
/// this shape): four pages, the last of 500.
const CHAINS: u64 = 3_500;

/// Where a test is about pages rather than scale: five pages of at most ten heads (the digest
/// format is the same at any page size; verification reads whatever pages a digest names).
const SMALL_PAGE: usize = 10;
const SMALL_ESTATE: u64 = 45;

impl Estate {
    async fn digest(&self) -> audit::StoredDigest {
        audit::write_digest(&self.store, &self.signer, &SystemClock)
            .await
            .unwrap()
    }

    async fn verify(&self) -> audit::FullReport {
        audit::verify_with_digests(&self.log, &self.store, Some(&self.verifier), None)
            .await
            .unwrap()
    }

    fn key(stream: &str, seq: u64) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("stream".to_owned(), AttributeValue::S(stream.to_owned())),
            ("seq".to_owned(), AttributeValue::N(seq.to_string())),
        ])
    }

    async fn delete(&self, stream: &str, seq: u64) {
        self.ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(stream, seq)))
            .send()
            .await
            .unwrap();
    }

    async fn get(&self, stream: &str, seq: u64) -> HashMap<String, AttributeValue> {
        self.ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(stream, seq)))
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    }

    async fn put(&self, item: HashMap<String, AttributeValue>) {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_digest_over_more_chains_than_one_item_holds_is_written_and_verifies() {
    let t = Estate::new(Emulator::with_stack().await.unwrap()).await;
    t.seed(CHAINS, 1).await;
    let written = audit::write_digest(&t.store, &t.signer, &SystemClock).await;
    assert!(
        written.is_ok(),
        "the digest of {CHAINS} chains was not written: {written:?}"
    );
    let items = t.digest_items().await;
    // The signed digest and its four pages, every one under DynamoDB's item limit.
    assert_eq!(items.len(), 5);
    for item in &items {
        assert!(
            item_size(item) < ITEM_LIMIT,
            "an item of {} bytes",
            item_size(item)
        );
    }
    let report = t.verify().await;
    assert!(report.is_ok(), "{:?}", report.digest_faults());
    assert_eq!(report.chains.len(), CHAINS as usize);
    match &report.digests {
        audit::DigestCheck::Checked {
            latest: Some(l), ..
        } => assert_eq!((l.streams, l.pages), (CHAINS, 4)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn truncating_the_newest_records_of_a_chain_in_a_later_page_is_detected() {
    let t = Estate::paged(Emulator::with_stack().await.unwrap(), SMALL_PAGE).await;
    t.seed(SMALL_ESTATE, 2).await;
    t.digest().await;
    // A chain in the fourth page loses its newest record: the chain alone still verifies.
    let victim = account(32).key();
    t.delete(&victim, 2).await;
    let report = t.verify().await;
    assert!(report.chains.iter().all(|c| c.fault.is_none()));
    assert_eq!(
        report.digest_faults(),
        &[DigestFault::Truncated {
            stream: victim,
            digest_seq: 1,
            last_seq: 2,
            chain_ends: 1
        }]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_or_altering_a_digest_page_is_detected() {
    let t = Estate::paged(Emulator::with_stack().await.unwrap(), SMALL_PAGE).await;
    t.seed(SMALL_ESTATE, 2).await;
    let d = t.digest().await;
    let page = |k: usize| format!("{PAGE_STREAM_PREFIX}{}", d.digest.page_hashes[k - 1]);
    // Truncate a chain of page 3 and edit page 3 to match (the head now says record 1), so
    // measuring against the page would find nothing.
    let victim = account(25).key();
    t.delete(&victim, 2).await;
    let mut item = t.get(&page(3), 1).await;
    let mut p = digest::page_from_item(&item).unwrap();
    let head = p.heads.iter_mut().find(|h| h.stream == victim).unwrap();
    let first = t.get(&victim, 1).await;
    head.last_seq = 1;
    head.last_hash = first["hash"].as_s().unwrap().clone();
    item.insert("heads".into(), digest::page_to_item(&p)["heads"].clone());
    t.put(item).await;
    // And delete page 4 outright.
    t.delete(&page(4), 1).await;
    let faults = t.verify().await.digest_faults().to_vec();
    assert!(
        matches!(
            faults.as_slice(),
            [
                DigestFault::PageAltered {
                    seq: 1,
                    page: 3,
                    ..
                },
                DigestFault::PageMissing { seq: 1, page: 4 }
            ]
        ),
        "{faults:#?}"
    );
}

async fn run_integrity(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
    name: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let exec = sfn
        .start_execution()
        .state_machine_arn(arn)
        .name(name)
        .input("{}")
        .send()
        .await
        .unwrap();
    loop {
        let d = sfn
            .describe_execution()
            .execution_arn(exec.execution_arn())
            .send()
            .await
            .unwrap();
        if d.status() != &ExecutionStatus::Running {
            return d;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daily_verifier_fails_on_a_tampered_digest_and_on_a_stale_digest() {
    build_functions().unwrap();
    let t = Estate::new(Emulator::with_functions().await.unwrap()).await;
    let sfn = aws_sdk_sfn::Client::new(&t.emu.sdk_config().await);
    let arn = t.emu.stack().resources["AuditIntegrityStateMachine"]
        .arn
        .clone()
        .unwrap();
    t.seed(3, 2).await;
    t.digest().await;
    let ok = run_integrity(&sfn, &arn, "intact").await;
    assert_eq!(ok.status(), &ExecutionStatus::Succeeded, "{ok:?}");

    // The signed digest altered in the table (it now claims fewer chains): KMS Verify fails.
    let mut item = t.get(DIGEST_STREAM, 1).await;
    item.insert("streams".into(), AttributeValue::N("2".into()));
    t.put(item).await;
    let bad = run_integrity(&sfn, &arn, "tampered").await;
    assert_eq!(bad.status(), &ExecutionStatus::Failed);
    assert_eq!(bad.error(), Some("AuditTamperDetected"), "{bad:?}");

    // A fresh, valid digest chain whose newest digest is three hours old: the job stopped.
    t.delete(DIGEST_STREAM, 1).await;
    let three_hours_ago = FixedClock(chrono::Utc::now() - chrono::Duration::hours(3));
    audit::write_digest(&t.store, &t.signer, &three_hours_ago)
        .await
        .unwrap();
    let stale = run_integrity(&sfn, &arn, "stale").await;
    assert_eq!(stale.status(), &ExecutionStatus::Failed);
    assert_eq!(stale.error(), Some("AuditDigestStale"), "{stale:?}");
    // A current digest clears it.
    t.digest().await;
    let ok = run_integrity(&sfn, &arn, "fresh").await;
    assert_eq!(ok.status(), &ExecutionStatus::Succeeded, "{ok:?}");
}
