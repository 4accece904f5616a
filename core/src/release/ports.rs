//! What a release talks to: AWS Organizations ([`Organizations`]), the account's contacts
//! ([`AccountContacts`]), the account from inside (handshakes, [`MemberAccount`]), the
//! certificate key ([`CertificateSigner`]), the registry item with the release's progress
//! ([`ReleaseStore`]), the vault's destruction ([`VaultShredder`]), the access ledger
//! ([`ReleaseAccess`]), plus the ports it shares with the takeover (primary email, root
//! sessions, waits, transient secrets, executions, audit), bundled as [`ReleasePorts`].

use std::future::Future;

use chrono::{DateTime, Utc};

use super::record::{Expect, Release};
use crate::access::AccessRequest;
use crate::audit::{AuditEntry, AuditLog};
use crate::enforcement::ports::RootCredentials;
use crate::error::Classify;
use crate::executions::Executions;
use crate::registry::Account;
use crate::takeover::PrimaryEmail;
use crate::vault::{TransientStore, Vault};
use crate::workflows::WorkflowWaits;
use crate::{AccountId, Clock, ErrorType, LambdaError};

/// What AWS Organizations can answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrganizationsError {
    /// `ConstraintViolationException` `CLOSE_ACCOUNT_QUOTA_EXCEEDED`.
    #[error("the account closure quota is used up: {0}")]
    CloseQuotaExceeded(String),
    /// A handshake could not be accepted for a reason the customer or operator must fix
    /// (`HandshakeConstraintViolationException`, Control Tower's deny, not `ACTIVE`).
    #[error("the transfer cannot proceed: {0}")]
    Precondition(String),
    #[error("Organizations unavailable: {0}")]
    Unavailable(String),
    /// Any other refusal (access denied, invalid request).
    #[error("Organizations refused the call: {0}")]
    Refused(String),
}

impl Classify for OrganizationsError {
    fn error_type(&self) -> ErrorType {
        match self {
            OrganizationsError::CloseQuotaExceeded(_) => ErrorType::CloseQuotaExceeded,
            OrganizationsError::Precondition(_) => ErrorType::TransferPreconditionFailed,
            OrganizationsError::Unavailable(_) => ErrorType::TransientAwsError,
            OrganizationsError::Refused(_) => ErrorType::AwsError,
        }
    }
}

impl From<OrganizationsError> for LambdaError {
    fn from(e: OrganizationsError) -> Self {
        LambdaError::from_classified(&e)
    }
}

/// A member account's status as `DescribeAccount` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberStatus {
    Active,
    PendingClosure,
    Suspended,
}

impl MemberStatus {
    /// AWS's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Active => "ACTIVE",
            MemberStatus::PendingClosure => "PENDING_CLOSURE",
            MemberStatus::Suspended => "SUSPENDED",
        }
    }
}

/// A member of our organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub status: MemberStatus,
    /// When it joined (or was created in) our organization.
    pub joined_at: DateTime<Utc>,
}

