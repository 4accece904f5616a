//! The enforcement run: per account, observe through an audit session, execute the plan,
//! observe again, record the conclusion (registry, drift ticket, audit); over the fleet, with
//! bounded concurrency, one account's failure not stopping the others.

use futures::stream::{self, StreamExt};

use super::execute::execute;
use super::plan::{plan, skips};
use super::ports::{
    EnforcementPorts, EnforcementTickets, RootCredentials, RootSession, TaskPolicy,
};
use super::records::Recorder;
use super::report::{AccountReport, EnforcementReport};
use crate::audit::AuditLog;
use crate::registry::posture::PostureRegistry;
use crate::registry::Account;
use crate::{AccountId, ErrorType, LambdaError};

fn recorder<'a, P: EnforcementPorts>(
    ports: &'a P,
    account: &'a AccountId,
    run: &'a str,
) -> Recorder<'a> {
    Recorder {
        account,
        actor: ports.actor(),
        run,
    }
}

/// Enforces one account. `run` correlates the audit records of one job run.
pub async fn enforce_account<P: EnforcementPorts>(
    ports: &P,
    account: &Account,
    run: &str,
) -> Result<AccountReport, LambdaError> {
    let id = &account.account_id;
    if skips(account) {
        return Ok(AccountReport::skipped(id));
    }
    let now = ports.clock().now();
    let audit_session = ports
        .root()
        .open(id, TaskPolicy::AuditRootUserCredentials)
        .await?;
    let before = audit_session.posture().await?;
    let plan = plan(account, &before, now);
    let rec = recorder(ports, id, run);
    let done = execute(ports, &plan, rec).await?;
    // After removals AWS is asked again (through the delete session), not assumed.
    let after = match &done.session {
        Some(session) => session.posture().await?,
        None => before,
    };
    let conclusion = plan.conclude(&after, done.removed)?;
    // The posture and its record land together (one transaction on DynamoDB).
    let record = rec.posture_recorded(
        &after,
        conclusion.outcome,
        &conclusion.removed,
        &conclusion.findings,
    );
    ports
        .registry()
        .record_posture(id, &conclusion.record, now, &record)
        .await?;
    let mut ticket_id = done.ticket_id;
    if let Some(ticket) = &conclusion.drift_ticket {
        let ticket = ports
            .tickets()
            .open_task(ticket, ports.actor(), run)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
        ticket_id.get_or_insert(ticket.id);
    }
    Ok(AccountReport::concluded(id, &conclusion, ticket_id))
}

pub(super) async fn enforce_or_fail<P: EnforcementPorts>(
    ports: &P,
    account: &Account,
    run: &str,
) -> AccountReport {
    match enforce_account(ports, account, run).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(account = %account.account_id, error_type = e.error_type.as_str(), error = %e.message, "enforcement failed");
            // Best effort: the failure is also in the run's report and the logs.
            let _ = ports
                .audit()
                .append(
                    &recorder(ports, &account.account_id, run)
                        .enforcement_failed(&e.message, e.error_type.as_str()),
                )
                .await;
            AccountReport::failed(&account.account_id, e)
        }
    }
}

/// Enforces the given accounts (all registered ones when `only` is `None`), with bounded
/// concurrency. One account's failure does not stop the others.
pub async fn enforce<P: EnforcementPorts>(
    ports: &P,
    only: Option<&AccountId>,
    run: &str,
) -> Result<EnforcementReport, LambdaError> {
    let accounts = match only {
        Some(id) => vec![ports.registry().find_account(id).await?.ok_or_else(|| {
            LambdaError::new(
                ErrorType::NotFound,
                format!("account {id} is not registered"),
            )
        })?],
        None => ports.registry().all_accounts().await?,
    };
    let mut report = EnforcementReport::new(run);
    let results: Vec<AccountReport> = stream::iter(accounts.iter())
        .map(|a| enforce_or_fail(ports, a, run))
        .buffer_unordered(ports.concurrency().max(1))
        .collect()
        .await;
    for r in results {
        report.add(r);
    }
    report.sort();
    tracing::info!(
        run,
        checked = report.checked,
        remediated = report.remediated,
        drift = report.drift,
        failed = report.failed,
        "root-credential enforcement finished"
    );
    Ok(report)
}
