//! `KmsDigestSigner`: digests signed with an asymmetric KMS key.

use super::DigestError;
use crate::sdk::{classify_sdk_error, describe_sdk_error};
use crate::ErrorType;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use rootwarden_core::audit::digest::sign::*;

/// Signs and verifies with an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY).
#[derive(Clone)]
pub struct KmsDigestSigner {
    kms: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsDigestSigner {
    pub fn new(kms: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self {
            kms,
            key_id: key_id.into(),
        }
    }

    pub fn from_conf(sdk: &aws_types::SdkConfig, key_id: impl Into<String>) -> Self {
        Self::new(aws_sdk_kms::Client::new(sdk), key_id)
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

fn kms_error<E>(
    op: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> DigestError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
{
    DigestError::Kms {
        message: describe_sdk_error(op, e),
        error_type: classify_sdk_error(e),
    }
}

impl DigestSigner for KmsDigestSigner {
    async fn sign(&self, digest: &[u8; 32]) -> Result<Signature, DigestError> {
        let out = self
            .kms
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(digest.to_vec()))
            .message_type(MessageType::Digest)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| kms_error("kms:Sign", &e))?;
        let bytes = out
            .signature
            .map(Blob::into_inner)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| DigestError::Kms {
                message: "kms:Sign returned no signature".into(),
                error_type: ErrorType::AwsError,
            })?;
        Ok(Signature {
            bytes,
            key_id: out.key_id.unwrap_or_else(|| self.key_id.clone()),
            algorithm: out
                .signing_algorithm
                .map(|a| a.as_str().to_owned())
                .unwrap_or_else(|| SIGNING_ALGORITHM.to_owned()),
        })
    }

    async fn verify(&self, digest: &[u8; 32], signature: &[u8]) -> Result<bool, DigestError> {
        if signature.is_empty() {
            return Ok(false);
        }
        let out = self
            .kms
            .verify()
            .key_id(&self.key_id)
            .message(Blob::new(digest.to_vec()))
            .message_type(MessageType::Digest)
            .signature(Blob::new(signature.to_vec()))
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await;
        match out {
            Ok(out) => Ok(out.signature_valid()),
            // Real KMS says "invalid" with an exception; moto with SignatureValid=false.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_kms_invalid_signature_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(kms_error("kms:Verify", &e)),
        }
    }
}
