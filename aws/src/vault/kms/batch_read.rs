//! Several vault items in one `BatchGetItem` (strongly consistent), so reading the current
//! version of two credentials costs two reads, not four: the heads, then the versions they
//! name.

use aws_sdk_dynamodb::types::KeysAndAttributes;
use rootwarden_core::vault::credentials::VaultError;
use rootwarden_core::ErrorType;
use std::collections::HashMap;

use super::items::{s, Item};
use super::KmsVault;
use crate::sdk::{classify_sdk_error, describe_sdk_error};

/// Unprocessed keys are asked for again this many times (with backoff) before giving up.
const MAX_ATTEMPTS: u32 = 6;

/// `(pk, sk)` of a vault item.
pub(super) type Key = (String, String);

impl KmsVault {
    /// The items at `keys` that exist, by key. Each key is asked for once.
    pub(super) async fn batch_get(&self, keys: &[Key]) -> Result<HashMap<Key, Item>, VaultError> {
        let mut found = HashMap::new();
        let unique: std::collections::BTreeSet<&Key> = keys.iter().collect();
        let mut pending: Vec<Item> = unique
            .into_iter()
            .map(|(pk, sk)| HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))]))
            .collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            if attempt == MAX_ATTEMPTS {
                return Err(VaultError::Unavailable {
                    message: format!(
                        "dynamodb:BatchGetItem left {} vault items unprocessed after {attempt} attempts",
                        pending.len()
                    ),
                    error_type: ErrorType::TransientAwsError,
                });
            }
            if attempt > 0 {
                rootwarden_core::audit::backoff(attempt).await;
            }
            attempt += 1;
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(|e| VaultError::Unavailable {
                    message: format!("dynamodb:BatchGetItem request: {e}"),
                    error_type: ErrorType::InternalError,
                })?;
            let out = self
                .ddb
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| VaultError::Unavailable {
                    message: describe_sdk_error("dynamodb:BatchGetItem", &e),
                    error_type: classify_sdk_error(&e),
                })?;
            for item in out
                .responses
                .and_then(|mut r| r.remove(&self.table))
                .unwrap_or_default()
            {
                let key = (text(&item, "pk"), text(&item, "sk"));
                if let (Some(pk), Some(sk)) = key {
                    found.insert((pk, sk), item);
                }
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        Ok(found)
    }
}

fn text(item: &Item, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}
