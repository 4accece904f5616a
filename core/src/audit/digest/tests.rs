use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::*;
use crate::audit::{
    verify, AuditEntry, AuditLog, AuditRecord, Fault, MemoryAuditLog, Stream, GENESIS_HASH,
};
use crate::clock::FixedClock;
use crate::AccountId;

/// Stands in for KMS: the "signature" is SHA-256(secret || digest).
struct FakeSigner {
    secret: &'static str,
}

impl FakeSigner {
    fn new() -> Self {
        Self { secret: "key-1" }
    }
    fn mac(&self, digest: &[u8; 32]) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(self.secret.as_bytes());
        h.update(digest);
        h.finalize().to_vec()
    }
}

impl DigestSigner for FakeSigner {
    async fn sign(&self, digest: &[u8; 32]) -> Result<Signature, DigestError> {
        Ok(Signature {
            bytes: self.mac(digest),
            key_id: format!("fake/{}", self.secret),
            algorithm: SIGNING_ALGORITHM.into(),
        })
    }
    async fn verify(&self, digest: &[u8; 32], signature: &[u8]) -> Result<bool, DigestError> {
        Ok(self.mac(digest) == signature)
    }
}

fn at() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00.000Z")
        .unwrap()
        .to_utc()
}

fn account(id: &str) -> Stream {
    Stream::Account(AccountId::parse(id).unwrap())
}

const A: &str = "account/111111111111";

/// Three chains (2, 3 and 1 records) and one digest of them.
async fn setup() -> MemoryDigestStore {
    let log = MemoryAuditLog::new(Arc::new(FixedClock(at())));
    for (stream, n) in [
        (account("111111111111"), 2),
        (account("222222222222"), 3),
        (Stream::System, 1),
    ] {
        for i in 0..n {
            log.append(&AuditEntry::new(stream.clone(), "arn:a", "x").reason(format!("{i}")))
                .await
                .unwrap();
        }
    }
    let store = MemoryDigestStore::new(log);
    write_digest(&store, &FakeSigner::new(), &FixedClock(at()))
        .await
        .unwrap();
    store
}

async fn check(store: &MemoryDigestStore) -> FullReport {
    verify_with_digests(store.log(), store, Some(&FakeSigner::new()), None)
        .await
        .unwrap()
}

/// The heads a stored digest's pages hold, in stream order.
async fn heads_of(store: &MemoryDigestStore, d: &StoredDigest) -> Vec<ChainHead> {
    let (heads, faults) = load_heads(store, d).await.unwrap();
    assert!(faults.is_empty(), "{faults:?}");
    heads.into_values().collect()
}

#[test]
fn canonical_encoding_is_sorted_compact_json() {
    let (d, pages) = Digest::new(
        2,
        at(),
        "ab",
        vec![
            ChainHead::new("system", 1, "a1"),
            ChainHead::new("account/111111111111", 7, "f7"),
        ],
    );
    // Heads in stream order (not by hash or sequence number), in one page.
    assert_eq!(pages.len(), 1);
    assert_eq!(
        String::from_utf8(pages[0].canonical_bytes()).unwrap(),
        r#"{"heads":[{"last_hash":"f7","last_seq":7,"stream":"account/111111111111"},{"last_hash":"a1","last_seq":1,"stream":"system"}],"type":"rootwarden-audit-digest-page","v":"2"}"#
    );
    assert_eq!(
        pages[0].compute_hash(),
        hex::encode(Sha256::digest(pages[0].canonical_bytes()))
    );
    assert_eq!(
        String::from_utf8(d.canonical_bytes()).unwrap(),
        format!(
            r#"{{"page_hashes":["{}"],"prev_digest_hash":"ab","seq":2,"streams":2,"timestamp":"2026-11-24T10:00:00.000Z","type":"rootwarden-audit-digest","v":"2"}}"#,
            pages[0].compute_hash()
        )
    );
    assert_eq!(
        d.compute_hash(),
        hex::encode(Sha256::digest(d.canonical_bytes()))
    );
    // Held order does not matter: pagination sorts heads.
    let (shuffled, _) = Digest::new(
        2,
        at(),
        "ab",
        vec![
            ChainHead::new("account/111111111111", 7, "f7"),
            ChainHead::new("system", 1, "a1"),
        ],
    );
    assert_eq!(shuffled.canonical_bytes(), d.canonical_bytes());
}

