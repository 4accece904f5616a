//! The port bundles of enforcement and onboarding over the twins: `MemoryEnforcementPorts` and
//! `MemoryOnboardingPorts`, sharing one audit log and one test clock.

use std::sync::Arc;

use rootwarden_core::audit::MemoryAuditLog;
use rootwarden_core::enforcement::EnforcementPorts;
use rootwarden_core::onboarding::OnboardingPorts;
use rootwarden_core::Clock;

use crate::{
    MemoryEnforcementTickets, MemoryOnboarding, MemoryPostureRegistry, MemoryRootCredentials,
};

#[derive(Clone)]
pub struct MemoryEnforcementPorts {
    pub registry: MemoryPostureRegistry,
    pub root: MemoryRootCredentials,
    pub tickets: MemoryEnforcementTickets,
    pub audit: MemoryAuditLog,
    pub clock: Arc<dyn Clock>,
    pub actor: String,
    pub concurrency: usize,
}

impl MemoryEnforcementPorts {
    /// Fresh twins, stamping times from `clock`, acting as `root-enforcement`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let audit = MemoryAuditLog::new(clock.clone());
        Self {
            registry: MemoryPostureRegistry::with_audit(audit.clone()),
            root: MemoryRootCredentials::default(),
            tickets: MemoryEnforcementTickets::new(audit.clone()),
            audit,
            clock,
            actor: "root-enforcement".into(),
            concurrency: 4,
        }
    }
}

impl EnforcementPorts for MemoryEnforcementPorts {
    type Registry = MemoryPostureRegistry;
    type Root = MemoryRootCredentials;
    type Tickets = MemoryEnforcementTickets;
    type Audit = MemoryAuditLog;

    fn registry(&self) -> &MemoryPostureRegistry {
        &self.registry
    }
    fn root(&self) -> &MemoryRootCredentials {
        &self.root
    }
    fn tickets(&self) -> &MemoryEnforcementTickets {
        &self.tickets
    }
    fn audit(&self) -> &MemoryAuditLog {
        &self.audit
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn actor(&self) -> &str {
        &self.actor
    }
    fn concurrency(&self) -> usize {
        self.concurrency
    }
}

#[derive(Clone)]
pub struct MemoryOnboardingPorts {
    pub store: MemoryOnboarding,
    pub clock: Arc<dyn Clock>,
    pub actor: String,
}

impl MemoryOnboardingPorts {
    /// Fresh twins, stamping times from `clock`, acting as an operator.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            store: MemoryOnboarding::with_clock(clock.clone()),
            clock,
            actor: "arn:aws:iam::000000000000:user/operator".into(),
        }
    }
}

impl OnboardingPorts for MemoryOnboardingPorts {
    type Registry = MemoryPostureRegistry;
    type Store = MemoryOnboarding;

    fn registry(&self) -> &MemoryPostureRegistry {
        &self.store.registry
    }
    fn store(&self) -> &MemoryOnboarding {
        &self.store
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn actor(&self) -> &str {
        &self.actor
    }
}
