use super::*;
use crate::clock::FixedClock;
use std::sync::Arc;

fn acct() -> Stream {
    Stream::Account(AccountId::parse("123456789012").unwrap())
}

async fn chain_of(n: usize) -> MemoryAuditLog {
    let log = MemoryAuditLog::default();
    for i in 0..n {
        log.append(
            &AuditEntry::new(acct(), "arn:aws:iam::1:user/op", "audit.annotate")
                .reason(format!("note {i}")),
        )
        .await
        .unwrap();
    }
    log
}

fn items(log: &MemoryAuditLog) -> Vec<StoredItem> {
    log.records("account/123456789012")
        .into_iter()
        .map(Ok)
        .collect()
}

#[test]
fn genesis_is_64_hex_zeros() {
    assert_eq!(GENESIS_HASH.len(), 64);
    assert!(GENESIS_HASH.bytes().all(|b| b == b'0'));
}

#[test]
fn seal_is_deterministic_and_covers_every_field() {
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00.000Z")
        .unwrap()
        .to_utc();
    let e = AuditEntry::new(acct(), "arn:a", "x.y")
        .target("t")
        .reason("r")
        .correlation_id("c")
        .detail("b", 2)
        .detail("a", 1);
    let r1 = AuditRecord::seal(&e, 1, GENESIS_HASH, at);
    let r2 = AuditRecord::seal(&e, 1, GENESIS_HASH, at);
    assert_eq!(r1, r2);
    assert_eq!(r1.details, r#"{"a":1,"b":2}"#, "details are key-sorted");
    assert_eq!(r1.timestamp, "2026-11-24T10:00:00.000Z");
    // Changing any single field changes the hash.
    type Mutation = Box<dyn Fn(&mut AuditRecord)>;
    let mutations: Vec<Mutation> = vec![
        Box::new(|r| r.stream.push('x')),
        Box::new(|r| r.seq += 1),
        Box::new(|r| r.timestamp.push('x')),
        Box::new(|r| r.actor.push('x')),
        Box::new(|r| r.action.push('x')),
        Box::new(|r| r.target.push('x')),
        Box::new(|r| r.outcome = "denied".into()),
        Box::new(|r| r.reason.push('x')),
        Box::new(|r| r.correlation_id.push('x')),
        Box::new(|r| r.details = "{}".into()),
        Box::new(|r| r.prev_hash = "f".repeat(64)),
    ];
    for m in mutations {
        let mut r = r1.clone();
        m(&mut r);
        assert_ne!(r.compute_hash(), r1.hash);
    }
}

#[test]
fn canonical_encoding_has_no_field_bleed() {
    let at = chrono::Utc::now();
    let a = AuditRecord::seal(&AuditEntry::new(acct(), "ab", "c"), 1, GENESIS_HASH, at);
    let b = AuditRecord::seal(&AuditEntry::new(acct(), "a", "bc"), 1, GENESIS_HASH, at);
    assert_ne!(a.hash, b.hash);
}

#[tokio::test]
async fn intact_chain_verifies() {
    let log = chain_of(5).await;
    let report = verify_chain("account/123456789012", &items(&log));
    assert_eq!(report.fault, None);
    assert_eq!((report.records, report.head_seq), (5, 5));
    let recs = log.records("account/123456789012");
    assert_eq!(recs[0].prev_hash, GENESIS_HASH);
    for w in recs.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
        assert_eq!(w[1].seq, w[0].seq + 1);
    }
    assert!(verify(&log, None).await.unwrap().is_ok());
}

#[tokio::test]
async fn modified_record_is_named() {
    let log = chain_of(5).await;
    log.with_records_mut(|c| {
        c.get_mut("account/123456789012")
            .unwrap()
            .get_mut(&3)
            .unwrap()
            .reason = "edited".into()
    });
    let report = verify_chain("account/123456789012", &items(&log));
    assert_eq!(report.fault, Some(Fault::Modified { seq: 3 }));
    assert_eq!(report.head_seq, 2, "head is the last good record");
}

#[tokio::test]
async fn modified_and_rehashed_record_breaks_the_next_link() {
    let log = chain_of(5).await;
    log.with_records_mut(|c| {
        let r = c
            .get_mut("account/123456789012")
            .unwrap()
            .get_mut(&3)
            .unwrap();
        r.reason = "edited".into();
        r.hash = r.compute_hash();
    });
    let report = verify_chain("account/123456789012", &items(&log));
    assert_eq!(report.fault, Some(Fault::Unlinked { seq: 4, prev: 3 }));
}

