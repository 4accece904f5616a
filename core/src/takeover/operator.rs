//! The operator's side: `account takeover` ([`start`]) and `account takeover-status`
//! ([`status`]).

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;

use super::ports::{TakeoverPorts, TakeoverStore};
use super::{steps, StartInput};
use crate::audit::{AuditEntry, AuditLog, Outcome, Stream};
use crate::executions::{Executions, Started as ExecutionStarted};
use crate::mail::Category;
use crate::registry::{stamp, AccountMode, AccountStatus};
use crate::workflows::WorkflowWaits;
use crate::{AccountId, ErrorType, LambdaError};

#[derive(Debug, Clone)]
pub struct StartRequest {
    pub account_id: AccountId,
    pub mode: AccountMode,
    pub reason: String,
    pub ticket: String,
    /// How long each wait for AWS's one-time code lasts before a resend (default 900 s).
    pub code_timeout_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Started {
    pub account_id: String,
    pub execution: String,
    pub execution_arn: String,
    pub mode: String,
}

/// `takeover-<account>-<UTC stamp>-<8 hex>`: the random suffix keeps two starts in the same
/// second apart.
pub fn execution_name(account: &AccountId, now: DateTime<Utc>, rng: &mut impl Rng) -> String {
    format!(
        "takeover-{account}-{}-{:08x}",
        now.format("%Y%m%dT%H%M%SZ"),
        rng.gen::<u32>()
    )
}

/// Starts a takeover execution. Refuses an account already `active`, `released` or `closed`,
/// and one whose takeover execution still runs (its name is in the error). Audited
/// (`takeover.requested`, actor: the caller as STS reported it) before the start. Two starts
/// racing past this check both start; the execution that loses the allocation stops with
/// `Conflict` (one takeover runs).
pub async fn start<P: TakeoverPorts>(
    ports: &P,
    state_machine_arn: &str,
    req: &StartRequest,
) -> Result<Started, LambdaError> {
    let reason = steps::text("reason", &req.reason, 500)?;
    let ticket = steps::text("ticket", &req.ticket, 100)?;
    let account = &req.account_id;
    if let Some((a, t)) = ports.store().get(account).await? {
        if a.status != AccountStatus::TakingOver {
            return Err(LambdaError::new(
                ErrorType::Conflict,
                format!(
                    "account {account} is {}: nothing to take over",
                    a.status.as_str()
                ),
            ));
        }
        if let Some(t) = t {
            if ports
                .executions()
                .state(&t.execution_arn)
                .await?
                .is_running()
            {
                return Err(LambdaError::new(
                    ErrorType::Conflict,
                    format!("takeover {} of {account} is running", t.execution),
                ));
            }
        }
    }
    if let Some(t) = req.code_timeout_seconds {
        super::steps::timeout(Some(t), t)?;
    }
    let name = execution_name(account, ports.clock().now(), &mut rand::thread_rng());
    let input = StartInput {
        account_id: account.to_string(),
        mode: req.mode.as_str().to_owned(),
        reason: reason.clone(),
        ticket: ticket.clone(),
        requested_by: ports.actor().to_owned(),
        code_timeout_seconds: req.code_timeout_seconds,
        reset_timeout_seconds: None,
        mfa_timeout_seconds: None,
    };
    let input = serde_json::to_string(&input)
        .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))?;
    let record = AuditEntry::new(
        Stream::Account(account.clone()),
        ports.actor(),
        "takeover.requested",
    )
    .target(account.to_string())
    .outcome(Outcome::Success)
    .reason(reason)
    .correlation_id(name.clone())
    .detail("ticket", ticket)
    .detail("mode", req.mode.as_str());
    ports
        .audit()
        .append(&record)
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    match ports
        .executions()
        .start(state_machine_arn, &name, &input)
        .await?
    {
        ExecutionStarted::New { execution_arn } => Ok(Started {
            account_id: account.to_string(),
            execution: name,
            execution_arn,
            mode: req.mode.as_str().to_owned(),
        }),
        ExecutionStarted::AlreadyExists => Err(LambdaError::new(
            ErrorType::Conflict,
            format!("an execution named {name} exists already"),
        )),
    }
}

/// What a takeover waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    pub kind: String,
    /// What has to happen, in words.
    pub what: String,
    pub deadline: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TakeoverStatus {
    pub account_id: String,
    pub status: String,
    pub mode: String,
    pub root_email: String,
    pub execution: Option<String>,
    pub execution_arn: Option<String>,
    /// What Step Functions says about the execution.
    pub execution_state: Option<String>,
    pub step: Option<String>,
    pub waiting_for: Vec<Waiting>,
    pub resends: u32,
    pub stopped: Option<String>,
    pub ticket: Option<String>,
    pub updated_at: Option<String>,
}

fn describe(kind: Category) -> &'static str {
    match kind {
        Category::VerificationCode => "AWS's verification code mail to the new root address",
        Category::PasswordReset => {
            "AWS's password reset mail: use \"Forgot password\" on the root sign-in page"
        }
        Category::PasswordChanged => {
            "the pending password applied: check out (--reason takeover) and set it"
        }
        Category::Mfa => {
            "an MFA device enrolled in the console and its seed given to `account mfa-seed`"
        }
        _ => "mail",
    }
}

/// The takeover of `account`: its step, what it waits for (with deadlines), and whether its
/// execution runs. `NotFound` when the account was never taken over.
pub async fn status<P: TakeoverPorts>(
    ports: &P,
    account: &AccountId,
) -> Result<TakeoverStatus, LambdaError> {
    let (a, t) = ports.store().get(account).await?.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("account {account} is not registered"),
        )
    })?;
    let t = t.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("no takeover of {account} recorded"),
        )
    })?;
    let state = ports.executions().state(&t.execution_arn).await?;
    let now = ports.clock().now();
    let mut waiting_for = Vec::new();
    if state.is_running() {
        for kind in [
            Category::VerificationCode,
            Category::PasswordReset,
            Category::PasswordChanged,
            Category::Mfa,
        ] {
            for w in ports.waits().waiting(account, kind, now).await? {
                if w.execution == t.execution {
                    waiting_for.push(Waiting {
                        kind: kind.as_str().to_owned(),
                        what: describe(kind).to_owned(),
                        deadline: stamp(w.expires_at),
                    });
                }
            }
        }
    }
    Ok(TakeoverStatus {
        account_id: account.to_string(),
        status: a.status.as_str().to_owned(),
        mode: a.mode.as_str().to_owned(),
        root_email: a.root_email.to_string(),
        execution: Some(t.execution.clone()),
        execution_arn: Some(t.execution_arn.clone()),
        execution_state: Some(state.describe().to_owned()),
        step: t.step.map(|s| s.as_str().to_owned()),
        waiting_for,
        resends: t.resends,
        stopped: t.stopped.clone(),
        ticket: Some(t.ticket.clone()),
        updated_at: Some(stamp(t.updated_at)),
    })
}
