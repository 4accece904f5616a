//! One function of assertions per port, generic over the port: what every implementation
//! promises, run against the in-memory twin (`testkit/tests/`) and against the AWS adapter
//! (`tests/tests/contracts.rs`, on the emulator). Each call uses fresh account ids, SES ids and
//! Message-IDs, so contracts can share one stack and run more than once.
//!
//! Failures panic with the promise that was broken: these are test assertions.

pub mod fixtures;
mod registry;
mod tickets;
mod transient;
pub mod vault;
mod waits;

pub use registry::account_registry_contract;
pub use tickets::ticket_store_contract;
pub use transient::transient_store_contract;
pub use vault::vault_contract;
pub use waits::workflow_waits_contract;
