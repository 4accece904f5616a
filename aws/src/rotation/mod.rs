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

pub mod liveness;
mod store;
pub mod sweep;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::audit::{AuditEntry, AuditLog, DynamoAuditLog, Outcome, Stream};
use crate::mail::{Category, Priority};
use crate::registry::{stamp, AccountMode, AccountStatus, DynamoAccountRegistry, RotationReason};
use crate::tickets::{DynamoTicketStore, TaskChange, Ticket};
use crate::vault::password::{self, PasswordPolicy};
use crate::vault::{Actor, CredentialKind, Head, KmsVault, Vault};
use crate::workflows::{DynamoWorkflowWaits, Wait, WorkflowWaits};
use crate::{AccountId, Clock, Config, ErrorType, LambdaError};

use liveness::{execution_state, ExecutionState, Orphan};
pub use store::{DynamoRotationStore, RotationRecord, RotationStage};

/// The error name `rotation reject` fails the await-apply task with; the state machine's
/// `Catch` routes it to abandon.
pub const REJECTED_ERROR: &str = "RotationRejected";
/// After an abandoned rotation, the sweep tries again this much later.
pub const RETRY_AFTER_ABANDON: Duration = Duration::hours(24);

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

/// The rotation state machine's execution input.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StartInput {
    pub account_id: String,
    /// `schedule`, `checkout`, `manual`, ...
    #[serde(default)]
    pub trigger: Option<String>,
    /// Overrides the configured apply timeout (1 s to 30 days).
    #[serde(default)]
    pub apply_timeout_seconds: Option<u64>,
}

/// The prepare step's output: the state the rest of the execution works on. No secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Prepared {
    pub account_id: String,
    pub execution: String,
    pub pending_version: u32,
    pub current_version: u32,
    pub ticket_id: String,
    pub apply_timeout_seconds: u64,
}

/// One invocation of the rotation Lambda, as the state machine sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Step {
    Prepare {
        execution: String,
        execution_arn: String,
        input: StartInput,
    },
    AwaitApply {
        account_id: String,
        execution: String,
        task_token: String,
        apply_timeout_seconds: u64,
    },
    Finish {
        account_id: String,
        execution: String,
        #[serde(default)]
        confirmation: serde_json::Value,
    },
    Abandon {
        account_id: String,
        execution: String,
        #[serde(default)]
        error: serde_json::Value,
    },
}

fn account_id(raw: &str) -> Result<AccountId, LambdaError> {
    AccountId::parse(raw).map_err(|e| LambdaError::new(ErrorType::ValidationError, e.to_string()))
}

fn vault_err(e: crate::vault::VaultError) -> LambdaError {
    LambdaError::from_classified(&e)
}

fn ticket_err(e: crate::tickets::TicketError) -> LambdaError {
    LambdaError::from_classified(&e)
}

/// Ticket id of a rotation: one per execution, so a retried step finds its ticket.
pub fn ticket_id(execution: &str) -> String {
    format!("rotation-{execution}")
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
                &account_id(&a)?,
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
        } => serde_json::to_value(finish(deps, &account_id(&a)?, &execution, &confirmation).await?),
        Step::Abandon {
            account_id: a,
            execution,
            error,
        } => serde_json::to_value(abandon(deps, &account_id(&a)?, &execution, &error).await?),
    };
    out.map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))
}

/// The execution ARN of `name`, a sibling of `arn` (same state machine).
fn sibling_arn(arn: &str, name: &str) -> String {
    match arn.rsplit_once(':') {
        Some((base, _)) => format!("{base}:{name}"),
        None => name.to_owned(),
    }
}

