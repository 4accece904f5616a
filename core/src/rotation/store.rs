//! The `RotationStore` port: the rotation records (one per state-machine execution). Adapter:
//! `DynamoRotationStore` (workflows table, pk `rotation#<account>`, sk `<execution>`); twin:
//! `MemoryRotationStore`.
//!
//! Every write is conditional, so concurrent steps are resolved by the store, never by hope:
//! a record is created once (a second create returns the first, unchanged); a token is stored
//! only while the rotation awaits its apply step; a rotation ends once (ending it again the same
//! way succeeds, the other way is a `Conflict`), and an ended rotation never changes again.

use std::future::Future;

use super::record::{RotationRecord, RotationStage};
use crate::{AccountId, LambdaError};

pub trait RotationStore: Send + Sync {
    /// Creates the record of a prepared rotation; an existing record of that execution is
    /// returned unchanged (a retried prepare keeps the first one).
    fn create(
        &self,
        record: &RotationRecord,
    ) -> impl Future<Output = Result<RotationRecord, LambdaError>> + Send;

    fn get(
        &self,
        account: &AccountId,
        execution: &str,
    ) -> impl Future<Output = Result<Option<RotationRecord>, LambdaError>> + Send;

    /// Every rotation of an account, newest (`started_at`) first.
    fn list(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Vec<RotationRecord>, LambdaError>> + Send;

    /// Stores the await-apply step's task token and apply deadline, only while the rotation is
    /// `awaiting-apply` (otherwise, or with no record: `Conflict`).
    fn set_token(
        &self,
        account: &AccountId,
        execution: &str,
        token: &str,
        deadline: &str,
        now: &str,
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;

    /// Ends a rotation (`completed` with its new version, or `abandoned`) and drops its token;
    /// the first `outcome` stays. Idempotent: ending it again with the same stage succeeds; a
    /// rotation that ended the other way, or no record → `Conflict`.
    fn end(
        &self,
        account: &AccountId,
        execution: &str,
        stage: RotationStage,
        completed_version: Option<u32>,
        outcome: &str,
        now: &str,
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;
}
