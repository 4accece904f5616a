//! Steps 1-4: allocate the root address, point the account's primary email at it, wait for
//! AWS's one-time code (resending, bounded), accept it.

use serde::Serialize;

use super::address::{address, is_scheme_address};
use super::ports::{PrimaryEmail, TakeoverPorts, TakeoverStore};
use super::record::{Expect, Takeover, TakeoverStep};
use super::MAX_RESENDS;
use super::{advance, entry, owned, register_wait, steps, StartInput, DEFAULT_MAX_AGE_DAYS};
use crate::executions::Executions;
use crate::mail::{Category, SecretKind};
use crate::registry::{Account, AccountStatus};
use crate::vault::TransientStore;
use crate::{AccountId, ErrorType, LambdaError, RootEmail};

/// Fresh tags drawn before an address collision is reported (40 bits each: never in practice).
const DRAWS: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allocated {
    pub account_id: String,
    pub address: String,
    pub mode: String,
    /// The execution whose stopped takeover this one resumed.
    pub resumed_from: Option<String>,
    /// The waits' timeouts, defaults applied (the state machine reads them from here).
    pub code_timeout_seconds: u64,
    pub reset_timeout_seconds: u64,
    pub mfa_timeout_seconds: u64,
}

async fn fresh_address<P: TakeoverPorts>(
    ports: &P,
    account: &AccountId,
) -> Result<RootEmail, LambdaError> {
    for _ in 0..DRAWS {
        let candidate = address(account, &ports.random_tag(), ports.root_mail_domain())?;
        match ports.store().address_owner(&candidate).await? {
            Some(owner) if &owner != account => continue,
            _ => return Ok(candidate),
        }
    }
    Err(LambdaError::new(
        ErrorType::Conflict,
        format!("{DRAWS} drawn root addresses for {account} were all registered already"),
    ))
}

