//! The `PostureRegistry` port: what root-credential enforcement and `account recover` need from
//! the accounts registry. Adapter: `DynamoAccountRegistry` (accounts table); twin:
//! `MemoryPostureRegistry`.
//!
//! Both writes are conditional on the account being registered: enforcement never creates a
//! registry item, it only annotates one. The posture lands with its audit record, in one
//! transaction: neither is written without the other.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::accounts::Account;
use crate::audit::AuditEntry;
use crate::{AccountId, LambdaError};

pub trait PostureRegistry: Send + Sync {
    /// The registered account (consistent read), if any.
    fn find_account(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<Account>, LambdaError>> + Send;

    /// Every registered account, whatever its status, ordered by id.
    fn all_accounts(&self) -> impl Future<Output = Result<Vec<Account>, LambdaError>> + Send;

    /// Records the enforcement job's view of the root credentials (`posture`, checked `at`)
    /// together with its audit `record`, atomically (audit writes fail closed). An error, and
    /// nothing written, when the account is not registered.
    fn record_posture(
        &self,
        account: &AccountId,
        posture: &serde_json::Value,
        at: DateTime<Utc>,
        record: &AuditEntry,
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;

    /// Opens (or moves) the password-recovery window of a registered account to `until`.
    /// An error when the account is not registered.
    fn open_recovery(
        &self,
        account: &AccountId,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;
}
