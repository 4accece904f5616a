//! A caller's own items and its audit record in one `TransactWriteItems`: the change lands with
//! its record or not at all (audit writes fail closed). The record's `Put` is conditional on its
//! chain position; a transaction cancelled for any other reason than one of the caller's own
//! conditions (another record took the position, a conflicting transaction) is prepared again
//! and retried, a bounded number of times. A cancellation no retry can cure (an invalid or
//! oversized item) fails at once with the item and DynamoDB's code.

use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_sdk_dynamodb::Client;

use super::{backoff, AuditEntry, DynamoAuditLog};
use crate::cancellation::{cancelled, Cancelled};
use crate::sdk::sdk_error;
use crate::{ErrorType, LambdaError};

/// Lost races tolerated before the write gives up (nothing is written).
const ATTEMPTS: u32 = 8;

/// How an audited write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audited {
    /// The items and the record were written.
    Written,
    /// A condition of the caller's own items failed: nothing was written.
    Refused,
}

/// Writes `items` with `record`'s next audit record. `what` names the change in the error a
/// write that keeps losing the audit race returns (`AuditWriteFailed`).
pub async fn write_audited(
    client: &Client,
    audit: &DynamoAuditLog,
    items: Vec<TransactWriteItem>,
    record: &AuditEntry,
    what: &str,
) -> Result<Audited, LambdaError> {
    let own = items.len();
    for attempt in 0..ATTEMPTS {
        let (sealed, audit_put) = audit
            .prepare(record)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
        let mut all = items.clone();
        all.push(TransactWriteItem::builder().put(audit_put).build());
        let e = match client
            .transact_write_items()
            .set_transact_items(Some(all))
            .send()
            .await
        {
            Ok(_) => {
                audit.committed(&sealed);
                return Ok(Audited::Written);
            }
            Err(e) => e,
        };
        match cancelled(&e) {
            None => return Err(sdk_error("dynamodb:TransactWriteItems", &e)),
            // Not retryable: AWS refused the items themselves, and nothing was written.
            Some(Cancelled::Invalid { item, code }) => {
                return Err(LambdaError::new(
                    ErrorType::AwsError,
                    format!(
                        "{what}: DynamoDB cancelled the transaction ({code} on item {item} of {}); \
                         nothing was written and a retry would fail the same way",
                        own + 1
                    ),
                ))
            }
            Some(c) if c.any_condition_before(own) => return Ok(Audited::Refused),
            // The audit position was taken, a conflicting transaction ran, or throttling.
            Some(_) => backoff(attempt).await,
        }
    }
    Err(LambdaError::new(
        ErrorType::AuditWriteFailed,
        format!("{what} lost the audit race {ATTEMPTS} times; nothing was written"),
    ))
}