#[test]
fn heads_are_split_into_pages_of_at_most_page_size_in_stream_order() {
    let heads: Vec<ChainHead> = (0..(2 * PAGE_SIZE + 1))
        .rev()
        .map(|n| ChainHead::new(format!("account/{:012}", n), 1, "h"))
        .collect();
    let (d, pages) = Digest::new(1, at(), GENESIS_HASH, heads);
    assert_eq!(
        pages.iter().map(|p| p.heads.len()).collect::<Vec<_>>(),
        vec![PAGE_SIZE, PAGE_SIZE, 1]
    );
    assert_eq!(d.streams, 2 * PAGE_SIZE as u64 + 1);
    assert_eq!(d.page_hashes.len(), 3);
    let all: Vec<&ChainHead> = pages.iter().flat_map(|p| &p.heads).collect();
    assert!(all.windows(2).all(|w| w[0].stream < w[1].stream));
    assert_eq!(all[0].stream, "account/000000000000");
}

#[test]
fn every_field_is_covered_by_the_hash_and_strings_cannot_bleed() {
    let (d, pages) = Digest::new(
        3,
        at(),
        GENESIS_HASH,
        vec![ChainHead::new("system", 4, "h4")],
    );
    type Mutation = Box<dyn Fn(&mut Digest)>;
    let mutations: Vec<Mutation> = vec![
        Box::new(|d| d.seq += 1),
        Box::new(|d| d.timestamp.push('x')),
        Box::new(|d| d.prev_digest_hash = "f".repeat(64)),
        Box::new(|d| d.streams += 1),
        Box::new(|d| d.page_hashes[0].push('x')),
        Box::new(|d| d.page_hashes.push("f".repeat(64))),
        Box::new(|d| d.page_hashes.clear()),
    ];
    for m in mutations {
        let mut t = d.clone();
        m(&mut t);
        assert_ne!(t.compute_hash(), d.compute_hash(), "{t:?}");
    }
    type PageMutation = Box<dyn Fn(&mut DigestPage)>;
    let page_mutations: Vec<PageMutation> = vec![
        Box::new(|p| p.heads[0].last_seq += 1),
        Box::new(|p| p.heads[0].last_hash.push('x')),
        Box::new(|p| p.heads[0].stream.push('x')),
        Box::new(|p| p.heads.push(ChainHead::new("system2", 1, "h"))),
        Box::new(|p| p.heads.clear()),
    ];
    for m in page_mutations {
        let mut t = pages[0].clone();
        m(&mut t);
        assert_ne!(t.compute_hash(), pages[0].compute_hash(), "{t:?}");
    }
    // A quote in a value is escaped, not read as structure.
    let (a, _) = Digest::new(1, at(), "x\",\"seq\":9", vec![]);
    let (b, _) = Digest::new(1, at(), "x", vec![]);
    assert_ne!(a.compute_hash(), b.compute_hash());
    assert!(serde_json::from_slice::<serde_json::Value>(&a.canonical_bytes()).is_ok());
}

#[tokio::test]
async fn digests_chain_and_verify() {
    let store = setup().await;
    let second = write_digest(&store, &FakeSigner::new(), &FixedClock(at()))
        .await
        .unwrap();
    let digests: Vec<StoredDigest> = store
        .digests()
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(digests.len(), 2);
    assert_eq!(digests[0].digest.prev_digest_hash, GENESIS_HASH);
    assert_eq!(digests[1].digest.prev_digest_hash, digests[0].digest_hash);
    assert_eq!(second.digest.seq, 2);
    // Unchanged heads still make a digest (liveness), with the same pages.
    assert_eq!(digests[0].digest.page_hashes, digests[1].digest.page_hashes);
    assert_eq!(
        heads_of(&store, &digests[0]).await,
        vec![
            ChainHead::new(A, 2, store.log().records(A)[1].hash.clone()),
            ChainHead::new(
                "account/222222222222",
                3,
                store.log().records("account/222222222222")[2].hash.clone()
            ),
            ChainHead::new("system", 1, store.log().records("system")[0].hash.clone()),
        ]
    );
    let report = check(&store).await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.chains.len(), 3);
    match &report.digests {
        DigestCheck::Checked {
            digests, latest, ..
        } => {
            assert_eq!(*digests, 2);
            assert_eq!(latest.as_ref().map(|l| (l.seq, l.streams)), Some((2, 3)));
        }
        other => panic!("{other:?}"),
    }
    // Records appended after the digest are fine.
    store
        .log()
        .append(&AuditEntry::new(account("111111111111"), "arn:a", "later"))
        .await
        .unwrap();
    assert!(check(&store).await.is_ok());
}

