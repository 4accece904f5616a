//! Several vault items in one strongly consistent batch read
//! ([`crate::batch_get::batch_get_consistent`]), so reading the current version of two
//! credentials costs two reads, not four: the heads, then the versions they name.

use rootwarden_core::vault::credentials::VaultError;
use std::collections::HashMap;

use super::items::{s, Item};
use super::KmsVault;

/// Unprocessed keys are asked for again this many times (with backoff) before giving up.
const MAX_ATTEMPTS: u32 = 6;

/// `(pk, sk)` of a vault item.
pub(super) type Key = (String, String);

impl KmsVault {
    /// The items at `keys` that exist, by key. Each key is asked for once.
    pub(super) async fn batch_get(&self, keys: &[Key]) -> Result<HashMap<Key, Item>, VaultError> {
        let unique: std::collections::BTreeSet<&Key> = keys.iter().collect();
        let keys: Vec<Item> = unique
            .into_iter()
            .map(|(pk, sk)| HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))]))
            .collect();
        let items = crate::batch_get::batch_get_consistent(
            &self.ddb,
            &self.table,
            keys,
            MAX_ATTEMPTS,
            "vault items",
        )
        .await
        .map_err(|e| VaultError::Unavailable {
            message: e.message,
            error_type: e.error_type,
        })?;
        Ok(items
            .into_iter()
            .filter_map(|item| Some(((text(&item, "pk")?, text(&item, "sk")?), item)))
            .collect())
    }
}

fn text(item: &Item, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}
