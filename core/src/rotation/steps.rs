//! The rotation state machine's steps: their payloads, and what each step decides from the
//! request, the vault head and the rotation record. The adapter (`rootwarden_aws::rotation`)
//! reads those, asks these functions, and writes what they return.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::record::{RotationRecord, RotationStage};
use crate::mail::{Category, Priority};
use crate::registry::{stamp, Account, AccountMode, AccountStatus};
use crate::tickets::Ticket;
use crate::vault::Head;
use crate::{AccountId, ErrorType, LambdaError};

/// The error name `rotation reject` fails the await-apply task with; the state machine's
/// `Catch` routes it to abandon.
pub const REJECTED_ERROR: &str = "RotationRejected";
/// After an abandoned rotation, the sweep tries again this much later.
pub const RETRY_AFTER_ABANDON: Duration = Duration::hours(24);
/// The longest apply timeout one execution may ask for: 30 days.
pub const MAX_APPLY_TIMEOUT_SECONDS: u64 = 30 * 24 * 3600;
/// The next due date after a completed rotation of an account the registry no longer has.
pub const DEFAULT_MAX_AGE_DAYS: u32 = 90;
/// The trigger of the takeover's password phase (`rootwarden_core::takeover` runs these steps
/// from its own state machine): the account is `taking-over`, nothing may be vaulted yet, and
/// the registry's rotation schedule is left to the takeover's `activate` step.
pub const TAKEOVER_TRIGGER: &str = "takeover";

/// The rotation state machine's execution input.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StartInput {
    pub account_id: String,
    /// `schedule`, `checkout`, `manual`, `takeover` ([`TAKEOVER_TRIGGER`]) ...
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
    /// `None` (JSON `null`) when no version is current yet: a takeover's first password.
    pub current_version: Option<u32>,
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

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finished {
    pub account_id: String,
    pub execution: String,
    pub current_version: u32,
    /// The next due date this rotation set; `None` for a takeover's rotation (its `activate`
    /// step sets the first due date).
    pub next_due: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Abandoned {
    pub account_id: String,
    pub execution: String,
    pub discarded_version: Option<u32>,
    pub reason: String,
    /// When the sweep retries; `None` for a takeover's rotation (the takeover is resumed
    /// instead: the account is not active, so the sweep never rotates it).
    pub retry_at: Option<String>,
}

/// A step's account id, validated.
pub fn account_id(raw: &str) -> Result<AccountId, LambdaError> {
    AccountId::parse(raw).map_err(|e| LambdaError::new(ErrorType::ValidationError, e.to_string()))
}

/// Ticket id of a rotation: one per execution, so a retried step finds its ticket.
pub fn ticket_id(execution: &str) -> String {
    format!("rotation-{execution}")
}

/// The execution ARN of `name`, a sibling of `arn` (same state machine).
pub fn sibling_arn(arn: &str, name: &str) -> String {
    match arn.rsplit_once(':') {
        Some((base, _)) => format!("{base}:{name}"),
        None => name.to_owned(),
    }
}

// ------------------------------------------------------------------------------- prepare

/// The execution's apply timeout: its own (1 s for drills and tests, up to 30 days), or the
/// configured one.
pub fn apply_timeout(requested: Option<u64>, configured: u64) -> Result<u64, LambdaError> {
    match requested {
        None => Ok(configured),
        Some(t) if (1..=MAX_APPLY_TIMEOUT_SECONDS).contains(&t) => Ok(t),
        Some(_) => Err(LambdaError::new(
            ErrorType::ValidationError,
            "apply_timeout_seconds must be from 1 to 2592000",
        )),
    }
}

/// Whether `trigger` is the takeover's password phase.
pub fn is_takeover(trigger: Option<&str>) -> bool {
    trigger == Some(TAKEOVER_TRIGGER)
}

/// Only registered, active, vaulted accounts rotate; the takeover's password phase
/// ([`TAKEOVER_TRIGGER`]) only a vaulted account in status `taking-over`, and no other
/// trigger a `taking-over` one.
pub fn rotatable<'a>(
    account: &AccountId,
    registered: Option<&'a Account>,
    trigger: Option<&str>,
) -> Result<&'a Account, LambdaError> {
    let registered = registered.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("account {account} is not registered"),
        )
    })?;
    let (wanted, rule) = if is_takeover(trigger) {
        (
            AccountStatus::TakingOver,
            "a takeover's rotation is for a vaulted account being taken over",
        )
    } else {
        (AccountStatus::Active, "only active vaulted accounts rotate")
    };
    if registered.status != wanted || registered.mode != AccountMode::Vaulted {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            format!(
                "account {account} is {} and {}: {rule}",
                registered.status.as_str(),
                registered.mode.as_str()
            ),
        ));
    }
    Ok(registered)
}