#[tokio::test]
async fn deleting_the_newest_record_is_truncation() {
    let store = setup().await;
    store
        .log()
        .with_records_mut(|c| c.get_mut(A).unwrap().remove(&2));
    let report = check(&store).await;
    assert!(!report.is_ok());
    // The chain alone looks intact: only the digest shows the loss.
    assert!(report.chains.iter().all(|c| c.fault.is_none()));
    let fault = &report.digest_faults()[0];
    assert_eq!(
        fault,
        &DigestFault::Truncated {
            stream: A.into(),
            digest_seq: 1,
            last_seq: 2,
            chain_ends: 1
        }
    );
    assert_eq!(fault.label(), "TRUNCATED");
    assert!(
        fault
            .to_string()
            .contains("truncated: records deleted after the last digest"),
        "{fault}"
    );
    assert_eq!(report.digest_faults().len(), 1);
}

#[tokio::test]
async fn deleting_a_whole_stream_is_truncation() {
    let store = setup().await;
    store.log().with_records_mut(|c| c.remove("system"));
    let report = check(&store).await;
    assert_eq!(
        report.digest_faults(),
        &[DigestFault::Truncated {
            stream: "system".into(),
            digest_seq: 1,
            last_seq: 1,
            chain_ends: 0
        }]
    );
    assert!(report.digest_faults()[0]
        .to_string()
        .contains("the stream is now missing"));
}

#[tokio::test]
async fn rewriting_the_head_is_modification_not_truncation() {
    let store = setup().await;
    // A rewritten tail: record 2 replaced by a well-formed, correctly linked record.
    store.log().with_records_mut(|c| {
        let chain = c.get_mut(A).unwrap();
        let prev = chain[&1].hash.clone();
        let forged = AuditRecord::seal(
            &AuditEntry::new(account("111111111111"), "arn:evil", "x"),
            2,
            &prev,
            at(),
        );
        chain.insert(2, forged);
    });
    let report = check(&store).await;
    assert!(
        report.chains.iter().all(|c| c.fault.is_none()),
        "chain alone is fooled"
    );
    assert_eq!(
        report.digest_faults(),
        &[DigestFault::HeadModified {
            stream: A.into(),
            digest_seq: 1,
            seq: 2
        }]
    );
    assert!(report.digest_faults()[0].to_string().contains("modified"));
    // A field edit without rehashing: the chain and the digest both see it.
    let store = setup().await;
    store
        .log()
        .with_records_mut(|c| c.get_mut(A).unwrap().get_mut(&2).unwrap().reason = "x".into());
    let report = check(&store).await;
    assert_eq!(
        report.chains[0].fault,
        Some(Fault::Modified { seq: 2 }),
        "{report:?}"
    );
    assert_eq!(report.digest_faults()[0].label(), "MODIFIED");
}

#[tokio::test]
async fn tampered_digest_content_or_signature_is_signature_invalid() {
    type Tamper = Box<dyn Fn(&mut StoredDigest)>;
    let tampers: Vec<Tamper> = vec![
        Box::new(|d| d.digest.streams = 1),
        // Even with the stored hash recomputed to match (pages of other heads named).
        Box::new(|d| {
            d.digest.page_hashes[0] = "0".repeat(64);
            d.digest_hash = d.digest.compute_hash();
        }),
        Box::new(|d| d.signature[0] ^= 1),
        Box::new(|d| d.signature.clear()),
        Box::new(|d| d.digest.timestamp = "2020-01-01T00:00:00.000Z".into()),
    ];
    for tamper in tampers {
        let store = setup().await;
        store.with_digests_mut(|d| tamper(d.get_mut(&1).unwrap()));
        let report = check(&store).await;
        assert_eq!(
            report.digest_faults(),
            &[DigestFault::SignatureInvalid {
                seq: 1,
                key_id: "fake/key-1".into()
            }]
        );
        assert!(report.digest_faults()[0]
            .to_string()
            .contains("signature invalid"));
        // Nothing to measure chains against: no truncation is claimed from a forged digest.
        assert!(matches!(
            report.digests,
            DigestCheck::Checked { latest: None, .. }
        ));
    }
    // A digest signed by another key is invalid too.
    let store = setup().await;
    let other = FakeSigner { secret: "key-2" };
    let report = verify_with_digests(store.log(), &store, Some(&other), None)
        .await
        .unwrap();
    assert!(matches!(
        report.digest_faults(),
        [DigestFault::SignatureInvalid { seq: 1, .. }]
    ));
}

