//! The root email's change to the customer's address (hand-back, and a transfer that does not
//! keep ours): `StartPrimaryEmailUpdate` (AWS mails the code to the customer), the wait for the
//! operator to relay it (`release otp`), `AcceptPrimaryEmailUpdate` (the point of no return;
//! a wrong code goes round a bounded resend), and `GetPrimaryEmail` until it took.

use secrecy::SecretString;

use super::close::polled;
use super::flow::{
    self, advance, cross, definitive, entry, live, owned, owned_live, register_wait, withdraw,
    Owned,
};
use super::poll;
use super::ports::ReleasePorts;
use super::record::ReleaseStep;
use super::{Polled, MAX_RESENDS};
use crate::mail::{Category, SecretKind};
use crate::takeover::{PrimaryEmail, UpdateStatus};
use crate::vault::TransientStore;
use crate::workflows::WorkflowWaits;
use crate::{AccountId, ErrorType, LambdaError, RootEmail};

fn customer_email(o: &Owned) -> Result<RootEmail, LambdaError> {
    let r = &o.release;
    r.customer
        .as_ref()
        .and_then(|c| c.email.clone())
        .filter(|_| !r.keep_email)
        .ok_or_else(|| {
            LambdaError::new(
                ErrorType::ValidationError,
                format!("the release of {} changes no root email", r.account_id),
            )
        })
}

/// Where `relay_code` stores the `n`-th ask's code: the source names the execution and the
/// index the ask, so a code relayed before a resend (AWS voided it) is never used.
pub(crate) fn code_source(execution: &str) -> String {
    format!("release-otp:{execution}")
}

fn code_key(execution: &str, resends: u32) -> String {
    format!(
        "{}#{}#{resends}",
        SecretKind::VerificationCode.as_str(),
        code_source(execution)
    )
}

/// The customer's code relayed for the current ask, if any (never logged).
async fn relayed_code<P: ReleasePorts>(
    ports: &P,
    o: &Owned,
) -> Result<Option<SecretString>, LambdaError> {
    let r = &o.release;
    let now = ports.clock().now();
    let newest = ports
        .transient()
        .unexpired(Some(&r.account_id), SecretKind::VerificationCode, now)
        .await
        .map_err(|e| LambdaError::from_classified(&e))?
        .into_iter()
        .next();
    Ok(newest
        .filter(|(stored, _)| stored.sk == code_key(&r.execution, r.resends))
        .map(|(_, code)| code))
}

/// Stores the operator's code for the current ask of `o`'s release (see [`relayed_code`]).
pub(crate) async fn store_code<P: ReleasePorts>(
    ports: &P,
    o: &Owned,
    code: &SecretString,
) -> Result<(), LambdaError> {
    let r = &o.release;
    ports
        .transient()
        .put(
            Some(&r.account_id),
            SecretKind::VerificationCode,
            &code_source(&r.execution),
            r.resends as usize,
            ports.clock().now(),
            code,
        )
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    Ok(())
}

/// Asks AWS to change the primary email to the customer's (AWS mails the customer a code).
/// `true`: it is the customer's already (nothing sent; the point of no return is recorded as
/// passed: the change happened).
pub async fn start_email_update<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<bool, LambdaError> {
    let o = owned_live(ports, account, execution).await?;
    let address = customer_email(&o)?;
    let current = ports.email().get(account).await?;
    if current == address {
        if !o.reached(ReleaseStep::EmailAccepted) {
            let mut next = o.release.clone();
            next.point_of_no_return_at = Some(ports.clock().now());
            let record = entry(ports, &next, "email-accepted").detail("already_customers", true);
            advance(ports, &o, next, ReleaseStep::EmailAccepted, record).await?;
        }
        return Ok(true);
    }
    if o.reached(ReleaseStep::EmailUpdateStarted) {
        // A retry (or a resumed release): the code was asked for; a new ask would void it. The
        // code wait's timeout resends.
        return Ok(false);
    }
    // Asked before it is recorded: a kill in between asks again on the retry (the newest code
    // counts), never records an ask that was not made.
    ports.email().start_update(account, &address).await?;
    let mut next = o.release.clone();
    if next.previous_email.is_none() {
        next.previous_email = Some(current.to_string());
    }
    next.resends = 0;
    let record = entry(ports, &next, "email-update-started")
        .detail("to", address.as_str())
        .detail("from", current.as_str());
    advance(ports, &o, next, ReleaseStep::EmailUpdateStarted, record).await?;
    Ok(false)
}

/// Registers the wait for the customer's code (`release otp` completes it).
pub async fn await_code<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
    task_token: &str,
    timeout_seconds: u64,
) -> Result<(), LambdaError> {
    let o = owned_live(ports, account, execution).await?;
    customer_email(&o)?;
    let wait = register_wait(
        ports,
        &o.release,
        Category::VerificationCode,
        task_token,
        timeout_seconds,
    )
    .await?;
    // From the ask (or a resend) only: a release that crossed the point of no return and was
    // stopped before AWS accepted waits here again without going back.
    if matches!(
        o.release.step,
        Some(ReleaseStep::EmailUpdateStarted | ReleaseStep::CodeResent)
    ) {
        let record = entry(ports, &o.release, "awaiting-code")
            .detail("deadline", crate::registry::stamp(wait.expires_at))
            .detail("resends", o.release.resends);
        advance(
            ports,
            &o,
            o.release.clone(),
            ReleaseStep::AwaitingCode,
            record,
        )
        .await?;
    }
    Ok(())
}

