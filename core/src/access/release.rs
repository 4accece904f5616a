//! Release requests (reason [`RELEASE_REASON`], `docs/release.md`): the terms a request carries
//! and when they are admissible, the execution an approval starts (named
//! `release-<account>-<request id>`, so a retried start is never a second execution), and the
//! revocation of an account's other access when its release begins.
//!
//! A release is never self-service and never checked out: its approval, by another person,
//! starts the exit's state machine; the request stays `approved` and `begin` re-reads it.
//!
//! Retry: the approval (request `approved` + its audit record naming the execution) commits
//! first, then the execution is started. If the start fails, the approval stands and the caller
//! is told to approve again: an `approve` of an approved release request by an approver (not
//! the requester, approval not lapsed) records the retry and starts the same name again. Step
//! Functions answers a start of an existing name with that execution (or "already exists"), so
//! approving twice, racing approvers or a retry after a lost answer start one execution.

use chrono::{DateTime, Utc};

use super::approval::requester_person;
use super::attempt::{entry, Attempt};
use super::checkout::LockMove;
use super::expiry::approval_expired;
use super::identity::Caller;
use super::ledger::ATTEMPTS;
use super::policy::{AccessPolicy, ReasonRule, Role};
use super::ports::{AccessLedger, AccessPorts, LedgerWrite, Written};
use super::record::{AccessRequest, AccessStatus};
use super::refusal::Refusal;
use crate::audit::{backoff, AuditLog};
use crate::config::vars;
use crate::executions::{Executions, Started};
use crate::release::StartInput;
/// The terms a release request carries.
pub use crate::release::{Customer, Exit, ReleaseTerms, RELEASE_REASON};
use crate::{AccountId, ErrorType, LambdaError};

/// Longest contact name (AWS's `FullName` takes 50 characters).
pub const MAX_NAME_CHARS: usize = 50;

/// The variable naming the state machine of `exit`.
pub fn state_machine_var(exit: Exit) -> &'static str {
    match exit {
        Exit::Close => vars::RELEASE_CLOSE_STATE_MACHINE,
        Exit::Handback => vars::RELEASE_HANDBACK_STATE_MACHINE,
        Exit::Transfer => vars::RELEASE_TRANSFER_STATE_MACHINE,
    }
}

/// The execution an approved release request starts.
pub fn execution_name(account: &AccountId, request_id: &str) -> String {
    format!("release-{account}-{request_id}")
}

/// The execution's input.
pub fn start_input(r: &AccessRequest, exit: Exit) -> StartInput {
    StartInput {
        account_id: r.account_id.as_str().to_owned(),
        exit: exit.as_str().to_owned(),
        request_id: r.id.clone(),
        poll_seconds: None,
        code_timeout_seconds: None,
        invitation_timeout_seconds: None,
    }
}

/// Whether a request for `reason` (its policy `rule`) may carry `terms`: a release carries
/// valid terms and is never self-service; any other reason carries none.
pub fn release_admits(
    reason: &str,
    rule: &ReasonRule,
    terms: Option<&ReleaseTerms>,
) -> Result<(), Refusal> {
    match (reason == RELEASE_REASON, terms) {
        (false, None) => Ok(()),
        (false, Some(_)) => Err(Refusal::ReleaseTermsWithoutRelease {
            reason: reason.to_owned(),
        }),
        (true, None) => Err(Refusal::ReleaseTermsMissing),
        (true, Some(_)) if rule.self_service => Err(Refusal::ReleaseNeedsDualControl),
        (true, Some(t)) => validate_terms(t).map_err(|why| Refusal::BadReleaseTerms { why }),
    }
}