/// Our organization, as its management account sees it (`organizations:*`).
pub trait Organizations: Send + Sync {
    /// `DescribeAccount`; `None`: not a member (any more): `AccountNotFoundException`.
    fn describe(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<Member>, OrganizationsError>> + Send;
    /// `CloseAccount`. An account already closed or closing counts as done.
    fn close(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<(), OrganizationsError>> + Send;
    /// Our organization's partition (`aws`, `aws-cn`, `aws-us-gov`): its region group.
    fn partition(&self) -> &str;
}

/// A primary or alternate contact: name, phone, and (alternate contacts) email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
}

/// The account's contacts (`account:PutContactInformation`, `account:PutAlternateContact`),
/// called from the management account for a member.
pub trait AccountContacts: Send + Sync {
    /// Replaces the primary contact's name and phone (the postal address stays).
    fn put_primary(
        &self,
        account: &AccountId,
        contact: &Contact,
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;
    /// Sets the BILLING, OPERATIONS and SECURITY alternate contacts to `contact`.
    fn put_alternates(
        &self,
        account: &AccountId,
        contact: &Contact,
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;
}

/// An invitation to another organization, as the invited account sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub handshake_id: String,
    pub handshake_arn: String,
    /// The inviting organization (`o-…`).
    pub organization_id: String,
    /// `OPEN`, `ACCEPTED`, `DECLINED`, `CANCELED`, `EXPIRED`, `REQUESTED`.
    pub state: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The account from inside, through the member role the template documents
/// (`RootWardenReleaseMemberRole`, assumed by the release function).
pub trait MemberAccount: Send + Sync {
    /// `ListHandshakesForAccount`: invitations to this account.
    fn invitations(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Vec<Invitation>, OrganizationsError>> + Send;
    /// `AcceptHandshake`. Accepting one already accepted counts as done.
    fn accept(
        &self,
        account: &AccountId,
        handshake_id: &str,
    ) -> impl Future<Output = Result<(), OrganizationsError>> + Send;
    /// Whether AWS Control Tower still manages the account (its `AWSControlTowerExecution`
    /// role exists).
    fn control_tower_enrolled(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<bool, LambdaError>> + Send;
}

/// A signature by the certificate key (`kms:Sign`, ECDSA P-256 SHA-256, raw message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub key_id: String,
    /// `ECDSA_SHA_256`.
    pub algorithm: String,
    /// DER, as KMS returns it.
    pub der: Vec<u8>,
}

/// The handover certificate key.
pub trait CertificateSigner: Send + Sync {
    fn sign(&self, message: &[u8]) -> impl Future<Output = Result<Signature, LambdaError>> + Send;
    /// The public key (DER SubjectPublicKeyInfo, `kms:GetPublicKey`).
    fn public_key(&self) -> impl Future<Output = Result<Vec<u8>, LambdaError>> + Send;
}

/// The registry item with the release's progress. Every write is the item and its audit
/// record in one transaction, conditional on [`Expect`].
pub trait ReleaseStore: Send + Sync {
    /// The account's registry record and its release (None: never released), consistent read.
    fn get(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<(Account, Option<Release>)>, LambdaError>> + Send;
    /// Writes `account` with `release` and appends `record`, all or nothing, if `expect`
    /// holds. `Ok(false)`: the condition failed, nothing was written.
    fn save(
        &self,
        account: &Account,
        release: &Release,
        expect: &Expect,
        record: &AuditEntry,
    ) -> impl Future<Output = Result<bool, LambdaError>> + Send;
    /// When Root Warden called `CloseAccount` (a closure's point of no return) since `since`:
    /// what the closure quota counts.
    fn closures_since(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<DateTime<Utc>>, LambdaError>> + Send;
    /// Closed accounts whose vault is due for destruction (`shred_after` ≤ `now`, not yet
    /// shredded), and closed accounts still inside their window (a reinstatement check).
    fn closed(&self) -> impl Future<Output = Result<Vec<(Account, Release)>, LambdaError>> + Send;
    /// The certificate issued for `account`'s release (JSON), if any.
    fn certificate(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<String>, LambdaError>> + Send;
    /// Stores the certificate (idempotent: the same bytes again is a no-op).
    fn put_certificate(
        &self,
        account: &AccountId,
        certificate: &str,
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;
}

/// Crypto-shredding: every sealed version of the account's root password and MFA seed, and its
/// transient secrets, deleted (the ciphertexts are gone; KMS cannot bring them back).
pub trait VaultShredder: Send + Sync {
    /// Deletes them after appending `record` (fail closed: no record, nothing deleted). Returns
    /// how many items were deleted; a retry after a partial run deletes the rest.
    fn shred(
        &self,
        account: &AccountId,
        record: &AuditEntry,
    ) -> impl Future<Output = Result<u32, LambdaError>> + Send;
}

/// The access ledger as a release sees it.
pub trait ReleaseAccess: Send + Sync {
    /// The access request `id` (the release's approval), if any.
    fn request(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<AccessRequest>, LambdaError>> + Send;
    /// Revokes every open request and check-out of `account` (each audited), returning their
    /// ids. Idempotent.
    fn revoke_open(
        &self,
        account: &AccountId,
        note: &str,
    ) -> impl Future<Output = Result<Vec<String>, LambdaError>> + Send;
}

/// Everything the release use cases talk to.
pub trait ReleasePorts: Send + Sync {
    type Orgs: Organizations;
    type Contacts: AccountContacts;
    type Member: MemberAccount;
    type Email: PrimaryEmail;
    type Root: RootCredentials;
    type Signer: CertificateSigner;
    type Store: ReleaseStore;
    type Shredder: VaultShredder;
    type Access: ReleaseAccess;
    type Waits: WorkflowWaits;
    type Transient: TransientStore;
    type Vault: Vault;
    type Executions: Executions;
    type Audit: AuditLog;

    fn orgs(&self) -> &Self::Orgs;
    fn contacts(&self) -> &Self::Contacts;
    fn member(&self) -> &Self::Member;
    fn email(&self) -> &Self::Email;
    fn root(&self) -> &Self::Root;
    fn signer(&self) -> &Self::Signer;
    fn store(&self) -> &Self::Store;
    fn shredder(&self) -> &Self::Shredder;
    fn access(&self) -> &Self::Access;
    fn waits(&self) -> &Self::Waits;
    fn transient(&self) -> &Self::Transient;
    fn vault(&self) -> &Self::Vault;
    fn executions(&self) -> &Self::Executions;
    fn audit(&self) -> &Self::Audit;
    fn clock(&self) -> &dyn Clock;
    /// Who acts (audit `actor`): the Lambda's name, or the operator's ARN.
    fn actor(&self) -> &str;
}
