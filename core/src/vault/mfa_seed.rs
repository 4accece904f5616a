//! `rootwarden account mfa-seed`: an operator who enrolled a virtual MFA device for the root
//! user of an account being taken over types its seed (never argv, never printed); it is
//! validated, vaulted as the account's current MFA seed with the audit record
//! `account.mfa-seed-vaulted` in the same write, and the takeover's waiting `mfa` wait (if one
//! is registered) is completed.
//!
//! Idempotent: the new version is made by the waiting takeover's execution (or, with no wait,
//! a fresh name), so a retry after the write finds its own version current and only completes
//! the wait. A current seed of anyone else is replaced only with `replace`. The write is
//! conditional on the account still being a vaulted account in status `taking-over` and on the
//! vault head it was decided on ([`Head::replace_current`]).

use std::future::Future;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;

use super::credentials::{CredentialKind, Head, Vault};
use super::stages::{Plan, Subject};
use super::totp::TotpSeed;
use crate::audit::{AuditEntry, Outcome, Stream};
use crate::mail::Category;
use crate::registry::{stamp, Account, AccountMode, AccountStatus};
use crate::workflows::{Wait, WorkflowWaits};
use crate::{AccountId, Clock, ErrorType, LambdaError};

/// The audit action of a vaulted MFA seed.
pub const VAULTED_ACTION: &str = "account.mfa-seed-vaulted";

/// Where the seed is written: the registry read and the one conditional write.
pub trait MfaSeedStore: Send + Sync {
    /// The registered account (consistent read), if any.
    fn account(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<Account>, LambdaError>> + Send;

    /// Writes `plan` for `account`'s MFA seed (decided on `before`; `seed` encrypted for the
    /// version it creates) and `record`, in one transaction, conditional on the plan's head
    /// conditions and on the account being registered, vaulted and `taking-over`. `Ok(false)`:
    /// a condition failed and nothing was written.
    fn write(
        &self,
        account: &AccountId,
        before: Option<&Head>,
        plan: &Plan,
        seed: &SecretString,
        record: &AuditEntry,
    ) -> impl Future<Output = Result<bool, LambdaError>> + Send;
}

/// What `account mfa-seed` talks to.
pub trait MfaSeedPorts: Send + Sync {
    type Vault: Vault;
    type Store: MfaSeedStore;
    type Waits: WorkflowWaits;

    /// Reads the MFA seed's head (no decryption).
    fn vault(&self) -> &Self::Vault;
    fn store(&self) -> &Self::Store;
    fn waits(&self) -> &Self::Waits;
    fn clock(&self) -> &dyn Clock;
    /// Who acts (audit `actor`): the operator's ARN.
    fn actor(&self) -> &str;
}

/// What was done. No secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MfaSeedVaulted {
    pub account_id: String,
    /// The current MFA seed version.
    pub version: u32,
    /// The version it replaced, if any.
    pub replaced: Option<u32>,
    /// `false`: a retry found this run's version already current and wrote nothing.
    pub written: bool,
    /// The takeover executions whose `mfa` wait was completed.
    pub completed_waits: Vec<String>,
}

fn invalid(msg: impl Into<String>) -> LambdaError {
    LambdaError::new(ErrorType::ValidationError, msg)
}

/// Only a vaulted account being taken over gets its MFA seed this way.
pub fn may_vault(account: &AccountId, registered: Option<&Account>) -> Result<(), LambdaError> {
    let registered = registered.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("account {account} is not registered"),
        )
    })?;
    if registered.status != AccountStatus::TakingOver || registered.mode != AccountMode::Vaulted {
        return Err(invalid(format!(
            "account {account} is {} and {}: an MFA seed is vaulted this way only for a vaulted \
             account being taken over",
            registered.status.as_str(),
            registered.mode.as_str()
        )));
    }
    Ok(())
}

/// The execution that makes the new version: the waiting takeover's (so a retry recognises its
/// own version), else a fresh name.
pub fn execution_of(waits: &[Wait], account: &AccountId, now: DateTime<Utc>) -> String {
    match waits.first() {
        Some(w) => w.execution.clone(),
        None => {
            let nonce: u32 = rand::random();
            format!(
                "mfa-seed-{account}-{}-{nonce:08x}",
                now.format("%Y%m%dT%H%M%SZ")
            )
        }
    }
}

/// Whether `head` already holds this run's version (`Some(v)`: a retry, nothing to write),
/// or may be replaced. A current seed of another run is refused unless `replace`.
pub fn decide(
    account: &AccountId,
    head: Option<&Head>,
    execution: &str,
    replace: bool,
) -> Result<Option<u32>, LambdaError> {
    let Some(h) = head else { return Ok(None) };
    match h.current {
        Some(c) if h.current_execution.as_deref() == Some(execution) => Ok(Some(c)),
        Some(c) if !replace => Err(LambdaError::new(
            ErrorType::Conflict,
            format!(
                "account {account} already has a current MFA seed (version {c}, since {}); give \
                 --replace to replace it",
                h.current_since
            ),
        )),
        _ => Ok(None),
    }
}

/// Vaults `seed` as the current MFA seed of `account`, then completes its waiting `mfa` waits.
pub async fn vault_mfa_seed<P: MfaSeedPorts>(
    ports: &P,
    account: &AccountId,
    seed: SecretString,
    replace: bool,
) -> Result<MfaSeedVaulted, LambdaError> {
    // Validated first; the error never echoes the seed.
    TotpSeed::parse(&seed).map_err(|e| invalid(format!("MFA seed: {e}")))?;
    let now = ports.clock().now();
    may_vault(account, ports.store().account(account).await?.as_ref())?;
    let waits = ports.waits().waiting(account, Category::Mfa, now).await?;
    let execution = execution_of(&waits, account, now);
    let head = ports.vault().head(account, CredentialKind::MfaSeed).await?;
    let (version, replaced, written) = match decide(account, head.as_ref(), &execution, replace)? {
        Some(v) => (v, head.as_ref().and_then(|h| h.previous), false),
        None => {
            let subject = Subject {
                account,
                kind: CredentialKind::MfaSeed,
            };
            let plan = Head::replace_current(head.as_ref(), &subject, &execution, &stamp(now))?;
            let replaced = head.as_ref().and_then(|h| h.current);
            let record = AuditEntry::new(
                Stream::Account(account.clone()),
                ports.actor(),
                VAULTED_ACTION,
            )
            .target(account.to_string())
            .outcome(Outcome::Success)
            .reason("MFA device enrolled by an operator")
            .correlation_id(&execution)
            .detail("version", plan.version)
            .detail("replaced", replaced)
            .detail("waits", waits.len());
            if !ports
                .store()
                .write(account, head.as_ref(), &plan, &seed, &record)
                .await?
            {
                return Err(LambdaError::new(
                    ErrorType::Conflict,
                    format!(
                        "account {account}'s MFA seed or status changed while vaulting it; \
                         nothing was written: check `account list` and try again"
                    ),
                ));
            }
            (plan.version, replaced, true)
        }
    };
    drop(seed);
    let output = serde_json::json!({
        "account_id": account.as_str(),
        "mfa_seed_version": version,
        "vaulted_by": ports.actor(),
    });
    let mut completed_waits = Vec::new();
    for w in &waits {
        ports.waits().complete(w, &output).await?;
        completed_waits.push(w.execution.clone());
    }
    tracing::info!(account = %account, version, written, waits = completed_waits.len(), "MFA seed vaulted");
    Ok(MfaSeedVaulted {
        account_id: account.to_string(),
        version,
        replaced,
        written,
        completed_waits,
    })
}
