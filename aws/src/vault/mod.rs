//! The vault's adapters: [`KmsVault`] (staged versions in DynamoDB, each encrypted under KMS)
//! and [`KmsTransientStore`] (short-lived secrets from mail).

pub use rootwarden_core::vault::*;

mod kms;
mod kms_transient;

pub use kms::{partition, version_key, KmsVault};
pub use kms_transient::KmsTransientStore;
