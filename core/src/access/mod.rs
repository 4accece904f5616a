//! Break-glass access: who may request, approve and check out a root credential
//! ([`policy`]), who a caller is ([`identity`]), the request and lock as recorded ([`record`]),
//! and the decisions, as pure rules over plain data: opening, approving and denying
//! ([`approval`]), checking out, in and revoking ([`checkout`]), expiring ([`expiry`]). Each
//! refusal is a [`Refusal`].

pub mod approval;
pub mod checkout;
pub mod expiry;
pub mod identity;
pub mod policy;
pub mod record;
pub mod refusal;

#[cfg(test)]
mod tests;

pub use approval::{may_approve, may_deny, may_request, Terms, ROTATION_APPLY};
pub use checkout::{may_checkin, may_checkout, may_revoke, LockMove, LockState, Move};
pub use expiry::{approval_expired, may_expire, Expiry};
pub use identity::{Caller, Person};
pub use policy::{AccessPolicy, ReasonRule, Role};
pub use record::{AccessRequest, AccessStatus, Lock};
pub use refusal::Refusal;
