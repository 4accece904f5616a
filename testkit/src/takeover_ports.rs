//! `MemoryTakeoverPorts`: the takeover's ports, all twins, with the kill switch of
//! [`MemoryRotationPorts`](crate::MemoryRotationPorts) (the n-th port call panics).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rootwarden_core::audit::MemoryAuditLog;
use rootwarden_core::takeover::TakeoverPorts;
use rootwarden_core::Clock;

use crate::kill_switch::KillSwitch;
use crate::{
    lock, MemoryExecutions, MemoryPrimaryEmail, MemoryRootCredentials, MemoryTakeoverStore,
    MemoryTransientStore, MemoryVault, MemoryWorkflowWaits, TestClock,
};

#[derive(Clone)]
pub struct MemoryTakeoverPorts {
    pub email: MemoryPrimaryEmail,
    pub store: MemoryTakeoverStore,
    pub root: MemoryRootCredentials,
    pub waits: MemoryWorkflowWaits,
    pub transient: MemoryTransientStore,
    pub vault: MemoryVault,
    pub executions: MemoryExecutions,
    pub audit: MemoryAuditLog,
    pub clock: TestClock,
    pub actor: String,
    pub domain: String,
    /// Tags `random_tag` hands out first (then random ones).
    pub tags: Arc<Mutex<Vec<String>>>,
    kill: KillSwitch,
}

impl MemoryTakeoverPorts {
    /// Fresh twins sharing one audit log, at `now`, acting as `actor`, root mail at `domain`.
    pub fn new(now: DateTime<Utc>, actor: &str, domain: &str) -> Self {
        let clock = TestClock::at(now);
        let audit = MemoryAuditLog::new(Arc::new(clock.clone()));
        Self {
            email: MemoryPrimaryEmail::default(),
            store: MemoryTakeoverStore::new(audit.clone()),
            root: MemoryRootCredentials::default(),
            waits: MemoryWorkflowWaits::default(),
            transient: MemoryTransientStore::default(),
            vault: MemoryVault::new(audit.clone(), Arc::new(clock.clone())),
            executions: MemoryExecutions::new(),
            audit,
            clock,
            actor: actor.to_owned(),
            domain: domain.to_owned(),
            tags: Arc::default(),
            kill: KillSwitch::default(),
        }
    }

    /// The same twins acting as another actor (e.g. the operator).
    pub fn acting_as(&self, actor: &str) -> Self {
        Self {
            actor: actor.to_owned(),
            ..self.clone()
        }
    }

    /// Kills the n-th port call from now (1-based); 0: never (see [`KillSwitch`]).
    pub fn kill_at(&self, n: usize) {
        self.kill.kill_at(n);
    }

    /// Port calls since the last [`kill_at`](Self::kill_at).
    pub fn calls(&self) -> usize {
        self.kill.calls()
    }

    fn call(&self) {
        self.kill.call();
    }
}

impl TakeoverPorts for MemoryTakeoverPorts {
    type Email = MemoryPrimaryEmail;
    type Store = MemoryTakeoverStore;
    type Root = MemoryRootCredentials;
    type Waits = MemoryWorkflowWaits;
    type Transient = MemoryTransientStore;
    type Vault = MemoryVault;
    type Executions = MemoryExecutions;
    type Audit = MemoryAuditLog;

    fn email(&self) -> &MemoryPrimaryEmail {
        self.call();
        &self.email
    }
    fn store(&self) -> &MemoryTakeoverStore {
        self.call();
        &self.store
    }
    fn root(&self) -> &MemoryRootCredentials {
        self.call();
        &self.root
    }
    fn waits(&self) -> &MemoryWorkflowWaits {
        self.call();
        &self.waits
    }
    fn transient(&self) -> &MemoryTransientStore {
        self.call();
        &self.transient
    }
    fn vault(&self) -> &MemoryVault {
        self.call();
        &self.vault
    }
    fn executions(&self) -> &MemoryExecutions {
        self.call();
        &self.executions
    }
    fn audit(&self) -> &MemoryAuditLog {
        self.call();
        &self.audit
    }
    fn clock(&self) -> &dyn Clock {
        &self.clock
    }
    fn actor(&self) -> &str {
        &self.actor
    }
    fn root_mail_domain(&self) -> &str {
        &self.domain
    }
    fn random_tag(&self) -> String {
        let mut tags = lock(&self.tags);
        if tags.is_empty() {
            rootwarden_core::takeover::address::tag(&mut rand::thread_rng())
        } else {
            tags.remove(0)
        }
    }
}
