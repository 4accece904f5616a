//! Step `begin`: checks the approval and stops custody (status `releasing`, the release
//! recorded, open access revoked), or adopts a stopped release of the same account and exit.

use serde::Serialize;

use super::approval::{execution_name, may_adopt, may_begin};
use super::flow::{conflict, entry};
use super::ports::{Organizations, ReleaseAccess, ReleasePorts, ReleaseStore};
use super::progress::reached;
use super::record::{Exit, Expect, Release, ReleaseStep, ReleaseTerms};
use super::{steps, StartInput};
use crate::audit::{AuditEntry, AuditLog, Outcome, Stream};
use crate::executions::Executions;
use crate::registry::{Account, AccountStatus};
use crate::takeover::PrimaryEmail;
use crate::vault::{CredentialKind, Vault};
use crate::{AccountId, ErrorType, LambdaError};

/// What `begin` returns: the flags the state machine uses to skip completed phases on resume,
/// and the waits' settings, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Begun {
    pub account_id: String,
    pub exit: String,
    pub keep_email: bool,
    /// `CloseAccount` was made (AWS reports the account closing or closed).
    pub close_requested: bool,
    /// The root email is the customer's already.
    pub email_accepted: bool,
    pub handshake_accepted: bool,
    /// Custody ended (vault shredded, account `released`): only `certify` is left.
    pub shredded: bool,
    pub poll_seconds: u64,
    pub code_timeout_seconds: u64,
    pub invitation_timeout_seconds: u64,
    /// The execution whose stopped release this one adopted.
    pub resumed_from: Option<String>,
}

struct Settings {
    poll: u64,
    code: u64,
    invitation: u64,
}

async fn refuse<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
    request_id: &str,
    why: String,
) -> LambdaError {
    let record = AuditEntry::new(
        Stream::Account(account.clone()),
        ports.actor(),
        "release.refused",
    )
    .target(account.to_string())
    .outcome(Outcome::Denied)
    .reason(why.clone())
    .correlation_id(execution)
    .detail("request_id", request_id);
    if let Err(e) = ports.audit().append(&record).await {
        return LambdaError::from_classified(&e);
    }
    LambdaError::new(ErrorType::AccessDenied, why)
}

/// Checks the request the execution names and stops custody. A retry of this execution
/// returns the same flags; a stopped release of the same exit is adopted (the world decides
/// which phases are done).
pub async fn begin<P: ReleasePorts>(
    ports: &P,
    execution: &str,
    execution_arn: &str,
    input: &StartInput,
) -> Result<Begun, LambdaError> {
    let execution = steps::execution(execution)?;
    let execution_arn = steps::execution_arn(execution_arn, execution)?;
    let account = steps::account_id(&input.account_id)?;
    let exit = Exit::parse(&input.exit).ok_or_else(|| {
        LambdaError::new(
            ErrorType::ValidationError,
            "exit must be close, handback or transfer",
        )
    })?;
    let request_id = steps::request_id(&input.request_id)?;
    let settings = Settings {
        poll: steps::timeout(
            input.poll_seconds,
            steps::DEFAULT_POLL_SECONDS,
            steps::POLL_BOUNDS,
        )?,
        code: steps::timeout(
            input.code_timeout_seconds,
            steps::DEFAULT_CODE_TIMEOUT_SECONDS,
            steps::CODE_TIMEOUT_BOUNDS,
        )?,
        invitation: steps::timeout(
            input.invitation_timeout_seconds,
            steps::DEFAULT_INVITATION_TIMEOUT_SECONDS,
            steps::INVITATION_TIMEOUT_BOUNDS,
        )?,
    };
    if execution != execution_name(&account, request_id) {
        let why = format!("execution {execution} is not the one request {request_id} starts");
        return Err(refuse(ports, &account, execution, request_id, why).await);
    }
    let Some(req) = ports.access().request(request_id).await? else {
        let why = format!("access request {request_id} does not exist");
        return Err(refuse(ports, &account, execution, request_id, why).await);
    };
    let terms = match may_begin(&req, &account, exit) {
        Ok(t) => t.clone(),
        Err(why) => return Err(refuse(ports, &account, execution, request_id, why).await),
    };
    let (acct, recorded) = ports.store().get(&account).await?.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("account {account} is not registered"),
        )
    })?;
    if let Some(r) = recorded.as_ref().filter(|r| r.execution == execution) {
        // A retry of this step: the save below may have landed and the revoke after it not.
        // Revoking again finds nothing left open, or what the first attempt missed.
        ports
            .access()
            .revoke_open(&account, &format!("release {request_id} began"))
            .await?;
        return flags(ports, &acct, r, &settings, None).await;
    }
    let now = ports.clock().now();
    let (release, expect, resumed_from) = match (acct.status, recorded) {
        (AccountStatus::Active, previous) => {
            let pending = ports
                .vault()
                .head(&account, CredentialKind::RootPassword)
                .await?
                .and_then(|h| h.pending);
            if pending.is_some() {
                return Err(LambdaError::new(
                    ErrorType::PendingDecisionRequired,
                    format!(
                        "a pending root password of {account} may be live: `rotation confirm` or `rotation reject` it before the release"
                    ),
                ));
            }
            let release = fresh(
                &account,
                &acct,
                &terms,
                execution,
                &execution_arn,
                &req,
                &settings,
                now,
            );
            let previous = previous.map(|p| p.execution);
            (
                release,
                Expect::Begin {
                    status: AccountStatus::Active,
                    previous,
                },
                None,
            )
        }
        (status @ (AccountStatus::Releasing | AccountStatus::Released), Some(old))
            if status == AccountStatus::Releasing
                || (old.step == Some(ReleaseStep::Shredded) && old.exit != Exit::Close) =>
        {
            if ports
                .executions()
                .state(&old.execution_arn)
                .await?
                .is_running()
            {
                return Err(conflict(format!(
                    "release {} of {account} is running",
                    old.execution
                )));
            }
            may_adopt(&old, &terms).map_err(conflict)?;
            let mut release = old.clone();
            if old.point_of_no_return_at.is_none() {
                release.customer = terms.customer.clone();
                release.customer_org = terms.customer_org.clone();
                release.keep_email = terms.keep_email;
            }
            release.execution = execution.to_owned();
            release.execution_arn = execution_arn.clone();
            release.request_id = req.id.clone();
            release.requested_by = req.requester.clone();
            release.approved_by = req.approvals.clone();
            release.reason = req.reason.clone();
            release.ticket = req.ticket.clone();
            release.stopped = None;
            release.polls = 0;
            release.resends = 0;
            release.poll_seconds = settings.poll;
            release.invitation_timeout_seconds = settings.invitation;
            release.updated_at = now;
            (
                release,
                Expect::Begin {
                    status,
                    previous: Some(old.execution.clone()),
                },
                Some(old.execution),
            )
        }
        (status, _) => {
            return Err(conflict(format!(
                "account {account} is {}: only an active account is released",
                status.as_str()
            )));
        }
    };
    let mut account_item = acct.clone();
    if account_item.status != AccountStatus::Released {
        // A released account stopped before its certificate stays released.
        account_item.status = AccountStatus::Releasing;
    }
    let mut record = entry(ports, &release, "begun")
        .detail("requested_by", release.requested_by.clone())
        .detail("approved_by", release.approved_by.clone())
        .detail("keep_email", release.keep_email)
        .detail("step", release.step.map_or("none", |s| s.as_str()));
    if let Some(org) = &release.customer_org {
        record = record.detail("customer_org", org.clone());
    }
    if let Some(r) = &resumed_from {
        record = record.detail("resumed_from", r.clone());
    }
    if !ports
        .store()
        .save(&account_item, &release, &expect, &record)
        .await?
    {
        return Err(conflict(format!(
            "the registry item of {account} changed meanwhile"
        )));
    }
    let revoked = ports
        .access()
        .revoke_open(&account, &format!("release {request_id} began"))
        .await?;
    tracing::info!(account = %account, execution, revoked = revoked.len(), "release began: custody stopped");
    flags(ports, &account_item, &release, &settings, resumed_from).await
}

