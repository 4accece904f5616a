//! Steps on the root user's credentials: vaulted mode enables password recovery, waits for the
//! reset link and the MFA seed, and verifies the device; credential-less mode deletes them all;
//! both delete root access keys and signing certificates.

use super::ports::TakeoverPorts;
use super::record::TakeoverStep;
use super::{advance, entry, owned, register_wait, Owned};
use crate::enforcement::ports::{RootCredentials, RootSession, TaskPolicy};
use crate::enforcement::{Posture, Removal};
use crate::mail::Category;
use crate::registry::AccountMode;
use crate::vault::{CredentialKind, Vault};
use crate::{AccountId, ErrorType, LambdaError};

fn require(o: &Owned, mode: AccountMode, step: &str) -> Result<(), LambdaError> {
    if o.account.mode != mode {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            format!(
                "{step} is a {} step; the takeover of {} is {}",
                mode.as_str(),
                o.account.account_id,
                o.account.mode.as_str()
            ),
        ));
    }
    Ok(())
}

/// Vaulted step: a login profile without a password (`IAMCreateRootUserPassword`), so that
/// "Forgot password" works. `true` when one was created (false: it existed).
/// What [`enable_recovery`] found and did. `password_current` / `mfa_seed_current`: a
/// resumed takeover whose password (or MFA seed) is vaulted already skips that phase (the
/// state machine's choices), so a stop after it never redoes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Recovery {
    pub login_profile_created: bool,
    pub password_current: bool,
    pub mfa_seed_current: bool,
}

pub async fn enable_recovery<P: TakeoverPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<Recovery, LambdaError> {
    let o = owned(ports, account, execution).await?;
    require(&o, AccountMode::Vaulted, "enable-recovery")?;
    let session = ports
        .root()
        .open(account, TaskPolicy::CreateRootUserPassword)
        .await?;
    let created = session.create_login_profile().await?;
    // The previous owner's MFA devices go: sign-in needs the root's MFA, and custody means ours
    // (enrolled at `await-mfa`). Once a seed of ours is vaulted, the devices are ours: a resumed
    // takeover leaves them.
    let ours = ports
        .vault()
        .head(account, CredentialKind::MfaSeed)
        .await?
        .and_then(|h| h.current)
        .is_some();
    let mut removed = Vec::new();
    if !ours {
        let session = ports
            .root()
            .open(account, TaskPolicy::DeleteRootUserCredentials)
            .await?;
        for serial in session.posture().await?.mfa_devices {
            session.remove(&Removal::MfaDevice(serial.clone())).await?;
            removed.push(serial);
        }
    }
    if o.takeover.step != Some(TakeoverStep::RecoveryEnabled) || !removed.is_empty() {
        let record = entry(ports, &o.takeover, "recovery-enabled")
            .detail("created", created)
            .detail("previous_mfa_devices_removed", removed);
        advance(
            ports,
            &o,
            o.takeover.clone(),
            TakeoverStep::RecoveryEnabled,
            record,
        )
        .await?;
    }
    let password_current = ports
        .vault()
        .head(account, CredentialKind::RootPassword)
        .await?
        .and_then(|h| h.current)
        .is_some();
    Ok(Recovery {
        login_profile_created: created,
        password_current,
        mfa_seed_current: ours,
    })
}

async fn await_kind<P: TakeoverPorts>(
    ports: &P,
    o: &Owned,
    kind: Category,
    step: TakeoverStep,
    task_token: &str,
    timeout_seconds: u64,
) -> Result<(), LambdaError> {
    require(o, AccountMode::Vaulted, step.as_str())?;
    let wait = register_wait(ports, &o.takeover, kind, task_token, timeout_seconds).await?;
    if o.takeover.step != Some(step) {
        let record = entry(ports, &o.takeover, step.as_str())
            .detail("deadline", crate::registry::stamp(wait.expires_at));
        advance(ports, o, o.takeover.clone(), step, record).await?;
    }
    Ok(())
}

/// Vaulted step (human): waits for AWS's reset mail, which follows an operator's "Forgot
/// password" on the root sign-in page (no AWS API sends it).
pub async fn await_reset_link<P: TakeoverPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
    task_token: &str,
    timeout_seconds: u64,
) -> Result<(), LambdaError> {
    let o = owned(ports, account, execution).await?;
    let step = TakeoverStep::AwaitingResetLink;
    await_kind(
        ports,
        &o,
        Category::PasswordReset,
        step,
        task_token,
        timeout_seconds,
    )
    .await
}

