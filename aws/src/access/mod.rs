//! Break-glass access to root credentials: reasoned, approved by someone else, exclusive,
//! time-boxed, rotated after use, and audited with every decision.
//!
//! The caller is always an ARN AWS reported (STS `GetCallerIdentity` for the CLI, the
//! IAM-authenticated request context for the `access` Lambda), never a flag or a body field.
//!
//! Flow: `request` (requester role, allowed reason, existing or pattern-matching ticket) →
//! `approve` by enough approvers other than the requester (or self-service for configured
//! reasons, with an after-the-fact review ticket) → `checkout` by the requester, once, exclusive
//! per account, within the approval's lifetime: shows the current root password, the current
//! TOTP code and any unexpired reset link, and marks the account for rotation → `checkin`, or
//! automatic expiry, or `revoke` by an admin. A `rotation-apply` check-out is allowed only while
//! the account's rotation awaits its apply step, its execution really runs and its apply
//! deadline has not passed (`rotation::apply_checkout`); it shows `current` and `pending` and
//! does not mark another rotation.
//!
//! Every decision is an audit record. State changes write the request, the lock and the audit
//! record in one DynamoDB transaction; a check-out decrypts first and shows nothing unless that
//! transaction (with its audit record) committed: fail closed.

pub mod identity;
pub mod store;

pub use rootwarden_core::access::policy;

use std::sync::Arc;

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use secrecy::SecretString;
use serde::Serialize;

use crate::audit::{backoff, AuditEntry, AuditLog, DynamoAuditLog, Outcome, Stream};
use crate::mail::{Category, Priority, SecretKind};
use crate::registry::{AccountMode, AccountStatus, DynamoAccountRegistry, RotationReason};
use crate::rotation::{DynamoRotationStore, RotationStage};
use crate::sdk::sdk_error;
use crate::tickets::{DynamoTicketStore, Ticket, TicketStore};
use crate::vault::totp::{self, TotpCode, TotpSeed};
use crate::vault::{CredentialKind, KmsVault, Vault};
use crate::vault::{KmsTransientStore, TransientStore};
use crate::{AccountId, Clock, Config, ErrorType, LambdaError};

pub use identity::IamRoleDirectory;
pub use policy::{AccessPolicy, ReasonRule, Role};
pub use rootwarden_core::access::identity::{Caller, Person};
pub use store::{AccessRequest, AccessStatus, Lock};

/// The reason whose check-out shows the pending password too.
pub const ROTATION_APPLY: &str = "rotation-apply";
const ATTEMPTS: u32 = 8;

/// Everything access talks to.
#[derive(Clone)]
pub struct Deps {
    pub ddb: aws_sdk_dynamodb::Client,
    /// The workflows table (requests and locks).
    pub table: String,
    pub registry: DynamoAccountRegistry,
    pub vault: KmsVault,
    pub transient: KmsTransientStore,
    pub tickets: DynamoTicketStore,
    pub rotations: DynamoRotationStore,
    pub audit: DynamoAuditLog,
    pub policy: AccessPolicy,
    pub clock: Arc<dyn Clock>,
    /// Step Functions, asked whether a rotation's execution really runs before a
    /// `rotation-apply` check-out ([`Deps::with_executions`]); without it that check-out is
    /// refused.
    pub executions: Option<aws_sdk_sfn::Client>,
}