/// What each exit needs: a closure no customer; a hand-back the customer with the new root
/// email and a phone; a transfer the customer's organization, a phone, and the new root email
/// unless it keeps ours (`keep_email`, then none). `Err`: why, without echoing the value.
pub fn validate_terms(t: &ReleaseTerms) -> Result<(), String> {
    let only_transfer = |what: &str| Err(format!("{what} is for a transfer only"));
    match t.exit {
        Exit::Close => {
            if t.customer.is_some() {
                return Err("a closure has no customer".into());
            }
            if t.customer_org.is_some() {
                return only_transfer("customer_org");
            }
            if t.keep_email {
                return only_transfer("keep_email");
            }
        }
        Exit::Handback => {
            if t.customer_org.is_some() {
                return only_transfer("customer_org");
            }
            if t.keep_email {
                return only_transfer("keep_email");
            }
            let c = customer(t, "a hand-back")?;
            if c.email.is_none() {
                return Err("a hand-back needs the customer's email (the new root email)".into());
            }
        }
        Exit::Transfer => {
            let org = t
                .customer_org
                .as_deref()
                .ok_or("a transfer needs customer_org (the customer's organization)")?;
            if !organization_id(org) {
                return Err(
                    "customer_org must be o- and 10 to 32 lower-case letters or digits".into(),
                );
            }
            let c = customer(t, "a transfer")?;
            match (t.keep_email, &c.email) {
                (false, None) => {
                    return Err(
                        "a transfer needs the customer's email (the new root email) unless \
                         keep_email"
                            .into(),
                    )
                }
                (true, Some(_)) => {
                    return Err("keep_email keeps our root address: give no customer email".into())
                }
                _ => {}
            }
        }
    }
    if let Some(c) = &t.customer {
        if !phone(&c.phone) {
            return Err("the customer's phone must be E.164: + and 7 to 15 digits".into());
        }
        if let Some(n) = &c.name {
            name(n)?;
        }
    }
    Ok(())
}

fn customer<'a>(t: &'a ReleaseTerms, what: &str) -> Result<&'a Customer, String> {
    t.customer
        .as_ref()
        .ok_or_else(|| format!("{what} needs the customer (email and phone)"))
}

