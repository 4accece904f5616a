//! Root-credential enforcement: the use case behind the daily `root-enforcement` Lambda and the
//! operator's `account recover`.
//!
//! For every active account, `sts:AssumeRoot` with the task policy
//! `IAMAuditRootUserCredentials` reads the root user's access keys, signing certificates, MFA
//! devices and login profile ([`observe`]). The core's pure [`plan`] decides what goes (see
//! `rootwarden_core::enforcement` for the rules); [`execute`] removes it in a second session
//! scoped to `IAMDeleteRootUserCredentials`, after opening the operators' ticket. The posture is
//! then read again, recorded on the registry item and in the account's audit chain; every
//! removal is audited before it is made (fail closed) and after.
//!
//! Every run is idempotent: an interrupted run is finished by the next one (deleting what is
//! already gone counts as done; tickets have deterministic ids and are opened before the
//! removals they describe).

mod execute;
mod observe;
mod recover;

use std::sync::Arc;

use futures::stream::{self, StreamExt};

pub use observe::{read_posture, TaskPolicy, ROOT_SESSION_SECONDS};
pub use recover::{recover, RecoveryReport};
pub use rootwarden_core::enforcement::*;

use crate::audit::{AuditLog, DynamoAuditLog};
use crate::registry::{Account, DynamoAccountRegistry};
use crate::tickets::DynamoTicketStore;
use crate::{AccountId, Clock, Config, ErrorType, LambdaError};

/// Everything enforcement talks to.
#[derive(Clone)]
pub struct Deps {
    pub registry: DynamoAccountRegistry,
    pub audit: DynamoAuditLog,
    pub tickets: DynamoTicketStore,
    pub sts: aws_sdk_sts::Client,
    /// Base configuration of the IAM clients built for each root session (region, endpoint,
    /// retry, HTTP client); only the credentials differ.
    pub sdk: aws_types::SdkConfig,
    pub clock: Arc<dyn Clock>,
    /// Who acts (audit `actor`): the Lambda's name or the operator's ARN.
    pub actor: String,
    pub concurrency: usize,
}

impl Deps {
    pub fn new(
        config: &Config,
        sdk: &aws_types::SdkConfig,
        clock: Arc<dyn Clock>,
        actor: impl Into<String>,
    ) -> Self {
        let ddb = aws_sdk_dynamodb::Client::new(sdk);
        let audit = DynamoAuditLog::new(ddb.clone(), &config.audit_table, clock.clone());
        Self {
            registry: DynamoAccountRegistry::new(ddb.clone(), &config.accounts_table),
            tickets: DynamoTicketStore::new(ddb, &config.tickets_table, audit.clone()),
            audit,
            sts: aws_sdk_sts::Client::new(sdk),
            sdk: sdk.clone(),
            clock,
            actor: actor.into(),
            concurrency: config.sweep_concurrency,
        }
    }

    fn recorder<'a>(&'a self, account: &'a AccountId, run: &'a str) -> Recorder<'a> {
        Recorder {
            account,
            actor: &self.actor,
            run,
        }
    }
}

/// Enforces one account. `run` correlates the audit records of one job run.
pub async fn enforce_account(
    deps: &Deps,
    account: &Account,
    run: &str,
) -> Result<AccountReport, LambdaError> {
    let id = &account.account_id;
    if skips(account) {
        return Ok(AccountReport::skipped(id));
    }
    let now = deps.clock.now();
    let iam = deps
        .root_iam(id, TaskPolicy::AuditRootUserCredentials)
        .await?;
    let before = read_posture(&iam).await?;
    let plan = plan(account, &before, now);
    let rec = deps.recorder(id, run);
    let done = execute::execute(deps, &plan, rec).await?;
    // After removals AWS is asked again (through the delete session), not assumed.
    let after = match &done.session {
        Some(iam) => read_posture(iam).await?,
        None => before,
    };
    let conclusion = plan.conclude(&after, done.removed)?;
    deps.registry
        .record_posture(id, &conclusion.record, now)
        .await?;
    let mut ticket_id = done.ticket_id;
    if let Some(ticket) = &conclusion.drift_ticket {
        let ticket = deps
            .tickets
            .open_task(ticket, &deps.actor, run)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
        ticket_id.get_or_insert(ticket.id);
    }
    deps.audit
        .append(&rec.posture_recorded(
            &after,
            conclusion.outcome,
            &conclusion.removed,
            &conclusion.findings,
        ))
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    Ok(AccountReport::concluded(id, &conclusion, ticket_id))
}

async fn enforce_or_fail(deps: &Deps, account: &Account, run: &str) -> AccountReport {
    match enforce_account(deps, account, run).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(account = %account.account_id, error_type = e.error_type.as_str(), error = %e.message, "enforcement failed");
            // Best effort: the failure is also in the run's report and the logs.
            let _ = deps
                .audit
                .append(
                    &deps
                        .recorder(&account.account_id, run)
                        .enforcement_failed(&e.message, e.error_type.as_str()),
                )
                .await;
            AccountReport::failed(&account.account_id, e)
        }
    }
}

/// Enforces the given accounts (all registered ones when `only` is `None`), with bounded
/// concurrency. One account's failure does not stop the others.
pub async fn enforce(
    deps: &Deps,
    only: Option<&AccountId>,
    run: &str,
) -> Result<EnforcementReport, LambdaError> {
    let accounts = match only {
        Some(id) => vec![deps.registry.get(id).await?.ok_or_else(|| {
            LambdaError::new(
                ErrorType::NotFound,
                format!("account {id} is not registered"),
            )
        })?],
        None => deps.registry.list().await?,
    };
    let mut report = EnforcementReport::new(run);
    let results: Vec<AccountReport> = stream::iter(accounts.iter())
        .map(|a| enforce_or_fail(deps, a, run))
        .buffer_unordered(deps.concurrency.max(1))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_policy_arns_are_the_aws_managed_ones() {
        assert_eq!(
            TaskPolicy::DeleteRootUserCredentials.arn(),
            "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"
        );
        assert_eq!(
            TaskPolicy::AuditRootUserCredentials.arn(),
            "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"
        );
        assert_eq!(
            TaskPolicy::CreateRootUserPassword.arn(),
            "arn:aws:iam::aws:policy/root-task/IAMCreateRootUserPassword"
        );
    }
}