/// Deals with the pending version `other` left before `execution` (None: the operator's
/// `start`) stages its own: `Conflict` while `other` runs, [`ErrorType::PendingDecisionRequired`]
/// when it may be live, otherwise discards it (audited by the vault) and ends its record.
async fn settle_orphan(
    deps: &Deps,
    account: &AccountId,
    execution: &str,
    other: &str,
    other_arn: impl Fn(Option<&RotationRecord>) -> String,
    discard: bool,
) -> Result<(), LambdaError> {
    let record = deps.rotations.get(account, other).await?;
    let state = match &record {
        Some(r) if r.stage != RotationStage::AwaitingApply => ExecutionState::Missing,
        r => execution_state(&deps.sfn, &other_arn(r.as_ref())).await?,
    };
    match liveness::orphan_pending(record.as_ref(), &state) {
        Orphan::InProgress => Err(LambdaError::new(
            ErrorType::Conflict,
            format!("rotation {other} of account {account} is in progress"),
        )),
        Orphan::DecisionRequired => {
            let r = record.as_ref().ok_or_else(|| {
                LambdaError::new(ErrorType::InternalError, "decision without a record")
            })?;
            Err(liveness::decision_required(account, r, &state))
        }
        Orphan::Discard if !discard => Ok(()),
        Orphan::Discard => {
            let reason = format!("superseded by {execution}: rotation {other} no longer runs");
            deps.vault
                .discard_pending(
                    account,
                    CredentialKind::RootPassword,
                    other,
                    &deps.vault_actor(execution, &reason),
                )
                .await
                .map_err(vault_err)?;
            Ok(())
        }
    }
}

/// Step 1.
pub async fn prepare(
    deps: &Deps,
    execution: &str,
    execution_arn: &str,
    input: &StartInput,
) -> Result<Prepared, LambdaError> {
    let account = account_id(&input.account_id)?;
    let timeout = match input.apply_timeout_seconds {
        None => deps.apply_timeout_seconds,
        // Per execution, anything from 1 s (drills and tests) to 30 days.
        Some(t) if (1..=30 * 24 * 3600).contains(&t) => t,
        Some(_) => {
            return Err(LambdaError::new(
                ErrorType::ValidationError,
                "apply_timeout_seconds must be from 1 to 2592000",
            ))
        }
    };
    let registered = deps.registry.get(&account).await?.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("account {account} is not registered"),
        )
    })?;
    if registered.status != AccountStatus::Active || registered.mode != AccountMode::Vaulted {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            format!(
                "account {account} is {} and {}: only active vaulted accounts rotate",
                registered.status.as_str(),
                registered.mode.as_str()
            ),
        ));
    }
    if let Some(r) = deps.rotations.get(&account, execution).await? {
        if r.stage != RotationStage::AwaitingApply {
            return Err(LambdaError::new(
                ErrorType::Conflict,
                format!("rotation {execution} already ended ({})", r.stage.as_str()),
            ));
        }
    }
    let head: Head = deps
        .vault
        .head(&account, CredentialKind::RootPassword)
        .await
        .map_err(vault_err)?
        .ok_or_else(|| {
            LambdaError::new(
                ErrorType::NotFound,
                format!("no root password vaulted for {account}"),
            )
        })?;
    // A pending version of another execution: discarded only when that execution no longer
    // runs and no human can have seen it (see `liveness::orphan_pending`).
    if let (Some(_), Some(other)) = (head.pending, head.pending_execution.as_deref()) {
        if other != execution {
            let other_arn = |r: Option<&RotationRecord>| {
                r.map(|r| r.execution_arn.clone())
                    .filter(|a| !a.is_empty())
                    .unwrap_or_else(|| sibling_arn(execution_arn, other))
            };
            settle_orphan(deps, &account, execution, other, other_arn, true).await?;
        }
    }
    let terms =
        password::forbidden_terms(registered.root_email.as_str(), registered.name.as_deref());
    let policy = PasswordPolicy::new(deps.password_length)
        .map_err(|e| LambdaError::new(ErrorType::ConfigError, e.to_string()))?;
    let terms: Vec<&str> = terms.iter().map(String::as_str).collect();
    let candidate: SecretString = password::generate(&policy, &terms)
        .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))?;
    let trigger = input.trigger.clone().unwrap_or_else(|| "manual".into());
    let (pending, _created) = deps
        .vault
        .stage_pending(
            &account,
            CredentialKind::RootPassword,
            execution,
            &candidate,
            &deps.vault_actor(execution, format!("rotation ({trigger})")),
        )
        .await
        .map_err(vault_err)?;
    drop(candidate);
    let now = deps.clock.now();
    let ticket = Ticket::task(
        ticket_id(execution),
        &account,
        Category::Account,
        Priority::Normal,
        format!("Apply pending root password for account {account}"),
        format!(
            "Rotation {execution} vaulted a new root password as pending version {pending} \
             (current: version {}). To apply it: check out with reason rotation-apply (shows \
             current and pending), sign in as root, change the password to the pending one. \
             AWS's \"password changed\" mail completes the rotation; or run `rootwarden rotation \
             confirm --account {account}`. It is abandoned after {} hours.",
            head.current,
            timeout / 3600
        ),
        now,
    );
    let ticket = deps
        .tickets
        .open_task(&ticket, &deps.actor, execution)
        .await
        .map_err(ticket_err)?;
    let record = RotationRecord {
        account_id: account.clone(),
        execution: execution.to_owned(),
        execution_arn: execution_arn.to_owned(),
        trigger,
        stage: RotationStage::AwaitingApply,
        pending_version: pending,
        current_version: head.current,
        completed_version: None,
        ticket_id: ticket.id.clone(),
        task_token: None,
        apply_deadline: None,
        started_at: stamp(now),
        updated_at: stamp(now),
        outcome: None,
    };
    let record = deps.rotations.create(&record).await?;
    tracing::info!(account = %account, execution, pending_version = pending, "rotation prepared");
    Ok(Prepared {
        account_id: account.to_string(),
        execution: execution.to_owned(),
        pending_version: record.pending_version,
        current_version: record.current_version,
        ticket_id: record.ticket_id,
        apply_timeout_seconds: timeout,
    })
}

