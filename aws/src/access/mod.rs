//! Break-glass access to root credentials: reasoned, approved by someone else, exclusive,
//! time-boxed, rotated after use, and audited with every decision.
//!
//! The caller is always an ARN AWS reported (STS `GetCallerIdentity` for the CLI, the
//! IAM-authenticated request context for the `access` Lambda), never a flag or a body field.
//!
//! Flow: `request` (requester role, allowed reason, existing or pattern-matching ticket) →
//! `approve` by enough approvers other than the requester (or self-service for configured
//! reasons, with an after-the-fact review ticket) → `checkout` by the requester, once, exclusive
//! per account, within the approval's lifetime: shows the current root password, the current
//! TOTP code and any unexpired reset link, and marks the account for rotation → `checkin`, or
//! automatic expiry, or `revoke` by an admin. A `rotation-apply` check-out is allowed only while
//! the account's rotation awaits its apply step, its execution really runs (the `Executions`
//! port) and its apply deadline has not passed (`rotation::liveness::apply_window`); it shows
//! `current` and `pending` and does not mark another rotation.
//!
//! Every decision is an audit record. The use cases and their decisions live in the core
//! (`rootwarden_core::access`, generic over [`AccessPorts`]); this module is their AWS bundle:
//! [`Deps`] with the DynamoDB, KMS and Step Functions adapters, the [`DynamoAccessLedger`]
//! (requests, locks and audit record in one transaction, `ledger.rs`, item mapping in
//! `store.rs`), and access's view of the registry, tickets and rotations (`adapters.rs`).

pub mod identity;
pub mod store;

mod adapters;
mod ledger;
mod release_standin;

pub use rootwarden_core::access::{approval, policy, ports, refusal};

use std::sync::Arc;

use crate::audit::DynamoAuditLog;
use crate::executions::SfnExecutions;
use crate::registry::DynamoAccountRegistry;
use crate::rotation::DynamoRotationStore;
use crate::tickets::DynamoTicketStore;
use crate::vault::{KmsTransientStore, KmsVault};
use crate::{Clock, Config, ErrorType, LambdaError};

pub use approval::{ROTATION_APPLY, TAKEOVER};
pub use identity::IamRoleDirectory;
pub use ledger::DynamoAccessLedger;
pub use policy::{AccessPolicy, ReasonRule, Role};
pub use refusal::Refusal;
pub use release_standin::DynamoReleaseAccess;
pub use rootwarden_core::access::identity::{Caller, Person};
pub use rootwarden_core::access::{
    approve, checkin, checkout, deny, expire_due, get, list, locks, request, revoke,
    AccessAccounts, AccessLedger, AccessPorts, AccessTickets, ExpiryReport, LedgerWrite,
    NewRequest, Revealed, RotationLookup, Written,
};
pub use store::{AccessRequest, AccessStatus, Lock};

/// Everything access talks to.
#[derive(Clone)]
pub struct Deps {
    /// Requests and locks (the workflows table).
    pub ledger: DynamoAccessLedger,
    pub registry: DynamoAccountRegistry,
    pub vault: KmsVault,
    pub transient: KmsTransientStore,
    pub tickets: DynamoTicketStore,
    pub rotations: DynamoRotationStore,
    pub audit: DynamoAuditLog,
    pub policy: AccessPolicy,
    pub clock: Arc<dyn Clock>,
    /// Step Functions, asked whether a rotation's execution really runs before a
    /// `rotation-apply` check-out ([`Deps::with_executions`]); without it that check-out is
    /// refused.
    pub executions: Option<SfnExecutions>,
}

impl Deps {
    /// Fails with `ConfigError` naming `ROOTWARDEN_ACCESS_POLICY` when it is missing or invalid.
    pub fn new(
        config: &Config,
        ddb: aws_sdk_dynamodb::Client,
        kms: aws_sdk_kms::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, LambdaError> {
        let policy = AccessPolicy::from_json(
            config
                .access_policy()
                .map_err(|e| LambdaError::from_classified(&e))?,
        )
        .map_err(|e| {
            LambdaError::new(
                ErrorType::ConfigError,
                format!("{}: {e}", crate::config::vars::ACCESS_POLICY),
            )
        })?;
        let audit = DynamoAuditLog::new(ddb.clone(), &config.audit_table, clock.clone());
        Ok(Self {
            ledger: DynamoAccessLedger::new(ddb.clone(), &config.workflows_table, audit.clone()),
            registry: DynamoAccountRegistry::new(ddb.clone(), &config.accounts_table),
            vault: KmsVault::new(
                ddb.clone(),
                kms.clone(),
                &config.vault_table,
                &config.vault_key,
                audit.clone(),
                clock.clone(),
            ),
            transient: KmsTransientStore::new(
                ddb.clone(),
                kms,
                &config.vault_table,
                &config.vault_key,
            ),
            tickets: DynamoTicketStore::new(ddb.clone(), &config.tickets_table, audit.clone()),
            rotations: DynamoRotationStore::new(ddb, &config.workflows_table),
            audit,
            policy,
            clock,
            executions: None,
        })
    }

    /// Lets `rotation-apply` check-outs verify the rotation's execution runs.
    pub fn with_executions(mut self, sfn: aws_sdk_sfn::Client) -> Self {
        self.executions = Some(SfnExecutions::new(sfn));
        self
    }
}

impl AccessPorts for Deps {
    type Ledger = DynamoAccessLedger;
    type Accounts = DynamoAccountRegistry;
    type Vault = KmsVault;
    type Transient = KmsTransientStore;
    type Tickets = DynamoTicketStore;
    type Rotations = DynamoRotationStore;
    type Executions = SfnExecutions;
    type Audit = DynamoAuditLog;

    fn ledger(&self) -> &DynamoAccessLedger {
        &self.ledger
    }
    fn accounts(&self) -> &DynamoAccountRegistry {
        &self.registry
    }
    fn vault(&self) -> &KmsVault {
        &self.vault
    }
    fn transient(&self) -> &KmsTransientStore {
        &self.transient
    }
    fn tickets(&self) -> &DynamoTicketStore {
        &self.tickets
    }
    fn rotations(&self) -> &DynamoRotationStore {
        &self.rotations
    }
    fn executions(&self) -> Option<&SfnExecutions> {
        self.executions.as_ref()
    }
    fn audit(&self) -> &DynamoAuditLog {
        &self.audit
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn policy(&self) -> &AccessPolicy {
        &self.policy
    }
}
