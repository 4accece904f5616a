//! In-memory adapter for unit tests of code that writes audit records.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{AuditEntry, AuditError, AuditLog, AuditRecord, StoredItem, GENESIS_HASH};
use crate::{Clock, SystemClock};

type Chains = BTreeMap<String, BTreeMap<u64, AuditRecord>>;

#[derive(Clone)]
pub struct MemoryAuditLog {
    chains: Arc<Mutex<Chains>>,
    fail_writes: Arc<AtomicBool>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryAuditLog {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

impl MemoryAuditLog {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            chains: Arc::default(),
            fail_writes: Arc::default(),
            clock,
        }
    }

    /// Makes every later append fail, as an unavailable table would.
    pub fn fail_writes(&self, fail: bool) {
        self.fail_writes.store(fail, Ordering::SeqCst);
    }

    /// Direct access to stored records, for tamper tests.
    pub fn with_records_mut<R>(&self, f: impl FnOnce(&mut Chains) -> R) -> R {
        let mut guard = self.chains.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    pub fn records(&self, stream: &str) -> Vec<AuditRecord> {
        self.with_records_mut(|c| {
            c.get(stream)
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default()
        })
    }
}

impl AuditLog for MemoryAuditLog {
    async fn append(&self, entry: &AuditEntry) -> Result<AuditRecord, AuditError> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(AuditError::WriteFailed {
                message: "audit store unavailable".into(),
            });
        }
        let now = self.clock.now();
        Ok(self.with_records_mut(|chains| {
            let chain = chains.entry(entry.stream.key()).or_default();
            let (seq, prev) = chain
                .last_key_value()
                .map(|(s, r)| (s + 1, r.hash.clone()))
                .unwrap_or((1, GENESIS_HASH.to_owned()));
            let rec = AuditRecord::seal(entry, seq, &prev, now);
            chain.insert(seq, rec.clone());
            rec
        }))
    }

    async fn read_stream(&self, stream: &str) -> Result<Vec<StoredItem>, AuditError> {
        Ok(self.records(stream).into_iter().map(Ok).collect())
    }

    async fn streams(&self) -> Result<Vec<String>, AuditError> {
        Ok(self.with_records_mut(|c| c.keys().cloned().collect()))
    }
}
