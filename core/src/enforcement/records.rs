//! The audit records enforcement writes to an account's chain, one builder per action name.

use super::plan::AccountOutcome;
use super::posture::{Posture, Removal};
use crate::audit::{AuditEntry, Outcome, Stream};
use crate::registry::{stamp, AccountMode};
use crate::AccountId;
use chrono::{DateTime, Utc};

/// Who writes (the Lambda's name or the operator's ARN), about which account, in which run.
#[derive(Debug, Clone, Copy)]
pub struct Recorder<'a> {
    pub account: &'a AccountId,
    pub actor: &'a str,
    /// Correlates the records of one job run (or one recovery).
    pub run: &'a str,
}

impl Recorder<'_> {
    fn entry(&self, action: &str) -> AuditEntry {
        AuditEntry::new(Stream::Account(self.account.clone()), self.actor, action)
            .correlation_id(self.run)
    }

    /// Written before a removal: no removal without its record.
    pub fn removal_started(&self, r: &Removal, mode: AccountMode) -> AuditEntry {
        self.entry("root.credential-removal-started")
            .target(r.describe())
            .reason(format!(
                "root {} not allowed ({} account)",
                r.kind(),
                mode.as_str()
            ))
            .detail("credential", r.kind())
            .detail("id", r.id())
    }

    pub fn removed(&self, r: &Removal) -> AuditEntry {
        self.entry("root.credential-removed")
            .target(r.describe())
            .reason(format!(
                "removed {} (IAMDeleteRootUserCredentials session)",
                r.describe()
            ))
            .detail("credential", r.kind())
            .detail("id", r.id())
    }

    pub fn removal_failed(&self, r: &Removal, error: &str) -> AuditEntry {
        self.entry("root.credential-removed")
            .target(r.describe())
            .outcome(Outcome::Failure)
            .reason(error)
            .detail("credential", r.kind())
            .detail("id", r.id())
    }

    /// The run's conclusion on the account: its posture (after removals) and outcome, written
    /// with the registry's posture (a drift ticket, if any, is opened after it).
    pub fn posture_recorded(
        &self,
        after: &Posture,
        outcome: AccountOutcome,
        removed: &[String],
        findings: &[String],
    ) -> AuditEntry {
        self.entry("root.posture-recorded")
            .target(self.account.as_str())
            .reason(format!(
                "{}: {} access keys, {} signing certificates, {} MFA devices, {}",
                outcome.as_str(),
                after.access_keys.len(),
                after.signing_certificates.len(),
                after.mfa_devices.len(),
                if after.login_profile {
                    "password"
                } else {
                    "no password"
                }
            ))
            .detail("verdict", outcome.as_str())
            .detail("access_keys", after.access_keys.len())
            .detail("signing_certificates", after.signing_certificates.len())
            .detail("mfa_devices", after.mfa_devices.len())
            .detail("login_profile", after.login_profile)
            .detail("removed", removed.to_vec())
            .detail("findings", findings.to_vec())
    }

    pub fn enforcement_failed(&self, message: &str, error_type: &str) -> AuditEntry {
        self.entry("root.enforcement-failed")
            .target(self.account.as_str())
            .outcome(Outcome::Failure)
            .reason(message)
            .detail("error_type", error_type)
    }

    pub fn recovery_requested(&self, reason: &str, until: DateTime<Utc>) -> AuditEntry {
        self.entry("root.password-recovery-requested")
            .target(self.account.as_str())
            .reason(reason)
            .detail("recovery_until", stamp(until))
    }

    pub fn recovery_enabled(
        &self,
        reason: &str,
        created: bool,
        until: DateTime<Utc>,
    ) -> AuditEntry {
        self.entry("root.password-recovery-enabled")
            .target(self.account.as_str())
            .reason(reason)
            .detail("login_profile_created", created)
            .detail("recovery_until", stamp(until))
    }
}
