//! The enforcement plan of one account: given what the root user has (the observed
//! [`Posture`]), which tickets to open and which credentials to remove, in order; and once the
//! removals are made and the posture observed again, what to report, record and ticket, and
//! the account's [`AccountOutcome`]. Pure: the adapter observes and executes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::posture::{findings, removals, Posture, Removal};
use crate::mail::{Category, Priority};
use crate::registry::{Account, AccountMode, AccountStatus};
use crate::tickets::Ticket;
use crate::{AccountId, ErrorType, LambdaError};

/// What happened to one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountOutcome {
    /// Nothing to remove, nothing to report.
    Compliant,
    /// Root credentials were removed.
    Remediated,
    /// Findings reported (nothing removed).
    Drift,
    /// Not active (released or closed): not touched.
    Skipped,
    /// AssumeRoot, IAM, the registry or the audit log failed; the next run tries again.
    Failed,
}

impl AccountOutcome {
    /// The serialized name (`"remediated"`, …), as in reports and audit details.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountOutcome::Compliant => "compliant",
            AccountOutcome::Remediated => "remediated",
            AccountOutcome::Drift => "drift",
            AccountOutcome::Skipped => "skipped",
            AccountOutcome::Failed => "failed",
        }
    }
}

/// Released and closed accounts are not touched: no root session is even opened.
pub fn skips(account: &Account) -> bool {
    account.status != AccountStatus::Active
}

/// Whether `account`'s recovery window (opened by `account recover`) is open at `now`.
pub fn recovering(account: &Account, now: DateTime<Utc>) -> bool {
    account.recovery_until.is_some_and(|u| u > now)
}

/// One step of a plan, executed in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open the ticket that describes the removals, before making them (its id is
    /// deterministic, so an interrupted run's ticket is found again, not duplicated).
    OpenTicket(Box<Ticket>),
    /// Remove one root credential, audited before (fail closed) and after.
    Remove(Removal),
}

/// What enforcement does to one active account, given its observed posture.
#[derive(Debug, Clone, PartialEq)]
pub struct EnforcementPlan {
    pub account_id: AccountId,
    pub mode: AccountMode,
    /// A recovery window is open: a credential-less account keeps its password and MFA.
    pub recovering: bool,
    pub now: DateTime<Utc>,
    pub actions: Vec<Action>,
}

/// Decides what enforcement does to `account` whose root user has `posture` at `now`.
/// Nothing to remove: no action (the posture is still recorded, see
/// [`EnforcementPlan::conclude`]).
pub fn plan(account: &Account, posture: &Posture, now: DateTime<Utc>) -> EnforcementPlan {
    let recovering = recovering(account, now);
    let to_remove = removals(posture, account.mode, recovering);
    let mut actions = Vec::with_capacity(to_remove.len() + 1);
    if !to_remove.is_empty() {
        actions.push(Action::OpenTicket(Box::new(removal_ticket(
            &account.account_id,
            account.mode,
            &to_remove,
            now,
        ))));
        actions.extend(to_remove.into_iter().map(Action::Remove));
    }
    EnforcementPlan {
        account_id: account.account_id.clone(),
        mode: account.mode,
        recovering,
        now,
        actions,
    }
}

/// What is left to do once the removals are made: record, report, ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Conclusion {
    /// What was removed (`"access-key AKIA…"`, `"login-profile"`).
    pub removed: Vec<String>,
    /// Findings reported, not remediated (`"root-mfa-absent"`, …).
    pub findings: Vec<String>,
    /// The posture as recorded on the registry item: the observed posture plus `findings` and
    /// `removed`.
    pub record: serde_json::Value,
    /// Drift of a vaulted account: one ticket per distinct finding set.
    pub drift_ticket: Option<Ticket>,
    pub outcome: AccountOutcome,
}

impl EnforcementPlan {
    /// The removals, in order.
    pub fn removals(&self) -> impl Iterator<Item = &Removal> {
        self.actions.iter().filter_map(|a| match a {
            Action::Remove(r) => Some(r),
            Action::OpenTicket(_) => None,
        })
    }

    /// Nothing to remove.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The account's outcome, given `after` (the posture observed once the removals were
    /// made; the first observation when there was nothing to remove) and what was `removed`.
    pub fn conclude(
        &self,
        after: &Posture,
        removed: Vec<String>,
    ) -> Result<Conclusion, LambdaError> {
        let findings = findings(after, self.mode, self.recovering);
        let mut record = serde_json::to_value(after)
            .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))?;
        if let Some(obj) = record.as_object_mut() {
            obj.insert("findings".into(), serde_json::json!(findings));
            obj.insert("removed".into(), serde_json::json!(removed));
        }
        let drift_ticket = (!findings.is_empty() && self.mode == AccountMode::Vaulted)
            .then(|| drift_ticket(&self.account_id, &findings, self.now));
        let outcome = if !removed.is_empty() {
            AccountOutcome::Remediated
        } else if !findings.is_empty() {
            AccountOutcome::Drift
        } else {
            AccountOutcome::Compliant
        };
        Ok(Conclusion {
            removed,
            findings,
            record,
            drift_ticket,
            outcome,
        })
    }
}

/// Ticket of the removals of one day.
pub fn removal_ticket_id(account: &AccountId, now: DateTime<Utc>) -> String {
    format!("enforce-{account}-{}", now.format("%Y%m%d"))
}

/// Ticket of one finding set (opened once while it persists).
pub fn drift_ticket_id(account: &AccountId, findings: &[String]) -> String {
    format!("posture-{account}-{}", findings.join("-"))
}

fn removal_ticket(
    id: &AccountId,
    mode: AccountMode,
    removals: &[Removal],
    now: DateTime<Utc>,
) -> Ticket {
    let listing: Vec<String> = removals.iter().map(Removal::describe).collect();
    Ticket::task(
        removal_ticket_id(id, now),
        id,
        Category::Security,
        Priority::High,
        format!("Root credentials removed from account {id}"),
        format!(
            "The daily root-credential enforcement found and removed: {}. Root access keys \
             and signing certificates are never allowed{}. Find out who created them and \
             why (CloudTrail: CreateAccessKey / UploadSigningCertificate by the root user), \
             and treat the account as possibly compromised until you know.",
            listing.join(", "),
            if mode == AccountMode::CredentialLess {
                "; this account is credential-less, so its root password and MFA devices \
                 are removed too"
            } else {
                ""
            }
        ),
        now,
    )
}

fn drift_ticket(id: &AccountId, findings: &[String], now: DateTime<Utc>) -> Ticket {
    Ticket::task(
        drift_ticket_id(id, findings),
        id,
        Category::Security,
        Priority::Normal,
        format!(
            "Root credential drift in account {id}: {}",
            findings.join(", ")
        ),
        format!(
            "Account {id} is vaulted, but AWS reports: {}. root-password-absent: the \
             vaulted password no longer exists in AWS (someone deleted the login profile); \
             run `rootwarden account recover` and a rotation, or offboard the account to \
             credential-less. root-mfa-absent: root sign-in is single-factor; enable MFA \
             with the vaulted TOTP seed.",
            findings.join(", ")
        ),
        now,
    )
}
