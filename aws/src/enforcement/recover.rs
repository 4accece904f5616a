//! `account recover`: allow a root password on an account for a while.

use aws_sdk_iam::error::ProvideErrorMetadata;
use serde::Serialize;

use super::{Deps, TaskPolicy};
use crate::audit::AuditLog;
use crate::enforcement::{plan_recovery, recovery_reason, Recorder};
use crate::registry::stamp;
use crate::sdk::sdk_error;
use crate::{AccountId, LambdaError};

/// What `account recover` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryReport {
    pub account_id: String,
    /// False when the root user already had a password (nothing created).
    pub created: bool,
    pub recovery_until: String,
}

/// Allows password recovery on an account: `AssumeRoot` with `IAMCreateRootUserPassword`, then
/// `CreateLoginProfile` (no password: the root user sets one through "Forgot password", whose
/// reset mail arrives through inbound mail and is vaulted). Opens a recovery window so the
/// enforcement job leaves a credential-less account's new password alone meanwhile. Audited
/// before (fail closed) and after.
pub async fn recover(
    deps: &Deps,
    account: &AccountId,
    reason: &str,
) -> Result<RecoveryReport, LambdaError> {
    let reason = recovery_reason(reason)?;
    let registered = deps.registry.get(account).await?;
    let plan = plan_recovery(account, registered.as_ref(), deps.clock.now())?;
    let rec = Recorder {
        account,
        actor: &deps.actor,
        run: &plan.correlation,
    };
    deps.audit
        .append(&rec.recovery_requested(reason, plan.until))
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    // The window first: enforcement must not delete the password the next call creates.
    deps.registry.open_recovery(account, plan.until).await?;
    let iam = deps
        .root_iam(account, TaskPolicy::CreateRootUserPassword)
        .await?;
    let created = match iam.create_login_profile().send().await {
        Ok(_) => true,
        Err(e) if e.code() == Some("EntityAlreadyExists") => false,
        Err(e) => return Err(sdk_error("iam:CreateLoginProfile", &e)),
    };
    deps.audit
        .append(&rec.recovery_enabled(reason, created, plan.until))
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    Ok(RecoveryReport {
        account_id: account.to_string(),
        created,
        recovery_until: stamp(plan.until),
    })
}