impl Deps {
    /// Fails with `ConfigError` naming `ROOTWARDEN_ACCESS_POLICY` when it is missing or invalid.
    pub fn new(
        config: &Config,
        ddb: aws_sdk_dynamodb::Client,
        kms: aws_sdk_kms::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, LambdaError> {
        let policy = AccessPolicy::from_json(
            config
                .access_policy()
                .map_err(|e| LambdaError::from_classified(&e))?,
        )
        .map_err(|e| {
            LambdaError::new(
                ErrorType::ConfigError,
                format!("{}: {e}", crate::config::vars::ACCESS_POLICY),
            )
        })?;
        let audit = DynamoAuditLog::new(ddb.clone(), &config.audit_table, clock.clone());
        Ok(Self {
            table: config.workflows_table.clone(),
            registry: DynamoAccountRegistry::new(ddb.clone(), &config.accounts_table),
            vault: KmsVault::new(
                ddb.clone(),
                kms.clone(),
                &config.vault_table,
                &config.vault_key,
                audit.clone(),
                clock.clone(),
            ),
            transient: KmsTransientStore::new(
                ddb.clone(),
                kms,
                &config.vault_table,
                &config.vault_key,
            ),
            tickets: DynamoTicketStore::new(ddb.clone(), &config.tickets_table, audit.clone()),
            rotations: DynamoRotationStore::new(ddb.clone(), &config.workflows_table),
            audit,
            ddb,
            policy,
            clock,
            executions: None,
        })
    }

    /// Lets `rotation-apply` check-outs verify the rotation's execution runs.
    pub fn with_executions(mut self, sfn: aws_sdk_sfn::Client) -> Self {
        self.executions = Some(sfn);
        self
    }
}

/// What a check-out shows, to the requester only. Dropping it zeroizes the secrets.
pub struct Revealed {
    pub request: AccessRequest,
    pub password_version: u32,
    pub password: SecretString,
    /// `rotation-apply` only: the pending password to set.
    pub pending: Option<(u32, SecretString)>,
    pub totp: Option<TotpCode>,
    pub reset_links: Vec<SecretString>,
}

impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revealed")
            .field("request", &self.request.id)
            .field("password_version", &self.password_version)
            .finish_non_exhaustive()
    }
}

/// A request to open.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub account: AccountId,
    pub reason: String,
    pub ticket: String,
    /// Minutes; `None`: the reason's maximum.
    pub duration_minutes: Option<u32>,
}

fn new_id(now: DateTime<Utc>) -> String {
    let mut b = [0u8; 5];
    rand::thread_rng().fill_bytes(&mut b);
    format!("AR-{}-{}", now.format("%Y%m%d"), hex::encode(b))
}

fn entry(caller: &str, account: &AccountId, action: &str, r: &AccessRequest) -> AuditEntry {
    AuditEntry::new(Stream::Account(account.clone()), caller, action)
        .target(&r.id)
        .correlation_id(&r.id)
        .detail("reason", r.reason.as_str())
        .detail("ticket", r.ticket.as_str())
        .detail("status", r.status.as_str())
}

/// One attempted action: its refusals are recorded under the caller, account and target.
struct Attempt<'a> {
    deps: &'a Deps,
    caller: &'a str,
    account: &'a AccountId,
    action: &'static str,
    target: &'a str,
}

impl Attempt<'_> {
    /// Records the refusal (fail closed: if even that cannot be written, the caller gets
    /// `AuditWriteFailed`), then returns it as the error.
    async fn refuse(&self, error_type: ErrorType, why: impl Into<String>) -> LambdaError {
        let why = why.into();
        let record = AuditEntry::new(
            Stream::Account(self.account.clone()),
            self.caller,
            "access.refused",
        )
        .target(self.target)
        .outcome(Outcome::Denied)
        .reason(&why)
        .correlation_id(self.target)
        .detail("attempted", self.action);
        if let Err(e) = self.deps.audit.append(&record).await {
            return LambdaError::from_classified(&e);
        }
        tracing::warn!(
            caller = self.caller,
            attempted = self.action,
            target = self.target,
            error_type = error_type.as_str(),
            why = %why,
            "access refused"
        );
        LambdaError::new(error_type, why)
    }
}

/// Loads a request.
pub async fn get(deps: &Deps, id: &str) -> Result<Option<AccessRequest>, LambdaError> {
    let out = deps
        .ddb
        .get_item()
        .table_name(&deps.table)
        .set_key(Some(store::request_key(id)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| sdk_error("dynamodb:GetItem", &e))?;
    out.item().map(AccessRequest::from_item).transpose()
}

/// The check-out lock of one account, if any.
async fn lock_of(deps: &Deps, account: &AccountId) -> Result<Option<Lock>, LambdaError> {
    let out = deps
        .ddb
        .get_item()
        .table_name(&deps.table)
        .set_key(Some(store::lock_key(account)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| sdk_error("dynamodb:GetItem", &e))?;
    Ok(out.item().and_then(Lock::from_item))
}

/// Active check-out locks (the expiry job's view).
pub async fn locks(deps: &Deps) -> Result<Vec<Lock>, LambdaError> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = deps
            .ddb
            .query()
            .table_name(&deps.table)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(
                ":p",
                aws_sdk_dynamodb::types::AttributeValue::S(store::LOCK_PARTITION.into()),
            )
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:Query", &e))?;
        out.extend(page.items().iter().filter_map(Lock::from_item));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(out);
        }
    }
}

