//! Onboarding on AWS: the use case lives in the core (`rootwarden_core::onboarding`, re-exported
//! here) and runs over [`Deps`]: `DynamoAccountRegistry` (is the account known?) and
//! [`DynamoOnboarding`] (one `TransactWriteItems`: registry item, initial vault versions, audit
//! record).

mod dynamo;

use std::sync::Arc;

pub use dynamo::DynamoOnboarding;
pub use rootwarden_core::onboarding::*;

use crate::registry::DynamoAccountRegistry;
use crate::{Clock, LambdaError};

/// Everything onboarding talks to.
#[derive(Clone)]
pub struct Deps {
    pub registry: DynamoAccountRegistry,
    pub store: DynamoOnboarding,
    pub clock: Arc<dyn Clock>,
    /// Who acts (audit `actor`): the operator's ARN.
    pub actor: String,
}

impl From<&crate::rotation::Deps> for Deps {
    /// The same tables, key, clock and actor as the custody dependencies.
    fn from(d: &crate::rotation::Deps) -> Self {
        Self {
            registry: d.registry.clone(),
            store: DynamoOnboarding::new(d.registry.clone(), d.vault.clone(), d.audit.clone()),
            clock: d.clock.clone(),
            actor: d.actor.clone(),
        }
    }
}

impl OnboardingPorts for Deps {
    type Registry = DynamoAccountRegistry;
    type Store = DynamoOnboarding;

    fn registry(&self) -> &DynamoAccountRegistry {
        &self.registry
    }
    fn store(&self) -> &DynamoOnboarding {
        &self.store
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn actor(&self) -> &str {
        &self.actor
    }
}

/// Onboards with the custody dependencies (the CLI's and the tests' `rotation::Deps`): the
/// core's [`rootwarden_core::onboarding::onboard`] over [`Deps`].
pub async fn onboard(
    deps: &crate::rotation::Deps,
    req: OnboardRequest,
    secrets: OnboardSecrets,
) -> Result<Onboarded, LambdaError> {
    rootwarden_core::onboarding::onboard(&Deps::from(deps), req, secrets).await
}