/// Step 2 (the Lambda part of the `waitForTaskToken` task): store the token where mail and the
/// operator can find it.
pub async fn await_apply(
    deps: &Deps,
    account: &AccountId,
    execution: &str,
    task_token: &str,
    timeout_seconds: u64,
) -> Result<(), LambdaError> {
    if task_token.is_empty() {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            "task_token is empty",
        ));
    }
    let now = deps.clock.now();
    let deadline = now + Duration::seconds(i64::try_from(timeout_seconds).unwrap_or(i64::MAX / 2));
    deps.rotations
        .set_token(
            account,
            execution,
            task_token,
            &stamp(deadline),
            &stamp(now),
        )
        .await?;
    deps.waits
        .register(&Wait {
            account: account.clone(),
            kind: Category::PasswordChanged,
            execution: execution.to_owned(),
            task_token: task_token.to_owned(),
            expires_at: deadline,
            registered_at: now,
            claimed_by: None,
        })
        .await?;
    tracing::info!(account = %account, execution, deadline = %stamp(deadline), "awaiting apply");
    Ok(())
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finished {
    pub account_id: String,
    pub execution: String,
    pub current_version: u32,
    pub next_due: String,
}

fn confirmation_text(c: &serde_json::Value) -> String {
    if let Some(actor) = c.get("actor").and_then(|a| a.as_str()) {
        format!("confirmed by operator {actor}")
    } else if let Some(t) = c.get("ticket_id").and_then(|a| a.as_str()) {
        format!("confirmed by AWS password-changed mail (ticket {t})")
    } else {
        "confirmed".to_owned()
    }
}

