//! Root-credential enforcement on AWS: the use cases (`enforce`, `enforce_account`, `recover`)
//! live in the core (`rootwarden_core::enforcement`, re-exported here) and run over [`Deps`],
//! the bundle of AWS adapters: [`StsIamRootCredentials`] (`sts:AssumeRoot` sessions and the
//! root-credential IAM calls), `DynamoPostureRegistry`, `DynamoTicketStore` and
//! `DynamoAuditLog`.

mod root_credentials;

use std::sync::Arc;

pub use root_credentials::{read_posture, IamRootSession, StsIamRootCredentials};
pub use rootwarden_core::enforcement::*;

use crate::audit::DynamoAuditLog;
use crate::registry::{DynamoAccountRegistry, DynamoPostureRegistry};
use crate::tickets::{DynamoTicketStore, Ticket, TicketError};
use crate::{AccountId, Clock, Config, LambdaError};

/// Everything enforcement talks to.
#[derive(Clone)]
pub struct Deps {
    pub registry: DynamoPostureRegistry,
    pub audit: DynamoAuditLog,
    pub tickets: DynamoTicketStore,
    pub root: StsIamRootCredentials,
    /// The STS client root sessions are opened with (the caller's role).
    pub sts: aws_sdk_sts::Client,
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
        let root = StsIamRootCredentials::new(sdk);
        Self {
            registry: DynamoPostureRegistry::new(
                DynamoAccountRegistry::new(ddb.clone(), &config.accounts_table),
                audit.clone(),
            ),
            tickets: DynamoTicketStore::new(ddb, &config.tickets_table, audit.clone()),
            audit,
            sts: root.sts.clone(),
            root,
            clock,
            actor: actor.into(),
            concurrency: config.sweep_concurrency,
        }
    }

    /// An IAM client acting as `account`'s root user, scoped to `policy`, for 15 minutes.
    pub async fn root_iam(
        &self,
        account: &AccountId,
        policy: TaskPolicy,
    ) -> Result<aws_sdk_iam::Client, LambdaError> {
        self.root.root_iam(account, policy).await
    }
}

impl EnforcementPorts for Deps {
    type Registry = DynamoPostureRegistry;
    type Root = StsIamRootCredentials;
    type Tickets = DynamoTicketStore;
    type Audit = DynamoAuditLog;

    fn registry(&self) -> &DynamoPostureRegistry {
        &self.registry
    }
    fn root(&self) -> &StsIamRootCredentials {
        &self.root
    }
    fn tickets(&self) -> &DynamoTicketStore {
        &self.tickets
    }
    fn audit(&self) -> &DynamoAuditLog {
        &self.audit
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn actor(&self) -> &str {
        &self.actor
    }
    fn concurrency(&self) -> usize {
        self.concurrency
    }
}

impl EnforcementTickets for DynamoTicketStore {
    async fn open_task(
        &self,
        ticket: &Ticket,
        actor: &str,
        correlation_id: &str,
    ) -> Result<Ticket, TicketError> {
        DynamoTicketStore::open_task(self, ticket, actor, correlation_id).await
    }
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