/// The code did not come or was refused: asks AWS for a new one, at most [`MAX_RESENDS`]
/// times, then `CodeNotReceived`.
pub async fn resend<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<u32, LambdaError> {
    let o = owned_live(ports, account, execution).await?;
    let address = customer_email(&o)?;
    if o.reached(ReleaseStep::EmailAccepted) {
        return Err(flow::conflict(format!(
            "the root email change of {account} was accepted: nothing to resend"
        )));
    }
    if o.release.resends >= MAX_RESENDS {
        return Err(LambdaError::new(
            ErrorType::CodeNotReceived,
            format!("no usable code for {account} after {MAX_RESENDS} resends"),
        ));
    }
    ports.email().start_update(account, &address).await?;
    let mut next = o.release.clone();
    next.resends += 1;
    let n = next.resends;
    let record = entry(ports, &next, "code-resent").detail("resends", n);
    advance(ports, &o, next, ReleaseStep::CodeResent, record).await?;
    Ok(n)
}

/// `AcceptPrimaryEmailUpdate` with the relayed code: the point of no return, recorded before
/// the call. AWS refusing the code (`WrongCode`) or the address (`EmailConflict`) withdraws it.
pub async fn accept_email_update<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<String, LambdaError> {
    let o = owned(ports, account, execution).await?;
    live(&o)?;
    let address = customer_email(&o)?;
    if ports.email().get(account).await? == address {
        if !o.reached(ReleaseStep::EmailAccepted) {
            let mut next = o.release.clone();
            next.point_of_no_return_at = Some(ports.clock().now());
            let record = entry(ports, &next, "email-accepted").detail("already_customers", true);
            advance(ports, &o, next, ReleaseStep::EmailAccepted, record).await?;
        }
        ports
            .waits()
            .remove(account, Category::VerificationCode, execution)
            .await?;
        return Ok(address.to_string());
    }
    let Some(code) = relayed_code(ports, &o).await? else {
        return Err(LambdaError::new(
            ErrorType::WrongCode,
            format!(
                "no code was relayed for {account} since the last ask (`rootwarden release otp`)"
            ),
        ));
    };
    let back = match o.release.step {
        Some(ReleaseStep::EmailAccepted) | None => ReleaseStep::AwaitingCode,
        Some(s) => s,
    };
    // Crossed by an earlier attempt of this step: its accept may have reached AWS and been
    // accepted before the attempt failed (or its record was lost).
    let crossed_before = o.reached(ReleaseStep::EmailAccepted);
    let crossed = if crossed_before {
        o
    } else {
        cross(ports, &o).await?
    };
    let result = ports.email().accept_update(account, &address, &code).await;
    drop(code);
    let mut earlier_attempt = false;
    if let Err(e) = result {
        let err = LambdaError::from(e);
        if !definitive(&err) {
            return Err(err);
        }
        // AWS refusing the code again proves nothing after an earlier attempt: with its update
        // accepted there is no update pending, and the refusal looks the same. Its status says.
        earlier_attempt = crossed_before && accepted_before(ports, account).await?;
        if !earlier_attempt {
            withdraw(ports, &crossed, back, &err).await?;
            return Err(err);
        }
    }
    ports
        .waits()
        .remove(account, Category::VerificationCode, execution)
        .await?;
    let mut record =
        entry(ports, &crossed.release, "email-accepted").detail("to", address.as_str());
    if earlier_attempt {
        record = record.detail("accepted_by_an_earlier_attempt", true);
    }
    advance(
        ports,
        &crossed,
        crossed.release.clone(),
        ReleaseStep::EmailAccepted,
        record,
    )
    .await?;
    tracing::info!(account = %account, execution, "root email change accepted (point of no return)");
    Ok(address.to_string())
}

/// Whether AWS accepted the account's latest update (the release's own: it started it). A
/// status this code does not know is neither: an error to retry, never a withdrawal.
async fn accepted_before<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
) -> Result<bool, LambdaError> {
    match ports.email().update_status(account).await? {
        Some(UpdateStatus::Accepted) => Ok(true),
        Some(UpdateStatus::Pending | UpdateStatus::Failed) | None => Ok(false),
        Some(UpdateStatus::Other(status)) => Err(LambdaError::new(
            ErrorType::TransientAwsError,
            format!("the root email update of {account} is {status:?}: not known to be accepted or refused"),
        )),
    }
}

/// `GetPrimaryEmail` until it is the customer's.
pub async fn check_email<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<Polled, LambdaError> {
    let o = owned(ports, account, execution).await?;
    let address = customer_email(&o)?;
    let current = ports.email().get(account).await?;
    if current == address {
        if !o.reached(ReleaseStep::EmailConfirmed) {
            let mut next = o.release.clone();
            next.polls = 0;
            let record =
                entry(ports, &next, "email-confirmed").detail("root_email", address.as_str());
            advance(ports, &o, next, ReleaseStep::EmailConfirmed, record).await?;
        }
        return Ok(Polled {
            done: true,
            wait_seconds: 0,
        });
    }
    polled(
        ports,
        &o,
        poll::Wait::Email,
        "email-polled",
        "not the customer's yet".into(),
    )
    .await
}
