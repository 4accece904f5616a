//! Items of one table by key in strongly consistent `BatchGetItem` calls, asking again (with
//! backoff) for the keys DynamoDB leaves unprocessed, a bounded number of times.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;

use crate::sdk::{classify_sdk_error, describe_sdk_error};
use crate::ErrorType;

pub type Item = HashMap<String, AttributeValue>;

/// Why a batch read gave up: the message names the operation, `error_type` is the vocabulary's.
#[derive(Debug, Clone)]
pub struct BatchGetFailed {
    pub message: String,
    pub error_type: ErrorType,
}

/// The items that exist at `keys` (each key at most once: DynamoDB refuses duplicates), in no
/// particular order. `what` names the items in the error when keys stay unprocessed.
pub async fn batch_get_consistent(
    client: &Client,
    table: &str,
    mut keys: Vec<Item>,
    max_attempts: u32,
    what: &str,
) -> Result<Vec<Item>, BatchGetFailed> {
    let mut found = Vec::with_capacity(keys.len());
    let mut attempt = 0;
    while !keys.is_empty() {
        if attempt == max_attempts {
            return Err(BatchGetFailed {
                message: format!(
                    "dynamodb:BatchGetItem left {} {what} unprocessed after {attempt} attempts",
                    keys.len()
                ),
                error_type: ErrorType::TransientAwsError,
            });
        }
        if attempt > 0 {
            rootwarden_core::audit::backoff(attempt).await;
        }
        attempt += 1;
        let request = KeysAndAttributes::builder()
            .set_keys(Some(std::mem::take(&mut keys)))
            .consistent_read(true)
            .build()
            .map_err(|e| BatchGetFailed {
                message: format!("dynamodb:BatchGetItem request: {e}"),
                error_type: ErrorType::InternalError,
            })?;
        let out = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(|e| BatchGetFailed {
                message: describe_sdk_error("dynamodb:BatchGetItem", &e),
                error_type: classify_sdk_error(&e),
            })?;
        found.extend(
            out.responses
                .and_then(|mut r| r.remove(table))
                .unwrap_or_default(),
        );
        keys = out
            .unprocessed_keys
            .and_then(|mut u| u.remove(table))
            .map(|k| k.keys)
            .unwrap_or_default();
    }
    Ok(found)
}
