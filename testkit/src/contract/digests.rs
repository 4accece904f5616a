//! What every `DigestStore` and `DigestSigner` promises.

use std::future::Future;

use rootwarden_core::audit::digest::{
    ChainHead, Digest, DigestSigner, DigestStore, StoredDigest, SIGNING_ALGORITHM,
};
use rootwarden_core::audit::{AuditRecord, Segment, Stream, GENESIS_HASH};

use super::fixtures::fresh_account;

/// A signature verifies for the digest it signed (by the verifying side, which may be another
/// principal), and for no other digest; bytes that are not a signature are `Ok(false)`.
pub async fn digest_signer_contract(signer: &impl DigestSigner, verifier: &impl DigestSigner) {
    let digest = [7u8; 32];
    let sig = signer.sign(&digest).await.unwrap();
    assert_eq!(sig.algorithm, SIGNING_ALGORITHM);
    assert!(!sig.key_id.is_empty());
    assert!(verifier.verify(&digest, &sig.bytes).await.unwrap());
    assert!(!verifier.verify(&[8u8; 32], &sig.bytes).await.unwrap());
    assert!(!verifier.verify(&digest, b"not a signature").await.unwrap());
}

/// Pages are stored once under their hash and read back by it (an unknown hash is `None`); a
/// digest number is taken once (`put_digest` answers `false` for a taken one and changes
/// nothing); the latest digest is the highest number; digests list in ascending order; the
/// heads are sorted by stream and include a chain appended by `append`.
pub async fn digest_store_contract<S, A, F>(store: &S, append: A)
where
    S: DigestStore,
    A: Fn(Stream) -> F,
    F: Future<Output = AuditRecord>,
{
    let stream = Stream::Account(fresh_account());
    let record = append(stream.clone()).await;
    let heads = store.heads().await.unwrap();
    assert!(
        heads.windows(2).all(|w| w[0].stream < w[1].stream),
        "heads are sorted by stream, once each"
    );
    let head = ChainHead::new(stream.key(), record.seq, record.hash.clone());
    assert!(heads.contains(&head), "the appended chain's head is listed");
    // Parallel-Scan segments: together they list every head exactly once.
    for total in [1, 3] {
        let mut union = Vec::new();
        for segment in Segment::all(total).unwrap() {
            let part = store.segment_heads(segment).await.unwrap();
            assert!(
                part.windows(2).all(|w| w[0].stream < w[1].stream),
                "{segment}: sorted by stream"
            );
            union.extend(part);
        }
        union.sort();
        assert_eq!(union, heads, "{total} segments hold every head once");
    }

    let before = store.latest_digest().await.unwrap().map(|d| d.unwrap());
    let (seq, prev) = before
        .as_ref()
        .map(|d| (d.digest.seq + 1, d.digest_hash.clone()))
        .unwrap_or((1, GENESIS_HASH.to_owned()));
    let (digest, pages) = Digest::new(seq, chrono::Utc::now(), prev, heads);
    for page in &pages {
        store.put_page(page).await.unwrap();
        store.put_page(page).await.unwrap(); // the same page again: no error, no change
    }
    let mut hashes: Vec<String> = pages.iter().map(|p| p.compute_hash()).collect();
    hashes.push("0".repeat(64));
    let read = store.pages(&hashes).await.unwrap();
    assert_eq!(read.len(), hashes.len());
    for (page, got) in pages.iter().zip(&read) {
        assert_eq!(got.clone().unwrap().unwrap(), *page);
    }
    assert!(
        read.last().unwrap().is_none(),
        "an unknown page hash is None"
    );
    let twice = vec![hashes[0].clone(), hashes[0].clone()];
    let read = store.pages(&twice).await.unwrap();
    assert_eq!(read.len(), 2, "a hash asked for twice is answered twice");
    assert!(read.iter().all(|p| p.as_ref().is_some_and(|p| p.is_ok())));

    let stored = StoredDigest {
        digest_hash: digest.compute_hash(),
        digest,
        signature: vec![0x30, 0x45, 1, 2, 3],
        key_id: "contract-key".into(),
        signing_algorithm: SIGNING_ALGORITHM.into(),
    };
    assert!(
        store.put_digest(&stored).await.unwrap(),
        "a free number is taken"
    );
    let mut rival = stored.clone();
    rival.key_id = "rival".into();
    assert!(
        !store.put_digest(&rival).await.unwrap(),
        "a taken number is refused"
    );
    let latest = store.latest_digest().await.unwrap().unwrap().unwrap();
    assert_eq!(
        latest, stored,
        "the latest digest is the one written, unchanged"
    );
    let all: Vec<StoredDigest> = store
        .digests()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.unwrap())
        .collect();
    assert!(all.windows(2).all(|w| w[0].digest.seq < w[1].digest.seq));
    assert_eq!(all.last(), Some(&stored));
    assert_eq!(
        store.digest_at(stored.digest.seq).await.unwrap(),
        Some(Ok(stored.clone())),
        "one digest read by its number"
    );
    assert_eq!(store.digest_at(stored.digest.seq + 1).await.unwrap(), None);
}
