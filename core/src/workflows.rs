//! The correlation port: a workflow waiting for root mail (a rotation waiting for AWS's
//! "password changed" mail, a takeover waiting for the root email change's verification code,
//! AWS's password reset mail or its "MFA device added" mail, a closing release waiting for
//! AWS's "account closed" mail) registers its Step
//! Functions task token here; authenticated, non-quarantined mail of that kind for that account
//! completes it.
//!
//! Record (DynamoDB, workflows table): pk `wait#<account>`, sk `<kind>#<execution>`;
//! `task_token`, `execution`, `kind`, `registered_at` and `expires_at` (RFC 3339; enforced in
//! code), `ttl` (epoch seconds, cleanup only), `claimed_by` (the SES delivery that earned it).
//! Which mail may complete a wait is decided by `mail::workflow_trust`. The delivery that earned
//! a wait claims it (a conditional write: one delivery wins) before it writes its ticket;
//! completion is `SendTaskSuccess` then delete, so a retry of that delivery completes again; a
//! token Step Functions no longer knows (timed out, already completed) just removes the record.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::mail::Category;
use crate::{AccountId, LambdaError};

/// Kinds a workflow can wait for. `Mfa`: the takeover's `await-mfa`, which only the
/// operator's `account mfa-seed` completes (see [`MAIL_COMPLETES`]).
pub const WAITABLE: [Category; 5] = [
    Category::PasswordChanged,
    Category::VerificationCode,
    Category::PasswordReset,
    Category::Mfa,
    Category::AccountClosed,
];

/// Kinds whose wait authentic AWS mail may complete. Not `Mfa`: AWS's "MFA device added"
/// mail comes the moment a device is enrolled, before its seed is in the vault, and the wait is
/// for the seed (its mail is ticketed like any other root mail, which records it).
pub const MAIL_COMPLETES: [Category; 4] = [
    Category::PasswordChanged,
    Category::VerificationCode,
    Category::PasswordReset,
    Category::AccountClosed,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    pub account: AccountId,
    pub kind: Category,
    pub execution: String,
    pub task_token: String,
    pub expires_at: DateTime<Utc>,
    /// When the wait was registered: mail received before it cannot be meant for it.
    pub registered_at: DateTime<Utc>,
    /// The SES delivery that claimed this wait (it passed every check), if one did.
    pub claimed_by: Option<String>,
}

pub trait WorkflowWaits: Send + Sync {
    fn register(&self, wait: &Wait) -> impl Future<Output = Result<(), LambdaError>> + Send;
    /// Unexpired waits for this account and kind.
    fn waiting(
        &self,
        account: &AccountId,
        kind: Category,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Wait>, LambdaError>> + Send;
    /// Removes a wait without completing it (its workflow moved on). Idempotent.
    fn remove(
        &self,
        account: &AccountId,
        kind: Category,
        execution: &str,
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;
    /// Records that the delivery `ses_message_id` earned this wait, unless another delivery
    /// claimed it first or it is gone. `true`: it is this delivery's (also on a retry).
    fn claim(
        &self,
        wait: &Wait,
        ses_message_id: &str,
    ) -> impl Future<Output = Result<bool, LambdaError>> + Send;
    /// Completes the waiting task with `output` and removes the record.
    fn complete(
        &self,
        wait: &Wait,
        output: &serde_json::Value,
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;
}
