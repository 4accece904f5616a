//! DynamoDB item mapping for access requests and check-out locks (workflows table).
//!
//! Request: pk `access#<id>`, sk `request`; `doc` (the request as JSON, no secret), `version`
//! (N, optimistic concurrency), `status`, `account`.
//! Lock: pk `access-active`, sk `<account>`; `request_id`, `expires_at`. One per account: the
//! conditional put that creates it is what makes a check-out exclusive, and the expiry job
//! queries this one partition (no scan).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::registry::stamp;
use crate::{AccountId, ErrorType, LambdaError};

pub const LOCK_PARTITION: &str = "access-active";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessStatus {
    Requested,
    Approved,
    Denied,
    CheckedOut,
    CheckedIn,
    Expired,
    Revoked,
}

impl AccessStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessStatus::Requested => "requested",
            AccessStatus::Approved => "approved",
            AccessStatus::Denied => "denied",
            AccessStatus::CheckedOut => "checked-out",
            AccessStatus::CheckedIn => "checked-in",
            AccessStatus::Expired => "expired",
            AccessStatus::Revoked => "revoked",
        }
    }
    pub fn is_final(self) -> bool {
        matches!(
            self,
            AccessStatus::Denied
                | AccessStatus::CheckedIn
                | AccessStatus::Expired
                | AccessStatus::Revoked
        )
    }
}

/// One access request, as stored. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    pub id: String,
    pub account_id: AccountId,
    /// The requester's ARN as AWS identified it.
    pub requester: String,
    /// The requester as a person for dual control (`principal` or `principal#session`, see
    /// `identity::Person`); absent on requests stored before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester_person: Option<String>,
    pub reason: String,
    pub ticket: String,
    pub duration_minutes: u32,
    pub status: AccessStatus,
    /// Approvers' ARNs, in order.
    #[serde(default)]
    pub approvals: Vec<String>,
    /// The approvers as people, in the same order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approver_persons: Vec<String>,
    /// Self-service (no approver): needs an after-the-fact review; its ticket id.
    #[serde(default)]
    pub review_ticket: Option<String>,
    /// Who denied, checked in, revoked or expired it, and why.
    #[serde(default)]
    pub ended_by: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub approved_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub checked_out_at: Option<DateTime<Utc>>,
    /// End of the check-out (automatic check-in).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub version: u64,
}

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

impl AccessRequest {
    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Self, LambdaError> {
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

    /// The write that stores this request as version `self.version + 1`: a new item when
    /// `self.version` is 0, else conditional on the stored version still being `self.version`.
    pub fn write(&self, table: &str) -> Result<TransactWriteItem, LambdaError> {
        let mut item = request_key(&self.id);
        item.insert(
            "doc".into(),
            s(serde_json::to_string(self).map_err(internal)?),
        );
        item.insert(
            "version".into(),
            AttributeValue::N((self.version + 1).to_string()),
        );
        item.insert("status".into(), s(self.status.as_str()));
        item.insert("account".into(), s(self.account_id.as_str()));
        let mut put = Put::builder().table_name(table).set_item(Some(item));
        put = if self.version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(self.version.to_string()))
        };
        Ok(TransactWriteItem::builder()
            .put(put.build().map_err(internal)?)
            .build())
    }
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

/// An active check-out lock: `(account, request id, expires at)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub account_id: AccountId,
    pub request_id: String,
    pub expires_at: String,
}

impl Lock {
    /// Whether the check-out it guards has reached its end.
    pub fn ended(&self, now: DateTime<Utc>) -> bool {
        DateTime::parse_from_rfc3339(&self.expires_at).is_ok_and(|e| e.to_utc() <= now)
    }

    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        Some(Self {
            account_id: AccountId::parse(&text("sk")?).ok()?,
            request_id: text("request_id")?,
            expires_at: text("expires_at")?,
        })
    }
}
