//! What a check-out shows: the current root password (none while a takeover has vaulted none
//! yet), the current TOTP code, any unexpired reset link and, for a `rotation-apply` or
//! `takeover` check-out, the pending password of the rotation that awaits its apply step (only
//! while its execution really runs and its deadline holds).

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::ports::{AccessPorts, RotationLookup};
use super::record::AccessRequest;
use crate::executions::Executions;
use crate::mail::SecretKind;
use crate::rotation::{liveness, RotationRecord};
use crate::vault::totp::{self, TotpCode, TotpSeed};
use crate::vault::{CredentialKind, TransientStore, Vault};
use crate::{AccountId, ErrorType, LambdaError};

/// What a check-out shows, to the requester only. Dropping it zeroizes the secrets.
pub struct Revealed {
    pub request: AccessRequest,
    /// `None` when no root password is current (an account being taken over).
    pub password_version: Option<u32>,
    pub password: Option<SecretString>,
    /// `rotation-apply` and `takeover` only: the pending password to set.
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

/// The rotation a `rotation-apply` (or `takeover`) check-out of `account` may show the pending
/// password of (which kind of rotation it must be is [`super::approval::rotation_fits`]);
/// `Ok(Err(why))` when it may not (no rotation awaits its apply step, its execution does not
/// run, its deadline passed, or this deployment cannot ask Step Functions).
pub(super) async fn apply_gate<P: AccessPorts>(
    ports: &P,
    account: &AccountId,
    now: DateTime<Utc>,
) -> Result<Result<RotationRecord, String>, LambdaError> {
    let Some(executions) = ports.executions() else {
        return Ok(Err(
            "this deployment cannot verify rotation executions".to_owned()
        ));
    };
    let Some(r) = ports.rotations().awaiting_apply(account).await? else {
        return Ok(Err(format!(
            "no rotation of account {account} awaits its apply step"
        )));
    };
    let state = executions.state(&r.execution_arn).await?;
    Ok(liveness::apply_window(&r, &state, now).map(|()| r))
}

/// The secrets, decrypted before anything is committed; nothing is shown unless the check-out
/// (and its audit record) commits.
pub(super) struct Secrets {
    pub password_version: Option<u32>,
    pub password: Option<SecretString>,
    pub pending: Option<(u32, SecretString)>,
    pub totp: Option<TotpCode>,
    pub reset_links: Vec<SecretString>,
}

impl Secrets {
    pub(super) fn shown(self, request: AccessRequest) -> Revealed {
        Revealed {
            request,
            password_version: self.password_version,
            password: self.password,
            pending: self.pending,
            totp: self.totp,
            reset_links: self.reset_links,
        }
    }
}

/// Decrypts what a check-out of `account` shows (`awaiting`: a `rotation-apply`'s rotation).
pub(super) async fn decrypt<P: AccessPorts>(
    ports: &P,
    account: &AccountId,
    awaiting: Option<&RotationRecord>,
    now: DateTime<Utc>,
) -> Result<Secrets, LambdaError> {
    let vault = ports.vault();
    // No current password (a takeover's first password is still pending): none to show.
    let [password, seed]: [Option<(_, SecretString)>; 2] = vault
        .reveal_current(
            account,
            &[CredentialKind::RootPassword, CredentialKind::MfaSeed],
        )
        .await?
        .try_into()
        .map_err(|_| {
            LambdaError::new(
                ErrorType::InternalError,
                "the vault answered for another number of credentials than asked",
            )
        })?;
    let (password_version, password) = match password {
        Some((info, secret)) => (Some(info.version), Some(secret)),
        None => (None, None),
    };
    let pending = match awaiting {
        Some(rot) => {
            let (p, secret) = vault
                .reveal(
                    account,
                    CredentialKind::RootPassword,
                    Some(rot.pending_version),
                )
                .await?;
            Some((p.version, secret))
        }
        None => None,
    };
    let totp = match seed {
        Some((_, seed)) => {
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
    let reset_links: Vec<SecretString> = ports
        .transient()
        .unexpired(Some(account), SecretKind::PasswordResetLink, now)
        .await
        .map_err(|e| LambdaError::from_classified(&e))?
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    Ok(Secrets {
        password_version,
        password,
        pending,
        totp,
        reset_links,
    })
}