/// Step 3: pending → current.
pub async fn finish(
    deps: &Deps,
    account: &AccountId,
    execution: &str,
    confirmation: &serde_json::Value,
) -> Result<Finished, LambdaError> {
    let record = deps
        .rotations
        .get(account, execution)
        .await?
        .ok_or_else(|| {
            LambdaError::new(
                ErrorType::NotFound,
                format!("no rotation {execution} for {account}"),
            )
        })?;
    if record.stage == RotationStage::Abandoned {
        return Err(LambdaError::new(
            ErrorType::Conflict,
            format!("rotation {execution} was abandoned"),
        ));
    }
    let how = confirmation_text(confirmation);
    let current = deps
        .vault
        .promote(
            account,
            CredentialKind::RootPassword,
            execution,
            &deps.vault_actor(execution, &how),
        )
        .await
        .map_err(vault_err)?;
    let now = deps.clock.now();
    deps.rotations
        .end(
            account,
            execution,
            RotationStage::Completed,
            Some(current),
            &how,
            &stamp(now),
        )
        .await?;
    let max_age = deps
        .registry
        .get(account)
        .await?
        .map(|a| a.max_age_days)
        .unwrap_or(90);
    let next_due = now + Duration::days(i64::from(max_age));
    deps.registry
        .reschedule(
            account,
            execution,
            next_due,
            RotationReason::MaxAge,
            Some(now),
        )
        .await?;
    deps.tickets
        .change_task(
            &record.ticket_id,
            TaskChange::Resolve,
            &format!("Rotation completed ({how}): version {current} is current."),
            &deps.actor,
            execution,
            now,
        )
        .await
        .map_err(ticket_err)?;
    deps.waits
        .remove(account, Category::PasswordChanged, execution)
        .await?;
    tracing::info!(account = %account, execution, current_version = current, "rotation completed");
    Ok(Finished {
        account_id: account.to_string(),
        execution: execution.to_owned(),
        current_version: current,
        next_due: stamp(next_due),
    })
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Abandoned {
    pub account_id: String,
    pub execution: String,
    pub discarded_version: Option<u32>,
    pub reason: String,
    pub retry_at: String,
}

fn abandon_reason(error: &serde_json::Value) -> String {
    let name = error.get("Error").and_then(|e| e.as_str()).unwrap_or("");
    let cause = error.get("Cause").and_then(|e| e.as_str()).unwrap_or("");
    match name {
        "States.Timeout" => "the apply step timed out".to_owned(),
        REJECTED_ERROR => format!("rejected: {}", cause.chars().take(300).collect::<String>()),
        "PendingDecisionRequired" => {
            // A Lambda error's cause is `{"errorType", "errorMessage"}`.
            let message = serde_json::from_str::<serde_json::Value>(cause)
                .ok()
                .and_then(|c| c.get("errorMessage")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| cause.to_owned());
            format!(
                "decision required: {}",
                message.chars().take(500).collect::<String>()
            )
        }
        "" => "abandoned".to_owned(),
        other => format!("failed with {other}"),
    }
}

/// Timeout, rejection or failure: discard pending, keep current, escalate.
pub async fn abandon(
    deps: &Deps,
    account: &AccountId,
    execution: &str,
    error: &serde_json::Value,
) -> Result<Abandoned, LambdaError> {
    let reason = abandon_reason(error);
    let record = deps.rotations.get(account, execution).await?;
    if record
        .as_ref()
        .is_some_and(|r| r.stage == RotationStage::Completed)
    {
        return Err(LambdaError::new(
            ErrorType::Conflict,
            format!("rotation {execution} already completed; nothing to abandon"),
        ));
    }
    let discarded = deps
        .vault
        .discard_pending(
            account,
            CredentialKind::RootPassword,
            execution,
            &deps.vault_actor(execution, &reason),
        )
        .await
        .map_err(vault_err)?;
    let now = deps.clock.now();
    if record.is_some() {
        deps.rotations
            .end(
                account,
                execution,
                RotationStage::Abandoned,
                None,
                &reason,
                &stamp(now),
            )
            .await?;
    }
    let retry_at = now + RETRY_AFTER_ABANDON;
    deps.registry
        .reschedule(account, execution, retry_at, RotationReason::Retry, None)
        .await?;
    let pending = record.as_ref().map(|r| r.pending_version).or(discarded);
    let current = record.as_ref().map(|r| r.current_version);
    let ticket = Ticket::task(
        ticket_id(execution),
        account,
        Category::Account,
        Priority::High,
        format!("Root password rotation abandoned for account {account}"),
        format!("Rotation {execution} did not complete."),
        now,
    );
    deps.tickets
        .open_task(&ticket, &deps.actor, execution)
        .await
        .map_err(ticket_err)?;
    let note = match pending {
        Some(p) => format!(
            "Rotation abandoned: {reason}. Pending version {p} discarded (kept, never deleted); \
             current version {} unchanged. If the pending password was applied anyway, an \
             administrator must recover it from the discarded version. Retry due {}.",
            current.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
            stamp(retry_at)
        ),
        None => format!(
            "Rotation abandoned: {reason}. It vaulted no pending version; nothing was \
             discarded. Retry due {}.",
            stamp(retry_at)
        ),
    };
    deps.tickets
        .change_task(
            &ticket.id,
            TaskChange::Escalate,
            &note,
            &deps.actor,
            execution,
            now,
        )
        .await
        .map_err(ticket_err)?;
    deps.waits
        .remove(account, Category::PasswordChanged, execution)
        .await?;
    tracing::warn!(account = %account, execution, reason = %reason, "rotation abandoned");
    Ok(Abandoned {
        account_id: account.to_string(),
        execution: execution.to_owned(),
        discarded_version: discarded,
        reason,
        retry_at: stamp(retry_at),
    })
}

// ------------------------------------------------------------------ operator use cases

/// Execution name of an on-demand rotation.
pub fn manual_execution_name(account: &AccountId, now: DateTime<Utc>) -> String {
    format!("manual-{account}-{}", now.format("%Y%m%dT%H%M%SZ"))
}

/// Starts a rotation now (operator), unless one awaits its apply step.
pub async fn start(
    deps: &Deps,
    state_machine_arn: &str,
    account: &AccountId,
    apply_timeout_seconds: Option<u64>,
) -> Result<String, LambdaError> {
    let registered = deps.registry.get(account).await?.ok_or_else(|| {
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
    for active in deps.rotations.list(account).await? {
        if active.stage == RotationStage::AwaitingApply
            && execution_state(&deps.sfn, &active.execution_arn)
                .await?
                .is_running()
        {
            return Err(LambdaError::new(
                ErrorType::Conflict,
                format!(
                    "rotation {} of account {account} is awaiting its apply step",
                    active.execution
                ),
            ));
        }
    }
    // A pending version that may be live is never discarded by a new rotation: the operator
    // decides first. (One nobody saw is discarded by the new execution's prepare.)
    let head = deps
        .vault
        .head(account, CredentialKind::RootPassword)
        .await
        .map_err(vault_err)?;
    if let Some(other) = head
        .as_ref()
        .filter(|h| h.pending.is_some())
        .and_then(|h| h.pending_execution.as_deref())
    {
        let other_arn = |r: Option<&RotationRecord>| {
            r.map(|r| r.execution_arn.clone())
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| liveness::execution_arn(state_machine_arn, other))
        };
        settle_orphan(deps, account, "rotation start", other, other_arn, false).await?;
    }
    let name = manual_execution_name(account, deps.clock.now());
    let input = StartInput {
        account_id: account.to_string(),
        trigger: Some("manual".into()),
        apply_timeout_seconds,
    };
    let out = deps
        .sfn
        .start_execution()
        .state_machine_arn(state_machine_arn)
        .name(&name)
        .input(serde_json::to_string(&input).unwrap_or_default())
        .send()
        .await
        .map_err(|e| crate::sdk::sdk_error("states:StartExecution", &e))?;
    tracing::info!(account = %account, execution = %name, arn = out.execution_arn(), "rotation started");
    Ok(name)
}

/// The rotation an operator's `confirm` or `reject` decides.
enum Decidable {
    /// Its execution runs and waits for the apply step (its task token is stored).
    Waiting(RotationRecord),
    /// Its execution no longer runs (stopped, failed in `Finish` or `Abandon`): its pending
    /// version may be live, and only the operator's decision settles it.
    Orphaned(RotationRecord, ExecutionState),
}

async fn decidable(deps: &Deps, account: &AccountId) -> Result<Decidable, LambdaError> {
    for r in deps.rotations.list(account).await? {
        if r.stage != RotationStage::AwaitingApply {
            continue;
        }
        let state = execution_state(&deps.sfn, &r.execution_arn).await?;
        if !state.is_running() {
            return Ok(Decidable::Orphaned(r, state));
        }
        if r.task_token.is_some() {
            return Ok(Decidable::Waiting(r));
        }
    }
    Err(LambdaError::new(
        ErrorType::NotFound,
        format!("no rotation of account {account} is awaiting its apply step"),
    ))
}

fn decision_entry(
    deps: &Deps,
    account: &AccountId,
    action: &str,
    r: &RotationRecord,
    reason: &str,
    state: &str,
) -> AuditEntry {
    AuditEntry::new(Stream::Account(account.clone()), &deps.actor, action)
        .target(&r.execution)
        .outcome(Outcome::Success)
        .reason(reason)
        .correlation_id(&r.execution)
        .detail("pending_version", r.pending_version)
        .detail("execution_status", state)
}

/// The operator confirms the pending password was applied. Audited first (fail closed). A
/// rotation whose execution no longer runs is finished here (its pending becomes current).
pub async fn confirm(deps: &Deps, account: &AccountId) -> Result<RotationRecord, LambdaError> {
    let reason = "operator confirmed the pending root password is applied";
    match decidable(deps, account).await? {
        Decidable::Waiting(r) => {
            deps.audit
                .append(&decision_entry(
                    deps,
                    account,
                    "rotation.confirmed",
                    &r,
                    reason,
                    "RUNNING",
                ))
                .await
                .map_err(|e| LambdaError::from_classified(&e))?;
            let output = serde_json::json!({"confirmed_by": "operator", "actor": deps.actor});
            deps.sfn
                .send_task_success()
                .task_token(r.task_token.as_deref().unwrap_or_default())
                .output(output.to_string())
                .send()
                .await
                .map_err(|e| crate::sdk::sdk_error("states:SendTaskSuccess", &e))?;
            deps.waits
                .remove(account, Category::PasswordChanged, &r.execution)
                .await?;
            Ok(r)
        }
        Decidable::Orphaned(r, state) => {
            deps.audit
                .append(&decision_entry(
                    deps,
                    account,
                    "rotation.confirmed",
                    &r,
                    reason,
                    state.describe(),
                ))
                .await
                .map_err(|e| LambdaError::from_classified(&e))?;
            let how = serde_json::json!({"confirmed_by": "operator", "actor": deps.actor});
            finish(deps, account, &r.execution, &how).await?;
            Ok(r)
        }
    }
}

/// The operator rejects the rotation (the password could not be applied). A rotation whose
/// execution no longer runs is abandoned here (its pending is discarded, never deleted).
pub async fn reject(
    deps: &Deps,
    account: &AccountId,
    reason: &str,
) -> Result<RotationRecord, LambdaError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            "a reason is required",
        ));
    }
    let cause: String = reason.chars().take(256).collect();
    match decidable(deps, account).await? {
        Decidable::Waiting(r) => {
            deps.audit
                .append(&decision_entry(
                    deps,
                    account,
                    "rotation.rejected",
                    &r,
                    reason,
                    "RUNNING",
                ))
                .await
                .map_err(|e| LambdaError::from_classified(&e))?;
            deps.sfn
                .send_task_failure()
                .task_token(r.task_token.as_deref().unwrap_or_default())
                .error(REJECTED_ERROR)
                .cause(cause)
                .send()
                .await
                .map_err(|e| crate::sdk::sdk_error("states:SendTaskFailure", &e))?;
            deps.waits
                .remove(account, Category::PasswordChanged, &r.execution)
                .await?;
            Ok(r)
        }
        Decidable::Orphaned(r, state) => {
            deps.audit
                .append(&decision_entry(
                    deps,
                    account,
                    "rotation.rejected",
                    &r,
                    reason,
                    state.describe(),
                ))
                .await
                .map_err(|e| LambdaError::from_classified(&e))?;
            let error = serde_json::json!({"Error": REJECTED_ERROR, "Cause": cause});
            abandon(deps, account, &r.execution, &error).await?;
            Ok(r)
        }
    }
}

