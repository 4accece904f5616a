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
//! the account's rotation awaits its apply step, its execution really runs and its apply
//! deadline has not passed (`rotation::apply_checkout`); it shows `current` and `pending` and
//! does not mark another rotation.
//!
//! Every decision is an audit record. State changes write the request, the lock and the audit
//! record in one DynamoDB transaction; a check-out decrypts first and shows nothing unless that
//! transaction (with its audit record) committed: fail closed.
//!
//! The decisions themselves are pure rules in the core (`rootwarden_core::access`: `approval`,
//! `checkout`, `expiry`, each refusal a [`Refusal`]); this module looks up what they need,
//! writes what they decide and audits every refusal. Here: opening, approving and denying
//! (`request.rs`); checking out, in and revoking (`checkout.rs`); what a check-out shows and
//! the `rotation-apply` gate (`reveal.rs`); the automatic check-in (`expiry.rs`); reads and the
//! one-transaction write (`ledger.rs`).

pub mod identity;
pub mod store;

mod checkout;
mod expiry;
mod ledger;
mod request;
mod reveal;

pub use rootwarden_core::access::{approval, policy, refusal};

use std::sync::Arc;

use crate::audit::{AuditEntry, AuditLog, DynamoAuditLog, Outcome, Stream};
use crate::registry::DynamoAccountRegistry;
use crate::rotation::DynamoRotationStore;
use crate::tickets::DynamoTicketStore;
use crate::vault::{KmsTransientStore, KmsVault};
use crate::{AccountId, Clock, Config, ErrorType, LambdaError};

pub use approval::ROTATION_APPLY;
pub use checkout::{checkin, checkout, revoke};
pub use expiry::{expire_due, ExpiryReport};
pub use identity::IamRoleDirectory;
pub use ledger::{get, list, locks};
pub use policy::{AccessPolicy, ReasonRule, Role};
pub use refusal::Refusal;
pub use request::{approve, deny, request, NewRequest};
pub use reveal::Revealed;
pub use rootwarden_core::access::identity::{Caller, Person};
pub use store::{AccessRequest, AccessStatus, Lock};

const ATTEMPTS: u32 = 8;

/// Everything access talks to.
#[derive(Clone)]
pub struct Deps {
    pub ddb: aws_sdk_dynamodb::Client,
    /// The workflows table (requests and locks).
    pub table: String,
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
    pub executions: Option<aws_sdk_sfn::Client>,
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
            table: config.workflows_table.clone(),
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
            rotations: DynamoRotationStore::new(ddb.clone(), &config.workflows_table),
            audit,
            ddb,
            policy,
            clock,
            executions: None,
        })
    }

    /// Lets `rotation-apply` check-outs verify the rotation's execution runs.
    pub fn with_executions(mut self, sfn: aws_sdk_sfn::Client) -> Self {
        self.executions = Some(sfn);
        self
    }
}

fn entry(caller: &str, account: &AccountId, action: &str, r: &AccessRequest) -> AuditEntry {
    AuditEntry::new(Stream::Account(account.clone()), caller, action)
        .target(&r.id)
        .correlation_id(&r.id)
        .detail("reason", r.reason.as_str())
        .detail("ticket", r.ticket.as_str())
        .detail("status", r.status.as_str())
}

/// One attempted action: its refusals are recorded under the caller, account and target.
struct Attempt<'a> {
    deps: &'a Deps,
    caller: &'a str,
    account: &'a AccountId,
    action: &'static str,
    target: &'a str,
}

impl Attempt<'_> {
    /// Records the decided refusal, then returns it as the error ([`Self::refuse`]).
    async fn refused(&self, refusal: Refusal) -> LambdaError {
        self.refuse(refusal.error_type(), refusal.to_string()).await
    }

    /// Records the refusal (fail closed: if even that cannot be written, the caller gets
    /// `AuditWriteFailed`), then returns it as the error.
    async fn refuse(&self, error_type: ErrorType, why: impl Into<String>) -> LambdaError {
        let why = why.into();
        let record = AuditEntry::new(
            Stream::Account(self.account.clone()),
            self.caller,
            "access.refused",
        )
        .target(self.target)
        .outcome(Outcome::Denied)
        .reason(&why)
        .correlation_id(self.target)
        .detail("attempted", self.action);
        if let Err(e) = self.deps.audit.append(&record).await {
            return LambdaError::from_classified(&e);
        }
        tracing::warn!(
            caller = self.caller,
            attempted = self.action,
            target = self.target,
            error_type = error_type.as_str(),
            why = %why,
            "access refused"
        );
        LambdaError::new(error_type, why)
    }
}
