//! Root Warden's one library crate.
//!
//! Layout (ports and adapters):
//! - [`domain`]: validated newtypes (`AccountId`, `RootEmail`).
//! - [`config`]: `Config::from_env()`, the one place configuration is read.
//! - [`error`]: the fixed `error_type` vocabulary Lambdas report and state machines match on.
//! - [`aws`]: SDK configuration and error classification.
//! - [`clock`]: the `Clock` port.
//! - [`audit`]: the append-only, hash-chained audit log (`AuditLog` port, `DynamoAuditLog`).

pub mod access;
pub mod audit;
pub mod clock;
pub mod config;
pub mod domain;
pub mod enforcement;
pub mod error;
pub mod executions;
pub mod fleet;
pub mod inbound;
pub mod mail;
pub mod notify;
pub mod onboarding;
pub mod registry;
pub mod release;
pub mod rotation;
pub mod takeover;
pub mod tickets;
pub mod vault;
pub mod workflows;

pub use clock::{Clock, SystemClock};
pub use config::{Config, ConfigError};
pub use domain::{AccountId, DomainError, RootEmail};
pub use error::{ErrorType, LambdaError};