/// The vault head prepare stages on. Only a takeover stages where nothing is vaulted (`None`)
/// or nothing is current yet, and never where a password is current (the takeover's password
/// phase is done: it must not replace it).
pub fn stageable<'a>(
    account: &AccountId,
    head: Option<&'a Head>,
    trigger: Option<&str>,
) -> Result<Option<&'a Head>, LambdaError> {
    let current = head.and_then(|h| h.current);
    match (is_takeover(trigger), current) {
        (false, Some(_)) | (true, None) => Ok(head),
        (false, None) => Err(LambdaError::new(
            ErrorType::NotFound,
            format!("no root password vaulted for {account}"),
        )),
        (true, Some(c)) => Err(LambdaError::new(
            ErrorType::Conflict,
            format!(
                "account {account} already has a current root password (version {c}): a \
                 takeover does not replace it"
            ),
        )),
    }
}

/// Whether the end of `record`'s rotation moves the registry's rotation schedule: every
/// rotation's does except a takeover's (the account is not active yet; the takeover's
/// `activate` step sets the first due date). With no record (a prepare that died before
/// writing it), the account being `taking-over` says it was the takeover's.
pub fn moves_schedule(record: Option<&RotationRecord>, registered: Option<&Account>) -> bool {
    match record {
        Some(r) => !is_takeover(Some(&r.trigger)),
        None => registered.is_none_or(|a| a.status != AccountStatus::TakingOver),
    }
}

/// A retried prepare goes on with its own record while it awaits the apply step; an ended
/// rotation never prepares again.
pub fn may_prepare(execution: &str, record: Option<&RotationRecord>) -> Result<(), LambdaError> {
    match record {
        Some(r) if r.stage != RotationStage::AwaitingApply => Err(LambdaError::new(
            ErrorType::Conflict,
            format!("rotation {execution} already ended ({})", r.stage.as_str()),
        )),
        _ => Ok(()),
    }
}

/// The execution whose pending version `execution` finds in the vault, if it is another one:
/// it must be settled (see `liveness::orphan_pending`) before `execution` stages its own.
pub fn orphan_execution<'a>(head: &'a Head, execution: &str) -> Option<&'a str> {
    head.pending?;
    head.pending_execution
        .as_deref()
        .filter(|other| *other != execution)
}

/// The ticket that asks an operator to apply the pending password (`current`: `None` for a
/// takeover's first password, which is set through AWS's password reset).
pub fn apply_ticket(
    account: &AccountId,
    execution: &str,
    pending: u32,
    current: Option<u32>,
    timeout_seconds: u64,
    now: DateTime<Utc>,
) -> Ticket {
    let how = match current {
        Some(current) => format!(
            "Rotation {execution} vaulted a new root password as pending version {pending} \
             (current: version {current}). To apply it: check out with reason rotation-apply \
             (shows current and pending), sign in as root, change the password to the pending \
             one."
        ),
        None => format!(
            "Takeover {execution} vaulted the first root password as pending version {pending} \
             (no current version). To apply it: when AWS's password reset mail has arrived, \
             check out with reason takeover (shows the reset link and the pending password), \
             open the link and set the pending password."
        ),
    };
    Ticket::task(
        ticket_id(execution),
        account,
        Category::Account,
        Priority::Normal,
        format!("Apply pending root password for account {account}"),
        format!(
            "{how} AWS's \"password changed\" mail completes the rotation; or run `rootwarden \
             rotation confirm --account {account}`. It is abandoned after {} hours.",
            timeout_seconds / 3600
        ),
        now,
    )
}

