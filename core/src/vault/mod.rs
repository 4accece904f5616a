//! The vault. Root passwords and MFA seeds live in numbered, staged versions
//! ([`credentials`]: the `Vault` port; [`stages`]: the pure stage machine that decides every
//! stage move); credentials that arrive by mail
//! (password-reset links, verification codes) are kept briefly ([`transient`]). Both are
//! encrypted under KMS with an encryption context; plaintext never reaches DynamoDB, logs or
//! errors. [`password`] generates root passwords; [`totp`] turns a vaulted seed into codes;
//! [`mfa_seed`] is the operator's `account mfa-seed` (an enrolled device's seed, vaulted).

pub mod credentials;
pub mod mfa_seed;
pub mod stages;
pub mod transient;

use chrono::Duration;

pub use credentials::{Actor, CredentialKind, Head, Stage, Vault, VaultError, VersionInfo};
pub use stages::{Decision, HeadCondition, NewVersion, Plan, StageMove, Subject};
pub use transient::{SealedTransient, StoredTransient, TransientError, TransientStore};

use crate::mail::SecretKind;

/// How long a transient secret may be retrieved: reset links 24 h, codes 15 min.
pub fn ttl(kind: SecretKind) -> Duration {
    match kind {
        SecretKind::PasswordResetLink => Duration::hours(24),
        SecretKind::VerificationCode => Duration::minutes(15),
    }
}

pub mod password;
pub mod totp;
