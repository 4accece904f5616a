//! DynamoDB item mapping for access requests and check-out locks (workflows table).
//!
//! Request: pk `access#<id>`, sk `request`; `doc` (the request as JSON, no secret, release
//! terms included, at most [`MAX_DOC_BYTES`]), `version` (N, optimistic concurrency), `status`,
//! `account`.
//! Lock: pk `access-active`, sk `<account>`; `request_id`, `expires_at`. One per account: the
//! conditional put that creates it is what makes a check-out exclusive, and the expiry job
//! queries this one partition (no scan).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};

use crate::registry::stamp;
use crate::{AccountId, ErrorType, LambdaError};

pub use rootwarden_core::access::record::{AccessRequest, AccessStatus, Lock};

pub const LOCK_PARTITION: &str = "access-active";

/// The largest request `doc` stored (DynamoDB items end at 400 KB; a request with its release
/// terms, approvals and note is a few KB). A larger one is refused before any write.
pub const MAX_DOC_BYTES: usize = 32 * 1024;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn request_key(id: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), s(format!("access#{id}"))),
        ("sk".to_owned(), s("request")),
    ])
}

pub fn lock_key(account: &AccountId) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), s(LOCK_PARTITION)),
        ("sk".to_owned(), s(account.as_str())),
    ])
}

fn internal(e: impl std::fmt::Display) -> LambdaError {
    LambdaError::new(ErrorType::InternalError, e.to_string())
}

/// A stored request.
pub fn request_from_item(
    item: &HashMap<String, AttributeValue>,
) -> Result<AccessRequest, LambdaError> {
    let doc = item
        .get("doc")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| internal("access request item has no doc"))?;
    let mut r: AccessRequest = serde_json::from_str(doc).map_err(internal)?;
    r.version = item
        .get("version")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| internal("access request item has no version"))?;
    Ok(r)
}

/// The write that stores `r` as version `r.version + 1`: a new item when `r.version` is 0, else
/// conditional on the stored version still being `r.version`.
pub fn request_write(r: &AccessRequest, table: &str) -> Result<TransactWriteItem, LambdaError> {
    let mut item = request_key(&r.id);
    let doc = serde_json::to_string(r).map_err(internal)?;
    if doc.len() > MAX_DOC_BYTES {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            format!(
                "access request {} is too large to store ({} bytes; at most {MAX_DOC_BYTES})",
                r.id,
                doc.len()
            ),
        ));
    }
    item.insert("doc".into(), s(doc));
    item.insert(
        "version".into(),
        AttributeValue::N((r.version + 1).to_string()),
    );
    item.insert("status".into(), s(r.status.as_str()));
    item.insert("account".into(), s(r.account_id.as_str()));
    let mut put = Put::builder().table_name(table).set_item(Some(item));
    put = if r.version == 0 {
        put.condition_expression("attribute_not_exists(pk)")
    } else {
        put.condition_expression("version = :v")
            .expression_attribute_values(":v", AttributeValue::N(r.version.to_string()))
    };
    Ok(TransactWriteItem::builder()
        .put(put.build().map_err(internal)?)
        .build())
}

/// The lock that makes a check-out exclusive.
pub fn lock_put(
    table: &str,
    account: &AccountId,
    request_id: &str,
    expires_at: DateTime<Utc>,
) -> Result<TransactWriteItem, LambdaError> {
    let mut item = lock_key(account);
    item.insert("request_id".into(), s(request_id));
    item.insert("expires_at".into(), s(stamp(expires_at)));
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(internal)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Releases the lock, only if `request_id` holds it.
pub fn lock_delete(
    table: &str,
    account: &AccountId,
    request_id: &str,
) -> Result<TransactWriteItem, LambdaError> {
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(lock_key(account)))
        .condition_expression("request_id = :r")
        .expression_attribute_values(":r", s(request_id))
        .build()
        .map_err(internal)?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// A stored lock (`None`: not a readable lock item).
pub fn lock_from_item(item: &HashMap<String, AttributeValue>) -> Option<Lock> {
    let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    Some(Lock {
        account_id: AccountId::parse(&text("sk")?).ok()?,
        request_id: text("request_id")?,
        expires_at: text("expires_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rootwarden_core::release::{Customer, Exit, ReleaseTerms};

    fn request(note: Option<String>) -> AccessRequest {
        AccessRequest {
            id: "AR-20260301-0a1b2c3d4e".into(),
            account_id: AccountId::parse("210987654321").unwrap(),
            requester: "arn:aws:iam::123456789012:user/alice".into(),
            requester_person: Some("arn:aws:iam::123456789012:user/alice".into()),
            reason: "release".into(),
            ticket: "INC-1".into(),
            duration_minutes: 240,
            release: Some(ReleaseTerms {
                exit: Exit::Transfer,
                customer: Some(Customer {
                    email: None,
                    phone: "+14155550100".into(),
                    name: Some("Customer Ltd".into()),
                }),
                customer_org: Some("o-abcdef1234".into()),
                keep_email: true,
            }),
            status: AccessStatus::Requested,
            approvals: Vec::new(),
            approver_persons: Vec::new(),
            review_ticket: None,
            ended_by: None,
            note,
            created_at: chrono::Utc::now(),
            approved_at: None,
            checked_out_at: None,
            expires_at: None,
            ended_at: None,
            version: 0,
        }
    }

    #[test]
    fn release_terms_round_trip_through_the_item_and_its_size_is_bounded() {
        let r = request(None);
        let write = request_write(&r, "workflows").unwrap();
        let mut item = write.put().unwrap().item().clone();
        let doc = item["doc"].as_s().unwrap().clone();
        assert!(doc.contains(r#""release":{"exit":"transfer""#), "{doc}");
        item.insert("version".into(), AttributeValue::N("1".into()));
        let back = request_from_item(&item).unwrap();
        assert_eq!((back.release, back.version), (r.release, 1));
        // An ordinary request stores no release attribute at all.
        let mut plain = request(None);
        plain.release = None;
        let write = request_write(&plain, "workflows").unwrap();
        assert!(!write.put().unwrap().item()["doc"]
            .as_s()
            .unwrap()
            .contains("release\":"));
        let e = request_write(&request(Some("x".repeat(MAX_DOC_BYTES))), "t").unwrap_err();
        assert_eq!(e.error_type, ErrorType::ValidationError);
    }
}
