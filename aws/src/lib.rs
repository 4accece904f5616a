//! Root Warden's AWS adapters, one per technology, each with its item mapping beside it:
//! DynamoDB (audit log, digests, tickets, registry, workflows, vault items), KMS (vault, digest
//! signer, transient secrets), STS/IAM (root sessions, role directory), Step Functions, S3, SES
//! and Secrets Manager. [`sdk`] loads the SDK configuration and classifies SDK errors.
//!
//! The use cases live in the core, each generic over its area's bundle of ports
//! (`AccessPorts`, `RotationPorts`, `EnforcementPorts`, `OnboardingPorts`, the inbound `Deps`);
//! each area's `Deps` here builds that bundle from the AWS adapters (`Deps::new(&config, …)`).
//!
//! This crate re-exports [`rootwarden_core`] at the same module paths, so a binary imports one
//! path: `rootwarden_aws::vault` holds both the core's `Vault` port and the `KmsVault` adapter,
//! and `rootwarden_aws::access::checkout` is the core's use case.

pub use rootwarden_core::{clock, config, domain, error, mail};
pub use rootwarden_core::{
    AccountId, Clock, Config, ConfigError, DomainError, ErrorType, LambdaError, RootEmail,
    SystemClock,
};

pub mod access;
pub mod audit;
pub mod batch_get;
pub mod cancellation;
pub mod enforcement;
pub mod executions;
pub mod fleet;
pub mod inbound;
pub mod notify;
pub mod onboarding;
pub mod registry;
pub mod release;
pub mod rotation;
pub mod sdk;
pub mod takeover;
pub mod tickets;
pub mod vault;
pub mod workflows;
