//! The operator's use cases: `rotation start`, `rotation confirm`, `rotation reject`. What they
//! may do, given the registry, the vault head, the rotation records and what Step Functions says
//! about their executions.

use chrono::{DateTime, Utc};

use super::liveness::ExecutionState;
use super::record::RotationRecord;
use super::steps::REJECTED_ERROR;
use crate::audit::{AuditEntry, Outcome, Stream};
use crate::registry::{Account, AccountMode, AccountStatus};
use crate::vault::Head;
use crate::{AccountId, ErrorType, LambdaError};

/// The audit reason of `rotation confirm`.
pub const CONFIRM_REASON: &str = "operator confirmed the pending root password is applied";
/// The longest rejection reason passed on to Step Functions as the task failure's cause.
pub const MAX_REJECT_CAUSE_CHARS: usize = 256;

/// Execution name of an on-demand rotation: the account, the time and a random suffix, so two
/// starts in the same second (a confirm and a new start, say) are two executions. (Step
/// Functions refuses a second execution of one name; 45 of its 80 characters.)
pub fn manual_execution_name(account: &AccountId, now: DateTime<Utc>) -> String {
    let nonce: u32 = rand::random();
    format!(
        "manual-{account}-{}-{nonce:08x}",
        now.format("%Y%m%dT%H%M%SZ")
    )
}

/// `rotation start` is for registered, active, vaulted accounts.
pub fn may_start(account: &AccountId, registered: Option<&Account>) -> Result<(), LambdaError> {
    let registered = registered.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("account {account} is not registered"),
        )
    })?;
    if registered.mode != AccountMode::Vaulted || registered.status != AccountStatus::Active {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            format!("account {account} is not an active vaulted account"),
        ));
    }
    Ok(())
}

/// The refusal of `rotation start` while `running` (an execution that runs) awaits its apply
/// step.
pub fn awaiting_apply(account: &AccountId, running: &RotationRecord) -> LambdaError {
    LambdaError::new(
        ErrorType::Conflict,
        format!(
            "rotation {} of account {account} is awaiting its apply step",
            running.execution
        ),
    )
}

/// The execution whose pending version a new rotation finds: it must be settled first (one that
/// may be live is never discarded by `start`; the operator decides).
pub fn pending_execution(head: Option<&Head>) -> Option<&str> {
    head.filter(|h| h.pending.is_some())?
        .pending_execution
        .as_deref()
}

/// The rotation an operator's `confirm` or `reject` decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decidable {
    /// Its execution runs and waits for the apply step (its task token is stored).
    Waiting(RotationRecord),
    /// Its execution no longer runs (stopped, failed in `Finish` or `Abandon`): its pending
    /// version may be live, and only the operator's decision settles it.
    Orphaned(RotationRecord, ExecutionState),
}

impl Decidable {
    /// What an `awaiting-apply` rotation `r` is to the operator, its execution being `state`;
    /// `None` when it is not decidable yet (it runs but has not reached its apply step).
    pub fn of(r: RotationRecord, state: ExecutionState) -> Option<Self> {
        if !state.is_running() {
            Some(Decidable::Orphaned(r, state))
        } else if r.task_token.is_some() {
            Some(Decidable::Waiting(r))
        } else {
            None
        }
    }

    pub fn record(&self) -> &RotationRecord {
        match self {
            Decidable::Waiting(r) | Decidable::Orphaned(r, _) => r,
        }
    }

    /// The execution's status, as the decision's audit record states it.
    pub fn execution_status(&self) -> &str {
        match self {
            Decidable::Waiting(_) => "RUNNING",
            Decidable::Orphaned(_, state) => state.describe(),
        }
    }
}

/// No rotation of `account` awaits a decision.
pub fn nothing_to_decide(account: &AccountId) -> LambdaError {
    LambdaError::new(
        ErrorType::NotFound,
        format!("no rotation of account {account} is awaiting its apply step"),
    )
}

/// A rejection needs a reason: the trimmed reason (for the audit record) and the cause passed
/// to Step Functions (at most [`MAX_REJECT_CAUSE_CHARS`]).
pub fn rejection(reason: &str) -> Result<(&str, String), LambdaError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            "a reason is required",
        ));
    }
    Ok((
        reason,
        reason.chars().take(MAX_REJECT_CAUSE_CHARS).collect(),
    ))
}

/// The confirmation `rotation confirm` completes the apply step with (or finishes with).
pub fn operator_confirmation(actor: &str) -> serde_json::Value {
    serde_json::json!({"confirmed_by": "operator", "actor": actor})
}

/// The error an orphaned rotation is abandoned with when the operator rejects it (the same one
/// the state machine's `Catch` passes after a rejected task).
pub fn rejection_error(cause: &str) -> serde_json::Value {
    serde_json::json!({"Error": REJECTED_ERROR, "Cause": cause})
}

/// The audit record of an operator's decision (`rotation.confirmed`, `rotation.rejected`),
/// written before it is acted on.
pub fn decision_entry(
    actor: &str,
    account: &AccountId,
    action: &str,
    d: &Decidable,
    reason: &str,
) -> AuditEntry {
    let r = d.record();
    AuditEntry::new(Stream::Account(account.clone()), actor, action)
        .target(&r.execution)
        .outcome(Outcome::Success)
        .reason(reason)
        .correlation_id(&r.execution)
        .detail("pending_version", r.pending_version)
        .detail("execution_status", d.execution_status())
}
