//! What enforcement talks to, as ports: root sessions on member accounts ([`RootCredentials`],
//! [`RootSession`]), the registry ([`PostureRegistry`]), the operators' task tickets
//! ([`EnforcementTickets`]), the audit log, and the bundle a use case takes
//! ([`EnforcementPorts`]).

use std::future::Future;

use super::posture::{Posture, Removal};
use crate::audit::AuditLog;
use crate::registry::posture::PostureRegistry;
use crate::tickets::{Ticket, TicketError};
use crate::{AccountId, Clock, LambdaError};

/// Root sessions are as short as AWS allows (900 s is its maximum).
pub const ROOT_SESSION_SECONDS: i32 = 900;

/// The AWS managed task policies a root session is scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskPolicy {
    AuditRootUserCredentials,
    DeleteRootUserCredentials,
    CreateRootUserPassword,
}

impl TaskPolicy {
    pub fn name(self) -> &'static str {
        match self {
            TaskPolicy::AuditRootUserCredentials => "IAMAuditRootUserCredentials",
            TaskPolicy::DeleteRootUserCredentials => "IAMDeleteRootUserCredentials",
            TaskPolicy::CreateRootUserPassword => "IAMCreateRootUserPassword",
        }
    }
    pub fn arn(self) -> String {
        format!("arn:aws:iam::aws:policy/root-task/{}", self.name())
    }
}

/// A short session acting as one account's root user, scoped to one [`TaskPolicy`]; what it may
/// do is what its policy allows (others are refused: `AccessDenied`).
pub trait RootSession: Send + Sync {
    /// The root user's access keys, signing certificates, MFA devices and login profile
    /// (audit and delete sessions).
    fn posture(&self) -> impl Future<Output = Result<Posture, LambdaError>> + Send;

    /// Removes one root credential (delete sessions). Removing what is already gone (an
    /// earlier, interrupted run) counts as done.
    fn remove(&self, removal: &Removal) -> impl Future<Output = Result<(), LambdaError>> + Send;

    /// Creates a login profile without a password (password-creation sessions). False when the
    /// root user already had one (nothing created).
    fn create_login_profile(&self) -> impl Future<Output = Result<bool, LambdaError>> + Send;
}

/// Opens root sessions (`sts:AssumeRoot`).
pub trait RootCredentials: Send + Sync {
    type Session: RootSession;

    /// A session acting as `account`'s root user, scoped to `policy`, for
    /// [`ROOT_SESSION_SECONDS`].
    fn open(
        &self,
        account: &AccountId,
        policy: TaskPolicy,
    ) -> impl Future<Output = Result<Self::Session, LambdaError>> + Send;
}

/// The operators' task tickets enforcement opens (removals and drift).
pub trait EnforcementTickets: Send + Sync {
    /// Opens `ticket` unless a ticket with its id exists (then that one is returned), with its
    /// audit record (`ticket.created`, actor `actor`) in the same transaction.
    fn open_task(
        &self,
        ticket: &Ticket,
        actor: &str,
        correlation_id: &str,
    ) -> impl Future<Output = Result<Ticket, TicketError>> + Send;
}

/// Everything an enforcement use case talks to.
pub trait EnforcementPorts: Send + Sync {
    type Registry: PostureRegistry;
    type Root: RootCredentials;
    type Tickets: EnforcementTickets;
    type Audit: AuditLog;

    fn registry(&self) -> &Self::Registry;
    fn root(&self) -> &Self::Root;
    fn tickets(&self) -> &Self::Tickets;
    fn audit(&self) -> &Self::Audit;
    fn clock(&self) -> &dyn Clock;
    /// Who acts (audit `actor`): the Lambda's name or the operator's ARN.
    fn actor(&self) -> &str;
    /// How many accounts a fleet run enforces at once (at least one).
    fn concurrency(&self) -> usize;
}
