//! Root password rotation on AWS: [`Deps`], the AWS adapters the rotation use cases
//! (`rootwarden_core::rotation`, re-exported here) run on, and [`DynamoRotationStore`].
//!
//! The use cases ([`prepare()`], [`await_apply()`], [`finish()`], [`abandon()`], the operator's
//! [`start()`], [`confirm()`], [`reject()`], [`status()`], and the [`sweep`]) are the core's,
//! generic over `RotationPorts`; `Deps` implements it with DynamoDB, KMS and Step Functions.

mod rotation_store;
mod store;

pub mod liveness;
pub mod sweep;

use std::sync::Arc;

pub use rootwarden_core::rotation::{
    abandon, await_apply, confirm, finish, manual_execution_name, prepare, reject, run, start,
    status, ticket_id, Abandoned, Finished, Prepared, RotationPorts, RotationStore, StartInput,
    Status, Step, REJECTED_ERROR, RETRY_AFTER_ABANDON,
};
pub use rootwarden_core::rotation::{decisions, steps};

pub use store::{DynamoRotationStore, RotationRecord, RotationStage};

use crate::audit::DynamoAuditLog;
use crate::executions::SfnExecutions;
use crate::registry::DynamoAccountRegistry;
use crate::tickets::DynamoTicketStore;
use crate::vault::KmsVault;
use crate::workflows::DynamoWorkflowWaits;
use crate::{Clock, Config};

/// Everything the rotation use cases talk to.
#[derive(Clone)]
pub struct Deps {
    pub registry: DynamoAccountRegistry,
    pub vault: KmsVault,
    pub tickets: DynamoTicketStore,
    pub waits: DynamoWorkflowWaits,
    pub rotations: DynamoRotationStore,
    pub audit: DynamoAuditLog,
    pub executions: SfnExecutions,
    pub sfn: aws_sdk_sfn::Client,
    pub clock: Arc<dyn Clock>,
    /// Who acts (audit `actor`): the Lambda's name or the operator's ARN.
    pub actor: String,
    pub password_length: usize,
    pub apply_timeout_seconds: u64,
}

/// SDK clients, built once per process (tests add fault-injecting interceptors).
#[derive(Clone)]
pub struct Clients {
    pub ddb: aws_sdk_dynamodb::Client,
    pub kms: aws_sdk_kms::Client,
    pub sfn: aws_sdk_sfn::Client,
}

impl Clients {
    pub fn new(sdk: &aws_types::SdkConfig) -> Self {
        Self {
            ddb: aws_sdk_dynamodb::Client::new(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
            sfn: aws_sdk_sfn::Client::new(sdk),
        }
    }
}

impl Deps {
    pub fn new(
        config: &Config,
        clients: Clients,
        clock: Arc<dyn Clock>,
        actor: impl Into<String>,
    ) -> Self {
        let audit = DynamoAuditLog::new(clients.ddb.clone(), &config.audit_table, clock.clone());
        Self {
            registry: DynamoAccountRegistry::new(clients.ddb.clone(), &config.accounts_table),
            vault: KmsVault::new(
                clients.ddb.clone(),
                clients.kms.clone(),
                &config.vault_table,
                &config.vault_key,
                audit.clone(),
                clock.clone(),
            ),
            tickets: DynamoTicketStore::new(
                clients.ddb.clone(),
                &config.tickets_table,
                audit.clone(),
            ),
            waits: DynamoWorkflowWaits::new(
                clients.ddb.clone(),
                clients.sfn.clone(),
                &config.workflows_table,
            ),
            rotations: DynamoRotationStore::new(clients.ddb.clone(), &config.workflows_table),
            audit,
            executions: SfnExecutions::new(clients.sfn.clone()),
            sfn: clients.sfn,
            clock,
            actor: actor.into(),
            password_length: config.password_length,
            apply_timeout_seconds: config.apply_timeout_seconds,
        }
    }
}

impl RotationPorts for Deps {
    type Registry = DynamoAccountRegistry;
    type Vault = KmsVault;
    type Tickets = DynamoTicketStore;
    type Waits = DynamoWorkflowWaits;
    type Rotations = DynamoRotationStore;
    type Audit = DynamoAuditLog;
    type Executions = SfnExecutions;

    fn registry(&self) -> &DynamoAccountRegistry {
        &self.registry
    }
    fn vault(&self) -> &KmsVault {
        &self.vault
    }
    fn tickets(&self) -> &DynamoTicketStore {
        &self.tickets
    }
    fn waits(&self) -> &DynamoWorkflowWaits {
        &self.waits
    }
    fn rotations(&self) -> &DynamoRotationStore {
        &self.rotations
    }
    fn audit(&self) -> &DynamoAuditLog {
        &self.audit
    }
    fn executions(&self) -> &SfnExecutions {
        &self.executions
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn actor(&self) -> &str {
        &self.actor
    }
    fn password_length(&self) -> usize {
        self.password_length
    }
    fn apply_timeout_seconds(&self) -> u64 {
        self.apply_timeout_seconds
    }
}
