//! What onboarding talks to: the registry (is the account known?) and the store that writes a
//! new account whole ([`OnboardingStore`]), bundled as [`OnboardingPorts`].

use std::future::Future;

use secrecy::SecretString;

use crate::audit::AuditEntry;
use crate::registry::{Account, AccountRegistry};
use crate::vault::CredentialKind;
use crate::{Clock, LambdaError};

/// A new account as onboarding decided it, written whole or not at all: the registry item,
/// version 1 (`current`) of each given credential (staged by `execution`), and the audit record.
pub struct NewAccount<'a> {
    pub account: &'a Account,
    pub credentials: Vec<(CredentialKind, &'a SecretString)>,
    /// The correlation id: the execution of the initial versions and the record's correlation.
    pub execution: &'a str,
    pub record: &'a AuditEntry,
}

// Secrets never in Debug: only the kinds are shown.
impl std::fmt::Debug for NewAccount<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("account", &self.account.account_id)
            .field(
                "credentials",
                &self.credentials.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            )
            .field("execution", &self.execution)
            .finish_non_exhaustive()
    }
}

/// Where onboarding writes.
pub trait OnboardingStore: Send + Sync {
    /// Writes the account, its initial vault versions and the audit record in one transaction,
    /// conditional on the account not being registered and none of the credentials being
    /// vaulted. `Ok(false)`: a condition failed and nothing was written. An error: nothing was
    /// written either.
    fn create(
        &self,
        new: &NewAccount<'_>,
    ) -> impl Future<Output = Result<bool, LambdaError>> + Send;
}

/// Everything onboarding talks to.
pub trait OnboardingPorts: Send + Sync {
    type Registry: AccountRegistry;
    type Store: OnboardingStore;

    fn registry(&self) -> &Self::Registry;
    fn store(&self) -> &Self::Store;
    fn clock(&self) -> &dyn Clock;
    /// Who acts (audit `actor`): the operator's ARN.
    fn actor(&self) -> &str;
}
