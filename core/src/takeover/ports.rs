//! What the takeover talks to: AWS's account API ([`PrimaryEmail`]), the registry item that
//! holds its progress ([`TakeoverStore`]), root sessions, mail waits, transient secrets, the
//! vault (metadata only), Step Functions and the audit log, bundled as [`TakeoverPorts`].

use std::future::Future;

use secrecy::SecretString;

use super::record::{Expect, Takeover};
use crate::audit::{AuditEntry, AuditLog};
use crate::enforcement::ports::RootCredentials;
use crate::error::Classify;
use crate::executions::Executions;
use crate::registry::Account;
use crate::vault::{TransientStore, Vault};
use crate::workflows::WorkflowWaits;
use crate::{AccountId, Clock, ErrorType, LambdaError, RootEmail};

/// What AWS's account API can answer to a primary-email call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrimaryEmailError {
    /// `ConflictException`: the address belongs to another AWS account (or an update of another
    /// address is in progress).
    #[error("AWS refused the address: {0}")]
    Conflict(String),
    /// The one-time code was refused (wrong, expired, or no update pending for it).
    #[error("AWS refused the one-time code: {0}")]
    WrongCode(String),
    #[error("account API unavailable: {0}")]
    Unavailable(String),
    /// Any other refusal (access denied, invalid request).
    #[error("account API refused the call: {0}")]
    Refused(String),
}

impl Classify for PrimaryEmailError {
    fn error_type(&self) -> ErrorType {
        match self {
            PrimaryEmailError::Conflict(_) => ErrorType::EmailConflict,
            PrimaryEmailError::WrongCode(_) => ErrorType::WrongCode,
            PrimaryEmailError::Unavailable(_) => ErrorType::TransientAwsError,
            PrimaryEmailError::Refused(_) => ErrorType::AwsError,
        }
    }
}

impl From<PrimaryEmailError> for LambdaError {
    fn from(e: PrimaryEmailError) -> Self {
        LambdaError::from_classified(&e)
    }
}

/// A member account's root (primary) email address (`account:*PrimaryEmail*`).
pub trait PrimaryEmail: Send + Sync {
    fn get(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<RootEmail, PrimaryEmailError>> + Send;
    /// Asks AWS to change it to `address`; AWS mails a one-time code to `address`. Asking again
    /// sends a new code.
    fn start_update(
        &self,
        account: &AccountId,
        address: &RootEmail,
    ) -> impl Future<Output = Result<(), PrimaryEmailError>> + Send;
    /// Completes the change with the code AWS mailed. The code is never logged.
    fn accept_update(
        &self,
        account: &AccountId,
        address: &RootEmail,
        code: &SecretString,
    ) -> impl Future<Output = Result<(), PrimaryEmailError>> + Send;
    /// Where the account's latest update stands (`GetPrimaryEmailUpdateStatus`); `None` when
    /// none was ever started. Unlike `get`, not subject to the change's propagation (AWS: up to
    /// four hours), so it tells whether an earlier accept got through.
    fn update_status(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<UpdateStatus>, PrimaryEmailError>> + Send;
}

/// `GetPrimaryEmailUpdateStatus`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateStatus {
    /// Started; the code not yet accepted.
    Pending,
    /// The code was accepted (`ACCEPTED`, then `COMPLETED` once it has propagated).
    Accepted,
    /// The code expired unused.
    Failed,
    /// A status this code does not know: never read as "not accepted".
    Other(String),
}

/// The registry item with the takeover's progress. Every write is the item and its audit
/// record in one transaction, conditional on [`Expect`].
pub trait TakeoverStore: Send + Sync {
    /// The account's registry record and its takeover progress (None: never taken over).
    fn get(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<(Account, Option<Takeover>)>, LambdaError>> + Send;
    /// The account registered under `address`, if any.
    fn address_owner(
        &self,
        address: &RootEmail,
    ) -> impl Future<Output = Result<Option<AccountId>, LambdaError>> + Send;
    /// Writes `account` with `takeover` and appends `record`, all or nothing, if `expect` holds.
    /// `Ok(false)`: the condition failed, nothing was written.
    fn save(
        &self,
        account: &Account,
        takeover: &Takeover,
        expect: &Expect,
        record: &AuditEntry,
    ) -> impl Future<Output = Result<bool, LambdaError>> + Send;
}

/// Everything the takeover use cases talk to.
pub trait TakeoverPorts: Send + Sync {
    type Email: PrimaryEmail;
    type Store: TakeoverStore;
    type Root: RootCredentials;
    type Waits: WorkflowWaits;
    type Transient: TransientStore;
    type Vault: Vault;
    type Executions: Executions;
    type Audit: AuditLog;

    fn email(&self) -> &Self::Email;
    fn store(&self) -> &Self::Store;
    fn root(&self) -> &Self::Root;
    fn waits(&self) -> &Self::Waits;
    fn transient(&self) -> &Self::Transient;
    fn vault(&self) -> &Self::Vault;
    fn executions(&self) -> &Self::Executions;
    fn audit(&self) -> &Self::Audit;
    fn clock(&self) -> &dyn Clock;
    /// Who acts (audit `actor`): the Lambda's name, or the operator's ARN for `start`.
    fn actor(&self) -> &str;
    /// `ROOTWARDEN_ROOT_MAIL_DOMAIN`.
    fn root_mail_domain(&self) -> &str;
    /// A fresh address tag (a twin may fix it).
    fn random_tag(&self) -> String {
        super::address::tag(&mut rand::thread_rng())
    }
}