#[tokio::test]
async fn stored_hash_alone_altered_is_a_hash_mismatch() {
    let store = setup().await;
    store.with_digests_mut(|d| d.get_mut(&1).unwrap().digest_hash = "0".repeat(64));
    assert_eq!(
        check(&store).await.digest_faults(),
        &[DigestFault::HashMismatch { seq: 1 }]
    );
}

#[tokio::test]
async fn broken_digest_links_and_gaps_are_reported() {
    // A validly signed digest 1 replaced by another (someone with Sign access): 2 unlinks.
    let store = setup().await;
    write_digest(&store, &FakeSigner::new(), &FixedClock(at()))
        .await
        .unwrap();
    let signer = FakeSigner::new();
    let (forged, _) = Digest::new(1, at(), GENESIS_HASH, vec![]);
    let sig = signer.sign(&forged.hash_bytes()).await.unwrap();
    store.with_digests_mut(|d| {
        d.insert(
            1,
            StoredDigest {
                digest_hash: forged.compute_hash(),
                digest: forged,
                signature: sig.bytes,
                key_id: sig.key_id,
                signing_algorithm: sig.algorithm,
            },
        )
    });
    let report = check(&store).await;
    assert_eq!(
        report.digest_faults(),
        &[DigestFault::Unlinked { seq: 2, prev: 1 }]
    );
    assert!(report.digest_faults()[0]
        .to_string()
        .contains("the digest chain is broken"));
    // Digest 1 not linked to genesis.
    let (faults, _) = check_digests(
        &[Ok({
            let (d, _) = Digest::new(1, at(), "f".repeat(64), vec![]);
            let sig = signer.sign(&d.hash_bytes()).await.unwrap();
            StoredDigest {
                digest_hash: d.compute_hash(),
                digest: d,
                signature: sig.bytes,
                key_id: sig.key_id,
                signing_algorithm: sig.algorithm,
            }
        })],
        &signer,
    )
    .await
    .unwrap();
    assert_eq!(faults, vec![DigestFault::Unlinked { seq: 1, prev: 0 }]);
    // A deleted middle digest.
    let store = setup().await;
    for _ in 0..2 {
        write_digest(&store, &signer, &FixedClock(at()))
            .await
            .unwrap();
    }
    store.with_digests_mut(|d| d.remove(&2));
    assert_eq!(
        check(&store).await.digest_faults(),
        &[DigestFault::Missing { seq: 2 }]
    );
}

#[tokio::test]
async fn without_a_key_or_a_digest_chains_are_verified_only() {
    let store = setup().await;
    let report = verify_with_digests(store.log(), &store, None::<&FakeSigner>, None)
        .await
        .unwrap();
    assert_eq!(report.digests, DigestCheck::NotConfigured { digests: 1 });
    assert!(report.is_ok());
    let empty = MemoryDigestStore::new(store.log().clone());
    let report = verify_with_digests(empty.log(), &empty, Some(&FakeSigner::new()), None)
        .await
        .unwrap();
    assert_eq!(report.digests, DigestCheck::NoDigests);
    assert_eq!(report.chains.len(), 3);
}

#[tokio::test]
async fn one_account_is_measured_against_its_own_head_only() {
    let store = setup().await;
    store
        .log()
        .with_records_mut(|c| c.get_mut("account/222222222222").unwrap().remove(&3));
    let only = account("111111111111");
    let report = verify_with_digests(store.log(), &store, Some(&FakeSigner::new()), Some(&only))
        .await
        .unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.chains.len(), 1);
    let only = account("222222222222");
    let report = verify_with_digests(store.log(), &store, Some(&FakeSigner::new()), Some(&only))
        .await
        .unwrap();
    assert_eq!(report.digest_faults()[0].label(), "TRUNCATED");
}