#[tokio::test]
async fn deleted_records_are_named() {
    let log = chain_of(5).await;
    log.with_records_mut(|c| c.get_mut("account/123456789012").unwrap().remove(&2));
    assert_eq!(
        verify_chain("account/123456789012", &items(&log)).fault,
        Some(Fault::Missing { seq: 2 })
    );
    let log = chain_of(3).await;
    log.with_records_mut(|c| c.get_mut("account/123456789012").unwrap().remove(&1));
    assert_eq!(
        verify_chain("account/123456789012", &items(&log)).fault,
        Some(Fault::Missing { seq: 1 })
    );
}

#[tokio::test]
async fn reordered_records_are_caught() {
    let log = chain_of(5).await;
    log.with_records_mut(|c| {
        let chain = c.get_mut("account/123456789012").unwrap();
        let r2 = chain.get(&2).unwrap().clone();
        let r4 = chain.get(&4).unwrap().clone();
        chain.insert(2, AuditRecord { seq: 2, ..r4 });
        chain.insert(4, AuditRecord { seq: 4, ..r2 });
    });
    assert_eq!(
        verify_chain("account/123456789012", &items(&log)).fault,
        Some(Fault::Modified { seq: 2 })
    );
}

#[tokio::test]
async fn inserted_record_is_caught() {
    let log = chain_of(4).await;
    log.with_records_mut(|c| {
        let chain = c.get_mut("account/123456789012").unwrap();
        // Shift 3.. up by one and forge a well-formed record 3 linked to record 2.
        let tail: Vec<AuditRecord> = chain.range(3..).map(|(_, r)| r.clone()).collect();
        for r in tail.into_iter().rev() {
            chain.insert(
                r.seq + 1,
                AuditRecord {
                    seq: r.seq + 1,
                    ..r
                },
            );
        }
        let prev = chain.get(&2).unwrap().hash.clone();
        let forged = AuditRecord::seal(
            &AuditEntry::new(acct(), "arn:evil", "audit.annotate"),
            3,
            &prev,
            chrono::Utc::now(),
        );
        chain.insert(3, forged);
    });
    let fault = verify_chain("account/123456789012", &items(&log))
        .fault
        .unwrap();
    assert_eq!(fault.seq(), 4, "the first moved record is named: {fault}");
}

#[tokio::test]
async fn malformed_item_is_a_fault_not_a_panic() {
    let stored: Vec<StoredItem> = vec![Err(MalformedRecord {
        stream: "system".into(),
        seq: 1,
        reason: "attribute hash is missing".into(),
    })];
    let report = verify_chain("system", &stored);
    assert!(matches!(
        report.fault,
        Some(Fault::Malformed { seq: 1, .. })
    ));
}

#[tokio::test]
async fn verify_reports_every_chain_and_the_first_fault() {
    let log = MemoryAuditLog::new(Arc::new(FixedClock(chrono::Utc::now())));
    for id in ["111111111111", "222222222222"] {
        let s = Stream::Account(AccountId::parse(id).unwrap());
        for _ in 0..3 {
            log.append(&AuditEntry::new(s.clone(), "arn:a", "x"))
                .await
                .unwrap();
        }
    }
    log.append(&AuditEntry::new(Stream::System, "arn:a", "x"))
        .await
        .unwrap();
    let report = verify(&log, None).await.unwrap();
    assert_eq!(report.chains.len(), 3);
    assert_eq!(report.records(), 7);
    log.with_records_mut(|c| {
        c.get_mut("account/222222222222")
            .unwrap()
            .get_mut(&2)
            .unwrap()
            .actor = "x".into()
    });
    let report = verify(&log, None).await.unwrap();
    assert!(!report.is_ok());
    assert_eq!(
        report.first_fault().map(|(s, f)| (s, f.seq())),
        Some(("account/222222222222", 2))
    );
    let only = verify(
        &log,
        Some(&Stream::Account(AccountId::parse("111111111111").unwrap())),
    )
    .await
    .unwrap();
    assert!(only.is_ok());
    assert_eq!(only.chains.len(), 1);
}

#[tokio::test]
async fn failed_write_is_an_error_the_caller_must_honour() {
    let log = MemoryAuditLog::default();
    log.fail_writes(true);
    let err = log
        .append(&AuditEntry::new(Stream::System, "a", "b"))
        .await
        .unwrap_err();
    assert_eq!(
        crate::error::Classify::error_type(&err),
        ErrorType::AuditWriteFailed
    );
    assert!(log.records("system").is_empty());
}