/// Vaulted step (human): waits for `rootwarden account mfa-seed`, after the operator enrolled
/// a virtual MFA device in the console.
pub async fn await_mfa<P: TakeoverPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
    task_token: &str,
    timeout_seconds: u64,
) -> Result<(), LambdaError> {
    let o = owned(ports, account, execution).await?;
    let step = TakeoverStep::AwaitingMfa;
    await_kind(ports, &o, Category::Mfa, step, task_token, timeout_seconds).await
}

/// Vaulted step: the root user has an MFA device (an `IAMAuditRootUserCredentials` session
/// says so) and the vault holds a current MFA seed (stage metadata only, never decrypted);
/// otherwise `MfaNotEnrolled`. Returns the device count.
pub async fn verify_mfa<P: TakeoverPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<usize, LambdaError> {
    let o = owned(ports, account, execution).await?;
    require(&o, AccountMode::Vaulted, "verify-mfa")?;
    let session = ports
        .root()
        .open(account, TaskPolicy::AuditRootUserCredentials)
        .await?;
    let devices = session.posture().await?.mfa_devices.len();
    if devices == 0 {
        return Err(LambdaError::new(
            ErrorType::MfaNotEnrolled,
            format!("the root user of {account} has no MFA device"),
        ));
    }
    let head = ports.vault().head(account, CredentialKind::MfaSeed).await?;
    if head.and_then(|h| h.current).is_none() {
        return Err(LambdaError::new(
            ErrorType::MfaNotEnrolled,
            format!("no MFA seed of {account} is vaulted"),
        ));
    }
    if o.takeover.step != Some(TakeoverStep::MfaVerified) {
        let record = entry(ports, &o.takeover, "mfa-verified").detail("mfa_devices", devices);
        advance(
            ports,
            &o,
            o.takeover.clone(),
            TakeoverStep::MfaVerified,
            record,
        )
        .await?;
    }
    Ok(devices)
}

/// Removes what `pick` selects through a delete session; AWS is asked again afterwards and
/// must report none of it left. Returns what was removed (identifiers only).
async fn remove<P: TakeoverPorts>(
    ports: &P,
    account: &AccountId,
    pick: fn(&Posture) -> Vec<Removal>,
) -> Result<Vec<String>, LambdaError> {
    let session = ports
        .root()
        .open(account, TaskPolicy::DeleteRootUserCredentials)
        .await?;
    let removals = pick(&session.posture().await?);
    for r in &removals {
        session.remove(r).await?;
    }
    let left = pick(&session.posture().await?);
    if !left.is_empty() {
        let left: Vec<String> = left.iter().map(Removal::describe).collect();
        return Err(LambdaError::new(
            ErrorType::AwsError,
            format!(
                "root credentials of {account} remain after removal: {}",
                left.join(", ")
            ),
        ));
    }
    Ok(removals.iter().map(Removal::describe).collect())
}

fn keys(p: &Posture) -> Vec<Removal> {
    crate::enforcement::removals(p, AccountMode::Vaulted, false)
}

fn everything(p: &Posture) -> Vec<Removal> {
    crate::enforcement::removals(p, AccountMode::CredentialLess, false)
}

/// Credential-less step: `IAMDeleteRootUserCredentials` removes the password, MFA devices,
/// access keys and signing certificates. Nothing is vaulted.
pub async fn delete_root_credentials<P: TakeoverPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<Vec<String>, LambdaError> {
    let o = owned(ports, account, execution).await?;
    require(&o, AccountMode::CredentialLess, "delete-root-credentials")?;
    let removed = remove(ports, account, everything).await?;
    if o.takeover.step != Some(TakeoverStep::RootCredentialsDeleted) || !removed.is_empty() {
        let record = entry(ports, &o.takeover, "root-credentials-deleted")
            .detail("removed", removed.clone());
        advance(
            ports,
            &o,
            o.takeover.clone(),
            TakeoverStep::RootCredentialsDeleted,
            record,
        )
        .await?;
    }
    Ok(removed)
}

/// Both modes: root access keys and signing certificates never stay (the enforcement rule).
pub async fn delete_keys<P: TakeoverPorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<Vec<String>, LambdaError> {
    let o = owned(ports, account, execution).await?;
    let removed = remove(ports, account, keys).await?;
    if o.takeover.step != Some(TakeoverStep::KeysDeleted) || !removed.is_empty() {
        let record = entry(ports, &o.takeover, "keys-deleted").detail("removed", removed.clone());
        advance(
            ports,
            &o,
            o.takeover.clone(),
            TakeoverStep::KeysDeleted,
            record,
        )
        .await?;
    }
    Ok(removed)
}