enum Commit {
    Done,
    /// The request changed under us, or the audit chain moved: re-read and retry.
    Retry,
    /// The account's lock is held by another request.
    Locked,
}

/// Writes the request (+ optional lock change) with its audit record in one transaction.
async fn commit(
    deps: &Deps,
    request: &AccessRequest,
    record: &AuditEntry,
    lock: Option<TransactWriteItem>,
) -> Result<Commit, LambdaError> {
    let (_, audit_put) = deps
        .audit
        .prepare(record)
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    let mut items = vec![
        request.write(&deps.table)?,
        TransactWriteItem::builder().put(audit_put).build(),
    ];
    let has_lock = lock.is_some();
    items.extend(lock);
    match deps
        .ddb
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
    {
        Ok(_) => Ok(Commit::Done),
        Err(e) => {
            let reasons: Vec<String> = e
                .as_service_error()
                .and_then(|se| match se {
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
                        Some(c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_owned()).collect())
                    }
                    _ => None,
                })
                .unwrap_or_default();
            if reasons.is_empty() {
                let err = sdk_error("dynamodb:TransactWriteItems", &e);
                // The audit record is part of this transaction: it was not written, so nothing
                // was done. Report it as what it is for the caller (fail closed).
                return Err(if err.error_type == ErrorType::AwsError {
                    LambdaError::new(ErrorType::AuditWriteFailed, err.message)
                } else {
                    err
                });
            }
            let failed = |i: usize| {
                reasons
                    .get(i)
                    .is_some_and(|c| c == "ConditionalCheckFailed")
            };
            if has_lock && failed(2) {
                Ok(Commit::Locked)
            } else if failed(0) || failed(1) || reasons.iter().any(|c| c == "TransactionConflict") {
                Ok(Commit::Retry)
            } else {
                Err(LambdaError::new(
                    ErrorType::AuditWriteFailed,
                    format!("transaction cancelled: {}", reasons.join(", ")),
                ))
            }
        }
    }
}

/// The requester as a person (requests stored before persons were recorded: from the ARN).
fn requester_person(deps: &Deps, r: &AccessRequest) -> Person {
    r.requester_person
        .as_deref()
        .map(Person::parse)
        .unwrap_or_else(|| deps.policy.person(&Caller::from_arn(&r.requester)))
}

/// The approvers so far, as people.
fn approver_persons(deps: &Deps, r: &AccessRequest) -> Vec<Person> {
    if r.approver_persons.len() == r.approvals.len() {
        r.approver_persons
            .iter()
            .map(|p| Person::parse(p))
            .collect()
    } else {
        r.approvals
            .iter()
            .map(|a| deps.policy.person(&Caller::from_arn(a)))
            .collect()
    }
}

fn not_found(id: &str) -> LambdaError {
    LambdaError::new(
        ErrorType::NotFound,
        format!("access request {id} does not exist"),
    )
}