/// Step 1: registers the address (status `taking-over`) before anything is sent to it, or
/// adopts a stopped takeover (keeping its address). Refuses an account in custody already and
/// one whose takeover another execution runs.
pub async fn allocate<P: TakeoverPorts>(
    ports: &P,
    execution: &str,
    execution_arn: &str,
    input: &StartInput,
) -> Result<Allocated, LambdaError> {
    let execution = steps::execution(execution)?;
    let execution_arn = steps::execution_arn(execution_arn, execution)?;
    let account_id = steps::account_id(&input.account_id)?;
    let mode = steps::mode(&input.mode)?;
    let reason = steps::text("reason", &input.reason, 500)?;
    let ticket = steps::text("ticket", &input.ticket, 100)?;
    let requested_by = steps::requested_by(&input.requested_by)?;
    let human = steps::DEFAULT_HUMAN_TIMEOUT_SECONDS;
    let code_timeout_seconds = steps::timeout(
        input.code_timeout_seconds,
        steps::DEFAULT_CODE_TIMEOUT_SECONDS,
    )?;
    let reset_timeout_seconds = steps::timeout(input.reset_timeout_seconds, human)?;
    let mfa_timeout_seconds = steps::timeout(input.mfa_timeout_seconds, human)?;
    let now = ports.clock().now();
    let existing = ports.store().get(&account_id).await?;
    let (account, expect, previous) = match existing {
        None => {
            let account = Account {
                account_id: account_id.clone(),
                root_email: fresh_address(ports, &account_id).await?,
                name: None,
                status: AccountStatus::TakingOver,
                mode,
                max_age_days: DEFAULT_MAX_AGE_DAYS,
                contacts: Vec::new(),
                onboarded_at: now,
                last_rotated_at: None,
                rotation_due: None,
                rotation_reason: None,
                rotation_execution: None,
                posture: None,
                posture_checked_at: None,
                recovery_until: None,
            };
            (account, Expect::Unregistered, None)
        }
        Some((account, _)) if account.status != AccountStatus::TakingOver => {
            return Err(LambdaError::new(
                ErrorType::Conflict,
                format!(
                    "account {account_id} is {}: it is in custody already or not ours",
                    account.status.as_str()
                ),
            ));
        }
        Some((account, Some(t))) if t.execution == execution => {
            // A retry of this step: allocated already.
            return Ok(Allocated {
                account_id: account_id.to_string(),
                address: account.root_email.to_string(),
                mode: account.mode.as_str().to_owned(),
                resumed_from: None,
                code_timeout_seconds,
                reset_timeout_seconds,
                mfa_timeout_seconds,
            });
        }
        Some((mut account, t)) => {
            if let Some(t) = &t {
                let state = ports.executions().state(&t.execution_arn).await?;
                if state.is_running() {
                    return Err(LambdaError::new(
                        ErrorType::Conflict,
                        format!("takeover {} of {account_id} is running", t.execution),
                    ));
                }
            }
            let domain = ports.root_mail_domain();
            // AWS gave the old address to another account: it is never ours; draw a new one.
            let conflicted = t.as_ref().and_then(|t| t.stopped.as_deref())
                == Some(ErrorType::EmailConflict.as_str());
            if conflicted || !is_scheme_address(&account.root_email, &account_id, domain) {
                account.root_email = fresh_address(ports, &account_id).await?;
            }
            account.mode = mode;
            let previous = t.as_ref().map(|t| t.execution.clone());
            (
                account,
                Expect::Adopt {
                    previous: previous.clone(),
                },
                t,
            )
        }
    };
    let takeover = Takeover {
        account_id: account_id.clone(),
        execution: execution.to_owned(),
        execution_arn,
        reason,
        ticket,
        requested_by,
        step: Some(TakeoverStep::Allocated),
        resends: 0,
        previous_email: previous.as_ref().and_then(|p| p.previous_email.clone()),
        stopped: None,
        started_at: now,
        updated_at: now,
    };
    let resumed_from = previous.map(|p| p.execution);
    let mut record = entry(ports, &takeover, "allocated")
        .detail("address", account.root_email.as_str())
        .detail("mode", mode.as_str())
        .detail("requested_by", takeover.requested_by.clone());
    if let Some(r) = &resumed_from {
        record = record.detail("resumed_from", r.clone());
    }
    if !ports
        .store()
        .save(&account, &takeover, &expect, &record)
        .await?
    {
        return Err(LambdaError::new(
            ErrorType::Conflict,
            format!("the registry item of {account_id} changed meanwhile"),
        ));
    }
    tracing::info!(account = %account_id, execution, "takeover address allocated");
    Ok(Allocated {
        account_id: account_id.to_string(),
        address: account.root_email.to_string(),
        mode: mode.as_str().to_owned(),
        resumed_from,
        code_timeout_seconds,
        reset_timeout_seconds,
        mfa_timeout_seconds,
    })
}

/// Step 2: is the account's primary email the allocated address already? `true`: nothing is
/// sent and the code steps are skipped. Otherwise the old address is kept on the record and the
/// change is due: the code is asked for by [`await_code`], **after** its wait is registered, so
/// AWS's mail can never arrive before the wait it is meant for (it would be refused as
/// `received-before-wait`).
pub async fn start_email_update<P: TakeoverPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<bool, LambdaError> {
    let o = owned(ports, account, execution).await?;
    let address = &o.account.root_email;
    let current = ports.email().get(account).await?;
    let ours = current == *address;
    let mut next = o.takeover.clone();
    if !ours && next.previous_email.is_none() {
        next.previous_email = Some(current.to_string());
    }
    let step = if ours {
        TakeoverStep::EmailUpdated
    } else {
        TakeoverStep::EmailUpdateStarted
    };
    if o.takeover.step != Some(step) || next != o.takeover {
        let record = entry(ports, &next, "email-update-started").detail("already_ours", ours);
        advance(ports, &o, next, step, record).await?;
    }
    Ok(ours)
}

