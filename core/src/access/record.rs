//! The access request as it is recorded, and the check-out lock of an account. Plain data: the
//! DynamoDB item mapping lives beside the adapter (`rootwarden-aws`, `access::store`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::release::ReleaseTerms;
use crate::AccountId;

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
    /// A release request's terms (reason `release` only, validated when opened): what `begin`
    /// copies into the release. Never checked out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseTerms>,
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
    /// The stored version (optimistic concurrency); 0 for a request not yet stored.
    #[serde(skip)]
    pub version: u64,
}

/// An active check-out lock: `(account, request id, expires at)`. One per account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub account_id: AccountId,
    pub request_id: String,
    /// RFC 3339, as stored.
    pub expires_at: String,
}

impl Lock {
    /// Whether the check-out it guards has reached its end (at its end time exactly, too). An
    /// unreadable end never ends.
    pub fn ended(&self, now: DateTime<Utc>) -> bool {
        DateTime::parse_from_rfc3339(&self.expires_at)
            .is_ok_and(|e| super::expiry::checkout_ended(e.to_utc(), now))
    }
}