/// Opens a request. Refusals (not a requester, unknown account, reason or ticket, too long) are
/// audited and returned as `AccessDenied` / `ValidationError` / `NotFound`.
pub async fn request(
    deps: &Deps,
    caller: impl Into<Caller>,
    req: NewRequest,
) -> Result<AccessRequest, LambdaError> {
    let who: Caller = caller.into();
    let caller = who.arn();
    let account = &req.account;
    let target = format!("account {account}");
    let attempt = Attempt {
        deps,
        caller,
        account,
        action: "request",
        target: &target,
    };
    if !deps.policy.has(&who, Role::Requester) {
        return Err(attempt
            .refuse(
                ErrorType::AccessDenied,
                format!("{caller} is not authorized to request root access"),
            )
            .await);
    }
    let Some(rule) = deps.policy.reason(&req.reason).cloned() else {
        let allowed: Vec<&str> = deps.policy.reasons.keys().map(String::as_str).collect();
        return Err(attempt
            .refuse(
                ErrorType::ValidationError,
                format!(
                    "unknown reason {:?}; allowed: {}",
                    req.reason,
                    allowed.join(", ")
                ),
            )
            .await);
    };
    let duration = req.duration_minutes.unwrap_or(rule.max_minutes);
    if duration == 0 || duration > rule.max_minutes {
        return Err(attempt
            .refuse(
                ErrorType::ValidationError,
                format!(
                    "duration must be from 1 to {} minutes for {}",
                    rule.max_minutes, req.reason
                ),
            )
            .await);
    }
    let ticket = req.ticket.trim().to_owned();
    if ticket.is_empty() {
        return Err(attempt
            .refuse(ErrorType::ValidationError, "a ticket reference is required")
            .await);
    }
    if !deps.policy.external_ticket(&ticket) {
        match deps
            .tickets
            .get(&ticket)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?
        {
            Some(t) if t.account_id.as_ref().is_none_or(|a| a == account) => {}
            Some(_) => {
                return Err(attempt
                    .refuse(
                        ErrorType::ValidationError,
                        format!("ticket {ticket} belongs to another account"),
                    )
                    .await)
            }
            None => {
                return Err(attempt
                    .refuse(
                        ErrorType::NotFound,
                        format!(
                    "ticket {ticket} does not exist and does not match the external ticket pattern"
                ),
                    )
                    .await)
            }
        }
    }
    match deps.registry.get(account).await? {
        Some(a) if a.status == AccountStatus::Active && a.mode == AccountMode::Vaulted => {}
        Some(a) => {
            return Err(attempt
                .refuse(
                    ErrorType::ValidationError,
                    format!(
                        "account {account} is {} and {}: nothing to check out",
                        a.status.as_str(),
                        a.mode.as_str()
                    ),
                )
                .await)
        }
        None => {
            return Err(attempt
                .refuse(
                    ErrorType::NotFound,
                    format!("account {account} is not registered"),
                )
                .await)
        }
    }
    if req.reason == ROTATION_APPLY && awaiting_rotation(deps, account).await?.is_none() {
        return Err(attempt
            .refuse(
                ErrorType::ValidationError,
                format!("no rotation of account {account} awaits its apply step"),
            )
            .await);
    }
    let now = deps.clock.now();
    let mut r = AccessRequest {
        id: new_id(now),
        account_id: account.clone(),
        requester: caller.to_owned(),
        requester_person: Some(deps.policy.person(&who).as_str().to_owned()),
        approver_persons: Vec::new(),
        reason: req.reason.clone(),
        ticket,
        duration_minutes: duration,
        status: AccessStatus::Requested,
        approvals: Vec::new(),
        review_ticket: None,
        ended_by: None,
        note: None,
        created_at: now,
        approved_at: None,
        checked_out_at: None,
        expires_at: None,
        ended_at: None,
        version: 0,
    };
    if rule.self_service {
        // Approved on request; someone else reviews afterwards.
        let review = Ticket::task(
            format!("review-{}", r.id),
            account,
            Category::Security,
            Priority::High,
            format!(
                "Review self-service root access {} to account {account}",
                r.id
            ),
            format!(
                "{caller} used self-service root access (reason {}, ticket {}, up to {duration} \
                 minutes). Dual control was waived for this reason: a second person must review \
                 what was done (CloudTrail of account {account}) and resolve this ticket.",
                r.reason, r.ticket
            ),
            now,
        );
        let review = deps
            .tickets
            .open_task(&review, caller, &r.id)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
        r.status = AccessStatus::Approved;
        r.approved_at = Some(now);
        r.review_ticket = Some(review.id);
    }
    let action = if rule.self_service {
        "access.requested-self-service"
    } else {
        "access.requested"
    };
    let record = entry(caller, account, action, &r)
        .reason(format!("{} ({})", r.reason, r.ticket))
        .detail("duration_minutes", duration);
    for attempt in 0..ATTEMPTS {
        match commit(deps, &r, &record, None).await? {
            Commit::Done => {
                r.version += 1;
                return Ok(r);
            }
            _ => backoff(attempt).await,
        }
    }
    Err(LambdaError::new(
        ErrorType::Conflict,
        "could not record the request",
    ))
}

