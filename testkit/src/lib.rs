//! In-memory twins of every Root Warden port, and the contract each adapter must honour.
//!
//! Each twin keeps the semantics of its AWS adapter (conditional writes, idempotency, threading,
//! stage rules) without the wire format, so a use case's tests run in milliseconds. The
//! [`contract`] module holds one function of assertions per port; `testkit/tests/` runs them
//! against the twins and `tests/tests/contracts.rs` against the AWS adapters on the emulator,
//! so a twin cannot drift from the adapter it stands in for.
//!
//! Every twin is `Clone`: clones share their state, so a test keeps one handle to inspect while
//! the use case owns another. Failure switches (`fail_*`) simulate an unavailable service.

mod access_ledger;
mod access_ports;
mod access_release;
pub mod contract;
mod digest_signer;
mod enforcement_ports;
mod enforcement_tickets;
mod executions;
mod kill_switch;
mod mfa_seed;
mod notifier;
mod onboarding;
mod primary_email;
mod raw_mail;
mod registry;
mod registry_posture;
mod registry_schedule;
pub mod release;
mod role_directory;
mod root_credentials;
mod rotation_ports;
mod rotations;
mod takeover_ports;
mod takeover_store;
mod tickets;
mod transient;
mod vault;
mod waits;

pub use access_ledger::MemoryAccessLedger;
pub use access_ports::{
    AccessAccount, MemoryAccessAccounts, MemoryAccessTickets, MemoryRotationLookup,
};
pub use access_release::MemoryReleaseAccess;
pub use digest_signer::HmacDigestSigner;
pub use enforcement_ports::{MemoryEnforcementPorts, MemoryOnboardingPorts};
pub use enforcement_tickets::MemoryEnforcementTickets;
pub use executions::{Execution, MemoryExecutions, TaskResult};
pub use kill_switch::{KillSwitch, KILLED};
pub use mfa_seed::{MemoryMfaSeedPorts, MemoryMfaSeedStore};
pub use notifier::{Delivered, RecordingNotifier};
pub use onboarding::MemoryOnboarding;
pub use primary_email::MemoryPrimaryEmail;
pub use raw_mail::MemoryRawMailStore;
pub use registry::MemoryAccountRegistry;
pub use registry_posture::MemoryPostureRegistry;
pub use registry_schedule::MemoryRotationSchedule;
pub use role_directory::MemoryRoleDirectory;
pub use root_credentials::{MemoryRootCredentials, MemoryRootSession};
pub use rotation_ports::{MemoryRotationPorts, TestClock};
pub use rotations::MemoryRotationStore;
pub use takeover_ports::MemoryTakeoverPorts;
pub use takeover_store::MemoryTakeoverStore;
pub use tickets::MemoryTicketStore;
pub use transient::MemoryTransientStore;
pub use vault::MemoryVault;
pub use waits::{Completed, MemoryWorkflowWaits};

pub use rootwarden_core::audit::{MemoryAuditLog, MemoryDigestStore};
pub use rootwarden_core::clock::FixedClock;

use std::sync::{Mutex, MutexGuard};

use rootwarden_core::{ErrorType, LambdaError};

/// Locks, recovering the data of a poisoned lock (a panicking test must not hide state).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The error an unavailable AWS service surfaces as (retryable).
pub(crate) fn unavailable(what: &str) -> LambdaError {
    LambdaError::new(
        ErrorType::TransientAwsError,
        format!("{what} unavailable (simulated)"),
    )
}
