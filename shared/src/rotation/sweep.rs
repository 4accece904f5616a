//! The scheduled sweep: start one rotation per due account.
//!
//! Due accounts come from the registry's sparse due-date index (no scan): active vaulted accounts
//! whose `current` reached its maximum age, and accounts marked for rotation after a check-out
//! (their due date is set to the check-out time). Each gets one execution named after the
//! account and the due date it serves, so a second sweep, a retried sweep or two overlapping
//! sweeps start nothing twice: Step Functions refuses a second execution of one name, and the
//! registry records which execution serves the due date (conditional on that date).

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use serde::Serialize;

use super::StartInput;
use crate::registry::{DueAccount, DynamoAccountRegistry};
use crate::{AccountId, ErrorType, LambdaError};

/// Page size of the due-date index query.
pub const PAGE_SIZE: i32 = 500;

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
    /// Due accounts whose execution already existed (an earlier or concurrent sweep).
    pub already_started: usize,
    /// Accounts whose due date moved while the sweep ran (left for the next sweep).
    pub superseded: usize,
    /// Accounts that could not be started: `(account, error)`. The sweep fails if non-empty,
    /// after trying every account.
    pub failed: Vec<(String, String)>,
    pub pages: usize,
}

enum One {
    Started,
    Already,
    Superseded,
}

async fn start_one(
    registry: &DynamoAccountRegistry,
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    due: &DueAccount,
) -> Result<One, LambdaError> {
    let name = execution_name(&due.account_id, &due.due);
    if due.execution.as_deref() == Some(name.as_str()) {
        return Ok(One::Already);
    }
    let input = StartInput {
        account_id: due.account_id.to_string(),
        trigger: Some(due.reason.as_str().to_owned()),
        apply_timeout_seconds: None,
    };
    let input = serde_json::to_string(&input)
        .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))?;
    let started = match sfn
        .start_execution()
        .state_machine_arn(state_machine_arn)
        .name(&name)
        .input(input)
        .send()
        .await
    {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_execution_already_exists()) =>
        {
            false
        }
        Err(e) => return Err(crate::aws::sdk_error("states:StartExecution", &e)),
    };
    if !registry
        .mark_started(&due.account_id, &due.due, &name)
        .await?
    {
        return Ok(One::Superseded);
    }
    Ok(if started { One::Started } else { One::Already })
}

/// Runs one sweep at `now`, starting at most `concurrency` executions at once.
pub async fn sweep(
    registry: &DynamoAccountRegistry,
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    now: DateTime<Utc>,
    concurrency: usize,
) -> Result<SweepReport, LambdaError> {
    let mut report = SweepReport::default();
    let mut start = None;
    loop {
        let (page, next) = registry.due_page(now, start, PAGE_SIZE).await?;
        report.pages += 1;
        report.due += page.len();
        let results: Vec<(String, Result<One, LambdaError>)> = stream::iter(page.iter())
            .map(|due| async move {
                (
                    due.account_id.to_string(),
                    start_one(registry, sfn, state_machine_arn, due).await,
                )
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        for (account, r) in results {
            match r {
                Ok(One::Started) => report.started += 1,
                Ok(One::Already) => report.already_started += 1,
                Ok(One::Superseded) => report.superseded += 1,
                Err(e) => {
                    tracing::error!(account = %account, error = %e, "could not start rotation");
                    report.failed.push((account, e.to_string()));
                }
            }
        }
        start = next;
        if start.is_none() {
            break;
        }
    }
    tracing::info!(
        due = report.due,
        started = report.started,
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
}
