//! `MemoryRotationPorts`: the rotation use cases' ports, all twins, with a
//! [`KillSwitch`](crate::KillSwitch).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use rootwarden_core::audit::MemoryAuditLog;
use rootwarden_core::rotation::RotationPorts;
use rootwarden_core::Clock;

use crate::kill_switch::KillSwitch;
use crate::{
    lock, MemoryExecutions, MemoryRotationSchedule, MemoryRotationStore, MemoryTicketStore,
    MemoryVault, MemoryWorkflowWaits,
};

/// A clock a test sets and moves.
#[derive(Clone)]
pub struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    pub fn at(t: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(t)))
    }
    pub fn set(&self, t: DateTime<Utc>) {
        *lock(&self.0) = t;
    }
    pub fn advance(&self, by: Duration) {
        *lock(&self.0) += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.0)
    }
}

/// Every rotation port as a twin. Clones share every twin and the kill switch.
#[derive(Clone)]
pub struct MemoryRotationPorts {
    pub registry: MemoryRotationSchedule,
    pub vault: MemoryVault,
    pub tickets: MemoryTicketStore,
    pub waits: MemoryWorkflowWaits,
    pub rotations: MemoryRotationStore,
    pub audit: MemoryAuditLog,
    pub executions: MemoryExecutions,
    pub clock: TestClock,
    pub actor: String,
    pub password_length: usize,
    pub apply_timeout_seconds: u64,
    kill: KillSwitch,
}

impl MemoryRotationPorts {
    /// Fresh twins sharing one audit log, at time `now`, acting as `actor`.
    pub fn new(now: DateTime<Utc>, actor: &str) -> Self {
        let clock = TestClock::at(now);
        let audit = MemoryAuditLog::new(Arc::new(clock.clone()));
        Self {
            registry: MemoryRotationSchedule::new(),
            vault: MemoryVault::new(audit.clone(), Arc::new(clock.clone())),
            tickets: MemoryTicketStore::new(audit.clone()),
            waits: MemoryWorkflowWaits::default(),
            rotations: MemoryRotationStore::new(),
            audit,
            executions: MemoryExecutions::new(),
            clock,
            actor: actor.to_owned(),
            password_length: 32,
            apply_timeout_seconds: 3600,
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

impl RotationPorts for MemoryRotationPorts {
    type Registry = MemoryRotationSchedule;
    type Vault = MemoryVault;
    type Tickets = MemoryTicketStore;
    type Waits = MemoryWorkflowWaits;
    type Rotations = MemoryRotationStore;
    type Audit = MemoryAuditLog;
    type Executions = MemoryExecutions;

    fn registry(&self) -> &MemoryRotationSchedule {
        self.call();
        &self.registry
    }
    fn vault(&self) -> &MemoryVault {
        self.call();
        &self.vault
    }
    fn tickets(&self) -> &MemoryTicketStore {
        self.call();
        &self.tickets
    }
    fn waits(&self) -> &MemoryWorkflowWaits {
        self.call();
        &self.waits
    }
    fn rotations(&self) -> &MemoryRotationStore {
        self.call();
        &self.rotations
    }
    fn audit(&self) -> &MemoryAuditLog {
        self.call();
        &self.audit
    }
    fn executions(&self) -> &MemoryExecutions {
        self.call();
        &self.executions
    }
    fn clock(&self) -> &dyn Clock {
        &self.clock
    }
    fn actor(&self) -> &str {
        &self.actor
    }
    fn password_length(&self) -> usize {
        self.password_length
    }
    fn apply_timeout_seconds(&self) -> u64 {
        self.apply_timeout_seconds
    }
}
