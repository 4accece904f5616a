//! `HmacDigestSigner`: the twin of `KmsDigestSigner`. The "signature" is HMAC-SHA256 under a
//! fixed test key: only this signer's own signatures over the same digest verify, and a
//! signature that is not one is `Ok(false)`, never an error, as KMS answers.

use hmac::{Hmac, Mac};
use rootwarden_core::audit::digest::{DigestError, DigestSigner, Signature, SIGNING_ALGORITHM};
use rootwarden_core::ErrorType;
use sha2::Sha256;

#[derive(Clone)]
pub struct HmacDigestSigner {
    key: Vec<u8>,
}

impl Default for HmacDigestSigner {
    fn default() -> Self {
        Self::new(b"rootwarden-testkit-digest-key")
    }
}

impl HmacDigestSigner {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self, digest: &[u8; 32]) -> Result<Hmac<Sha256>, DigestError> {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.key).map_err(|e| DigestError::Kms {
            message: e.to_string(),
            error_type: ErrorType::InternalError,
        })?;
        m.update(digest);
        Ok(m)
    }
}

impl DigestSigner for HmacDigestSigner {
    async fn sign(&self, digest: &[u8; 32]) -> Result<Signature, DigestError> {
        Ok(Signature {
            bytes: self.mac(digest)?.finalize().into_bytes().to_vec(),
            key_id: "testkit/hmac".into(),
            algorithm: SIGNING_ALGORITHM.into(),
        })
    }

    async fn verify(&self, digest: &[u8; 32], signature: &[u8]) -> Result<bool, DigestError> {
        Ok(self.mac(digest)?.verify_slice(signature).is_ok())
    }
}
