//! The operator's side: `release status`, `release cancel`, `release otp` and
//! `release certificate get` (the CLI calls these with the operator's identity as actor).

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::email::store_code;
use super::flow::{self, entry, read, restore, Owned};
use super::ports::{ReleasePorts, ReleaseStore};
use super::progress::reached;
use super::record::{Expect, ReleaseStep};
use crate::audit::AuditLog;
use crate::executions::Executions;
use crate::mail::Category;
use crate::registry::{stamp, AccountStatus};
use crate::takeover::PrimaryEmail;
use crate::workflows::WorkflowWaits;
use crate::{AccountId, ErrorType, LambdaError};

/// What a release waits for, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    pub what: String,
    pub deadline: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseStatus {
    pub account_id: String,
    pub status: String,
    pub exit: String,
    pub step: Option<String>,
    pub execution: String,
    /// What Step Functions says about the execution.
    pub execution_state: String,
    pub waiting_for: Vec<Waiting>,
    pub stopped: Option<String>,
    pub point_of_no_return_passed: bool,
    pub cancel_allowed: bool,
    pub closed_at: Option<String>,
    pub shred_after: Option<String>,
    pub certificate_available: bool,
    pub request_id: String,
}

fn describe(kind: Category) -> &'static str {
    match kind {
        Category::VerificationCode => {
            "the customer's verification code: relay it with `rootwarden release otp`"
        }
        Category::AccountClosed => "AWS's \"account closed\" mail (or the next closure poll)",
        _ => "an event",
    }
}

