//! Why an access decision says no. Each refusal has the `error_type` and the message callers
//! (and the integration tests) have always seen. No refusal carries a secret.

use crate::registry::{AccountMode, AccountStatus};
use crate::{AccountId, ErrorType, LambdaError};

use super::record::AccessStatus;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    // Requesting.
    #[error("{caller} is not authorized to request root access")]
    NotARequester { caller: String },
    #[error("unknown reason {reason:?}; allowed: {}", .allowed.join(", "))]
    UnknownReason {
        reason: String,
        allowed: Vec<String>,
    },
    #[error("duration must be from 1 to {max_minutes} minutes for {reason}")]
    BadDuration { reason: String, max_minutes: u32 },
    #[error("a ticket reference is required")]
    NoTicket,
    #[error("ticket {ticket} belongs to another account")]
    TicketOfAnotherAccount { ticket: String },
    #[error("ticket {ticket} does not exist and does not match the external ticket pattern")]
    UnknownTicket { ticket: String },
    #[error("account {account} is not registered")]
    AccountNotRegistered { account: AccountId },
    #[error(
        "account {account} is {} and {}: nothing to check out",
        .status.as_str(),
        .mode.as_str()
    )]
    NothingToCheckOut {
        account: AccountId,
        status: AccountStatus,
        mode: AccountMode,
    },
    #[error("no rotation of account {account} awaits its apply step")]
    NoRotationAwaitsApply { account: AccountId },

    // Releasing (reason `release`).
    #[error(
        "a release request needs its terms (exit, and the customer for a hand-back or transfer)"
    )]
    ReleaseTermsMissing,
    #[error("release terms go with reason release only, not {reason:?}")]
    ReleaseTermsWithoutRelease { reason: String },
    #[error("invalid release terms: {why}")]
    BadReleaseTerms { why: String },
    #[error(
        "a release is never self-service: dual control holds (reason release must not be \
         self_service in the access policy)"
    )]
    ReleaseNeedsDualControl,
    #[error(
        "account {account} is {}: only an active account can be released (or a stopped \
         release of it resumed)",
        .status.as_str()
    )]
    NotReleasable {
        account: AccountId,
        status: AccountStatus,
    },
    #[error("request {id} is a release: it shows no credential and is never checked out")]
    ReleaseShowsNoCredential { id: String },

    // Approving and denying.
    #[error("{caller} is not authorized to approve root access")]
    NotAnApprover { caller: String },
    #[error(
        "the requester cannot approve their own request ({caller} is the same person or \
         principal as the requester {requester})"
    )]
    OwnRequest { caller: String, requester: String },
    #[error("{caller} (or another session of the same person) already approved request {id}")]
    AlreadyApproved { caller: String, id: String },
    #[error("{caller} is not authorized to deny request {id}")]
    MayNotDeny { caller: String, id: String },

    // Checking out and in.
    #[error("only the requester can check out request {id}")]
    NotTheRequester { id: String },
    #[error("{caller} is no longer authorized to request root access")]
    NoLongerARequester { caller: String },
    #[error("the approval of request {id} expired ({ttl_minutes} minutes)")]
    ApprovalExpired { id: String, ttl_minutes: u32 },
    #[error("request {id} was not approved within {ttl_minutes} minutes: it lapsed; ask again")]
    RequestLapsed { id: String, ttl_minutes: u32 },
    #[error("request {id} was already checked out (secrets are shown once)")]
    AlreadyCheckedOut { id: String },
    #[error("account {account} is checked out by request {request_id} until {until}")]
    AccountCheckedOut {
        account: AccountId,
        request_id: String,
        until: String,
    },
    #[error("rotation-apply: {why}")]
    RotationApply { why: String },
    /// A `takeover` check-out's gate refused (no takeover rotation awaits its apply, its
    /// execution stopped, its deadline passed, or the account is no longer taken over).
    #[error("takeover: {why}")]
    Takeover { why: String },
    #[error("request {id} changed during check-out ({})", .status.as_str())]
    ChangedDuringCheckout { id: String, status: AccessStatus },
    #[error("only the requester or an admin can check in request {id}")]
    MayNotCheckIn { id: String },

    // Ending.
    #[error("{caller} is not an access admin")]
    NotAnAdmin { caller: String },
    #[error("request {id} is {} and not due to expire", .status.as_str())]
    NotDueToExpire { id: String, status: AccessStatus },

    /// The request is not in a state the action applies to.
    #[error("request {id} is {}", .status.as_str())]
    WrongState { id: String, status: AccessStatus },
}

impl Refusal {
    /// The `error_type` the refusal is reported as.
    pub fn error_type(&self) -> ErrorType {
        use Refusal::*;
        match self {
            NotARequester { .. }
            | NotAnApprover { .. }
            | OwnRequest { .. }
            | MayNotDeny { .. }
            | NotTheRequester { .. }
            | NoLongerARequester { .. }
            | ApprovalExpired { .. }
            | RequestLapsed { .. }
            | RotationApply { .. }
            | Takeover { .. }
            | ReleaseNeedsDualControl
            | ReleaseShowsNoCredential { .. }
            | MayNotCheckIn { .. }
            | NotAnAdmin { .. } => ErrorType::AccessDenied,
            UnknownReason { .. }
            | BadDuration { .. }
            | NoTicket
            | TicketOfAnotherAccount { .. }
            | NothingToCheckOut { .. }
            | NoRotationAwaitsApply { .. }
            | ReleaseTermsMissing
            | ReleaseTermsWithoutRelease { .. }
            | BadReleaseTerms { .. }
            | NotReleasable { .. } => ErrorType::ValidationError,
            UnknownTicket { .. } | AccountNotRegistered { .. } => ErrorType::NotFound,
            AlreadyApproved { .. }
            | AlreadyCheckedOut { .. }
            | AccountCheckedOut { .. }
            | ChangedDuringCheckout { .. }
            | NotDueToExpire { .. }
            | WrongState { .. } => ErrorType::Conflict,
        }
    }
}

impl From<Refusal> for LambdaError {
    fn from(r: Refusal) -> Self {
        LambdaError::new(r.error_type(), r.to_string())
    }
}
