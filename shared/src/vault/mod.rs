//! The vault. This first part keeps credentials that arrive by mail (password-reset links,
//! verification codes): encrypted under KMS with an encryption context naming account, kind and
//! source, with a short expiry, for authorized retrieval later. Plaintext never reaches DynamoDB,
//! logs or errors. (Root passwords and MFA seeds, with versions and stages, come next.)

mod transient;

use chrono::Duration;

pub use transient::{KmsTransientStore, StoredTransient, TransientError, TransientStore};

use crate::mail::SecretKind;

/// How long a transient secret may be retrieved: reset links 24 h, codes 15 min.
pub fn ttl(kind: SecretKind) -> Duration {
    match kind {
        SecretKind::PasswordResetLink => Duration::hours(24),
        SecretKind::VerificationCode => Duration::minutes(15),
    }
}