/// `o-` and 10 to 32 lower-case letters or digits (AWS's organization id).
pub fn organization_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// E.164: `+` and 7 to 15 digits.
pub fn phone(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|digits| {
        (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

fn name(n: &str) -> Result<(), String> {
    if n.trim().is_empty() || n.trim() != n {
        return Err("the customer's name must not be blank or padded".into());
    }
    if n.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "the customer's name is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    // Printable only: no control, line or format characters (they would reach contacts,
    // audit records and terminals).
    if n.chars().any(|c| c.is_control() || is_format(c)) {
        return Err("the customer's name has a character that is not printable".into());
    }
    Ok(())
}

/// Invisible formatting characters (bidirectional overrides, zero-width joiners, BOM).
fn is_format(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Whether `who` may start again the execution of the approved release request `r`: an
/// approver, another person than the requester, while the approval holds.
pub fn may_restart(
    policy: &AccessPolicy,
    who: &Caller,
    r: &AccessRequest,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if !policy.has(who, Role::Approver) {
        return Err(Refusal::NotAnApprover {
            caller: who.arn().to_owned(),
        });
    }
    if !policy.other_person(who, &requester_person(policy, r), &[]) {
        return Err(Refusal::OwnRequest {
            caller: who.arn().to_owned(),
            requester: r.requester.clone(),
        });
    }
    if r.status != AccessStatus::Approved || r.release.is_none() {
        return Err(Refusal::WrongState {
            id: r.id.clone(),
            status: r.status,
        });
    }
    if approval_expired(policy, r, now) {
        return Err(Refusal::ApprovalExpired {
            id: r.id.clone(),
            ttl_minutes: policy.approval_ttl_minutes,
        });
    }
    Ok(())
}

/// Starts the execution of the approved release request `r` (an existing one of its name
/// counts as started). Its name.
pub(super) async fn start<P: AccessPorts>(
    ports: &P,
    r: &AccessRequest,
) -> Result<String, LambdaError> {
    let exit = r
        .release
        .as_ref()
        .map(|t| t.exit)
        .ok_or_else(|| LambdaError::new(ErrorType::InternalError, "not a release request"))?;
    let name = execution_name(&r.account_id, &r.id);
    let failed = |e: LambdaError| {
        LambdaError::new(
            e.error_type,
            format!(
                "request {} is approved, but its release execution {name} did not start ({}); \
                 approve it again to start it",
                r.id, e.message
            ),
        )
    };
    let machine = ports
        .release_state_machine(exit)
        .map_err(|e| failed(LambdaError::from_classified(&e)))?;
    let executions = ports.executions().ok_or_else(|| {
        failed(LambdaError::new(
            ErrorType::ConfigError,
            "Step Functions is not configured for access",
        ))
    })?;
    let input = serde_json::to_string(&start_input(r, exit))
        .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))?;
    match executions.start(machine, &name, &input).await {
        Ok(Started::New { .. } | Started::AlreadyExists) => {
            tracing::info!(request = %r.id, account = %r.account_id, execution = %name, "release started");
            Ok(name)
        }
        Err(e) => Err(failed(e)),
    }
}

/// An approver approves an already approved release request again: the retry is recorded,
/// then its execution started (idempotent by name). The request is unchanged.
pub(super) async fn restart<P: AccessPorts>(
    ports: &P,
    who: &Caller,
    r: AccessRequest,
) -> Result<AccessRequest, LambdaError> {
    let caller = who.arn();
    let account = r.account_id.clone();
    let attempt = Attempt {
        ports,
        caller,
        account: &account,
        action: "approve",
        target: &r.id,
    };
    if let Err(refusal) = may_restart(ports.policy(), who, &r, ports.clock().now()) {
        return Err(attempt.refused(refusal).await);
    }
    let record = entry(caller, &account, "access.release-start-retried", &r)
        .detail("execution", execution_name(&account, &r.id));
    // Fail closed: nothing starts unless its record is written.
    ports
        .audit()
        .append(&record)
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    start(ports, &r).await?;
    Ok(r)
}

/// Revokes every open request and check-out of `account` except release requests, each with
/// its `access.revoked` record (actor `actor`, reason `note`) in the same write, releasing the
/// lock a check-out holds. Their ids; none again once done (idempotent).
pub async fn revoke_open<L: AccessLedger>(
    ledger: &L,
    now: DateTime<Utc>,
    actor: &str,
    account: &AccountId,
    note: &str,
) -> Result<Vec<String>, LambdaError> {
    let mut revoked = Vec::new();
    for r in ledger.list(Some(account)).await? {
        if open_for_revocation(&r) && revoke_one(ledger, now, actor, &r.id, note).await? {
            revoked.push(r.id);
        }
    }
    Ok(revoked)
}

fn open_for_revocation(r: &AccessRequest) -> bool {
    !r.status.is_final() && r.reason != RELEASE_REASON && r.release.is_none()
}

/// Revokes one request, re-reading it after a lost race. `false`: nothing (left) to revoke.
async fn revoke_one<L: AccessLedger>(
    ledger: &L,
    now: DateTime<Utc>,
    actor: &str,
    id: &str,
    note: &str,
) -> Result<bool, LambdaError> {
    for attempt in 0..ATTEMPTS {
        let Some(mut r) = ledger.get(id).await? else {
            return Ok(false);
        };
        if !open_for_revocation(&r) {
            return Ok(false);
        }
        let holds_lock = r.status == AccessStatus::CheckedOut
            && ledger
                .lock_of(&r.account_id)
                .await?
                .is_some_and(|l| l.request_id == r.id);
        let lock = if holds_lock {
            LockMove::Release
        } else {
            LockMove::Keep
        };
        r.status = AccessStatus::Revoked;
        r.ended_by = Some(actor.to_owned());
        r.note = Some(note.to_owned());
        r.ended_at = Some(now);
        let record = entry(actor, &r.account_id, "access.revoked", &r).reason(note);
        let write = LedgerWrite {
            request: &r,
            lock,
            record: &record,
        };
        match ledger.write(&write).await? {
            Written::Done => return Ok(true),
            Written::Retry | Written::Locked => backoff(attempt).await,
        }
    }
    Err(LambdaError::new(
        ErrorType::Conflict,
        format!("access request {id} kept changing while it was revoked"),
    ))
}
