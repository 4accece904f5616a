//! A caller's own items and its audit record in one `TransactWriteItems`: the change lands with
//! its record or not at all (audit writes fail closed). The record's `Put` is conditional on its
//! chain position; a transaction cancelled for any other reason than one of the caller's own
//! conditions (another record took the position, a conflicting transaction) is prepared again
//! and retried, a bounded number of times.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_sdk_dynamodb::Client;

use super::{backoff, AuditEntry, DynamoAuditLog};
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
        let refused = match e.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
                .cancellation_reasons()
                .iter()
                .take(own)
                .any(|r| r.code() == Some("ConditionalCheckFailed")),
            _ => return Err(sdk_error("dynamodb:TransactWriteItems", &e)),
        };
        if refused {
            return Ok(Audited::Refused);
        }
        backoff(attempt).await;
    }
    Err(LambdaError::new(
        ErrorType::AuditWriteFailed,
        format!("{what} lost the audit race {ATTEMPTS} times; nothing was written"),
    ))
}