/// Step 3: registers the `verification-code` wait, then asks AWS to change the primary email
/// (`StartPrimaryEmailUpdate`: AWS mails the code to the allocated address); inbound mail
/// vaults AWS's code and completes the wait.
pub async fn await_code<P: TakeoverPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
    task_token: &str,
    timeout_seconds: u64,
) -> Result<(), LambdaError> {
    let o = owned(ports, account, execution).await?;
    let wait = register_wait(
        ports,
        &o.takeover,
        Category::VerificationCode,
        task_token,
        timeout_seconds,
    )
    .await?;
    if o.takeover.step == Some(TakeoverStep::AwaitingCode) {
        // A retry of this step: the code was asked for (or the ask was lost with the process,
        // and the wait's timeout resends). Asking again would void a code already on its way.
        return Ok(());
    }
    // Recorded before the ask: the mail (and the next step) may come within a second.
    let record = entry(ports, &o.takeover, "awaiting-code")
        .detail("deadline", crate::registry::stamp(wait.expires_at));
    advance(
        ports,
        &o,
        o.takeover.clone(),
        TakeoverStep::AwaitingCode,
        record,
    )
    .await?;
    let address = &o.account.root_email;
    if ports.email().get(account).await? != *address {
        ports.email().start_update(account, address).await?;
    }
    Ok(())
}

/// The code did not come (timeout) or was refused: counts a resend (the next [`await_code`]
/// asks AWS for a new code), at most [`MAX_RESENDS`] times, then `CodeNotReceived`. Returns how many resends were made.
pub async fn resend<P: TakeoverPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<u32, LambdaError> {
    let o = owned(ports, account, execution).await?;
    if o.takeover.resends >= MAX_RESENDS {
        return Err(LambdaError::new(
            ErrorType::CodeNotReceived,
            format!("no usable verification code for {account} after {MAX_RESENDS} resends"),
        ));
    }
    // The new code is asked for by the next `await_code`, after its wait is registered.
    let mut next = o.takeover.clone();
    next.resends += 1;
    let record = entry(ports, &next, "code-resent").detail("resends", next.resends);
    let n = next.resends;
    advance(ports, &o, next, TakeoverStep::CodeResent, record).await?;
    Ok(n)
}

/// Step 4: reads the newest unexpired code from the vault (never logged), accepts it, and
/// confirms with `GetPrimaryEmail`. A refusal is `WrongCode` (the workflow resends).
pub async fn accept_email_update<P: TakeoverPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<String, LambdaError> {
    let o = owned(ports, account, execution).await?;
    let address = &o.account.root_email;
    if ports.email().get(account).await? != *address {
        let now = ports.clock().now();
        let code = ports
            .transient()
            .unexpired(Some(account), SecretKind::VerificationCode, now)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?
            .into_iter()
            .next()
            .map(|(_, code)| code)
            .ok_or_else(|| {
                LambdaError::new(
                    ErrorType::WrongCode,
                    format!("no unexpired verification code is vaulted for {account}"),
                )
            })?;
        ports.email().accept_update(account, address, &code).await?;
        drop(code);
        let now_email = ports.email().get(account).await?;
        if now_email != *address {
            return Err(LambdaError::new(
                ErrorType::AwsError,
                format!("AWS accepted the code but {account}'s primary email is not the allocated address"),
            ));
        }
    }
    // The code wait is over (mail completed it, or the email was ours already).
    crate::workflows::WorkflowWaits::remove(
        ports.waits(),
        account,
        Category::VerificationCode,
        execution,
    )
    .await?;
    if o.takeover.step != Some(TakeoverStep::EmailUpdated) {
        let record = entry(ports, &o.takeover, "email-updated").detail("address", address.as_str());
        advance(
            ports,
            &o,
            o.takeover.clone(),
            TakeoverStep::EmailUpdated,
            record,
        )
        .await?;
    }
    tracing::info!(account = %account, execution, "root email now the allocated address");
    Ok(address.to_string())
}
