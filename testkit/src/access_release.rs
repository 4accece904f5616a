//! `MemoryReleaseAccess`: the twin of `DynamoReleaseAccess` (the access ledger as a release
//! sees it), over a [`MemoryAccessLedger`]: a request read back as stored, and the revocation
//! of an account's open access except its release requests, each written with its audit record
//! (the core's `access::release::revoke_open`, as the adapter runs it).

use std::sync::Arc;

use rootwarden_core::access::release::revoke_open;
use rootwarden_core::access::{AccessLedger, AccessRequest};
use rootwarden_core::release::ReleaseAccess;
use rootwarden_core::{AccountId, Clock, LambdaError};

use crate::MemoryAccessLedger;

#[derive(Clone)]
pub struct MemoryReleaseAccess {
    ledger: MemoryAccessLedger,
    clock: Arc<dyn Clock>,
    actor: String,
}

impl MemoryReleaseAccess {
    /// Reads and revokes in `ledger` (shared), as `actor`, at `clock`'s time.
    pub fn new(
        ledger: MemoryAccessLedger,
        clock: Arc<dyn Clock>,
        actor: impl Into<String>,
    ) -> Self {
        Self {
            ledger,
            clock,
            actor: actor.into(),
        }
    }

    pub fn ledger(&self) -> &MemoryAccessLedger {
        &self.ledger
    }
}

impl ReleaseAccess for MemoryReleaseAccess {
    async fn request(&self, id: &str) -> Result<Option<AccessRequest>, LambdaError> {
        self.ledger.get(id).await
    }

    async fn revoke_open(
        &self,
        account: &AccountId,
        note: &str,
    ) -> Result<Vec<String>, LambdaError> {
        revoke_open(&self.ledger, self.clock.now(), &self.actor, account, note).await
    }
}
