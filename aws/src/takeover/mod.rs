//! The takeover on AWS: the use cases are the core's (`rootwarden_core::takeover`, re-exported
//! here), run over [`Deps`]: [`AccountApiPrimaryEmail`] (the account API),
//! [`DynamoTakeoverStore`] (registry item + audit record, one transaction), root sessions
//! (`StsIamRootCredentials`), mail waits, transient secrets (`KmsTransientStore`: the
//! verification code), the vault (MFA seed metadata) and Step Functions.

mod account_api;
mod dynamo;

use std::sync::Arc;

pub use account_api::AccountApiPrimaryEmail;
pub use dynamo::{takeover_attributes, takeover_from_item, DynamoTakeoverStore};
pub use rootwarden_core::takeover::*;

use crate::audit::DynamoAuditLog;
use crate::enforcement::StsIamRootCredentials;
use crate::executions::SfnExecutions;
use crate::registry::DynamoAccountRegistry;
use crate::vault::{KmsTransientStore, KmsVault};
use crate::workflows::DynamoWorkflowWaits;
use crate::{Clock, Config};

/// Everything the takeover use cases talk to.
#[derive(Clone)]
pub struct Deps {
    pub email: AccountApiPrimaryEmail,
    pub store: DynamoTakeoverStore,
    pub root: StsIamRootCredentials,
    pub waits: DynamoWorkflowWaits,
    pub transient: KmsTransientStore,
    pub vault: KmsVault,
    pub executions: SfnExecutions,
    pub audit: DynamoAuditLog,
    pub clock: Arc<dyn Clock>,
    /// Who acts (audit `actor`): the Lambda's name, or the operator's ARN (`start`).
    pub actor: String,
    /// `ROOTWARDEN_ROOT_MAIL_DOMAIN` (empty where nothing allocates: allocation then fails
    /// with `ConfigError`).
    pub root_mail_domain: String,
}

impl Deps {
    pub fn new(
        config: &Config,
        sdk: &aws_types::SdkConfig,
        clock: Arc<dyn Clock>,
        actor: impl Into<String>,
    ) -> Self {
        let ddb = aws_sdk_dynamodb::Client::new(sdk);
        let kms = aws_sdk_kms::Client::new(sdk);
        let sfn = aws_sdk_sfn::Client::new(sdk);
        let audit = DynamoAuditLog::new(ddb.clone(), &config.audit_table, clock.clone());
        let registry = DynamoAccountRegistry::new(ddb.clone(), &config.accounts_table);
        Self {
            email: AccountApiPrimaryEmail::new(aws_sdk_account::Client::new(sdk)),
            store: DynamoTakeoverStore::new(registry, audit.clone()),
            root: StsIamRootCredentials::new(sdk),
            waits: DynamoWorkflowWaits::new(ddb.clone(), sfn.clone(), &config.workflows_table),
            transient: KmsTransientStore::new(
                ddb.clone(),
                kms.clone(),
                &config.vault_table,
                &config.vault_key,
            ),
            vault: KmsVault::new(
                ddb,
                kms,
                &config.vault_table,
                &config.vault_key,
                audit.clone(),
                clock.clone(),
            ),
            executions: SfnExecutions::new(sfn),
            audit,
            clock,
            actor: actor.into(),
            root_mail_domain: config.root_mail_domain.clone().unwrap_or_default(),
        }
    }
}

impl TakeoverPorts for Deps {
    type Email = AccountApiPrimaryEmail;
    type Store = DynamoTakeoverStore;
    type Root = StsIamRootCredentials;
    type Waits = DynamoWorkflowWaits;
    type Transient = KmsTransientStore;
    type Vault = KmsVault;
    type Executions = SfnExecutions;
    type Audit = DynamoAuditLog;

    fn email(&self) -> &AccountApiPrimaryEmail {
        &self.email
    }
    fn store(&self) -> &DynamoTakeoverStore {
        &self.store
    }
    fn root(&self) -> &StsIamRootCredentials {
        &self.root
    }
    fn waits(&self) -> &DynamoWorkflowWaits {
        &self.waits
    }
    fn transient(&self) -> &KmsTransientStore {
        &self.transient
    }
    fn vault(&self) -> &KmsVault {
        &self.vault
    }
    fn executions(&self) -> &SfnExecutions {
        &self.executions
    }
    fn audit(&self) -> &DynamoAuditLog {
        &self.audit
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn actor(&self) -> &str {
        &self.actor
    }
    fn root_mail_domain(&self) -> &str {
        &self.root_mail_domain
    }
}
