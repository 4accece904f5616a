//! The credential vault: root passwords and MFA TOTP seeds, in numbered versions with stages,
//! encrypted under KMS. The `Vault` port; the stage moves are decided in [`super::stages`].
//!
//! Items (vault table), per account and kind, pk `cred#<account>#<kind>`:
//! - sk `head`: `current` (N; absent while no version is current yet: a takeover's first
//!   password is staged `pending` on an account where nothing was vaulted, and becomes current
//!   only when its apply is confirmed), `current_execution` (S, the rotation that made it
//!   current), `current_since` (S, absent with `current`), `previous` (N, optional), `pending` (N, optional),
//!   `pending_execution` (S, optional), `next_version` (N), `updated_at` (S).
//! - sk `v#<10-digit version>`: `version` (N), `stage` (`pending|current|previous|retired|
//!   discarded`), `ciphertext` (B), `created_at`, `stage_changed_at`, `execution` (S, optional).
//!
//! Versions are never deleted: `retired` (superseded twice) and `discarded` (a pending version
//! that was never confirmed) keep their ciphertext, so a password that was applied but never
//! confirmed can still be recovered by an administrator.
//!
//! Every stage move is one `TransactWriteItems` holding the head update (conditioned on the head
//! the caller read), the version items' stage updates (each conditioned on its old stage) and
//! the audit record: two writers for one account → exactly one wins, the other gets
//! [`VaultError::Conflict`]; the audit record is written with the change or the change does not
//! happen (fail closed). The KMS encryption context of every version is
//! `{rootwarden:account, rootwarden:kind, rootwarden:version}`: a ciphertext copied to another
//! version, kind or account does not decrypt.

use std::future::Future;

use secrecy::SecretString;
use serde::Serialize;

use crate::audit::AuditError;
use crate::error::Classify;
use crate::{AccountId, ErrorType};

/// What is vaulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialKind {
    RootPassword,
    MfaSeed,
}

impl CredentialKind {
    pub const ALL: [CredentialKind; 2] = [CredentialKind::RootPassword, CredentialKind::MfaSeed];

    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::RootPassword => "root-password",
            CredentialKind::MfaSeed => "mfa-seed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Pending,
    Current,
    Previous,
    Retired,
    Discarded,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Pending => "pending",
            Stage::Current => "current",
            Stage::Previous => "previous",
            Stage::Retired => "retired",
            Stage::Discarded => "discarded",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Stage::Pending,
            Stage::Current,
            Stage::Previous,
            Stage::Retired,
            Stage::Discarded,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// The stage pointers of one account's credential of one kind. Safe to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    /// `None` until a first version becomes current (a takeover vaults its first root
    /// password as `pending`: [`Head::first_pending`](super::stages)).
    pub current: Option<u32>,
    pub current_execution: Option<String>,
    pub current_since: String,
    pub previous: Option<u32>,
    pub pending: Option<u32>,
    pub pending_execution: Option<String>,
    pub next_version: u32,
}

/// One version's metadata. Safe to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionInfo {
    pub version: u32,
    pub stage: Stage,
    pub created_at: String,
    pub stage_changed_at: String,
    pub execution: Option<String>,
}

/// Who changes the vault and why: goes into the audit record.
#[derive(Debug, Clone)]
pub struct Actor {
    pub actor: String,
    pub correlation_id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// A concurrent writer changed the stages first; re-read and decide again.
    #[error("vault conflict: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("vault unavailable: {message}")]
    Unavailable {
        message: String,
        error_type: ErrorType,
    },
    /// KMS refused (wrong encryption context, disabled key, access denied).
    #[error("vault key refused the operation: {message}")]
    Key { message: String },
    #[error("stored credential is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl Classify for VaultError {
    fn error_type(&self) -> ErrorType {
        match self {
            VaultError::Conflict(_) => ErrorType::Conflict,
            VaultError::NotFound(_) => ErrorType::NotFound,
            VaultError::Unavailable { error_type, .. } => *error_type,
            VaultError::Key { .. } => ErrorType::AwsError,
            VaultError::Corrupt(_) => ErrorType::InternalError,
            VaultError::Audit(e) => e.error_type(),
            VaultError::Invalid(_) => ErrorType::ValidationError,
        }
    }
}

