//! `StubReleaseAccess`: the access ledger as a release sees it (requests by id; revoking an
//! account's open requests, except release requests, each audited). The approval side's own
//! twin of `DynamoReleaseAccess` lives with the access twins; this one is the release tests'.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rootwarden_core::access::{AccessRequest, AccessStatus};
use rootwarden_core::audit::{AuditEntry, AuditLog, MemoryAuditLog, Outcome, Stream};
use rootwarden_core::release::{ReleaseAccess, RELEASE_REASON};
use rootwarden_core::{AccountId, LambdaError};

use crate::lock;

#[derive(Clone)]
pub struct StubReleaseAccess {
    requests: Arc<Mutex<BTreeMap<String, AccessRequest>>>,
    audit: MemoryAuditLog,
}

impl StubReleaseAccess {
    pub fn new(audit: MemoryAuditLog) -> Self {
        Self {
            requests: Arc::default(),
            audit,
        }
    }
    pub fn put(&self, request: AccessRequest) {
        lock(&self.requests).insert(request.id.clone(), request);
    }
    pub fn get(&self, id: &str) -> Option<AccessRequest> {
        lock(&self.requests).get(id).cloned()
    }
}

impl ReleaseAccess for StubReleaseAccess {
    async fn request(&self, id: &str) -> Result<Option<AccessRequest>, LambdaError> {
        Ok(lock(&self.requests).get(id).cloned())
    }

    async fn revoke_open(
        &self,
        account: &AccountId,
        note: &str,
    ) -> Result<Vec<String>, LambdaError> {
        let open: Vec<String> = lock(&self.requests)
            .values()
            .filter(|r| {
                &r.account_id == account && r.reason != RELEASE_REASON && !r.status.is_final()
            })
            .map(|r| r.id.clone())
            .collect();
        for id in &open {
            let record =
                AuditEntry::new(Stream::Account(account.clone()), "access", "access.revoke")
                    .target(id.clone())
                    .outcome(Outcome::Success)
                    .reason(note);
            self.audit
                .append(&record)
                .await
                .map_err(|e| LambdaError::from_classified(&e))?;
            if let Some(r) = lock(&self.requests).get_mut(id) {
                r.status = AccessStatus::Revoked;
                r.note = Some(note.to_owned());
            }
        }
        Ok(open)
    }
}
