//! The digest key: the signing port and its KMS adapter (asymmetric, `ECDSA_SHA_256`,
//! `MessageType=DIGEST`).

use std::future::Future;

use super::DigestError;

/// The only algorithm digests are signed and verified with.
pub const SIGNING_ALGORITHM: &str = "ECDSA_SHA_256";

/// A signature from the digest key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub bytes: Vec<u8>,
    pub key_id: String,
    pub algorithm: String,
}

/// The digest key. Adapter: [`KmsDigestSigner`]; tests use a fake.
pub trait DigestSigner: Send + Sync {
    /// Signs a 32-byte SHA-256 digest.
    fn sign(
        &self,
        digest: &[u8; 32],
    ) -> impl Future<Output = Result<Signature, DigestError>> + Send;
    /// `Ok(false)` when the signature does not verify (however the service says so).
    fn verify(
        &self,
        digest: &[u8; 32],
        signature: &[u8],
    ) -> impl Future<Output = Result<bool, DigestError>> + Send;
}
