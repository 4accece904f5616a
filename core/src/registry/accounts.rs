//! The full account record, its item mapping, and the registry operations onboarding, rotation,
//! the sweep and enforcement use. Every change is a conditional write.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use crate::{AccountId, RootEmail};

/// GSI of due rotations: hash `due_shard`, range `rotation_due`.
pub const ROTATION_DUE_INDEX: &str = "rotation-due-index";
/// The one `due_shard` value. A single partition holds 10,000 accounts easily (the sweep reads
/// it page by page); sharding can be added by writing `due#0..n` and querying each.
pub const DUE_SHARD: &str = "due";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountMode {
    /// Root password (and MFA seed) vaulted and rotated.
    Vaulted,
    /// AWS's recommended model for member accounts: no root password or MFA at all; the
    /// enforcement job removes any it finds. Recovery goes through `account recover`.
    CredentialLess,
}

impl AccountMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountMode::Vaulted => "vaulted",
            AccountMode::CredentialLess => "credential-less",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "vaulted" => Some(AccountMode::Vaulted),
            "credential-less" => Some(AccountMode::CredentialLess),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountStatus {
    /// A takeover runs: the root address is allocated (mail to it resolves to the account) but
    /// custody is not complete; only the takeover workflow acts on it.
    TakingOver,
    Active,
    /// A release (closure, hand-back, transfer) runs: custody is stopped (no rotation, no
    /// check-out); only the release workflow acts on it; mail is still ticketed.
    Releasing,
    /// Handed back to the customer (reverse assumption) or closed: nothing runs on it.
    Released,
    Closed,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::TakingOver => "taking-over",
            AccountStatus::Active => "active",
            AccountStatus::Releasing => "releasing",
            AccountStatus::Released => "released",
            AccountStatus::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "taking-over" => Some(AccountStatus::TakingOver),
            "active" => Some(AccountStatus::Active),
            "releasing" => Some(AccountStatus::Releasing),
            "released" => Some(AccountStatus::Released),
            "closed" => Some(AccountStatus::Closed),
            _ => None,
        }
    }
}

/// Why a rotation is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RotationReason {
    /// `current` reached the account's maximum age.
    MaxAge,
    /// Someone saw the password (a check-out): rotate now.
    Checkout,
    /// The last rotation was abandoned (timeout or rejection): try again later.
    Retry,
    /// An operator asked for it.
    Manual,
}

impl RotationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RotationReason::MaxAge => "max-age",
            RotationReason::Checkout => "checkout",
            RotationReason::Retry => "retry",
            RotationReason::Manual => "manual",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "max-age" => Some(RotationReason::MaxAge),
            "checkout" => Some(RotationReason::Checkout),
            "retry" => Some(RotationReason::Retry),
            "manual" => Some(RotationReason::Manual),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub account_id: AccountId,
    pub root_email: RootEmail,
    pub name: Option<String>,
    pub status: AccountStatus,
    pub mode: AccountMode,
    pub max_age_days: u32,
    pub contacts: Vec<String>,
    pub onboarded_at: DateTime<Utc>,
    pub last_rotated_at: Option<DateTime<Utc>>,
    pub rotation_due: Option<DateTime<Utc>>,
    pub rotation_reason: Option<RotationReason>,
    pub rotation_execution: Option<String>,
    /// Latest root-credential posture recorded by the enforcement job (JSON).
    pub posture: Option<serde_json::Value>,
    pub posture_checked_at: Option<DateTime<Utc>>,
    /// Until then, a root password created by `account recover` is allowed on a
    /// credential-less account: enforcement leaves its login profile and MFA alone.
    pub recovery_until: Option<DateTime<Utc>>,
}

/// An account the sweep found due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueAccount {
    pub account_id: AccountId,
    pub due: String,
    pub reason: RotationReason,
    pub execution: Option<String>,
}

/// Timestamps in the registry are fixed-width RFC 3339 UTC (`...Z`, whole seconds) so that
/// string order is time order in the due-date index.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The first due date of a newly onboarded account: its current password's age is unknown, so
/// it is treated as set at onboarding.
pub fn first_due(onboarded: DateTime<Utc>, max_age_days: u32) -> DateTime<Utc> {
    onboarded + Duration::days(i64::from(max_age_days))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_sort_as_time() {
        let a = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.999Z")
            .unwrap()
            .to_utc();
        let b = a + Duration::seconds(1);
        assert_eq!(stamp(a), "2026-01-02T03:04:05Z");
        assert!(stamp(a) < stamp(b));
    }
}
