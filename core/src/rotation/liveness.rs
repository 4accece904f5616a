//! Whether a rotation still runs, and what its leftovers allow.
//!
//! Step Functions is the only authority on whether an execution runs: a rotation record says
//! `awaiting-apply` until a step of that execution ends it, and an execution stopped from the
//! console (or one whose `Finish` / `Abandon` failed) never runs that step. So every decision
//! that depends on "the rotation is running" asks `DescribeExecution`, and the rules below
//! decide from its answer and the record:
//!
//! - [`orphan_pending`]: a `pending` version left by an execution that no longer runs is
//!   discarded only if no human can have seen it (no rotation record: the apply ticket and the
//!   `rotation-apply` check-out both need one). Otherwise it may already be the live root
//!   password: the operator must `rotation confirm` (promote it) or `rotation reject` (discard
//!   it) first ([`ErrorType::PendingDecisionRequired`]).
//! - [`apply_window`]: a `rotation-apply` check-out needs the rotation awaiting its apply step,
//!   its execution running and the apply deadline not passed.

use chrono::{DateTime, Utc};

use super::record::{RotationRecord, RotationStage};
use crate::{AccountId, ErrorType, LambdaError};

pub use crate::executions::ExecutionState;

/// The ARN of execution `name` of state machine `state_machine_arn`.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// What to do with a `pending` version that another execution left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orphan {
    /// Its execution still runs: leave it alone (a second rotation is a `Conflict`).
    InProgress,
    /// Nobody can have seen it (no record), or its rotation already ended: discard it.
    Discard,
    /// Its rotation reached the point where a human was told to apply it and its execution
    /// no longer runs: it may be live. Only the operator's confirm or reject decides.
    DecisionRequired,
}

/// Decides what to do with the pending version of rotation `record` (None: no record).
pub fn orphan_pending(record: Option<&RotationRecord>, state: &ExecutionState) -> Orphan {
    match record {
        Some(r) if r.stage != RotationStage::AwaitingApply => Orphan::Discard,
        _ if state.is_running() => Orphan::InProgress,
        Some(_) => Orphan::DecisionRequired,
        None => Orphan::Discard,
    }
}

/// The error that stops a new rotation while `record`'s pending version awaits a decision.
pub fn decision_required(
    account: &AccountId,
    record: &RotationRecord,
    state: &ExecutionState,
) -> LambdaError {
    LambdaError::new(
        ErrorType::PendingDecisionRequired,
        format!(
            "pending version {} of rotation {} may already be the live root password of account \
             {account} (its apply step was reached; its execution is {}). Run `rootwarden \
             rotation confirm --account {account}` if it was applied, or `rootwarden rotation \
             reject --account {account} --reason ...` if not, then start again",
            record.pending_version,
            record.execution,
            state.describe()
        ),
    )
}

/// Whether a `rotation-apply` check-out of `record`'s pending version is allowed at `now`.
/// `Err` is the refusal, for the caller's audit record.
pub fn apply_window(
    record: &RotationRecord,
    state: &ExecutionState,
    now: DateTime<Utc>,
) -> Result<(), String> {
    if record.stage != RotationStage::AwaitingApply {
        return Err(format!(
            "rotation {} is {}",
            record.execution,
            record.stage.as_str()
        ));
    }
    if !state.is_running() {
        return Err(format!(
            "rotation {} no longer runs (execution {})",
            record.execution,
            state.describe()
        ));
    }
    let deadline = record
        .apply_deadline
        .as_deref()
        .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
        .map(|d| d.to_utc())
        .ok_or_else(|| {
            format!(
                "rotation {} has not reached its apply step",
                record.execution
            )
        })?;
    if now >= deadline {
        return Err(format!(
            "the apply deadline of rotation {} passed at {}",
            record.execution,
            crate::registry::stamp(deadline)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(stage: RotationStage, deadline: Option<&str>) -> RotationRecord {
        RotationRecord {
            account_id: AccountId::parse("111122223333").unwrap(),
            execution: "e1".into(),
            execution_arn: "arn:aws:states:r:1:execution:sm:e1".into(),
            trigger: "manual".into(),
            stage,
            pending_version: 2,
            current_version: Some(1),
            completed_version: None,
            max_age_days: None,
            ticket_id: "rotation-e1".into(),
            task_token: None,
            apply_deadline: deadline.map(str::to_owned),
            started_at: "2026-12-01T10:00:00Z".into(),
            updated_at: "2026-12-01T10:00:00Z".into(),
            outcome: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn a_pending_seen_by_a_human_is_never_discarded_without_a_decision() {
        let aborted = ExecutionState::Ended("ABORTED".into());
        let awaiting = record(RotationStage::AwaitingApply, Some("2026-12-04T10:00:00Z"));
        assert_eq!(
            orphan_pending(Some(&awaiting), &aborted),
            Orphan::DecisionRequired
        );
        assert_eq!(
            orphan_pending(Some(&awaiting), &ExecutionState::Missing),
            Orphan::DecisionRequired
        );
        assert_eq!(
            orphan_pending(Some(&awaiting), &ExecutionState::Running),
            Orphan::InProgress
        );
        // Never shown to anyone (prepare died before its record): safe to discard.
        assert_eq!(orphan_pending(None, &aborted), Orphan::Discard);
        assert_eq!(
            orphan_pending(None, &ExecutionState::Running),
            Orphan::InProgress
        );
        let ended = record(RotationStage::Abandoned, None);
        assert_eq!(
            orphan_pending(Some(&ended), &ExecutionState::Running),
            Orphan::Discard
        );
        let e = decision_required(&awaiting.account_id, &awaiting, &aborted);
        assert_eq!(e.error_type, ErrorType::PendingDecisionRequired);
        assert!(e.message.contains("rotation confirm") && e.message.contains("ABORTED"));
    }

    #[test]
    fn apply_checkout_needs_a_running_execution_before_its_deadline() {
        let r = record(RotationStage::AwaitingApply, Some("2026-12-04T10:00:00Z"));
        let before = at("2026-12-04T09:59:59Z");
        assert!(apply_window(&r, &ExecutionState::Running, before).is_ok());
        let e = apply_window(&r, &ExecutionState::Running, at("2026-12-04T10:00:00Z"));
        assert!(e.unwrap_err().contains("deadline"));
        let e = apply_window(&r, &ExecutionState::Ended("ABORTED".into()), before);
        assert!(e.unwrap_err().contains("ABORTED"));
        assert!(apply_window(&r, &ExecutionState::Missing, before).is_err());
        let no_deadline = record(RotationStage::AwaitingApply, None);
        assert!(apply_window(&no_deadline, &ExecutionState::Running, before).is_err());
        let done = record(RotationStage::Completed, Some("2026-12-04T10:00:00Z"));
        assert!(apply_window(&done, &ExecutionState::Running, before).is_err());
    }

    #[test]
    fn execution_arns_derive_from_the_state_machine() {
        assert_eq!(
            execution_arn("arn:aws:states:us-east-1:1:stateMachine:rw-rotation", "x"),
            "arn:aws:states:us-east-1:1:execution:rw-rotation:x"
        );
    }
}
