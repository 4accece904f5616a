//! `account recover`: allow a root password on an account for a while.

use serde::Serialize;

use super::ports::{EnforcementPorts, RootCredentials, RootSession, TaskPolicy};
use super::records::Recorder;
use super::recovery::{plan_recovery, recovery_reason};
use crate::audit::AuditLog;
use crate::registry::posture::PostureRegistry;
use crate::registry::stamp;
use crate::{AccountId, LambdaError};

/// What `account recover` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryReport {
    pub account_id: String,
    /// False when the root user already had a password (nothing created).
    pub created: bool,
    pub recovery_until: String,
}

/// Allows password recovery on an account: a root session scoped to
/// `IAMCreateRootUserPassword` creates a login profile without a password (the root user sets
/// one through "Forgot password", whose reset mail arrives through inbound mail and is
/// vaulted). Opens a recovery window first, so the enforcement job leaves a credential-less
/// account's new password alone meanwhile. Audited before (fail closed) and after.
pub async fn recover<P: EnforcementPorts>(
    ports: &P,
    account: &AccountId,
    reason: &str,
) -> Result<RecoveryReport, LambdaError> {
    let reason = recovery_reason(reason)?;
    let registered = ports.registry().find_account(account).await?;
    let plan = plan_recovery(account, registered.as_ref(), ports.clock().now())?;
    let rec = Recorder {
        account,
        actor: ports.actor(),
        run: &plan.correlation,
    };
    ports
        .audit()
        .append(&rec.recovery_requested(reason, plan.until))
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    // The window first: enforcement must not delete the password the next call creates.
    ports.registry().open_recovery(account, plan.until).await?;
    let session = ports
        .root()
        .open(account, TaskPolicy::CreateRootUserPassword)
        .await?;
    let created = session.create_login_profile().await?;
    ports
        .audit()
        .append(&rec.recovery_enabled(reason, created, plan.until))
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    Ok(RecoveryReport {
        account_id: account.to_string(),
        created,
        recovery_until: stamp(plan.until),
    })
}
