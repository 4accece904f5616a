//! `MemoryRootCredentials`: the twin of `StsIamRootCredentials`. Each account's root user has a
//! [`Posture`]; a session is scoped to its task policy as AWS scopes it (audit: the four reads;
//! delete: the reads and the removals; password creation: `CreateLoginProfile` only), and
//! anything else is refused with `AccessDenied`. Removing what is gone counts as done.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use rootwarden_core::enforcement::{Posture, Removal, RootCredentials, RootSession, TaskPolicy};
use rootwarden_core::{AccountId, ErrorType, LambdaError};

use crate::{lock, unavailable};

#[derive(Default)]
struct State {
    roots: HashMap<AccountId, Posture>,
    /// Accounts where `sts:AssumeRoot` fails (unreachable, not in the organization).
    refused: BTreeSet<AccountId>,
    /// Accounts whose removals fail (IAM throttling that outlasts the retries).
    failing_removals: BTreeSet<AccountId>,
    /// Accounts whose next N `sts:AssumeRoot` calls are throttled (`TransientAwsError`).
    throttled: std::collections::BTreeMap<AccountId, u32>,
    /// Sessions opened, in order.
    opened: Vec<(AccountId, TaskPolicy)>,
}

#[derive(Clone, Default)]
pub struct MemoryRootCredentials {
    state: Arc<Mutex<State>>,
}

fn denied(operation: &str, policy: TaskPolicy) -> LambdaError {
    LambdaError::new(
        ErrorType::AwsError,
        format!(
            "{operation} failed: AccessDenied (not allowed by {})",
            policy.name()
        ),
    )
}

impl MemoryRootCredentials {
    /// Sets the root user's credentials of `account` (as AWS would have them).
    pub fn set_root(&self, account: &AccountId, posture: Posture) {
        lock(&self.state).roots.insert(account.clone(), posture);
    }

    /// The root user's credentials now (an account never set has none).
    pub fn root(&self, account: &AccountId) -> Posture {
        lock(&self.state)
            .roots
            .get(account)
            .cloned()
            .unwrap_or_default()
    }

    /// Makes `sts:AssumeRoot` on `account` fail (or succeed again).
    pub fn refuse_sessions(&self, account: &AccountId, refuse: bool) {
        let mut s = lock(&self.state);
        if refuse {
            s.refused.insert(account.clone());
        } else {
            s.refused.remove(account);
        }
    }

    /// Throttles the next `calls` `sts:AssumeRoot` calls on `account` (`TransientAwsError`).
    pub fn throttle(&self, account: &AccountId, calls: u32) {
        lock(&self.state).throttled.insert(account.clone(), calls);
    }

    /// Makes every removal on `account` fail (or succeed again).
    pub fn fail_removals(&self, account: &AccountId, fail: bool) {
        let mut s = lock(&self.state);
        if fail {
            s.failing_removals.insert(account.clone());
        } else {
            s.failing_removals.remove(account);
        }
    }

    /// The sessions opened so far, in order.
    pub fn opened(&self) -> Vec<(AccountId, TaskPolicy)> {
        lock(&self.state).opened.clone()
    }
}

impl RootCredentials for MemoryRootCredentials {
    type Session = MemoryRootSession;

    async fn open(
        &self,
        account: &AccountId,
        policy: TaskPolicy,
    ) -> Result<MemoryRootSession, LambdaError> {
        let mut s = lock(&self.state);
        if let Some(left) = s.throttled.get_mut(account).filter(|n| **n > 0) {
            *left -= 1;
            return Err(LambdaError::new(
                ErrorType::TransientAwsError,
                format!("sts:AssumeRoot failed: Throttling (Rate exceeded) ({account})"),
            ));
        }
        if s.refused.contains(account) {
            return Err(LambdaError::new(
                ErrorType::AwsError,
                format!(
                    "sts:AssumeRoot failed: AccessDenied (simulated) ({} in {account})",
                    policy.name()
                ),
            ));
        }
        s.opened.push((account.clone(), policy));
        Ok(MemoryRootSession {
            state: self.state.clone(),
            account: account.clone(),
            policy,
        })
    }
}

/// A session on one account's root user, scoped to one task policy.
pub struct MemoryRootSession {
    state: Arc<Mutex<State>>,
    account: AccountId,
    policy: TaskPolicy,
}

impl RootSession for MemoryRootSession {
    async fn posture(&self) -> Result<Posture, LambdaError> {
        if self.policy == TaskPolicy::CreateRootUserPassword {
            return Err(denied("iam:ListAccessKeys", self.policy));
        }
        Ok(lock(&self.state)
            .roots
            .get(&self.account)
            .cloned()
            .unwrap_or_default())
    }

    async fn remove(&self, removal: &Removal) -> Result<(), LambdaError> {
        if self.policy != TaskPolicy::DeleteRootUserCredentials {
            return Err(denied("iam:Delete", self.policy));
        }
        let mut s = lock(&self.state);
        if s.failing_removals.contains(&self.account) {
            return Err(unavailable("iam"));
        }
        let root = s.roots.entry(self.account.clone()).or_default();
        match removal {
            Removal::AccessKey(id) => root.access_keys.retain(|k| &k.id != id),
            Removal::SigningCertificate(id) => root.signing_certificates.retain(|c| &c.id != id),
            Removal::MfaDevice(serial) => root.mfa_devices.retain(|d| d != serial),
            Removal::LoginProfile => root.login_profile = false,
        }
        Ok(())
    }

    async fn create_login_profile(&self) -> Result<bool, LambdaError> {
        if self.policy != TaskPolicy::CreateRootUserPassword {
            return Err(denied("iam:CreateLoginProfile", self.policy));
        }
        let mut s = lock(&self.state);
        let root = s.roots.entry(self.account.clone()).or_default();
        let created = !root.login_profile;
        root.login_profile = true;
        Ok(created)
    }
}