async fn awaiting_rotation(
    deps: &Deps,
    account: &AccountId,
) -> Result<Option<crate::rotation::RotationRecord>, LambdaError> {
    Ok(deps
        .rotations
        .list(account)
        .await?
        .into_iter()
        .find(|r| r.stage == RotationStage::AwaitingApply))
}

/// Re-reads `id` and applies `change` until it commits. `change` validates the current state
/// and returns the new request, its audit record and an optional lock write; or an error
/// (already audited by `change`).
async fn transition<F, Fut>(
    deps: &Deps,
    id: &str,
    mut change: F,
) -> Result<AccessRequest, LambdaError>
where
    F: FnMut(AccessRequest) -> Fut,
    Fut: std::future::Future<
        Output = Result<(AccessRequest, AuditEntry, Option<TransactWriteItem>), LambdaError>,
    >,
{
    for attempt in 0..ATTEMPTS {
        let current = get(deps, id).await?.ok_or_else(|| not_found(id))?;
        let (mut next, record, lock) = change(current).await?;
        match commit(deps, &next, &record, lock).await? {
            Commit::Done => {
                next.version += 1;
                return Ok(next);
            }
            Commit::Retry => backoff(attempt).await,
            Commit::Locked => {
                return Err(LambdaError::new(
                    ErrorType::Conflict,
                    format!(
                        "account {} is checked out by another request",
                        next.account_id
                    ),
                ))
            }
        }
    }
    Err(LambdaError::new(
        ErrorType::Conflict,
        format!("access request {id} kept changing"),
    ))
}

/// An approver other than the requester approves.
pub async fn approve(
    deps: &Deps,
    caller: impl Into<Caller>,
    id: &str,
) -> Result<AccessRequest, LambdaError> {
    let who: Caller = caller.into();
    let (who, caller) = (&who, who.arn());
    transition(deps, id, |mut r| async move {
        let account = r.account_id.clone();
        let attempt = Attempt {
            deps,
            caller,
            account: &account,
            action: "approve",
            target: id,
        };
        if !deps.policy.has(who, Role::Approver) {
            return Err(attempt
                .refuse(
                    ErrorType::AccessDenied,
                    format!("{caller} is not authorized to approve root access"),
                )
                .await);
        }
        let requester = requester_person(deps, &r);
        if !deps.policy.other_person(who, &requester, &[]) {
            return Err(attempt
                .refuse(
                    ErrorType::AccessDenied,
                    format!(
                        "the requester cannot approve their own request ({caller} is the same \
                         person or principal as the requester {})",
                        r.requester
                    ),
                )
                .await);
        }
        if r.status != AccessStatus::Requested {
            return Err(attempt
                .refuse(
                    ErrorType::Conflict,
                    format!("request {id} is {}", r.status.as_str()),
                )
                .await);
        }
        let approved_by = approver_persons(deps, &r);
        if r.approvals.iter().any(|a| a == caller)
            || !deps.policy.other_person(who, &requester, &approved_by)
        {
            return Err(attempt
                .refuse(
                    ErrorType::Conflict,
                    format!("{caller} (or another session of the same person) already approved request {id}"),
                )
                .await);
        }
        let now = deps.clock.now();
        r.approvals.push(caller.to_owned());
        r.approver_persons = approved_by
            .iter()
            .map(|p| p.as_str().to_owned())
            .chain([deps.policy.person(who).as_str().to_owned()])
            .collect();
        let needed = deps.policy.approvals_required as usize;
        if r.approvals.len() >= needed {
            r.status = AccessStatus::Approved;
            r.approved_at = Some(now);
        }
        let record = entry(caller, &account, "access.approved", &r)
            .reason(format!("approval {} of {needed}", r.approvals.len()));
        Ok((r, record, None))
    })
    .await
}

