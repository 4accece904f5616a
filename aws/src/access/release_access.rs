//! `DynamoReleaseAccess`: the access ledger as a release sees it (`ReleaseAccess`), on the
//! workflows table through [`DynamoAccessLedger`]: the approving request read consistently
//! (its release terms are part of the stored `doc`), and the revocation of the account's other
//! open access when its release begins (core `access::release::revoke_open`: each request
//! revoked with its `access.revoked` record and, for a check-out, its lock release, in one
//! transaction; release requests are kept).

use std::sync::Arc;

use rootwarden_core::access::release::revoke_open;
use rootwarden_core::release::ReleaseAccess;

use super::ledger::DynamoAccessLedger;
use super::store::AccessRequest;
use crate::audit::DynamoAuditLog;
use crate::{AccountId, Clock, Config, LambdaError, SystemClock};

#[derive(Clone)]
pub struct DynamoReleaseAccess {
    ledger: DynamoAccessLedger,
    clock: Arc<dyn Clock>,
    actor: String,
}

impl DynamoReleaseAccess {
    /// Requests in the workflows table, audit records in the audit table (`config`), written as
    /// `actor` (the release function's name).
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        config: &Config,
        actor: impl Into<String>,
    ) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let audit = DynamoAuditLog::new(client.clone(), &config.audit_table, clock.clone());
        Self {
            ledger: DynamoAccessLedger::new(client, &config.workflows_table, audit),
            clock,
            actor: actor.into(),
        }
    }
}

impl ReleaseAccess for DynamoReleaseAccess {
    async fn request(&self, id: &str) -> Result<Option<AccessRequest>, LambdaError> {
        rootwarden_core::access::AccessLedger::get(&self.ledger, id).await
    }

    async fn revoke_open(
        &self,
        account: &AccountId,
        note: &str,
    ) -> Result<Vec<String>, LambdaError> {
        revoke_open(&self.ledger, self.clock.now(), &self.actor, account, note).await
    }
}
