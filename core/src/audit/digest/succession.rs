//! Whether the heads a writer is about to sign go on from the previous digest: every chain it
//! named is still there, no shorter, and unchanged at the record it named unless records were
//! added. Audit chains only grow, so anything else is truncation or a rewrite that a new digest
//! must not launder: signed, it would become what the verifier measures against, and the records
//! deleted before it would never be reported.

use std::collections::{HashMap, HashSet};

use super::canonical::ChainHead;
use super::store::{DigestStore, StoredDigest};
use super::DigestError;

/// Pages read per call.
const PAGE_BATCH: usize = 100;

/// The previous digest's heads, by stream, still to be matched by the new ones.
pub struct Predecessor {
    seq: u64,
    heads: HashMap<String, (u64, String)>,
    seen: HashSet<String>,
}

impl Predecessor {
    /// No previous digest: anything goes on from nothing.
    pub fn genesis() -> Self {
        Self {
            seq: 0,
            heads: HashMap::new(),
            seen: HashSet::new(),
        }
    }

    /// The heads of `digest`, read from its pages (each must be stored under its hash).
    pub async fn load<S: DigestStore>(
        store: &S,
        digest: &StoredDigest,
    ) -> Result<Self, DigestError> {
        let seq = digest.digest.seq;
        let mut heads = HashMap::new();
        for chunk in digest.digest.page_hashes.chunks(PAGE_BATCH) {
            let pages = Box::pin(store.pages(chunk)).await?;
            for (hash, page) in chunk.iter().zip(pages) {
                match page {
                    Some(Ok(p)) if p.compute_hash() == *hash => heads.extend(
                        p.heads
                            .into_iter()
                            .map(|h| (h.stream, (h.last_seq, h.last_hash))),
                    ),
                    _ => {
                        return Err(DigestError::Corrupt {
                            seq,
                            reason: format!(
                                "its page {hash} is missing or altered, so the next digest cannot \
                                 show it goes on from it"
                            ),
                        })
                    }
                }
            }
        }
        Ok(Self {
            seq,
            heads,
            seen: HashSet::new(),
        })
    }

    /// Checks one new head: named once, and not behind (or, at the same record, different
    /// from) the previous digest's head of its chain.
    pub fn follow(&mut self, head: &ChainHead) -> Result<(), DigestError> {
        if !self.seen.insert(head.stream.clone()) {
            return Err(self.broken(format!("{} is named twice", head.stream)));
        }
        if let Some((seq, hash)) = self.heads.remove(&head.stream) {
            if head.last_seq < seq {
                return Err(self.broken(format!(
                    "{} ends at record {} but digest {} saw record {seq}: truncated",
                    head.stream, head.last_seq, self.seq
                )));
            }
            if head.last_seq == seq && head.last_hash != hash {
                return Err(self.broken(format!(
                    "{}: record {seq} is not the one digest {} saw: rewritten",
                    head.stream, self.seq
                )));
            }
        }
        Ok(())
    }

    /// After every new head: no chain the previous digest named is missing.
    pub fn finish(self) -> Result<(), DigestError> {
        let gone = self.heads.len();
        match self.heads.into_keys().min() {
            None => Ok(()),
            Some(first) => Err(DigestError::Regressed(format!(
                "{gone} chains digest {} named are gone (first: {first})",
                self.seq
            ))),
        }
    }

    fn broken(&self, reason: String) -> DigestError {
        DigestError::Regressed(reason)
    }
}