/// The `rotation-apply` check-out's gate: the rotation of `account` awaiting its apply step,
/// if its execution really runs (`DescribeExecution`) and its apply deadline has not passed at
/// `now`; otherwise `Ok(Err(why))`, the refusal for the caller's audit record.
pub async fn apply_checkout(
    rotations: &DynamoRotationStore,
    sfn: &aws_sdk_sfn::Client,
    account: &AccountId,
    now: DateTime<Utc>,
) -> Result<Result<RotationRecord, String>, LambdaError> {
    let Some(r) = rotations
        .list(account)
        .await?
        .into_iter()
        .find(|r| r.stage == RotationStage::AwaitingApply)
    else {
        return Ok(Err(format!(
            "no rotation of account {account} awaits its apply step"
        )));
    };
    let state = execution_state(sfn, &r.execution_arn).await?;
    Ok(liveness::apply_window(&r, &state, now).map(|()| r))
}

/// What `rotation status` shows: the vault's stage pointers and the rotations, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub account_id: String,
    pub vault: Option<Head>,
    pub rotation_due: Option<String>,
    pub rotations: Vec<RotationRecord>,
    /// Step Functions' status of each rotation still `awaiting-apply` (execution → status): one
    /// that is not `RUNNING` awaits the operator's `rotation confirm` or `rotation reject`.
    pub execution_status: std::collections::BTreeMap<String, String>,
}

