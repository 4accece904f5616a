//! Why DynamoDB cancelled a `TransactWriteItems`, from its cancellation reasons (one per item, in
//! the order the items were sent). Every transactional writer decides on the same reading: which
//! items' conditions failed (each writer knows what its items mean), and whether the cancellation
//! is one no retry can cure.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;

/// A cancelled transaction, read.
#[derive(Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// The items whose conditions failed, by index (possibly none: only a conflicting
    /// transaction in flight or throttling, which a retry can win).
    Conditions(Vec<usize>),
    /// DynamoDB refused an item itself (invalid or oversized, an item collection at its limit,
    /// or a code this reading does not know): the same write can never succeed.
    Invalid { item: usize, code: String },
}

impl Cancelled {
    /// Whether the condition of any item before `index` failed.
    pub fn any_condition_before(&self, index: usize) -> bool {
        matches!(self, Cancelled::Conditions(f) if f.iter().any(|&i| i < index))
    }

    /// Whether the condition of item `index` failed.
    pub fn condition_failed(&self, index: usize) -> bool {
        matches!(self, Cancelled::Conditions(f) if f.contains(&index))
    }
}

/// The cancellation `e` reports, or `None` when `e` is not a cancelled transaction.
pub fn cancelled(e: &SdkError<TransactWriteItemsError>) -> Option<Cancelled> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            let codes: Vec<Option<&str>> =
                c.cancellation_reasons().iter().map(|r| r.code()).collect();
            Some(classify(&codes))
        }
        _ => None,
    }
}

/// Reads the codes of DynamoDB's `CancellationReason`s.
pub fn classify(codes: &[Option<&str>]) -> Cancelled {
    let mut failed = Vec::new();
    for (item, code) in codes.iter().enumerate() {
        match code {
            None | Some("None") => {}
            Some("ConditionalCheckFailed") => failed.push(item),
            Some("TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded") => {}
            Some(code) => {
                return Cancelled::Invalid {
                    item,
                    code: (*code).to_owned(),
                }
            }
        }
    }
    Cancelled::Conditions(failed)
}

#[cfg(test)]
mod tests {
    use super::{classify, Cancelled};

    #[test]
    fn failed_conditions_are_named_by_item() {
        let c = classify(&[None, Some("ConditionalCheckFailed"), Some("None")]);
        assert_eq!(c, Cancelled::Conditions(vec![1]));
        assert!(c.condition_failed(1) && !c.condition_failed(0));
        assert!(c.any_condition_before(2) && !c.any_condition_before(1));
    }

    #[test]
    fn a_conflict_or_throttling_is_a_race_with_no_failed_condition() {
        for codes in [
            [Some("TransactionConflict"), Some("None")],
            [None, Some("ThrottlingError")],
            [Some("ProvisionedThroughputExceeded"), None],
        ] {
            assert_eq!(classify(&codes), Cancelled::Conditions(vec![]), "{codes:?}");
        }
    }

    #[test]
    fn an_item_dynamodb_refuses_is_invalid_whatever_else_failed() {
        let c = classify(&[
            Some("ConditionalCheckFailed"),
            Some("ValidationError"),
            None,
        ]);
        assert_eq!(
            c,
            Cancelled::Invalid {
                item: 1,
                code: "ValidationError".into()
            }
        );
        assert!(!c.any_condition_before(3) && !c.condition_failed(0));
        assert!(matches!(
            classify(&[Some("ItemCollectionSizeLimitExceeded")]),
            Cancelled::Invalid { item: 0, .. }
        ));
        assert!(matches!(
            classify(&[None, Some("SomethingNew")]),
            Cancelled::Invalid { item: 1, .. }
        ));
    }
}
