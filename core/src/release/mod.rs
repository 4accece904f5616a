//! Giving up custody of an account (`docs/release.md`): closure, hand-back (reverse
//! assumption) and transfer to the customer's organization. The use cases behind the release
//! Lambda's steps ([`run`]), the operator's `status`, `cancel` and `otp`, and the scheduled
//! crypto-shred, generic over [`ReleasePorts`].
//!
//! A release starts only from an access request with reason `release`, approved by someone
//! other than its requester (the access function checks both people as AWS authenticated them,
//! and starts the execution). The progress lives on the account's registry item (status
//! `releasing`, `release_*` attributes, [`Release`]). Every step checks the world first (so a
//! retry, or a new execution resuming a stopped release, converges) and writes its state change
//! and its audit record (`release.<step>`) in one transaction, conditional on the owning
//! execution and the step it read ([`Expect`]).

mod ports;
mod record;
pub mod steps;

pub use ports::{
    AccountContacts, CertificateSigner, Contact, Invitation, Member, MemberAccount, MemberStatus,
    Organizations, OrganizationsError, ReleaseAccess, ReleasePorts, ReleaseStore, Signature,
    VaultShredder,
};
pub use record::{Customer, Exit, Expect, Release, ReleaseStep, ReleaseTerms};
pub use steps::{StartInput, Step};

/// The access reason a release request carries.
pub const RELEASE_REASON: &str = "release";
/// Verification codes asked for again at most this often; then `CodeNotReceived`.
pub const MAX_RESENDS: u32 = 3;
/// AWS Support can reinstate a closed account for this many days; then the vault is shredded.
pub const REINSTATEMENT_DAYS: i64 = 90;