#[tokio::test]
async fn the_writer_refuses_to_link_to_an_altered_digest() {
    let store = setup().await;
    store.with_digests_mut(|d| d.get_mut(&1).unwrap().digest.page_hashes.clear());
    let err = write_digest(&store, &FakeSigner::new(), &FixedClock(at()))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), ErrorType::AuditTamperDetected);
    assert_eq!(store.with_digests_mut(|d| d.len()), 1, "nothing written");
}

#[tokio::test]
async fn a_lost_race_takes_the_next_sequence_number() {
    /// A store where another writer lands digest `n` just before our first put.
    struct Racing {
        inner: MemoryDigestStore,
        raced: std::sync::atomic::AtomicBool,
    }
    impl DigestStore for Racing {
        async fn heads(&self) -> Result<Vec<ChainHead>, AuditError> {
            self.inner.heads().await
        }
        async fn digests(&self) -> Result<Vec<DigestItem>, AuditError> {
            self.inner.digests().await
        }
        async fn latest_digest(&self) -> Result<Option<DigestItem>, AuditError> {
            self.inner.latest_digest().await
        }
        async fn pages(&self, hashes: &[String]) -> Result<Vec<PageItem>, AuditError> {
            self.inner.pages(hashes).await
        }
        async fn put_page(&self, page: &DigestPage) -> Result<(), DigestError> {
            self.inner.put_page(page).await
        }
        async fn put_digest(&self, d: &StoredDigest) -> Result<bool, DigestError> {
            if !self.raced.swap(true, std::sync::atomic::Ordering::SeqCst) {
                write_digest(&self.inner, &FakeSigner::new(), &FixedClock(at())).await?;
            }
            self.inner.put_digest(d).await
        }
    }
    let store = Racing {
        inner: setup().await,
        raced: Default::default(),
    };
    let mine = write_digest(&store, &FakeSigner::new(), &FixedClock(at()))
        .await
        .unwrap();
    assert_eq!(mine.digest.seq, 3);
    assert!(check(&store.inner).await.is_ok());
}

#[tokio::test]
async fn failures_map_to_the_vocabulary() {
    struct Down;
    impl DigestSigner for Down {
        async fn sign(&self, _: &[u8; 32]) -> Result<Signature, DigestError> {
            Err(DigestError::Kms {
                message: "kms:Sign timed out".into(),
                error_type: ErrorType::TransientAwsError,
            })
        }
        async fn verify(&self, _: &[u8; 32], _: &[u8]) -> Result<bool, DigestError> {
            Ok(false)
        }
    }
    let store = setup().await;
    let err = write_digest(&store, &Down, &FixedClock(at()))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), ErrorType::TransientAwsError);
    assert_eq!(
        DigestError::Contention { attempts: 5 }.error_type(),
        ErrorType::AuditWriteFailed
    );
}

#[tokio::test]
async fn record_verification_skips_the_digest_stream() {
    let store = setup().await;
    // As in DynamoDB, where digests share the table: the reserved key is not a chain.
    store.log().with_records_mut(|c| {
        c.entry(DIGEST_STREAM.into()).or_default().insert(
            1,
            AuditRecord {
                stream: DIGEST_STREAM.into(),
                seq: 1,
                timestamp: String::new(),
                actor: String::new(),
                action: String::new(),
                target: String::new(),
                outcome: String::new(),
                reason: String::new(),
                correlation_id: String::new(),
                details: String::new(),
                prev_hash: String::new(),
                hash: "not a record".into(),
            },
        )
    });
    let report = verify(store.log(), None).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.chains.len(), 3);
    let full = check(&store).await;
    assert!(full.chains.iter().all(|c| c.stream != DIGEST_STREAM));
}

/// `n` account chains of one record each (accounts 100000000000 + i), and one digest.
#[tokio::test]
async fn ten_thousand_chains_are_digested_in_pages_and_verify() {
    // (100,000 chains are measured in `make bench-digest` and sized against DynamoDB's item
    // limit beside the adapter, in rootwarden-aws; here, ten pages keep the core's tests fast.)
    const LIMIT: usize = 400 * 1024;
    let store = estate(10_000).await;
    let d = store.with_digests_mut(|d| d[&1].clone());
    assert_eq!(d.digest.streams, 10_000);
    assert_eq!(d.digest.page_hashes.len(), 10_000 / PAGE_SIZE);
    assert_eq!(store.with_pages_mut(|p| p.len()), 10);
    // The old single-item layout (every head in the signed item) for comparison: it passes
    // DynamoDB's item limit between 3,000 and 4,000 heads of this shape. (The item sizes of the
    // paged layout are checked beside its DynamoDB mapping, in rootwarden-aws.)
    let (heads, _) = load_heads(&store, &d).await.unwrap();
    let old_item = |n: usize| {
        let h: Vec<&ChainHead> = heads.values().take(n).collect();
        serde_json::to_string(&h).unwrap().len()
    };
    assert!(old_item(3_000) < LIMIT && old_item(4_000) > LIMIT);
    assert!(check(&store).await.is_ok());
}