/// The release of `account`: its step, what it waits for (with deadlines), whether cancel is
/// still allowed. `NotFound` when it was never released.
pub async fn status<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
) -> Result<ReleaseStatus, LambdaError> {
    let (acct, r) = read(ports, account).await?;
    let state = ports.executions().state(&r.execution_arn).await?;
    let now = ports.clock().now();
    let mut waiting_for = Vec::new();
    if state.is_running() {
        for kind in flow::WAIT_KINDS {
            for w in ports.waits().waiting(account, kind, now).await? {
                if w.execution == r.execution {
                    waiting_for.push(Waiting {
                        what: describe(kind).to_owned(),
                        deadline: stamp(w.expires_at),
                    });
                }
            }
        }
    }
    let passed = r.point_of_no_return_at.is_some();
    Ok(ReleaseStatus {
        account_id: account.to_string(),
        status: acct.status.as_str().to_owned(),
        exit: r.exit.as_str().to_owned(),
        step: r.step.map(|s| s.as_str().to_owned()),
        execution: r.execution.clone(),
        execution_state: state.describe().to_owned(),
        waiting_for,
        stopped: r.stopped.clone(),
        point_of_no_return_passed: passed,
        cancel_allowed: acct.status == AccountStatus::Releasing
            && !passed
            && r.step != Some(ReleaseStep::Cancelled),
        closed_at: r.closed_at.map(stamp),
        shred_after: r.shred_after.map(stamp),
        certificate_available: ports.store().certificate(account).await?.is_some(),
        request_id: r.request_id.clone(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CancelOutcome {
    pub account_id: String,
    pub execution: String,
    /// Custody restored now (the execution no longer ran); otherwise its `cancel` step does.
    pub restored: bool,
    /// Waiting tasks failed with `Cancelled`.
    pub tasks_failed: usize,
    /// It had been cancelled already.
    pub already: bool,
}

/// Asks to cancel the release of `account` (actor: the operator). Refused after the point of
/// no return (`Conflict` naming the step passed). Idempotent.
pub async fn cancel<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
) -> Result<CancelOutcome, LambdaError> {
    for attempt in 0..4 {
        let (acct, r) = read(ports, account).await?;
        let outcome = |restored, tasks_failed, already| CancelOutcome {
            account_id: account.to_string(),
            execution: r.execution.clone(),
            restored,
            tasks_failed,
            already,
        };
        if let Some(at) = r.point_of_no_return_at {
            return Err(LambdaError::new(
                ErrorType::Conflict,
                format!(
                    "the release of {account} passed its point of no return ({}) at {}: it can no longer be cancelled",
                    super::progress::point_of_no_return(r.exit, r.keep_email).as_str(),
                    stamp(at)
                ),
            ));
        }
        if r.step == Some(ReleaseStep::Cancelled) && acct.status != AccountStatus::Releasing {
            return Ok(outcome(true, 0, true));
        }
        if acct.status != AccountStatus::Releasing {
            return Err(flow::conflict(format!(
                "account {account} is {}: no release runs",
                acct.status.as_str()
            )));
        }
        let o = Owned {
            account: acct,
            release: r.clone(),
        };
        let already = r.step == Some(ReleaseStep::Cancelled);
        let o = if already {
            o
        } else {
            let mut next = r.clone();
            next.cancel_requested_by = Some(ports.actor().to_owned());
            next.step = Some(ReleaseStep::Cancelled);
            next.updated_at = ports.clock().now();
            let record = entry(ports, &next, "cancel-requested")
                .detail("at_step", r.step.map_or("none", |s| s.as_str()));
            let expect = Expect::Step {
                execution: r.execution.clone(),
                step: r.step,
            };
            if !ports
                .store()
                .save(&o.account, &next, &expect, &record)
                .await?
            {
                // A step moved meanwhile (perhaps past the point of no return): read again.
                crate::audit::backoff(attempt).await;
                continue;
            }
            Owned {
                account: o.account,
                release: next,
            }
        };
        // Asked before its tasks fail: a running execution's Catch restores custody itself.
        let running = ports
            .executions()
            .state(&r.execution_arn)
            .await?
            .is_running();
        let mut tasks_failed = 0;
        let now = ports.clock().now();
        for kind in flow::WAIT_KINDS {
            for w in ports.waits().waiting(account, kind, now).await? {
                if w.execution != r.execution {
                    continue;
                }
                let sent = ports
                    .executions()
                    .fail_task(&w.task_token, "Cancelled", "cancelled by an operator")
                    .await?;
                if sent == crate::executions::TaskSent::Delivered {
                    tasks_failed += 1;
                }
                ports.waits().remove(account, kind, &w.execution).await?;
            }
        }
        let restored = if running {
            false
        } else {
            restore(ports, &o).await?;
            true
        };
        tracing::info!(account = %account, execution = %r.execution, restored, "release cancel requested");
        return Ok(outcome(restored, tasks_failed, already));
    }
    Err(flow::conflict(format!(
        "the release of {account} kept changing: try again"
    )))
}

/// Whether `code` has the shape of AWS's one-time codes (6 characters, A-Z and 0-9).
fn code_shape(code: &SecretString) -> Option<SecretString> {
    let c = code.expose_secret().trim();
    let ok = c.len() == 6 && c.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then(|| SecretString::from(c.to_ascii_uppercase()))
}

/// Stores the customer's code (never logged or audited) for the running email change, and
/// completes the code wait if one is registered.
pub async fn relay_code<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    code: &SecretString,
) -> Result<(), LambdaError> {
    let code = code_shape(code).ok_or_else(|| {
        LambdaError::new(
            ErrorType::ValidationError,
            "a verification code is 6 letters or digits",
        )
    })?;
    let (acct, r) = read(ports, account).await?;
    // Waiting for a code: asked, and not accepted by AWS yet (a release stopped after crossing
    // the point of no return but before AWS's answer may need one again).
    let waits = acct.status == AccountStatus::Releasing
        && reached(r.step, ReleaseStep::EmailUpdateStarted)
        && match r.step {
            Some(ReleaseStep::EmailAccepted) => {
                let customer = r.customer.as_ref().and_then(|c| c.email.as_ref());
                customer.is_some() && ports.email().get(account).await.ok().as_ref() != customer
            }
            _ => !reached(r.step, ReleaseStep::EmailAccepted),
        };
    if !waits {
        return Err(flow::conflict(format!(
            "the release of {account} waits for no code (status {}, step {})",
            acct.status.as_str(),
            r.step.map_or("none", |s| s.as_str())
        )));
    }
    let o = Owned {
        account: acct,
        release: r.clone(),
    };
    store_code(ports, &o, &code).await?;
    drop(code);
    let record = entry(ports, &r, "code-relayed")
        .detail("relayed_by", ports.actor())
        .detail("resends", r.resends);
    ports
        .audit()
        .append(&record)
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    let now = ports.clock().now();
    for w in ports
        .waits()
        .waiting(account, Category::VerificationCode, now)
        .await?
    {
        if w.execution == r.execution {
            let output = serde_json::json!({"account_id": account.as_str(), "relayed": true});
            ports.waits().complete(&w, &output).await?;
        }
    }
    Ok(())
}

/// The handover certificate of `account` (JSON), or `NotFound`.
pub async fn certificate<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
) -> Result<String, LambdaError> {
    ports.store().certificate(account).await?.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("no handover certificate of {account}"),
        )
    })
}
