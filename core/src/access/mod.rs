//! Break-glass access: who may request, approve and check out a root credential
//! ([`policy`]), who a caller is ([`identity`]), the request and lock as recorded ([`record`]),
//! and the decisions, as pure rules over plain data: opening, approving and denying
//! ([`approval`]), checking out, in and revoking ([`checkout`]), expiring ([`expiry`]). Each
//! refusal is a [`Refusal`].
//!
//! The use cases take one bundle of ports ([`ports::AccessPorts`]), look up what the decisions
//! need, write what they decide (request, lock move and audit record in one
//! [`ports::AccessLedger::write`]) and audit every refusal: opening, approving and denying
//! ([`request`], [`approve`], [`deny`]); checking out, in and revoking ([`checkout()`],
//! [`checkin`], [`revoke`]); the automatic check-in ([`expire_due`]). A check-out decrypts first
//! and shows nothing unless its ledger write (with its audit record) committed: fail closed.
//!
//! A request with reason `release` carries [`release`] terms, is never self-service nor checked
//! out, and its approval starts the release's workflow.

pub mod approval;
pub mod checkout;
pub mod expiry;
pub mod identity;
pub mod policy;
pub mod ports;
pub mod record;
pub mod refusal;
pub mod release;

mod attempt;
mod checkouts;
mod expire;
mod ledger;
mod requests;
mod reveal;

#[cfg(test)]
mod tests;

pub use approval::{may_approve, may_deny, may_request, Terms, ROTATION_APPLY, TAKEOVER};
pub use checkout::{may_checkin, may_checkout, may_revoke, LockMove, LockState, Move};
pub use expiry::{approval_expired, may_expire, Expiry};
pub use identity::{Caller, Person};
pub use policy::{AccessPolicy, ReasonRule, Role};
pub use record::{AccessRequest, AccessStatus, Lock};
pub use refusal::Refusal;

pub use checkouts::{checkin, checkout, revoke};
pub use expire::{expire_due, ExpiryReport};
pub use ledger::{get, list, locks};
pub use ports::{
    AccessAccounts, AccessLedger, AccessPorts, AccessTickets, LedgerWrite, RotationLookup, Written,
};
pub use requests::{approve, deny, request, NewRequest};
pub use reveal::Revealed;
