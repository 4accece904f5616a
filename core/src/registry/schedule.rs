//! The `RotationSchedule` port: what rotation and its sweep need from the registry. Adapter:
//! `DynamoAccountRegistry` (accounts table, sparse `rotation-due-index`); twin:
//! `MemoryRotationSchedule`.
//!
//! Every schedule write is conditional: the sweep records the execution it started only while
//! the due date it served is unchanged, moves a due date only from the value it read (of two
//! racing sweeps exactly one wins), and a finished or abandoned rotation moves the due date only
//! if it owns the schedule (or nobody does).

use std::future::Future;

use chrono::{DateTime, Utc};

use super::accounts::{Account, DueAccount, RotationReason};
use crate::{AccountId, LambdaError};

/// One page of due accounts, oldest due first, and where the next page starts (opaque).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DuePage {
    pub due: Vec<DueAccount>,
    pub next: Option<String>,
}

pub trait RotationSchedule: Send + Sync {
    /// The registered account (consistent read), if any.
    fn account(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<Account>, LambdaError>> + Send;

    /// One page of at most `limit` active vaulted accounts due at `now` (`rotation_due <= now`),
    /// oldest due first, continuing from `after` (a previous page's `next`).
    fn due_page(
        &self,
        now: DateTime<Utc>,
        after: Option<String>,
        limit: u32,
    ) -> impl Future<Output = Result<DuePage, LambdaError>> + Send;

    /// Moves the due date from `old` (as read) to `new`, forgetting the recorded execution,
    /// only if it is still `old`. False: someone moved it first.
    fn move_due(
        &self,
        account: &AccountId,
        old: &str,
        new: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, LambdaError>> + Send;

    /// Records that `execution` was started for the due date `due`, only if the due date is
    /// still `due`. False: it moved (a check-out, a finished rotation, another sweep).
    fn mark_started(
        &self,
        account: &AccountId,
        due: &str,
        execution: &str,
    ) -> impl Future<Output = Result<bool, LambdaError>> + Send;

    /// Sets the next due date after rotation `execution` ended (and, when `rotated_at` is
    /// given, marks the account rotated then), forgetting the recorded execution, only if
    /// `execution` owns the schedule or nobody does; otherwise (or with no account) nothing
    /// changes and it still succeeds. Idempotent.
    fn reschedule(
        &self,
        account: &AccountId,
        execution: &str,
        next_due: DateTime<Utc>,
        reason: RotationReason,
        rotated_at: Option<DateTime<Utc>>,
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;
}
