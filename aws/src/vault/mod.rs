//! The vault's adapters: [`KmsVault`] (staged versions in DynamoDB, each encrypted under KMS)
//! and [`KmsTransientStore`] (short-lived secrets from mail); [`DynamoMfaSeedStore`] writes an
//! operator's MFA seed (`account mfa-seed`).

pub use rootwarden_core::vault::*;

mod kms;
mod kms_transient;
mod mfa_seed_store;

pub use kms::{partition, version_key, KmsVault};
pub use kms_transient::{sealed_item, KmsTransientStore};
pub use mfa_seed_store::{DynamoMfaSeedStore, MfaSeedDeps};
