//! What every access use case shares: the audit record of a decision, and the refusal of an
//! attempted action, recorded before it is returned.

use super::ports::AccessPorts;
use super::record::AccessRequest;
use super::refusal::Refusal;
use crate::audit::{AuditEntry, AuditLog, Outcome, Stream};
use crate::{AccountId, ErrorType, LambdaError};

/// The audit record of a decision about `r`.
pub(super) fn entry(
    caller: &str,
    account: &AccountId,
    action: &str,
    r: &AccessRequest,
) -> AuditEntry {
    AuditEntry::new(Stream::Account(account.clone()), caller, action)
        .target(&r.id)
        .correlation_id(&r.id)
        .detail("reason", r.reason.as_str())
        .detail("ticket", r.ticket.as_str())
        .detail("status", r.status.as_str())
}

/// One attempted action: its refusals are recorded under the caller, account and target.
pub(super) struct Attempt<'a, P> {
    pub ports: &'a P,
    pub caller: &'a str,
    pub account: &'a AccountId,
    pub action: &'static str,
    pub target: &'a str,
}

impl<P: AccessPorts> Attempt<'_, P> {
    /// Records the decided refusal, then returns it as the error ([`Self::refuse`]).
    pub async fn refused(&self, refusal: Refusal) -> LambdaError {
        self.refuse(refusal.error_type(), refusal.to_string()).await
    }

    /// Records the refusal (fail closed: if even that cannot be written, the caller gets
    /// `AuditWriteFailed`), then returns it as the error.
    pub async fn refuse(&self, error_type: ErrorType, why: impl Into<String>) -> LambdaError {
        let why = why.into();
        let record = AuditEntry::new(
            Stream::Account(self.account.clone()),
            self.caller,
            "access.refused",
        )
        .target(self.target)
        .outcome(Outcome::Denied)
        .reason(&why)
        .correlation_id(self.target)
        .detail("attempted", self.action);
        if let Err(e) = self.ports.audit().append(&record).await {
            return LambdaError::from_classified(&e);
        }
        tracing::warn!(
            caller = self.caller,
            attempted = self.action,
            target = self.target,
            error_type = error_type.as_str(),
            why = %why,
            "access refused"
        );
        LambdaError::new(error_type, why)
    }
}
