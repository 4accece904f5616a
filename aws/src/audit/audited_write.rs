//! A caller's own items and its audit record in one `TransactWriteItems`: the change lands with
//! its record or not at all (audit writes fail closed). The record's `Put` is conditional on its
//! chain position; a transaction cancelled for any other reason than one of the caller's own
//! conditions (another record took the position, a conflicting transaction) is prepared again
//! and retried, a bounded number of times. A cancellation no retry can cure (an invalid or
//! oversized item) fails at once with the item and DynamoDB's code.

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
        let codes: Vec<Option<&str>> = match e.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                c.cancellation_reasons().iter().map(|r| r.code()).collect()
            }
            _ => return Err(sdk_error("dynamodb:TransactWriteItems", &e)),
        };
        match cancellation(own, &codes) {
            Cancelled::Refused => return Ok(Audited::Refused),
            Cancelled::Race => backoff(attempt).await,
            // Not retryable: AWS refused the items themselves, and nothing was written.
            Cancelled::Invalid { item, code } => {
                return Err(LambdaError::new(
                    ErrorType::AwsError,
                    format!(
                        "{what}: DynamoDB cancelled the transaction ({code} on item {item} of {}); \
                         nothing was written and a retry would fail the same way",
                        codes.len()
                    ),
                ))
            }
        }
    }
    Err(LambdaError::new(
        ErrorType::AuditWriteFailed,
        format!("{what} lost the audit race {ATTEMPTS} times; nothing was written"),
    ))
}

/// Why DynamoDB cancelled an audited transaction, from its cancellation reasons (one per item,
/// the caller's `own` items first, the audit record last).
#[derive(Debug, PartialEq, Eq)]
enum Cancelled<'a> {
    /// One of the caller's own conditions failed: the change is refused, not retried.
    Refused,
    /// A race that preparing again can win: the audit position was taken, a conflicting
    /// transaction was in flight, or the table was throttled.
    Race,
    /// Anything else (an invalid or oversized item, an item collection at its limit, a code this
    /// code does not know): retrying the same write cannot succeed.
    Invalid { item: usize, code: &'a str },
}

fn cancellation<'a>(own: usize, codes: &[Option<&'a str>]) -> Cancelled<'a> {
    if codes
        .iter()
        .take(own)
        .any(|c| *c == Some("ConditionalCheckFailed"))
    {
        return Cancelled::Refused;
    }
    for (item, code) in codes.iter().enumerate() {
        match code {
            None | Some("None") | Some("TransactionConflict") => {}
            Some("ThrottlingError") | Some("ProvisionedThroughputExceeded") => {}
            // The audit record's position condition: another record took it.
            Some("ConditionalCheckFailed") if item >= own => {}
            Some(code) => return Cancelled::Invalid { item, code },
        }
    }
    Cancelled::Race
}

#[cfg(test)]
mod tests {
    use super::{cancellation, Cancelled};

    #[test]
    fn a_failed_condition_on_the_callers_items_is_a_refusal() {
        let codes = [None, Some("ConditionalCheckFailed"), Some("None")];
        assert_eq!(cancellation(2, &codes), Cancelled::Refused);
        // Even when another item also failed for another reason.
        let codes = [
            Some("ConditionalCheckFailed"),
            Some("ValidationError"),
            None,
        ];
        assert_eq!(cancellation(2, &codes), Cancelled::Refused);
    }

    #[test]
    fn a_lost_audit_position_a_conflict_or_throttling_is_retried() {
        for codes in [
            [Some("None"), Some("ConditionalCheckFailed")],
            [Some("TransactionConflict"), Some("None")],
            [None, Some("ThrottlingError")],
            [Some("ProvisionedThroughputExceeded"), None],
        ] {
            assert_eq!(cancellation(1, &codes), Cancelled::Race, "{codes:?}");
        }
    }

    #[test]
    fn an_invalid_item_fails_at_once_naming_the_item() {
        let codes = [None, Some("ValidationError"), Some("None")];
        assert_eq!(
            cancellation(2, &codes),
            Cancelled::Invalid {
                item: 1,
                code: "ValidationError"
            }
        );
        let codes = [Some("ItemCollectionSizeLimitExceeded"), None];
        assert!(matches!(
            cancellation(1, &codes),
            Cancelled::Invalid { item: 0, .. }
        ));
        // An audit record DynamoDB would not take is as final.
        let codes = [None, Some("ValidationError")];
        assert!(matches!(
            cancellation(1, &codes),
            Cancelled::Invalid { item: 1, .. }
        ));
    }
}