pub async fn status(deps: &Deps, account: &AccountId) -> Result<Status, LambdaError> {
    let registered = deps.registry.get(account).await?.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("account {account} is not registered"),
        )
    })?;
    let rotations = deps.rotations.list(account).await?;
    let mut execution_status = std::collections::BTreeMap::new();
    for r in rotations
        .iter()
        .filter(|r| r.stage == RotationStage::AwaitingApply)
    {
        let state = execution_state(&deps.sfn, &r.execution_arn).await?;
        execution_status.insert(r.execution.clone(), state.describe().to_owned());
    }
    Ok(Status {
        account_id: account.to_string(),
        vault: deps
            .vault
            .head(account, CredentialKind::RootPassword)
            .await
            .map_err(vault_err)?,
        rotation_due: registered.rotation_due.map(stamp),
        rotations,
        execution_status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_from_state_machine_payloads() {
        let s: Step = serde_json::from_value(serde_json::json!({
            "action": "prepare", "execution": "e1",
            "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:rot:e1",
            "input": {"account_id": "111122223333", "trigger": "schedule"}
        }))
        .unwrap();
        assert!(
            matches!(s, Step::Prepare { ref input, .. } if input.trigger.as_deref() == Some("schedule"))
        );
        let s: Step = serde_json::from_value(serde_json::json!({
            "action": "abandon", "account_id": "111122223333", "execution": "e1",
            "error": {"Error": "States.Timeout", "Cause": ""}
        }))
        .unwrap();
        let Step::Abandon { error, .. } = s else {
            panic!("not abandon")
        };
        assert_eq!(abandon_reason(&error), "the apply step timed out");
        assert!(serde_json::from_value::<Step>(serde_json::json!({"action": "explode"})).is_err());
    }

    #[test]
    fn reasons_and_names() {
        assert_eq!(
            abandon_reason(&serde_json::json!({"Error": REJECTED_ERROR, "Cause": "MFA lost"})),
            "rejected: MFA lost"
        );
        assert_eq!(
            sibling_arn("arn:aws:states:r:1:execution:sm:a", "b"),
            "arn:aws:states:r:1:execution:sm:b"
        );
        let t = DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
            .unwrap()
            .to_utc();
        let a = AccountId::parse("111122223333").unwrap();
        assert_eq!(
            manual_execution_name(&a, t),
            "manual-111122223333-20261124T100000Z"
        );
        assert!(confirmation_text(&serde_json::json!({"ticket_id": "T1"})).contains("mail"));
    }
}
