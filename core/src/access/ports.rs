//! What the access use cases talk to, as ports: the ledger of requests and check-out locks
//! ([`AccessLedger`]), the registry as access reads and marks it ([`AccessAccounts`]), the
//! tickets access checks and opens ([`AccessTickets`]), the rotation awaiting its apply step
//! ([`RotationLookup`]), and the bundle a use case takes ([`AccessPorts`]), which also names the
//! release state machines an approval starts.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::checkout::LockMove;
use super::policy::AccessPolicy;
use super::record::{AccessRequest, Lock};
use crate::audit::{AuditEntry, AuditLog};
use crate::config::ConfigError;
use crate::executions::Executions;
use crate::registry::{AccountMode, AccountStatus, RotationReason};
use crate::release::Exit;
use crate::rotation::RotationRecord;
use crate::tickets::{Ticket, TicketError};
use crate::vault::{TransientStore, Vault};
use crate::{AccountId, Clock, LambdaError};

/// One decided change, written whole or not at all: the request (as version
/// `request.version + 1`, conditional on the stored version still being `request.version`, or
/// on no request of that id existing when it is 0), what it does to the account's check-out
/// lock (taken only if free, released only if this request holds it), and its audit record.
#[derive(Debug, Clone, Copy)]
pub struct LedgerWrite<'a> {
    pub request: &'a AccessRequest,
    pub lock: LockMove,
    pub record: &'a AuditEntry,
}

/// What a [`LedgerWrite`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Done,
    /// The request changed under us, or the audit chain moved: nothing was written; re-read and
    /// retry.
    Retry,
    /// The account's lock is held by another request (or, on release, not by this one):
    /// nothing was written.
    Locked,
}

/// Access requests and check-out locks (the workflows table).
pub trait AccessLedger: Send + Sync {
    /// A request, with its stored version (strongly consistent).
    fn get(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<AccessRequest>, LambdaError>> + Send;
    /// The check-out lock of one account, if any.
    fn lock_of(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<Lock>, LambdaError>> + Send;
    /// Every check-out lock (the expiry job's view).
    fn locks(&self) -> impl Future<Output = Result<Vec<Lock>, LambdaError>> + Send;
    /// Requests of one account (`None`: all), newest first.
    fn list(
        &self,
        account: Option<&AccountId>,
    ) -> impl Future<Output = Result<Vec<AccessRequest>, LambdaError>> + Send;
    /// Writes the request, the lock move and the audit record in one transaction. A failure to
    /// write is `AuditWriteFailed` (or the classified error): nothing was written.
    fn write(
        &self,
        change: &LedgerWrite<'_>,
    ) -> impl Future<Output = Result<Written, LambdaError>> + Send;
}

/// The accounts registry as access reads and marks it.
pub trait AccessAccounts: Send + Sync {
    /// The account's status and credential mode, if registered.
    fn standing(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<(AccountStatus, AccountMode)>, LambdaError>> + Send;
    /// Marks an active vaulted account due for rotation now (an earlier due date is kept), and
    /// returns the standing it found: an account that is not active and vaulted (being
    /// released, suspended, ...) is not marked, and the caller learns so in the same call.
    fn mark_for_rotation(
        &self,
        account: &AccountId,
        now: DateTime<Utc>,
        reason: RotationReason,
    ) -> impl Future<Output = Result<(AccountStatus, AccountMode), LambdaError>> + Send;
}

/// Tickets as access sees them: an internal ticket a request names, and the review task a
/// self-service request opens.
pub trait AccessTickets: Send + Sync {
    fn ticket(&self, id: &str) -> impl Future<Output = Result<Option<Ticket>, TicketError>> + Send;
    /// Opens `ticket` unless one with its id exists (then that one is returned), with its audit
    /// record (`ticket.created`, actor `actor`) in the same transaction.
    fn open_task(
        &self,
        ticket: &Ticket,
        actor: &str,
        correlation_id: &str,
    ) -> impl Future<Output = Result<Ticket, TicketError>> + Send;
}

/// The rotation records as access reads them.
pub trait RotationLookup: Send + Sync {
    /// The rotation of `account` awaiting its apply step, if any.
    fn awaiting_apply(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<RotationRecord>, LambdaError>> + Send;
}

/// Everything an access use case talks to.
pub trait AccessPorts: Send + Sync {
    type Ledger: AccessLedger;
    type Accounts: AccessAccounts;
    type Vault: Vault;
    type Transient: TransientStore;
    type Tickets: AccessTickets;
    type Rotations: RotationLookup;
    type Executions: Executions;
    type Audit: AuditLog;

    fn ledger(&self) -> &Self::Ledger;
    fn accounts(&self) -> &Self::Accounts;
    fn vault(&self) -> &Self::Vault;
    fn transient(&self) -> &Self::Transient;
    fn tickets(&self) -> &Self::Tickets;
    fn rotations(&self) -> &Self::Rotations;
    /// Step Functions, asked whether a rotation's execution really runs before a
    /// `rotation-apply` check-out; `None`: that check-out is refused.
    fn executions(&self) -> Option<&Self::Executions>;
    /// Where refusals are recorded.
    fn audit(&self) -> &Self::Audit;
    fn clock(&self) -> &dyn Clock;
    fn policy(&self) -> &AccessPolicy;
    /// The state machine an approved release of `exit` starts (through [`Self::executions`]).
    /// Without one, the approval stands and its start fails with `ConfigError` naming the
    /// variable (approve again once configured).
    fn release_state_machine(&self, exit: Exit) -> Result<&str, ConfigError> {
        Err(ConfigError::Missing {
            var: super::release::state_machine_var(exit),
        })
    }
}