/// An approver (not the requester) or an admin denies. Final.
pub async fn deny(
    deps: &Deps,
    caller: impl Into<Caller>,
    id: &str,
    note: &str,
) -> Result<AccessRequest, LambdaError> {
    let who: Caller = caller.into();
    let (who, caller) = (&who, who.arn());
    transition(deps, id, |mut r| async move {
        let account = r.account_id.clone();
        let attempt = Attempt {
            deps,
            caller,
            account: &account,
            action: "deny",
            target: id,
        };
        let allowed = deps.policy.has(who, Role::Admin)
            || (deps.policy.has(who, Role::Approver)
                && deps
                    .policy
                    .other_person(who, &requester_person(deps, &r), &[]));
        if !allowed {
            return Err(attempt
                .refuse(
                    ErrorType::AccessDenied,
                    format!("{caller} is not authorized to deny request {id}"),
                )
                .await);
        }
        if !matches!(r.status, AccessStatus::Requested | AccessStatus::Approved) {
            return Err(attempt
                .refuse(
                    ErrorType::Conflict,
                    format!("request {id} is {}", r.status.as_str()),
                )
                .await);
        }
        r.status = AccessStatus::Denied;
        r.ended_by = Some(caller.to_owned());
        r.note = Some(note.to_owned());
        r.ended_at = Some(deps.clock.now());
        let record = entry(caller, &account, "access.denied", &r).reason(note);
        Ok((r, record, None))
    })
    .await
}

/// Ends a check-out that reached its end: lock released, request expired, audited.
async fn expire_one(deps: &Deps, actor: &str, id: &str) -> Result<AccessRequest, LambdaError> {
    transition(deps, id, |mut r| async move {
        let now = deps.clock.now();
        let account = r.account_id.clone();
        let lock = match r.status {
            AccessStatus::CheckedOut if r.expires_at.is_some_and(|e| e <= now) => {
                Some(store::lock_delete(&deps.table, &account, &r.id)?)
            }
            AccessStatus::Approved if approval_expired(deps, &r, now) => None,
            _ => {
                return Err(LambdaError::new(
                    ErrorType::Conflict,
                    format!(
                        "request {id} is {} and not due to expire",
                        r.status.as_str()
                    ),
                ))
            }
        };
        r.status = AccessStatus::Expired;
        r.ended_by = Some(actor.to_owned());
        r.ended_at = Some(now);
        let record = entry(actor, &account, "access.expired", &r).reason(if lock.is_some() {
            "check-out reached its end: automatic check-in"
        } else {
            "approval expired before check-out"
        });
        Ok((r, record, lock))
    })
    .await
}

fn approval_expired(deps: &Deps, r: &AccessRequest, now: DateTime<Utc>) -> bool {
    r.approved_at
        .is_some_and(|a| a + Duration::minutes(i64::from(deps.policy.approval_ttl_minutes)) < now)
}

