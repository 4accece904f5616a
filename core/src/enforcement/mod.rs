//! Root-credential enforcement's rules, without I/O. The adapter (`rootwarden_aws::enforcement`)
//! observes each account's root user through `sts:AssumeRoot` sessions, asks [`plan`] what to
//! do, executes the plan's [`Action`]s, observes again and records the plan's [`Conclusion`].
//!
//! Root access keys and signing certificates are never allowed. Credential-less accounts also
//! lose any login profile and MFA device, except while an operator's recovery window is open.
//! Vaulted accounts whose root user has no MFA device or no password are reported as drift, one
//! ticket per distinct finding set; nothing is deleted for drift. There is no dry run: the job
//! always acts.

mod plan;
mod posture;
mod records;
mod recovery;
mod report;
#[cfg(test)]
mod tests;

pub use plan::{
    drift_ticket_id, plan, recovering, removal_ticket_id, skips, AccountOutcome, Action,
    Conclusion, EnforcementPlan,
};
pub use posture::{findings, removals, Posture, Removal, RootAccessKey, RootCertificate};
pub use records::Recorder;
pub use recovery::{plan_recovery, recovery_reason, RecoveryPlan, RECOVERY_WINDOW};
pub use report::{AccountReport, EnforcementReport};
