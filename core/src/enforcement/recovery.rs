//! `account recover`'s rules: who may be recovered, for how long, under which correlation id.

use chrono::{DateTime, Duration, Utc};

use crate::registry::{Account, AccountStatus};
use crate::{AccountId, ErrorType, LambdaError};

/// How long `account recover` keeps a credential-less account's new password allowed.
pub const RECOVERY_WINDOW: Duration = Duration::hours(24);

/// The operator's reason, trimmed; recovery without one is refused (before anything is read).
pub fn recovery_reason(reason: &str) -> Result<&str, LambdaError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            "a reason is required to enable root password recovery",
        ));
    }
    Ok(reason)
}

/// A recovery to make: open the window until `until`, then create the login profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryPlan {
    pub until: DateTime<Utc>,
    /// Correlates the recovery's audit records.
    pub correlation: String,
}

/// Recovery is for registered, active accounts; the window runs [`RECOVERY_WINDOW`] from `now`.
pub fn plan_recovery(
    id: &AccountId,
    registered: Option<&Account>,
    now: DateTime<Utc>,
) -> Result<RecoveryPlan, LambdaError> {
    let registered = registered.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("account {id} is not registered"),
        )
    })?;
    if registered.status != AccountStatus::Active {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            format!(
                "account {id} is {}: recovery is for active accounts",
                registered.status.as_str()
            ),
        ));
    }
    Ok(RecoveryPlan {
        until: now + RECOVERY_WINDOW,
        correlation: format!("recover-{id}-{}", now.format("%Y%m%dT%H%M%SZ")),
    })
}