impl From<VaultError> for crate::LambdaError {
    fn from(e: VaultError) -> Self {
        crate::LambdaError::from_classified(&e)
    }
}

/// The vault port.
pub trait Vault: Send + Sync {
    /// Stage pointers, or `None` if nothing is vaulted for this account and kind.
    fn head(
        &self,
        account: &AccountId,
        kind: CredentialKind,
    ) -> impl Future<Output = Result<Option<Head>, VaultError>> + Send;

    /// Every version, oldest first (metadata only).
    fn versions(
        &self,
        account: &AccountId,
        kind: CredentialKind,
    ) -> impl Future<Output = Result<Vec<VersionInfo>, VaultError>> + Send;

    /// Decrypts a version (`None`: the current one; `NotFound` when none is current).
    fn reveal(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        version: Option<u32>,
    ) -> impl Future<Output = Result<(VersionInfo, SecretString), VaultError>> + Send;

    /// The current version of each of `kinds`, decrypted, in the order asked (`None` for a kind
    /// with nothing current, or nothing vaulted). The default reads each head and reveals its
    /// current version; a store that can batch its reads overrides it.
    fn reveal_current(
        &self,
        account: &AccountId,
        kinds: &[CredentialKind],
    ) -> impl Future<Output = Result<Vec<Option<(VersionInfo, SecretString)>>, VaultError>> + Send
    {
        async move {
            let mut found = Vec::with_capacity(kinds.len());
            for &kind in kinds {
                let current = self.head(account, kind).await?.and_then(|h| h.current);
                found.push(match current {
                    Some(v) => Some(self.reveal(account, kind, Some(v)).await?),
                    None => None,
                });
            }
            Ok(found)
        }
    }

    /// Stores `secret` as the pending version for rotation `execution`; where nothing is vaulted
    /// yet it becomes version 1, pending, with no current (a takeover's first password: the
    /// caller decides whether that is allowed). Idempotent per execution: if that execution already has a pending version it is returned unchanged
    /// (`created` = false) and `secret` is dropped. A pending version of another execution →
    /// `Conflict`.
    fn stage_pending(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        execution: &str,
        secret: &SecretString,
        actor: &Actor,
    ) -> impl Future<Output = Result<(u32, bool), VaultError>> + Send;

    /// [`Vault::stage_pending`] deciding on `head`, which the caller has just read with
    /// [`Vault::head`], instead of reading it again. The write stays conditional on what the
    /// decision needs of the head, so a head that changed since loses like any concurrent
    /// writer. The default ignores `head` (a store whose reads cost nothing).
    fn stage_pending_on(
        &self,
        head: Option<&Head>,
        account: &AccountId,
        kind: CredentialKind,
        execution: &str,
        secret: &SecretString,
        actor: &Actor,
    ) -> impl Future<Output = Result<(u32, bool), VaultError>> + Send {
        let _ = head;
        self.stage_pending(account, kind, execution, secret, actor)
    }

    /// pending → current, current (if any) → previous, previous → retired. The pending version
    /// must decrypt first. Idempotent: if `execution`'s version is already current, returns it.
    fn promote(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        execution: &str,
        actor: &Actor,
    ) -> impl Future<Output = Result<u32, VaultError>> + Send;

    /// pending → discarded for `execution`; `current` untouched. Idempotent: `None` when that
    /// execution has no pending version (already discarded, or never staged).
    fn discard_pending(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        execution: &str,
        actor: &Actor,
    ) -> impl Future<Output = Result<Option<u32>, VaultError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_errors_map_to_the_vocabulary() {
        assert_eq!(
            VaultError::Conflict("x".into()).error_type(),
            ErrorType::Conflict
        );
        assert_eq!(
            VaultError::Audit(AuditError::WriteFailed {
                message: "x".into()
            })
            .error_type(),
            ErrorType::AuditWriteFailed
        );
        assert_eq!(
            VaultError::Key {
                message: "x".into()
            }
            .error_type(),
            ErrorType::AwsError
        );
    }
}
