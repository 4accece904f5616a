//! The end of a takeover: `activate` (custody complete) or `fail` (the execution stops; the
//! account stays `taking-over`, so a new start resumes where the world is).

use serde::Serialize;

use super::ports::{TakeoverPorts, TakeoverStore};
use super::record::Expect;
use super::{entry, owned};
use crate::audit::{AuditEntry, AuditLog, Outcome, Stream};
use crate::mail::Category;
use crate::registry::{first_due, stamp, AccountMode, AccountStatus, RotationReason};
use crate::workflows::WorkflowWaits;
use crate::{AccountId, ErrorType, LambdaError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activated {
    pub account_id: String,
    pub root_email: String,
    pub mode: String,
    /// The first rotation's due date (vaulted accounts).
    pub rotation_due: Option<String>,
}

/// The account becomes `active` (vaulted: its first rotation is due after its maximum age) and
/// the takeover step is cleared; audit `takeover.completed`. A retry returns the same.
pub async fn activate<P: TakeoverPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<Activated, LambdaError> {
    if let Some((a, Some(t))) = ports.store().get(account).await? {
        if a.status == AccountStatus::Active && t.execution == execution && t.step.is_none() {
            return Ok(Activated {
                account_id: account.to_string(),
                root_email: a.root_email.to_string(),
                mode: a.mode.as_str().to_owned(),
                rotation_due: a.rotation_due.map(stamp),
            });
        }
    }
    let o = owned(ports, account, execution).await?;
    let now = ports.clock().now();
    let mut acct = o.account.clone();
    acct.status = AccountStatus::Active;
    if acct.mode == AccountMode::Vaulted {
        acct.rotation_due = Some(first_due(now, acct.max_age_days));
        acct.rotation_reason = Some(RotationReason::MaxAge);
    } else {
        acct.rotation_due = None;
        acct.rotation_reason = None;
    }
    let mut next = o.takeover.clone();
    next.step = None;
    next.stopped = None;
    next.updated_at = now;
    let record = entry(ports, &next, "completed")
        .detail("mode", acct.mode.as_str())
        .detail("root_email", acct.root_email.as_str());
    let expect = Expect::Step {
        execution: execution.to_owned(),
        step: o.takeover.step,
    };
    if !ports.store().save(&acct, &next, &expect, &record).await? {
        return Err(LambdaError::new(
            ErrorType::Conflict,
            format!("the takeover of {account} changed meanwhile"),
        ));
    }
    tracing::info!(account = %account, execution, "takeover completed: account active");
    Ok(Activated {
        account_id: account.to_string(),
        root_email: acct.root_email.to_string(),
        mode: acct.mode.as_str().to_owned(),
        rotation_due: acct.rotation_due.map(stamp),
    })
}

/// Longest `Cause` kept on the audit record.
const CAUSE_CHARS: usize = 500;

/// Records `takeover.stopped` with the error that ended `execution` and removes its waits. The
/// account stays `taking-over`. An execution that never owned the takeover (it lost the
/// allocation) records the stop without touching the owner's progress.
pub async fn fail<P: TakeoverPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
    error: &str,
    cause: &str,
) -> Result<String, LambdaError> {
    let error = crate::error::workflow_error_name(error);
    let cause: String = cause
        .chars()
        .filter(|c| !c.is_control())
        .take(CAUSE_CHARS)
        .collect();
    for kind in [
        Category::VerificationCode,
        Category::PasswordReset,
        Category::PasswordChanged,
        Category::Mfa,
    ] {
        ports.waits().remove(account, kind, execution).await?;
    }
    match owned(ports, account, execution).await {
        Ok(o) => {
            if o.takeover.stopped.as_deref() == Some(error.as_str()) {
                return Ok(error);
            }
            let mut next = o.takeover.clone();
            next.stopped = Some(error.clone());
            next.updated_at = ports.clock().now();
            let record = entry(ports, &next, "stopped")
                .outcome(Outcome::Failure)
                .detail("error", error.clone())
                .detail("cause", cause)
                .detail("step", o.takeover.step.map_or("none", |s| s.as_str()));
            let expect = Expect::Step {
                execution: execution.to_owned(),
                step: o.takeover.step,
            };
            if !ports
                .store()
                .save(&o.account, &next, &expect, &record)
                .await?
            {
                return Err(LambdaError::new(
                    ErrorType::Conflict,
                    format!("the takeover of {account} changed meanwhile"),
                ));
            }
        }
        // Not this execution's takeover (it lost the allocation, or never got that far).
        Err(e) if matches!(e.error_type, ErrorType::NotFound | ErrorType::Conflict) => {
            let record = AuditEntry::new(
                Stream::Account(account.clone()),
                ports.actor(),
                "takeover.stopped",
            )
            .target(account.to_string())
            .outcome(Outcome::Failure)
            .reason("this execution does not own the takeover")
            .correlation_id(execution)
            .detail("error", error.clone())
            .detail("cause", cause);
            ports
                .audit()
                .append(&record)
                .await
                .map_err(|e| LambdaError::from_classified(&e))?;
        }
        Err(e) => return Err(e),
    }
    tracing::warn!(account = %account, execution, error = %error, "takeover stopped");
    Ok(error)
}
