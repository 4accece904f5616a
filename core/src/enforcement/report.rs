//! What one enforcement run reports: per account, and the run's counts.

use serde::{Deserialize, Serialize};

use super::plan::{AccountOutcome, Conclusion};
use crate::{AccountId, ErrorType, LambdaError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountReport {
    pub account_id: String,
    /// Serialized as `verdict` (the report's wire format predates the name).
    pub verdict: AccountOutcome,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<ErrorType>,
}

impl AccountReport {
    fn new(account: &AccountId, verdict: AccountOutcome) -> Self {
        Self {
            account_id: account.to_string(),
            verdict,
            removed: Vec::new(),
            findings: Vec::new(),
            ticket_id: None,
            error: None,
            error_type: None,
        }
    }

    pub fn skipped(account: &AccountId) -> Self {
        Self::new(account, AccountOutcome::Skipped)
    }

    /// `ticket_id`: the removal ticket if one was opened, else the drift ticket, if any.
    pub fn concluded(account: &AccountId, c: &Conclusion, ticket_id: Option<String>) -> Self {
        Self {
            removed: c.removed.clone(),
            findings: c.findings.clone(),
            ticket_id,
            ..Self::new(account, c.outcome)
        }
    }

    pub fn failed(account: &AccountId, e: LambdaError) -> Self {
        Self {
            error: Some(e.message),
            error_type: Some(e.error_type),
            ..Self::new(account, AccountOutcome::Failed)
        }
    }
}

/// The run's summary. Compliant and skipped accounts are only counted, so the report of a
/// large estate stays small.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnforcementReport {
    pub run: String,
    pub checked: usize,
    pub compliant: usize,
    pub remediated: usize,
    pub drift: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Every account that was not compliant or skipped.
    pub accounts: Vec<AccountReport>,
}

impl EnforcementReport {
    pub fn new(run: &str) -> Self {
        Self {
            run: run.to_owned(),
            ..Default::default()
        }
    }

    /// Counts one account; lists it unless compliant or skipped.
    pub fn add(&mut self, r: AccountReport) {
        match r.verdict {
            AccountOutcome::Compliant => self.compliant += 1,
            AccountOutcome::Remediated => self.remediated += 1,
            AccountOutcome::Drift => self.drift += 1,
            AccountOutcome::Skipped => self.skipped += 1,
            AccountOutcome::Failed => self.failed += 1,
        }
        if r.verdict != AccountOutcome::Skipped {
            self.checked += 1;
        }
        if !matches!(
            r.verdict,
            AccountOutcome::Compliant | AccountOutcome::Skipped
        ) {
            self.accounts.push(r);
        }
    }

    /// Adds another report's counts and listed accounts (a fleet run's pages into one).
    pub fn merge(&mut self, other: EnforcementReport) {
        self.checked += other.checked;
        self.compliant += other.compliant;
        self.remediated += other.remediated;
        self.drift += other.drift;
        self.skipped += other.skipped;
        self.failed += other.failed;
        self.accounts.extend(other.accounts);
    }

    /// The listed accounts in account order (they finish in any order).
    pub fn sort(&mut self) {
        self.accounts
            .sort_by(|a, b| a.account_id.cmp(&b.account_id));
    }

    /// The first failure, as a handler error.
    pub fn failure(&self) -> Option<LambdaError> {
        let first = self
            .accounts
            .iter()
            .find(|a| a.verdict == AccountOutcome::Failed)?;
        Some(LambdaError::new(
            first.error_type.unwrap_or(ErrorType::AwsError),
            format!(
                "{} of {} accounts could not be enforced (first: {}: {})",
                self.failed,
                self.checked,
                first.account_id,
                first.error.as_deref().unwrap_or("unknown error")
            ),
        ))
    }
}