/// The requester checks out: shows the secrets once, exclusive per account.
pub async fn checkout(
    deps: &Deps,
    caller: impl Into<Caller>,
    id: &str,
) -> Result<Revealed, LambdaError> {
    let who: Caller = caller.into();
    let (who, caller) = (&who, who.arn());
    let now = deps.clock.now();
    let r = get(deps, id).await?.ok_or_else(|| not_found(id))?;
    let account = r.account_id.clone();
    let attempt = Attempt {
        deps,
        caller,
        account: &account,
        action: "checkout",
        target: id,
    };
    if caller != r.requester {
        return Err(attempt
            .refuse(
                ErrorType::AccessDenied,
                format!("only the requester can check out request {id}"),
            )
            .await);
    }
    if !deps.policy.has(who, Role::Requester) {
        return Err(attempt
            .refuse(
                ErrorType::AccessDenied,
                format!("{caller} is no longer authorized to request root access"),
            )
            .await);
    }
    if r.status == AccessStatus::Approved && approval_expired(deps, &r, now) {
        let _ = expire_one(deps, caller, id).await;
        return Err(attempt
            .refuse(
                ErrorType::AccessDenied,
                format!(
                    "the approval of request {id} expired ({} minutes)",
                    deps.policy.approval_ttl_minutes
                ),
            )
            .await);
    }
    if r.status != AccessStatus::Approved {
        let why = match r.status {
            AccessStatus::CheckedOut => {
                format!("request {id} was already checked out (secrets are shown once)")
            }
            s => format!("request {id} is {}", s.as_str()),
        };
        return Err(attempt.refuse(ErrorType::Conflict, why).await);
    }
    // A lock whose check-out has ended but was not yet swept: expire it first.
    if let Some(lock) = lock_of(deps, &account).await? {
        if lock.ended(now) {
            let _ = expire_one(deps, "access-expiry", &lock.request_id).await;
        } else {
            return Err(attempt
                .refuse(
                    ErrorType::Conflict,
                    format!(
                        "account {account} is checked out by request {} until {}",
                        lock.request_id, lock.expires_at
                    ),
                )
                .await);
        }
    }
    let apply = r.reason == ROTATION_APPLY;
    let awaiting = if apply {
        let gate = match &deps.executions {
            Some(sfn) => {
                crate::rotation::apply_checkout(&deps.rotations, sfn, &account, now).await?
            }
            None => Err("this deployment cannot verify rotation executions".to_owned()),
        };
        match gate {
            Ok(rot) => Some(rot),
            Err(why) => {
                return Err(attempt
                    .refuse(ErrorType::AccessDenied, format!("rotation-apply: {why}"))
                    .await)
            }
        }
    } else {
        None
    };
    // Decrypt first; nothing is shown unless the check-out (and its audit record) commits.
    let (info, password) = deps
        .vault
        .reveal(&account, CredentialKind::RootPassword, None)
        .await?;
    let pending = match &awaiting {
        Some(rot) => {
            let (p, secret) = deps
                .vault
                .reveal(
                    &account,
                    CredentialKind::RootPassword,
                    Some(rot.pending_version),
                )
                .await?;
            Some((p.version, secret))
        }
        None => None,
    };
    let totp = match deps.vault.head(&account, CredentialKind::MfaSeed).await? {
        Some(_) => {
            let (_, seed) = deps
                .vault
                .reveal(&account, CredentialKind::MfaSeed, None)
                .await?;
            let seed = TotpSeed::parse(&seed).map_err(|e| {
                LambdaError::new(ErrorType::InternalError, format!("vaulted MFA seed: {e}"))
            })?;
            Some(
                totp::code(&seed, now)
                    .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))?,
            )
        }
        None => None,
    };
    let reset_links: Vec<SecretString> = deps
        .transient
        .unexpired(Some(&account), SecretKind::PasswordResetLink, now)
        .await
        .map_err(|e| LambdaError::from_classified(&e))?
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    if !apply {
        // Before anything is shown: every use of the password ends in a rotation.
        deps.registry
            .mark_for_rotation(&account, now, RotationReason::Checkout)
            .await?;
    }
    let totp_shown = totp.is_some();
    let request = transition(deps, id, |mut r| {
        let reset = reset_links.len();
        let password_version = info.version;
        let pending_version = pending.as_ref().map(|(v, _)| *v);
        async move {
            if r.status != AccessStatus::Approved || r.requester != caller {
                return Err(LambdaError::new(
                    ErrorType::Conflict,
                    format!(
                        "request {} changed during check-out ({})",
                        r.id,
                        r.status.as_str()
                    ),
                ));
            }
            let expires = now + Duration::minutes(i64::from(r.duration_minutes));
            r.status = AccessStatus::CheckedOut;
            r.checked_out_at = Some(now);
            r.expires_at = Some(expires);
            let lock = store::lock_put(&deps.table, &r.account_id, &r.id, expires)?;
            let mut record = entry(caller, &r.account_id, "access.checked-out", &r)
                .reason(format!(
                    "{} ({}) until {}",
                    r.reason,
                    r.ticket,
                    crate::registry::stamp(expires)
                ))
                .detail("password_version", password_version)
                .detail("totp_shown", totp_shown)
                .detail("reset_links_shown", reset);
            if let Some(p) = pending_version {
                record = record.detail("pending_version", p);
            }
            Ok((r, record, Some(lock)))
        }
    })
    .await;
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            if e.error_type == ErrorType::Conflict {
                return Err(attempt.refuse(ErrorType::Conflict, e.message).await);
            }
            return Err(e);
        }
    };
    tracing::info!(request = %request.id, account = %account, reason = %request.reason, "root credentials checked out");
    Ok(Revealed {
        request,
        password_version: info.version,
        password,
        pending,
        totp,
        reset_links,
    })
}

