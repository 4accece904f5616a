//! The scheduled sweep: start one rotation per due account, through the registry's schedule
//! ([`RotationSchedule`]) and Step Functions ([`Executions`]).
//!
//! Due accounts come from the registry's sparse due-date index (no scan): active vaulted accounts
//! whose `current` reached its maximum age, and accounts marked for rotation after a check-out
//! (their due date is set to the check-out time). Each gets one execution named after the
//! account and the due date it serves, so a second sweep, a retried sweep or two overlapping
//! sweeps start nothing twice: Step Functions refuses a second execution of one name, and the
//! registry records which execution serves the due date (conditional on that date).
//!
//! An execution that exists is asked whether it still runs (`DescribeExecution`): one that
//! ended without moving the due date (stopped out of band, `FinishFailed`, `AbandonFailed`)
//! never leaves the account "already started" for ever: the sweep moves the due date
//! (conditionally, so one of two racing sweeps wins) and starts a new execution.

use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt};
use serde::Serialize;

use super::liveness::{execution_arn, ExecutionState};
use super::StartInput;
use crate::executions::{Executions, Started};
use crate::registry::schedule::RotationSchedule;
use crate::registry::{stamp, DueAccount};
use crate::{AccountId, ErrorType, LambdaError};

/// Page size of the due-date index query.
pub const PAGE_SIZE: u32 = 500;

/// Deterministic execution name: `rotate-<account>-<due, compact>` (≤ 80 characters of
/// `[A-Za-z0-9-]`, as Step Functions requires).
pub fn execution_name(account: &AccountId, due: &str) -> String {
    let compact: String = due.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("rotate-{account}-{compact}")
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    /// Due accounts found.
    pub due: usize,
    /// Executions started by this sweep.
    pub started: usize,
    /// Due accounts whose execution already existed and still runs (an earlier or concurrent
    /// sweep).
    pub already_started: usize,
    /// Of `started`: accounts whose earlier execution had ended without rescheduling them
    /// (stopped, failed in finish or abandon): started again under a new due date.
    pub restarted: usize,
    /// Accounts whose due date moved while the sweep ran (left for the next sweep).
    pub superseded: usize,
    /// Accounts that could not be started: `(account, error)`. The sweep fails if non-empty,
    /// after trying every account.
    pub failed: Vec<(String, String)>,
    pub pages: usize,
}

enum One {
    Started,
    Restarted,
    Already,
    Superseded,
}

/// Starts execution `name`: true if it started, false if one of that name already existed.
async fn start_named<X: Executions>(
    executions: &X,
    state_machine_arn: &str,
    name: &str,
    due: &DueAccount,
) -> Result<bool, LambdaError> {
    let input = StartInput {
        account_id: due.account_id.to_string(),
        trigger: Some(due.reason.as_str().to_owned()),
        apply_timeout_seconds: None,
    };
    let input = serde_json::to_string(&input)
        .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))?;
    Ok(matches!(
        executions.start(state_machine_arn, name, &input).await?,
        Started::New { .. }
    ))
}

/// The due date a restart serves: `now`, but always later than the one whose execution ended,
/// so the new execution name differs from the old one.
pub fn restart_due(old_due: &str, now: DateTime<Utc>) -> DateTime<Utc> {
    let after_old = DateTime::parse_from_rfc3339(old_due)
        .map(|d| d.to_utc() + Duration::seconds(1))
        .unwrap_or(now);
    now.max(after_old)
}

/// The execution serving `due` ended without moving the due date (stopped, `FinishFailed`,
/// `AbandonFailed`, timed out): the account is still due, so it gets a new due date (and so a
/// new execution name) and a new execution. Its prepare settles the pending version the ended
/// one left (discarded if nobody saw it; otherwise the operator must decide first, and the
/// new execution fails with `PendingDecisionRequired`, escalating a ticket).
async fn restart<R: RotationSchedule, X: Executions>(
    registry: &R,
    executions: &X,
    state_machine_arn: &str,
    due: &DueAccount,
    ended: &str,
    state: &ExecutionState,
    now: DateTime<Utc>,
) -> Result<One, LambdaError> {
    tracing::warn!(
        account = %due.account_id,
        execution = ended,
        status = state.describe(),
        "rotation execution ended without rescheduling; starting a new one"
    );
    let new_due = restart_due(&due.due, now);
    if !registry
        .move_due(&due.account_id, &due.due, new_due)
        .await?
    {
        return Ok(One::Superseded);
    }
    let again = DueAccount {
        due: stamp(new_due),
        execution: None,
        ..due.clone()
    };
    let name = execution_name(&again.account_id, &again.due);
    let started = start_named(executions, state_machine_arn, &name, &again).await?;
    if !registry
        .mark_started(&again.account_id, &again.due, &name)
        .await?
    {
        return Ok(One::Superseded);
    }
    Ok(if started {
        One::Restarted
    } else {
        One::Already
    })
}

