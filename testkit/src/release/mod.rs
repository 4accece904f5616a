//! The release's twins and `MemoryRelease`, its port bundle (with the kill switch of the other
//! bundles: the n-th port call panics). Shares the takeover's twins for the primary email,
//! root sessions, waits, transient secrets, the vault and executions.

mod access;
mod contacts;
mod orgs;
mod shredder;
mod signer;
mod store;

pub use access::StubReleaseAccess;
pub use contacts::MemoryAccountContacts;
pub use orgs::MemoryOrganizations;
pub use shredder::MemoryVaultShredder;
pub use signer::MemoryCertificateSigner;
pub use store::MemoryReleaseStore;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rootwarden_core::audit::MemoryAuditLog;
use rootwarden_core::release::ReleasePorts;
use rootwarden_core::Clock;

use crate::kill_switch::KillSwitch;
use crate::{
    MemoryExecutions, MemoryPrimaryEmail, MemoryRootCredentials, MemoryTransientStore, MemoryVault,
    MemoryWorkflowWaits, TestClock,
};

#[derive(Clone)]
pub struct MemoryRelease {
    pub orgs: MemoryOrganizations,
    pub contacts: MemoryAccountContacts,
    pub email: MemoryPrimaryEmail,
    pub root: MemoryRootCredentials,
    pub signer: MemoryCertificateSigner,
    pub store: MemoryReleaseStore,
    pub shredder: MemoryVaultShredder,
    pub access: StubReleaseAccess,
    pub waits: MemoryWorkflowWaits,
    pub transient: MemoryTransientStore,
    pub vault: MemoryVault,
    pub executions: MemoryExecutions,
    pub audit: MemoryAuditLog,
    pub clock: TestClock,
    pub actor: String,
    kill: KillSwitch,
}

impl MemoryRelease {
    /// Fresh twins sharing one audit log, at `now`, acting as `actor`.
    pub fn new(now: DateTime<Utc>, actor: &str) -> Self {
        let clock = TestClock::at(now);
        let audit = MemoryAuditLog::new(Arc::new(clock.clone()));
        let vault = MemoryVault::new(audit.clone(), Arc::new(clock.clone()));
        let transient = MemoryTransientStore::default();
        Self {
            orgs: MemoryOrganizations::default(),
            contacts: MemoryAccountContacts::default(),
            email: MemoryPrimaryEmail::default(),
            root: MemoryRootCredentials::default(),
            signer: MemoryCertificateSigner::default(),
            store: MemoryReleaseStore::new(audit.clone()),
            shredder: MemoryVaultShredder::new(vault.clone(), transient.clone(), audit.clone()),
            access: StubReleaseAccess::new(audit.clone()),
            waits: MemoryWorkflowWaits::default(),
            transient,
            vault,
            executions: MemoryExecutions::new(),
            audit,
            clock,
            actor: actor.to_owned(),
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

impl ReleasePorts for MemoryRelease {
    type Orgs = MemoryOrganizations;
    type Contacts = MemoryAccountContacts;
    type Member = MemoryOrganizations;
    type Email = MemoryPrimaryEmail;
    type Root = MemoryRootCredentials;
    type Signer = MemoryCertificateSigner;
    type Store = MemoryReleaseStore;
    type Shredder = MemoryVaultShredder;
    type Access = StubReleaseAccess;
    type Waits = MemoryWorkflowWaits;
    type Transient = MemoryTransientStore;
    type Vault = MemoryVault;
    type Executions = MemoryExecutions;
    type Audit = MemoryAuditLog;

    fn orgs(&self) -> &MemoryOrganizations {
        self.call();
        &self.orgs
    }
    fn contacts(&self) -> &MemoryAccountContacts {
        self.call();
        &self.contacts
    }
    fn member(&self) -> &MemoryOrganizations {
        self.call();
        &self.orgs
    }
    fn email(&self) -> &MemoryPrimaryEmail {
        self.call();
        &self.email
    }
    fn root(&self) -> &MemoryRootCredentials {
        self.call();
        &self.root
    }
    fn signer(&self) -> &MemoryCertificateSigner {
        self.call();
        &self.signer
    }
    fn store(&self) -> &MemoryReleaseStore {
        self.call();
        &self.store
    }
    fn shredder(&self) -> &MemoryVaultShredder {
        self.call();
        &self.shredder
    }
    fn access(&self) -> &StubReleaseAccess {
        self.call();
        &self.access
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
}