// --------------------------------------------------------------------------- await apply

/// The await-apply step needs the task token it stores.
pub fn require_token(task_token: &str) -> Result<(), LambdaError> {
    if task_token.is_empty() {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            "task_token is empty",
        ));
    }
    Ok(())
}

/// When the apply step times out (as Step Functions will count it). A timeout past what a
/// date can hold is refused (it used to panic).
pub fn apply_deadline(
    now: DateTime<Utc>,
    timeout_seconds: u64,
) -> Result<DateTime<Utc>, LambdaError> {
    i64::try_from(timeout_seconds)
        .ok()
        .and_then(Duration::try_seconds)
        .and_then(|d| now.checked_add_signed(d))
        .ok_or_else(|| {
            LambdaError::new(
                ErrorType::ValidationError,
                format!("apply_timeout_seconds {timeout_seconds} is out of range"),
            )
        })
}

// -------------------------------------------------------------------------------- finish

/// Finish promotes the pending version of a rotation that exists and was not abandoned.
pub fn may_finish(
    account: &AccountId,
    execution: &str,
    record: Option<RotationRecord>,
) -> Result<RotationRecord, LambdaError> {
    let record = record.ok_or_else(|| {
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
    Ok(record)
}

/// Who confirmed the apply, for the audit reason and the rotation's outcome.
pub fn confirmation_text(c: &serde_json::Value) -> String {
    if let Some(actor) = c.get("actor").and_then(|a| a.as_str()) {
        format!("confirmed by operator {actor}")
    } else if let Some(t) = c.get("ticket_id").and_then(|a| a.as_str()) {
        format!("confirmed by AWS password-changed mail (ticket {t})")
    } else {
        "confirmed".to_owned()
    }
}

/// The next rotation is due the account's maximum age after this one.
pub fn next_due(now: DateTime<Utc>, max_age_days: Option<u32>) -> DateTime<Utc> {
    now + Duration::days(i64::from(max_age_days.unwrap_or(DEFAULT_MAX_AGE_DAYS)))
}

/// The note that resolves the apply ticket.
pub fn finish_note(how: &str, current: u32) -> String {
    format!("Rotation completed ({how}): version {current} is current.")
}

// ------------------------------------------------------------------------------- abandon

/// A completed rotation is never abandoned.
pub fn may_abandon(execution: &str, record: Option<&RotationRecord>) -> Result<(), LambdaError> {
    if record.is_some_and(|r| r.stage == RotationStage::Completed) {
        return Err(LambdaError::new(
            ErrorType::Conflict,
            format!("rotation {execution} already completed; nothing to abandon"),
        ));
    }
    Ok(())
}

/// Why the execution abandons, from the state machine's error (`{"Error", "Cause"}`).
pub fn abandon_reason(error: &serde_json::Value) -> String {
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

/// The apply ticket as abandon (re)opens it (a prepare that died before opening it leaves
/// none), before escalating it.
pub fn abandon_ticket(account: &AccountId, execution: &str, now: DateTime<Utc>) -> Ticket {
    Ticket::task(
        ticket_id(execution),
        account,
        Category::Account,
        Priority::High,
        format!("Root password rotation abandoned for account {account}"),
        format!("Rotation {execution} did not complete."),
        now,
    )
}

/// The escalation note: what was discarded (the record's pending version, else what the vault
/// discarded) and what stays current.
pub fn abandon_note(
    reason: &str,
    pending: Option<u32>,
    current: Option<u32>,
    retry_at: Option<DateTime<Utc>>,
) -> String {
    let retry = match retry_at {
        Some(at) => format!("Retry due {}.", stamp(at)),
        None => "The takeover resumes when it is started again.".to_owned(),
    };
    match pending {
        Some(p) => format!(
            "Rotation abandoned: {reason}. Pending version {p} discarded (kept, never deleted); \
             current version {} unchanged. If the pending password was applied anyway, an \
             administrator must recover it from the discarded version. {retry}",
            current.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
        ),
        None => format!(
            "Rotation abandoned: {reason}. It vaulted no pending version; nothing was \
             discarded. {retry}"
        ),
    }
}