async fn start_one<R: RotationSchedule, X: Executions>(
    registry: &R,
    executions: &X,
    state_machine_arn: &str,
    due: &DueAccount,
    now: DateTime<Utc>,
) -> Result<One, LambdaError> {
    let name = execution_name(&due.account_id, &due.due);
    let recorded = due.execution.as_deref() == Some(name.as_str());
    if recorded || !start_named(executions, state_machine_arn, &name, due).await? {
        // It exists: only Step Functions knows whether it still runs.
        let state = executions
            .state(&execution_arn(state_machine_arn, &name))
            .await?;
        if !state.is_running() {
            return restart(
                registry,
                executions,
                state_machine_arn,
                due,
                &name,
                &state,
                now,
            )
            .await;
        }
        if recorded {
            return Ok(One::Already);
        }
        return Ok(
            if registry
                .mark_started(&due.account_id, &due.due, &name)
                .await?
            {
                One::Already
            } else {
                One::Superseded
            },
        );
    }
    if !registry
        .mark_started(&due.account_id, &due.due, &name)
        .await?
    {
        return Ok(One::Superseded);
    }
    Ok(One::Started)
}

/// Runs one sweep at `now`, starting at most `concurrency` executions at once.
pub async fn sweep<R: RotationSchedule, X: Executions>(
    registry: &R,
    executions: &X,
    state_machine_arn: &str,
    now: DateTime<Utc>,
    concurrency: usize,
) -> Result<SweepReport, LambdaError> {
    let mut report = SweepReport::default();
    let mut after = None;
    loop {
        let page = registry.due_page(now, after, PAGE_SIZE).await?;
        report.pages += 1;
        report.due += page.due.len();
        let next = page.next;
        let results: Vec<(String, Result<One, LambdaError>)> = stream::iter(page.due)
            .map(|due| async move {
                let started = start_one(registry, executions, state_machine_arn, &due, now).await;
                (due.account_id.to_string(), started)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        for (account, r) in results {
            match r {
                Ok(One::Started) => report.started += 1,
                Ok(One::Restarted) => {
                    report.started += 1;
                    report.restarted += 1;
                }
                Ok(One::Already) => report.already_started += 1,
                Ok(One::Superseded) => report.superseded += 1,
                Err(e) => {
                    tracing::error!(account = %account, error = %e, "could not start rotation");
                    report.failed.push((account, e.to_string()));
                }
            }
        }
        after = next;
        if after.is_none() {
            break;
        }
    }
    tracing::info!(
        due = report.due,
        started = report.started,
        restarted = report.restarted,
        already_started = report.already_started,
        superseded = report.superseded,
        failed = report.failed.len(),
        "rotation sweep done"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_deterministic_and_valid() {
        let a = AccountId::parse("111122223333").unwrap();
        let n = execution_name(&a, "2026-11-24T10:00:00Z");
        assert_eq!(n, "rotate-111122223333-20261124T100000Z");
        assert_eq!(n, execution_name(&a, "2026-11-24T10:00:00Z"));
        assert_ne!(n, execution_name(&a, "2026-11-24T10:00:01Z"));
        assert!(n.len() <= 80);
        assert!(n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn a_restart_always_gets_a_new_name() {
        let a = AccountId::parse("111122223333").unwrap();
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let old = "2026-11-24T10:00:00Z";
        // Swept later: the new due date is the sweep's time.
        assert_eq!(
            restart_due(old, t("2026-11-25T08:00:00Z")),
            t("2026-11-25T08:00:00Z")
        );
        // Swept in the same second: one second later, never the old date (and name) again.
        let same = restart_due(old, t(old));
        assert_eq!(same, t("2026-11-24T10:00:01Z"));
        assert_ne!(execution_name(&a, &stamp(same)), execution_name(&a, old));
    }
}
