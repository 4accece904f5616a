//! Root password rotation: the use cases behind the `rotation` Lambda (the rotation state
//! machine's steps) and the operator's `rotation start|status|confirm|reject`.
//!
//! AWS has no API that sets a root password, so a rotation is:
//! 1. **prepare**: generate a password, vault it as `pending` (one per execution: a retry
//!    reuses it), open the ticket "apply pending root password";
//! 2. **await apply**: a `waitForTaskToken` step stores its token on the rotation record and
//!    registers it with the mail-correlation port; AWS's authenticated "password changed" mail
//!    or `rotation confirm` completes it, `rotation reject` fails it, the timeout abandons it;
//! 3. **finish**: `pending` → `current` (old `current` → `previous`), resolve the ticket, set
//!    the next due date; or **abandon**: discard `pending`, keep `current`, escalate the ticket,
//!    retry in a day.
//!
//! Every step is idempotent: killed between any two AWS calls and run again, it converges (the
//! fault-injection tests prove it). A pending version whose execution is no longer running is
//! discarded by the next prepare only if nobody can have seen it; one that reached the apply
//! step may be live, so the operator's `confirm` (which then runs finish) or `reject` (which
//! then runs abandon) decides first (`liveness`). Nothing waits on a stopped execution for
//! ever: the sweep restarts an account whose execution ended without rescheduling it.
//!
//! What each step decides (from the request, the vault head and the rotation record) is the
//! core's: `rootwarden_core::rotation::{steps, decisions, liveness}`. The modules here read,
//! ask and write: [`prepare()`], [`await_apply()`] (`apply`), [`finish()`], [`abandon()`], and the
//! operator's [`start()`], [`confirm()`], [`reject()`], [`status()`] (`operator`).

mod abandon;
mod apply;
mod finish;
pub mod liveness;
mod operator;
mod prepare;
mod store;
pub mod sweep;

use std::sync::Arc;

pub use rootwarden_core::rotation::{decisions, steps};
pub use rootwarden_core::rotation::{
    manual_execution_name, ticket_id, Abandoned, Finished, Prepared, StartInput, Step,
    REJECTED_ERROR, RETRY_AFTER_ABANDON,
};

pub use abandon::abandon;
pub use apply::{apply_checkout, await_apply};
pub use finish::finish;
pub use operator::{confirm, reject, start, status, Status};
pub use prepare::prepare;
pub use store::{DynamoRotationStore, RotationRecord, RotationStage};

use crate::audit::DynamoAuditLog;
use crate::registry::DynamoAccountRegistry;
use crate::tickets::DynamoTicketStore;
use crate::vault::{Actor, KmsVault};
use crate::workflows::DynamoWorkflowWaits;
use crate::{Clock, Config, ErrorType, LambdaError};

/// Everything the rotation use cases talk to.
#[derive(Clone)]
pub struct Deps {
    pub registry: DynamoAccountRegistry,
    pub vault: KmsVault,
    pub tickets: DynamoTicketStore,
    pub waits: DynamoWorkflowWaits,
    pub rotations: DynamoRotationStore,
    pub audit: DynamoAuditLog,
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
            sfn: clients.sfn,
            clock,
            actor: actor.into(),
            password_length: config.password_length,
            apply_timeout_seconds: config.apply_timeout_seconds,
        }
    }

    fn vault_actor(&self, execution: &str, reason: impl Into<String>) -> Actor {
        Actor {
            actor: self.actor.clone(),
            correlation_id: execution.to_owned(),
            reason: reason.into(),
        }
    }
}

fn vault_err(e: crate::vault::VaultError) -> LambdaError {
    LambdaError::from_classified(&e)
}

fn ticket_err(e: crate::tickets::TicketError) -> LambdaError {
    LambdaError::from_classified(&e)
}

/// Runs one step.
pub async fn run(deps: &Deps, step: Step) -> Result<serde_json::Value, LambdaError> {
    let out = match step {
        Step::Prepare {
            execution,
            execution_arn,
            input,
        } => serde_json::to_value(prepare(deps, &execution, &execution_arn, &input).await?),
        Step::AwaitApply {
            account_id: a,
            execution,
            task_token,
            apply_timeout_seconds,
        } => {
            await_apply(
                deps,
                &steps::account_id(&a)?,
                &execution,
                &task_token,
                apply_timeout_seconds,
            )
            .await?;
            Ok(serde_json::json!({"registered": true}))
        }
        Step::Finish {
            account_id: a,
            execution,
            confirmation,
        } => serde_json::to_value(
            finish(deps, &steps::account_id(&a)?, &execution, &confirmation).await?,
        ),
        Step::Abandon {
            account_id: a,
            execution,
            error,
        } => {
            serde_json::to_value(abandon(deps, &steps::account_id(&a)?, &execution, &error).await?)
        }
    };
    out.map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))
}
