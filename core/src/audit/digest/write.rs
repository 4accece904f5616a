//! Writing the next digest: pages first, then the signed digest that names them.

use std::collections::HashSet;

use super::canonical::{Digest, DigestPage};
use super::sign::DigestSigner;
use super::store::{DigestStore, StoredDigest};
use super::succession::Predecessor;
use super::DigestError;
use crate::audit::GENESIS_HASH;
use crate::Clock;

/// Lost races tolerated before a digest write gives up.
const MAX_ATTEMPTS: u32 = 5;
/// Page writes in flight at once.
const CONCURRENCY: usize = 16;

/// Writes the next digest of every chain head, signed, linked to the newest digest. The pages are
/// stored before the signed digest that names them, so a digest never names a page that was not
/// written; pages the newest digest already names (unchanged heads) are not written again.
/// Retries when another writer took the sequence number; fails closed (no digest) otherwise.
/// Refuses to link to a newest digest that is unreadable or no longer matches its hash.
///
/// (Inner futures are boxed so callers' async state machines stay within the compiler's
/// recursion limit.)
pub async fn write_digest<S: DigestStore, V: DigestSigner>(
    store: &S,
    signer: &V,
    clock: &dyn Clock,
) -> Result<StoredDigest, DigestError> {
    for attempt in 0..MAX_ATTEMPTS {
        let (seq, prev, known, mut predecessor) = match newest(store).await? {
            None => (
                1,
                GENESIS_HASH.to_owned(),
                Vec::new(),
                Predecessor::genesis(),
            ),
            Some(d) => {
                let predecessor = Box::pin(Predecessor::load(store, &d)).await?;
                (
                    d.digest.seq + 1,
                    d.digest_hash,
                    d.digest.page_hashes,
                    predecessor,
                )
            }
        };
        let heads = Box::pin(store.heads()).await?;
        for head in &heads {
            predecessor.follow(head)?;
        }
        predecessor.finish()?;
        let (digest, pages) = Digest::paged(seq, clock.now(), prev, heads, store.page_size());
        put_new_pages(store, &pages, &digest.page_hashes, &known).await?;
        if let Some(stored) = sign_and_store(store, signer, digest).await? {
            return Ok(stored);
        }
        crate::audit::backoff(attempt).await;
    }
    Err(DigestError::Contention {
        attempts: MAX_ATTEMPTS,
    })
}

/// The newest digest, checked (its content still hashes to its digest hash), or `None` before
/// the first. A digest that is unreadable or altered cannot be linked to: `Corrupt`.
pub(super) async fn newest<S: DigestStore>(store: &S) -> Result<Option<StoredDigest>, DigestError> {
    match Box::pin(store.latest_digest()).await? {
        None => Ok(None),
        Some(Err(m)) => Err(DigestError::Corrupt {
            seq: m.seq,
            reason: m.reason,
        }),
        Some(Ok(d)) if d.digest.compute_hash() != d.digest_hash => Err(DigestError::Corrupt {
            seq: d.digest.seq,
            reason: "its content does not match its digest hash".into(),
        }),
        Some(Ok(d)) => Ok(Some(d)),
    }
}

/// Stores the pages (`hashes` are theirs, in order) that `known` (the newest digest's page
/// hashes) does not name already.
pub(super) async fn put_new_pages<S: DigestStore>(
    store: &S,
    pages: &[DigestPage],
    hashes: &[String],
    known: &[String],
) -> Result<(), DigestError> {
    let known: HashSet<&String> = known.iter().collect();
    let new_pages: Vec<&DigestPage> = pages
        .iter()
        .zip(hashes)
        .filter(|(_, h)| !known.contains(*h))
        .map(|(p, _)| p)
        .collect();
    for chunk in new_pages.chunks(CONCURRENCY) {
        futures::future::try_join_all(chunk.iter().map(|p| Box::pin(store.put_page(p)))).await?;
    }
    Ok(())
}

/// Signs `digest` and stores it unless its number is taken (`None`: another writer won).
pub(super) async fn sign_and_store<S: DigestStore, V: DigestSigner>(
    store: &S,
    signer: &V,
    digest: Digest,
) -> Result<Option<StoredDigest>, DigestError> {
    let hash = digest.hash_bytes();
    let sig = Box::pin(signer.sign(&hash)).await?;
    let stored = StoredDigest {
        digest_hash: hex::encode(hash),
        digest,
        signature: sig.bytes,
        key_id: sig.key_id,
        signing_algorithm: sig.algorithm,
    };
    Ok(Box::pin(store.put_digest(&stored)).await?.then_some(stored))
}
