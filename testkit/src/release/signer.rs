//! `MemoryCertificateSigner`: the twin of `KmsCertificateSigner`: a P-256 key generated in
//! memory, signing ECDSA with SHA-256 (DER signatures, as KMS returns them), its public key as
//! DER SubjectPublicKeyInfo (as `kms:GetPublicKey` returns it).

use std::sync::Arc;

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature as EcdsaSignature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use rootwarden_core::release::{CertificateSigner, Signature};
use rootwarden_core::{ErrorType, LambdaError};

#[derive(Clone)]
pub struct MemoryCertificateSigner {
    key: Arc<SigningKey>,
    pub key_id: String,
}

impl Default for MemoryCertificateSigner {
    fn default() -> Self {
        Self {
            key: Arc::new(SigningKey::random(&mut rand::thread_rng())),
            key_id: "arn:aws:kms:us-east-1:999988887777:key/certificate-twin".into(),
        }
    }
}

impl MemoryCertificateSigner {
    /// The public key, DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key
            .verifying_key()
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default()
    }
}

impl CertificateSigner for MemoryCertificateSigner {
    async fn sign(&self, message: &[u8]) -> Result<Signature, LambdaError> {
        let sig: EcdsaSignature = self.key.sign(message);
        Ok(Signature {
            key_id: self.key_id.clone(),
            algorithm: "ECDSA_SHA_256".into(),
            der: sig.to_der().as_bytes().to_vec(),
        })
    }

    async fn public_key(&self) -> Result<Vec<u8>, LambdaError> {
        let der = self.public_key_der();
        if der.is_empty() {
            return Err(LambdaError::new(ErrorType::InternalError, "no public key"));
        }
        Ok(der)
    }
}
