//! The accounts registry: every managed account, its root email, its credential mode and its
//! rotation schedule.
//!
//! Item (DynamoDB, pk `account_id`): `account_id`, `root_email` (lower-case; GSI
//! `root-email-index`), `name`, `status`, `mode`, `max_age_days`, `contacts` (string list),
//! `onboarded_at`, `last_rotated_at`; the rotation schedule `rotation_due` (RFC 3339 UTC) with
//! `due_shard` = `"due"` (GSI `rotation-due-index`, sparse: only active vaulted accounts carry
//! `due_shard`, so the sweep queries due accounts without a scan), `rotation_reason`, and
//! `rotation_execution` (the rotation started for the current due date); the latest root
//! credential `posture` (JSON) and `posture_checked_at`. Onboarding writes it; inbound mail reads
//! it. A registry mapping always wins over anything a message says.

pub mod accounts;
pub mod posture;
pub mod schedule;

use std::future::Future;

use crate::{AccountId, LambdaError, RootEmail};

pub use accounts::{
    first_due, stamp, Account, AccountMode, AccountStatus, DueAccount, RotationReason, DUE_SHARD,
    ROTATION_DUE_INDEX,
};

/// GSI on `root_email`.
pub const ROOT_EMAIL_INDEX: &str = "root-email-index";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredAccount {
    pub account_id: AccountId,
    pub root_email: RootEmail,
    pub contacts: Vec<String>,
    /// Mail to a `released` or `closed` account is still ticketed, marked as such.
    pub status: AccountStatus,
}

pub trait AccountRegistry: Send + Sync {
    fn by_root_email(
        &self,
        email: &RootEmail,
    ) -> impl Future<Output = Result<Option<RegisteredAccount>, LambdaError>> + Send;
    /// Whether the registry knows the account: the only source of truth for its existence.
    fn is_registered(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<bool, LambdaError>> + Send;
}
