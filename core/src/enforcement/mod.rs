//! Root-credential enforcement: the use case behind the daily `root-enforcement` Lambda
//! ([`enforce`]) and the operator's `account recover` ([`recover`]), generic over
//! [`EnforcementPorts`].
//!
//! For every account, a root session scoped to `IAMAuditRootUserCredentials` reads the root
//! user's access keys, signing certificates, MFA devices and login profile. The pure [`plan`]
//! decides what goes; its [`Action`]s are executed (ticket first, then each removal in a second
//! session scoped to `IAMDeleteRootUserCredentials`, audited before (fail closed) and after);
//! the posture is read again and the plan's [`Conclusion`] recorded on the registry item and in
//! the account's audit chain. Every run is idempotent: an interrupted run is finished by the
//! next one (deleting what is already gone counts as done; tickets have deterministic ids and
//! are opened before the removals they describe).
//!
//! Root access keys and signing certificates are never allowed. Credential-less accounts also
//! lose any login profile and MFA device, except while an operator's recovery window is open.
//! Vaulted accounts whose root user has no MFA device or no password are reported as drift, one
//! ticket per distinct finding set; nothing is deleted for drift. There is no dry run: the job
//! always acts.

mod execute;
pub mod fleet;
mod plan;
pub mod ports;
mod posture;
mod records;
mod recover;
mod recovery;
mod report;
mod run;
#[cfg(test)]
mod tests;

pub use plan::{
    drift_ticket_id, plan, recovering, removal_ticket_id, skips, AccountOutcome, Action,
    Conclusion, EnforcementPlan,
};
pub use ports::{
    EnforcementPorts, EnforcementTickets, RootCredentials, RootSession, TaskPolicy,
    ROOT_SESSION_SECONDS,
};
pub use posture::{findings, removals, Posture, Removal, RootAccessKey, RootCertificate};
pub use records::Recorder;
pub use recover::{recover, RecoveryReport};
pub use recovery::{plan_recovery, recovery_reason, RecoveryPlan, RECOVERY_WINDOW};
pub use report::{AccountReport, EnforcementReport};
pub use run::{enforce, enforce_account};