/// The requester (or an admin) checks in.
pub async fn checkin(
    deps: &Deps,
    caller: impl Into<Caller>,
    id: &str,
) -> Result<AccessRequest, LambdaError> {
    let who: Caller = caller.into();
    let (who, caller) = (&who, who.arn());
    transition(deps, id, |mut r| async move {
        let account = r.account_id.clone();
        let attempt = Attempt {
            deps,
            caller,
            account: &account,
            action: "checkin",
            target: id,
        };
        if caller != r.requester && !deps.policy.has(who, Role::Admin) {
            return Err(attempt
                .refuse(
                    ErrorType::AccessDenied,
                    format!("only the requester or an admin can check in request {id}"),
                )
                .await);
        }
        if r.status != AccessStatus::CheckedOut {
            return Err(attempt
                .refuse(
                    ErrorType::Conflict,
                    format!("request {id} is {}", r.status.as_str()),
                )
                .await);
        }
        r.status = AccessStatus::CheckedIn;
        r.ended_by = Some(caller.to_owned());
        r.ended_at = Some(deps.clock.now());
        let lock = store::lock_delete(&deps.table, &account, &r.id)?;
        let record = entry(caller, &account, "access.checked-in", &r);
        Ok((r, record, Some(lock)))
    })
    .await
}

/// An admin ends a request in any open state.
pub async fn revoke(
    deps: &Deps,
    caller: impl Into<Caller>,
    id: &str,
    note: &str,
) -> Result<AccessRequest, LambdaError> {
    let who: Caller = caller.into();
    let (who, caller) = (&who, who.arn());
    transition(deps, id, |mut r| async move {
        let account = r.account_id.clone();
        let attempt = Attempt {
            deps,
            caller,
            account: &account,
            action: "revoke",
            target: id,
        };
        if !deps.policy.has(who, Role::Admin) {
            return Err(attempt
                .refuse(
                    ErrorType::AccessDenied,
                    format!("{caller} is not an access admin"),
                )
                .await);
        }
        if r.status.is_final() {
            return Err(attempt
                .refuse(
                    ErrorType::Conflict,
                    format!("request {id} is {}", r.status.as_str()),
                )
                .await);
        }
        let lock = if r.status == AccessStatus::CheckedOut {
            Some(store::lock_delete(&deps.table, &account, &r.id)?)
        } else {
            None
        };
        r.status = AccessStatus::Revoked;
        r.ended_by = Some(caller.to_owned());
        r.note = Some(note.to_owned());
        r.ended_at = Some(deps.clock.now());
        let record = entry(caller, &account, "access.revoked", &r).reason(note);
        Ok((r, record, lock))
    })
    .await
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ExpiryReport {
    pub active: usize,
    pub expired: Vec<String>,
    pub failed: Vec<(String, String)>,
}

/// The scheduled automatic check-in: every check-out past its end is expired.
pub async fn expire_due(deps: &Deps, actor: &str) -> Result<ExpiryReport, LambdaError> {
    let now = deps.clock.now();
    let mut report = ExpiryReport::default();
    for lock in locks(deps).await? {
        report.active += 1;
        if !lock.ended(now) {
            continue;
        }
        match expire_one(deps, actor, &lock.request_id).await {
            Ok(r) => report.expired.push(r.id),
            Err(e) => report.failed.push((lock.request_id, e.to_string())),
        }
    }
    Ok(report)
}

/// Requests of one account, newest first (a Query on the workflows table would need an index;
/// the list is for operators and small).
pub async fn list(
    deps: &Deps,
    account: Option<&AccountId>,
) -> Result<Vec<AccessRequest>, LambdaError> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = deps
            .ddb
            .scan()
            .table_name(&deps.table)
            .filter_expression("begins_with(pk, :p) AND sk = :s")
            .expression_attribute_values(
                ":p",
                aws_sdk_dynamodb::types::AttributeValue::S("access#".into()),
            )
            .expression_attribute_values(
                ":s",
                aws_sdk_dynamodb::types::AttributeValue::S("request".into()),
            )
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:Scan", &e))?;
        for item in page.items() {
            let r = AccessRequest::from_item(item)?;
            if account.is_none_or(|a| *a == r.account_id) {
                out.push(r);
            }
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    Ok(out)
}
