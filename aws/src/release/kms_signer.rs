//! `KmsCertificateSigner`: the handover certificate key (`ROOTWARDEN_CERTIFICATE_KEY`, an
//! `ECC_NIST_P256` `SIGN_VERIFY` key): `kms:Sign` with `ECDSA_SHA_256` over the raw message (KMS
//! hashes it; a raw message is at most 4096 bytes, a certificate statement is far less) and
//! `kms:GetPublicKey` (DER SubjectPublicKeyInfo) for offline verification.
//!
//! An asymmetric `Sign` takes no encryption context (that exists only for symmetric
//! encryption): what the signature covers is the statement itself, which names the account.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};

use crate::release::{CertificateSigner, Signature};
use crate::sdk::sdk_error;
use crate::{ErrorType, LambdaError};

/// The certificate's signing algorithm (KMS's name).
pub const ALGORITHM: &str = "ECDSA_SHA_256";
/// `kms:Sign` takes at most this many bytes as a raw message.
pub const MAX_RAW_MESSAGE: usize = 4096;

#[derive(Clone)]
pub struct KmsCertificateSigner {
    kms: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsCertificateSigner {
    pub fn new(kms: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self {
            kms,
            key_id: key_id.into(),
        }
    }

    fn key(&self) -> Result<&str, LambdaError> {
        if self.key_id.is_empty() {
            return Err(LambdaError::new(
                ErrorType::ConfigError,
                "ROOTWARDEN_CERTIFICATE_KEY is not set: no certificate can be signed",
            ));
        }
        Ok(&self.key_id)
    }
}

impl CertificateSigner for KmsCertificateSigner {
    async fn sign(&self, message: &[u8]) -> Result<Signature, LambdaError> {
        if message.len() > MAX_RAW_MESSAGE {
            return Err(LambdaError::new(
                ErrorType::InternalError,
                format!(
                    "a certificate statement of {} bytes exceeds kms:Sign's raw message limit",
                    message.len()
                ),
            ));
        }
        let out = self
            .kms
            .sign()
            .key_id(self.key()?)
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| sdk_error("kms:Sign", &e))?;
        let der = out
            .signature()
            .map(|b| b.as_ref().to_vec())
            .filter(|d| !d.is_empty())
            .ok_or_else(|| {
                LambdaError::new(ErrorType::AwsError, "kms:Sign returned no signature")
            })?;
        Ok(Signature {
            key_id: out.key_id().unwrap_or(&self.key_id).to_owned(),
            algorithm: ALGORITHM.to_owned(),
            der,
        })
    }

    async fn public_key(&self) -> Result<Vec<u8>, LambdaError> {
        let out = self
            .kms
            .get_public_key()
            .key_id(self.key()?)
            .send()
            .await
            .map_err(|e| sdk_error("kms:GetPublicKey", &e))?;
        out.public_key()
            .map(|b| b.as_ref().to_vec())
            .filter(|d| !d.is_empty())
            .ok_or_else(|| {
                LambdaError::new(ErrorType::AwsError, "kms:GetPublicKey returned no key")
            })
    }
}