#[allow(clippy::too_many_arguments)]
fn fresh(
    account: &AccountId,
    acct: &Account,
    terms: &ReleaseTerms,
    execution: &str,
    execution_arn: &str,
    req: &crate::access::AccessRequest,
    settings: &Settings,
    now: chrono::DateTime<chrono::Utc>,
) -> Release {
    Release {
        account_id: account.clone(),
        exit: terms.exit,
        execution: execution.to_owned(),
        execution_arn: execution_arn.to_owned(),
        request_id: req.id.clone(),
        requested_by: req.requester.clone(),
        approved_by: req.approvals.clone(),
        reason: req.reason.clone(),
        ticket: req.ticket.clone(),
        customer: terms.customer.clone(),
        customer_org: terms.customer_org.clone(),
        keep_email: terms.keep_email,
        step: Some(ReleaseStep::Begun),
        previous_status: acct.status,
        previous_email: None,
        poll_seconds: settings.poll,
        invitation_timeout_seconds: settings.invitation,
        resends: 0,
        polls: 0,
        removed: Vec::new(),
        cancel_requested_by: None,
        stopped: None,
        point_of_no_return_at: None,
        closed_at: None,
        shred_after: None,
        shredded_at: None,
        started_at: now,
        updated_at: now,
    }
}

/// The flags, from the record and (for phases whose record is written before AWS's answer)
/// the world.
async fn flags<P: ReleasePorts>(
    ports: &P,
    acct: &Account,
    r: &Release,
    s: &Settings,
    resumed_from: Option<String>,
) -> Result<Begun, LambdaError> {
    let account = &acct.account_id;
    let close_requested = r.exit == Exit::Close
        && reached(r.step, ReleaseStep::CloseRequested)
        && ports
            .orgs()
            .describe(account)
            .await?
            .is_none_or(|m| m.status != super::MemberStatus::Active);
    // The invitation found, the account no longer ours: an earlier execution accepted it and
    // died before recording so (check-departure records it). Asked first: AWS answers no
    // account-API call about an account outside our organization.
    let handshake_accepted = reached(r.step, ReleaseStep::HandshakeAccepted)
        || (r.exit == Exit::Transfer
            && reached(r.step, ReleaseStep::InvitationFound)
            && ports.orgs().describe(account).await?.is_none());
    let customer_email = r.customer.as_ref().and_then(|c| c.email.as_ref());
    let email_accepted = match customer_email {
        Some(e)
            if !handshake_accepted
                && !r.keep_email
                && reached(r.step, ReleaseStep::EmailAccepted) =>
        {
            // GetPrimaryEmail lags an accepted change (AWS: up to four hours); the update's
            // status does not.
            ports.email().get(account).await? == *e
                || ports.email().update_status(account).await?
                    == Some(crate::takeover::UpdateStatus::Accepted)
        }
        _ => false,
    };
    Ok(Begun {
        account_id: account.to_string(),
        exit: r.exit.as_str().to_owned(),
        keep_email: r.keep_email,
        close_requested,
        email_accepted,
        handshake_accepted,
        shredded: reached(r.step, ReleaseStep::Shredded),
        poll_seconds: s.poll,
        code_timeout_seconds: s.code,
        invitation_timeout_seconds: s.invitation,
        resumed_from,
    })
}
