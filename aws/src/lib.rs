//! Root Warden's AWS adapters, one per technology, each with its item mapping beside it:
//! DynamoDB (audit log, digests, tickets, registry, workflows, vault items), KMS (vault, digest
//! signer, transient secrets), STS/IAM (root sessions, role directory), Step Functions, S3, SES
//! and Secrets Manager. [`sdk`] loads the SDK configuration and classifies SDK errors.
//!
//! Transitional: this crate re-exports [`rootwarden_core`] at the same module paths, so
//! `rootwarden_aws::vault` holds both the core's `Vault` port and the `KmsVault` adapter. The
//! use cases that still call the SDK directly (access, rotation) live here until they are
//! rewritten against ports and move to the core; enforcement and onboarding run in the core
//! over this crate's `enforcement::Deps` and `onboarding::Deps`.

pub use rootwarden_core::{clock, config, domain, error, mail};
pub use rootwarden_core::{
    AccountId, Clock, Config, ConfigError, DomainError, ErrorType, LambdaError, RootEmail,
    SystemClock,
};

pub mod access;
pub mod audit;
pub mod enforcement;
pub mod executions;
pub mod inbound;
pub mod notify;
pub mod onboarding;
pub mod registry;
pub mod rotation;
pub mod sdk;
pub mod tickets;
pub mod vault;
pub mod workflows;
