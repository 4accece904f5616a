//! One function of assertions per port, generic over the port: what every implementation
//! promises, run against the in-memory twin (`testkit/tests/`) and against the AWS adapter
//! (`tests/tests/contracts.rs`, on the emulator). Each call uses fresh account ids, SES ids and
//! Message-IDs, so contracts can share one stack and run more than once.
//!
//! Failures panic with the promise that was broken: these are test assertions.

mod access_ledger;
mod access_ports;
mod audit;
mod digests;
mod executions;
pub mod fixtures;
mod notifier;
mod onboarding;
mod posture;
mod raw_mail;
mod registry;
mod release_access;
mod roles;
mod root_credentials;
mod rotations;
mod schedule;
mod takeover;
mod tickets;
mod transient;
pub mod vault;
mod waits;

pub use access_ledger::access_ledger_contract;
pub use access_ports::{
    access_accounts_contract, access_tickets_contract, rotation_lookup_contract,
};
pub use audit::audit_log_contract;
pub use digests::{digest_signer_contract, digest_store_contract};
pub use executions::executions_contract;
pub use notifier::notifier_contract;
pub use onboarding::onboarding_store_contract;
pub use posture::{enforcement_tickets_contract, fresh_account_record, posture_registry_contract};
pub use raw_mail::raw_mail_contract;
pub use registry::account_registry_contract;
pub use release_access::release_access_contract;
pub use roles::role_directory_contract;
pub use root_credentials::root_credentials_contract;
pub use rotations::rotation_store_contract;
pub use schedule::rotation_schedule_contract;
pub use takeover::{primary_email_contract, takeover_store_contract};
pub use tickets::{ticket_secrets_contract, ticket_store_contract};
pub use transient::transient_store_contract;
pub use vault::vault_contract;
pub use waits::workflow_waits_contract;
