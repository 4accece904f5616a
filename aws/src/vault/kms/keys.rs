//! The vault's KMS calls. Every version is encrypted under the vault key with the encryption
//! context `{rootwarden:account, rootwarden:kind, rootwarden:version}`, so a ciphertext copied
//! to another version, kind or account does not decrypt.

use aws_sdk_kms::primitives::Blob;
use rootwarden_core::vault::credentials::{CredentialKind, VaultError};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;

use super::items::{ciphertext, version_key};
use super::KmsVault;
use crate::sdk::{classify_sdk_error, describe_sdk_error};
use crate::{AccountId, ErrorType};

/// A KMS failure: transient (retry) or the key refusing (disabled, wrong context, no grant).
fn kms_error<E>(
    operation: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> VaultError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
{
    let message = describe_sdk_error(operation, e);
    match classify_sdk_error(e) {
        ErrorType::TransientAwsError => VaultError::Unavailable {
            message,
            error_type: ErrorType::TransientAwsError,
        },
        _ => VaultError::Key { message },
    }
}

fn context(account: &AccountId, kind: CredentialKind, version: u32) -> HashMap<String, String> {
    HashMap::from([
        ("rootwarden:account".to_owned(), account.as_str().to_owned()),
        ("rootwarden:kind".to_owned(), kind.as_str().to_owned()),
        ("rootwarden:version".to_owned(), version.to_string()),
    ])
}

impl KmsVault {
    pub(super) async fn encrypt(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        version: u32,
        secret: &SecretString,
    ) -> Result<Blob, VaultError> {
        let out = self
            .kms
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(secret.expose_secret().as_bytes()))
            .set_encryption_context(Some(context(account, kind, version)))
            .send()
            .await
            .map_err(|e| kms_error("kms:Encrypt", &e))?;
        out.ciphertext_blob.ok_or_else(|| VaultError::Key {
            message: "kms:Encrypt returned no ciphertext".into(),
        })
    }

    pub(super) async fn decrypt(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        version: u32,
        blob: Blob,
    ) -> Result<SecretString, VaultError> {
        let out = self
            .kms
            .decrypt()
            .ciphertext_blob(blob)
            .key_id(&self.key_id)
            .set_encryption_context(Some(context(account, kind, version)))
            .send()
            .await
            .map_err(|e| kms_error("kms:Decrypt", &e))?;
        let bytes = out.plaintext.ok_or_else(|| VaultError::Key {
            message: "kms:Decrypt returned no plaintext".into(),
        })?;
        String::from_utf8(bytes.into_inner())
            .map(SecretString::from)
            .map_err(|_| VaultError::Corrupt("decrypted credential is not UTF-8".into()))
    }

    /// Whether version `version` decrypts under its encryption context, without the plaintext
    /// leaving KMS: a ReEncrypt onto the same key with the same context (the result is dropped).
    pub(super) async fn verify_decrypts(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        version: u32,
    ) -> Result<(), VaultError> {
        let item = self
            .get(account, kind, &version_key(version))
            .await?
            .ok_or_else(|| {
                VaultError::NotFound(format!("{} version {version} of {account}", kind.as_str()))
            })?;
        let blob = ciphertext(&item)?;
        let ctx = context(account, kind, version);
        self.kms
            .re_encrypt()
            .ciphertext_blob(blob.clone())
            .source_key_id(&self.key_id)
            .set_source_encryption_context(Some(ctx.clone()))
            .destination_key_id(&self.key_id)
            .set_destination_encryption_context(Some(ctx))
            .send()
            .await
            .map_err(|e| kms_error("kms:ReEncrypt", &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_names_account_kind_and_version() {
        let a = AccountId::parse("111122223333").unwrap();
        let c = context(&a, CredentialKind::MfaSeed, 7);
        assert_eq!(c["rootwarden:account"], "111122223333");
        assert_eq!(c["rootwarden:kind"], "mfa-seed");
        assert_eq!(c["rootwarden:version"], "7");
    }
}