async fn estate(n: u64) -> MemoryDigestStore {
    let log = MemoryAuditLog::new(Arc::new(FixedClock(at())));
    log.with_records_mut(|c| {
        for i in 0..n {
            let stream = account(&format!("{:012}", 100_000_000_000 + i));
            let r = AuditRecord::seal(
                &AuditEntry::new(stream.clone(), "arn:a", "x"),
                1,
                GENESIS_HASH,
                at(),
            );
            c.entry(stream.key()).or_default().insert(1, r);
        }
    });
    let store = MemoryDigestStore::new(log);
    write_digest(&store, &FakeSigner::new(), &FixedClock(at()))
        .await
        .unwrap();
    store
}

#[tokio::test]
async fn truncation_in_a_later_page_is_found() {
    let store = estate(2_500).await;
    // A chain in page 3 loses its only record, another in page 2 gains nothing but is altered.
    let victim = account("100000002400").key();
    store.log().with_records_mut(|c| c.remove(&victim));
    let report = check(&store).await;
    assert_eq!(
        report.digest_faults(),
        &[DigestFault::Truncated {
            stream: victim,
            digest_seq: 1,
            last_seq: 1,
            chain_ends: 0
        }]
    );
}

#[tokio::test]
async fn a_deleted_or_altered_page_is_reported_and_never_trusted() {
    let store = estate(2_500).await;
    let d = store.with_digests_mut(|d| d[&1].clone());
    store.with_pages_mut(|p| p.remove(&d.digest.page_hashes[1]));
    let report = check(&store).await;
    assert_eq!(
        report.digest_faults(),
        &[DigestFault::PageMissing { seq: 1, page: 2 }]
    );
    assert_eq!(report.digest_faults()[0].label(), "DIGEST");
    // Altered to hide a truncation: the page no longer hashes to what the digest signed.
    let store = estate(2_500).await;
    let victim = account("100000001500").key();
    store.log().with_records_mut(|c| c.remove(&victim));
    let d = store.with_digests_mut(|d| d[&1].clone());
    store.with_pages_mut(|p| {
        let page = p.get_mut(&d.digest.page_hashes[1]).unwrap();
        page.heads.retain(|h| h.stream != victim);
    });
    let faults = check(&store).await.digest_faults().to_vec();
    assert!(
        matches!(
            faults.as_slice(),
            [DigestFault::PageAltered {
                seq: 1,
                page: 2,
                ..
            }]
        ),
        "{faults:?}"
    );
    assert!(faults[0].to_string().contains("page 2 was altered"));
}

#[tokio::test]
async fn unchanged_pages_are_not_written_again() {
    let store = estate(2_500).await;
    let first = store.with_digests_mut(|d| d[&1].clone());
    store
        .log()
        .append(&AuditEntry::new(account("100000000001"), "arn:a", "later"))
        .await
        .unwrap();
    let second = write_digest(&store, &FakeSigner::new(), &FixedClock(at()))
        .await
        .unwrap();
    assert_ne!(first.digest.page_hashes[0], second.digest.page_hashes[0]);
    assert_eq!(
        first.digest.page_hashes[1..],
        second.digest.page_hashes[1..]
    );
    assert_eq!(store.with_pages_mut(|p| p.len()), 4);
    assert!(check(&store).await.is_ok());
}

#[test]
fn digest_age_is_measured_from_the_signed_timestamp() {
    let latest = LatestDigest {
        seq: 1,
        timestamp: "2026-11-24T10:00:00.000Z".into(),
        digest_hash: String::new(),
        streams: 0,
        pages: 0,
    };
    assert_eq!(
        digest_age_seconds(&latest, at() + chrono::Duration::hours(3)),
        Some(3 * 3600)
    );
    let bad = LatestDigest {
        timestamp: "yesterday".into(),
        ..latest
    };
    assert_eq!(digest_age_seconds(&bad, at()), None);
}
