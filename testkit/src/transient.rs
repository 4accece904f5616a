//! `MemoryTransientStore`: the twin of `KmsTransientStore`. One item per account (or
//! `unrouted`), kind, source message and index: a re-delivery lands on the same item. Reads
//! enforce expiry, return at most the newest secret, and never a reset link off AWS's sign-in
//! host.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rootwarden_core::mail::redact::is_genuine_reset_link;
use rootwarden_core::mail::SecretKind;
use rootwarden_core::vault::{
    ttl, SealedTransient, StoredTransient, TransientError, TransientStore,
};
use rootwarden_core::{AccountId, ErrorType};
use secrecy::{ExposeSecret, SecretString};

use crate::lock;

struct Item {
    stored: StoredTransient,
    /// Held as a plain string only inside the twin; never printed.
    value: String,
}

#[derive(Clone, Default)]
pub struct MemoryTransientStore {
    items: Arc<Mutex<BTreeMap<(String, String), Item>>>,
    fail: Arc<AtomicBool>,
}

fn partition(account: Option<&AccountId>) -> String {
    format!(
        "transient#{}",
        account.map(AccountId::as_str).unwrap_or("unrouted")
    )
}

impl MemoryTransientStore {
    /// Every stored item's location (no values), in key order.
    pub fn stored(&self) -> Vec<StoredTransient> {
        lock(&self.items)
            .values()
            .map(|i| i.stored.clone())
            .collect()
    }

    /// Whether any stored secret equals `value` (to prove where a secret went, or did not).
    pub fn holds(&self, value: &str) -> bool {
        lock(&self.items).values().any(|i| i.value == value)
    }

    /// Deletes every secret of `account` (the release's crypto-shred); returns how many.
    pub fn shred(&self, account: &AccountId) -> u32 {
        let pk = partition(Some(account));
        let mut items = lock(&self.items);
        let before = items.len();
        items.retain(|(p, _), _| *p != pk);
        (before - items.len()) as u32
    }

    /// Writes a secret [`TransientStore::seal`] sealed (what the ticket twin does when it
    /// records the delivery that carried it). Fails as the store does when told to.
    pub fn store_sealed(&self, sealed: &SealedTransient) -> Result<(), TransientError> {
        self.check()?;
        let bytes: Vec<u8> = sealed.ciphertext.iter().map(|b| b ^ TWIN_SEAL).collect();
        let value = String::from_utf8(bytes).map_err(|_| TransientError::Corrupt {
            reason: "sealed secret is not UTF-8".into(),
        })?;
        lock(&self.items).insert(
            (sealed.stored.pk.clone(), sealed.stored.sk.clone()),
            Item {
                stored: sealed.stored.clone(),
                value,
            },
        );
        Ok(())
    }

    /// Makes every later call fail, as a KMS or DynamoDB outage would.
    pub fn fail(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }

    /// `Err` while the store is told to fail.
    pub fn available(&self) -> Result<(), TransientError> {
        self.check()
    }

    fn check(&self) -> Result<(), TransientError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(TransientError::Unavailable {
                message: "vault unavailable (simulated)".into(),
                error_type: ErrorType::TransientAwsError,
            });
        }
        Ok(())
    }
}

/// The twin's stand-in for KMS: a sealed secret's bytes are not its plaintext's (not
/// encryption; the twin never leaves the process).
const TWIN_SEAL: u8 = 0xA5;

impl TransientStore for MemoryTransientStore {
    async fn seal(
        &self,
        account: Option<&AccountId>,
        kind: SecretKind,
        source: &str,
        index: usize,
        received: DateTime<Utc>,
        value: &SecretString,
    ) -> Result<SealedTransient, TransientError> {
        self.check()?;
        Ok(SealedTransient {
            stored: StoredTransient {
                pk: partition(account),
                sk: format!("{}#{source}#{index}", kind.as_str()),
                kind,
                expires_at: received + ttl(kind),
            },
            source: source.to_owned(),
            ciphertext: value
                .expose_secret()
                .bytes()
                .map(|b| b ^ TWIN_SEAL)
                .collect(),
        })
    }

    async fn store(&self, sealed: &SealedTransient) -> Result<(), TransientError> {
        self.store_sealed(sealed)
    }

    async fn unexpired(
        &self,
        account: Option<&AccountId>,
        kind: SecretKind,
        now: DateTime<Utc>,
    ) -> Result<Vec<(StoredTransient, SecretString)>, TransientError> {
        self.check()?;
        let pk = partition(account);
        let prefix = format!("{}#", kind.as_str());
        let items = lock(&self.items);
        let mut candidates: Vec<&Item> = items
            .iter()
            .filter(|((p, s), i)| *p == pk && s.starts_with(&prefix) && i.stored.expires_at > now)
            .map(|(_, i)| i)
            .collect();
        // Newest first (expiry counts from receipt); within one message, its order.
        candidates.sort_by(|a, b| {
            b.stored
                .expires_at
                .cmp(&a.stored.expires_at)
                .then_with(|| a.stored.sk.cmp(&b.stored.sk))
        });
        Ok(candidates
            .into_iter()
            .find(|i| kind != SecretKind::PasswordResetLink || is_genuine_reset_link(&i.value))
            .map(|i| (i.stored.clone(), SecretString::from(i.value.clone())))
            .into_iter()
            .collect())
    }
}
