//! What every `AuditLog` promises.

use rootwarden_core::audit::{verify_chain, AuditEntry, AuditLog, Segment, Stream, GENESIS_HASH};

use super::fixtures::{fresh, fresh_account};

/// Appends form one hash-linked chain per stream, numbered from 1, in order even when
/// concurrent; reading a stream returns it in order and it verifies; the stream is listed.
/// `log` and `other` write to the same log as two processes would (two Lambda instances): what
/// one remembers of a chain's head may be stale once the other has appended.
pub async fn audit_log_contract<L: AuditLog>(log: L, other: L) {
    let a = fresh_account();
    let stream = Stream::Account(a.clone());
    let entry = |action: &str| {
        AuditEntry::new(
            stream.clone(),
            "arn:aws:iam::123456789012:user/contract",
            action,
        )
        .target(a.as_str())
        .reason("audit contract")
        .correlation_id(fresh("corr"))
        .detail("n", 1)
    };
    let first = log.append(&entry("contract.first")).await.unwrap();
    assert_eq!((first.seq, first.prev_hash.as_str()), (1, GENESIS_HASH));
    assert_eq!(first.stream, stream.key());
    assert_eq!(first.hash, first.compute_hash());
    let second = log.append(&entry("contract.second")).await.unwrap();
    assert_eq!(
        (second.seq, second.prev_hash.as_str()),
        (2, first.hash.as_str())
    );

    // Concurrent writers all land, in one unbroken chain.
    let appends = (0..4).map(|i| {
        let e = entry(&format!("contract.concurrent-{i}"));
        let log = &log;
        async move { log.append(&e).await }
    });
    for r in futures::future::join_all(appends).await {
        r.unwrap();
    }

    // Another process appends after `log`'s last write; `log` appends again after it.
    let seventh = log.append(&entry("contract.seventh")).await.unwrap();
    let by_other = other.append(&entry("contract.other")).await.unwrap();
    assert_eq!(
        (by_other.seq, by_other.prev_hash.as_str()),
        (8, seventh.hash.as_str())
    );
    let after = log.append(&entry("contract.after-other")).await.unwrap();
    assert_eq!(
        (after.seq, after.prev_hash.as_str()),
        (9, by_other.hash.as_str())
    );

    let items = log.read_stream(&stream.key()).await.unwrap();
    let seqs: Vec<u64> = items.iter().map(|i| i.as_ref().unwrap().seq).collect();
    assert_eq!(seqs, (1..=9).collect::<Vec<u64>>());
    assert_eq!(items[0].as_ref().unwrap(), &first);
    let report = verify_chain(&stream.key(), &items);
    assert_eq!(report.fault, None);
    assert_eq!(report.head_seq, 9);
    assert!(log.streams().await.unwrap().contains(&stream.key()));
    // Parallel-Scan segments read each chain whole, in exactly one segment.
    let holding: Vec<_> = {
        let mut holding = Vec::new();
        for segment in Segment::all(4).unwrap() {
            if let Some(got) = log
                .read_segment(segment)
                .await
                .unwrap()
                .remove(&stream.key())
            {
                holding.push((segment, got));
            }
        }
        holding
    };
    assert_eq!(holding.len(), 1, "one segment holds the chain: {holding:?}");
    assert_eq!(holding[0].1, items, "whole and in order");
    assert!(log
        .read_stream(&Stream::Account(fresh_account()).key())
        .await
        .unwrap()
        .is_empty());
}
