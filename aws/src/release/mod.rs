//! The release on AWS: the use cases are the core's (`rootwarden_core::release`, re-exported
//! here), run over [`Deps`]: [`OrganizationsApi`] (close, describe), [`AccountContactsApi`]
//! (primary and alternate contacts), [`MemberAccountApi`] (handshakes and Control Tower from
//! inside the account, through the member role), [`KmsCertificateSigner`] (the handover
//! certificate), [`DynamoReleaseStore`] (registry item + audit record, one transaction),
//! [`DynamoVaultShredder`] (crypto-shred), the access ledger (`DynamoReleaseAccess`), and what
//! the takeover uses too: the primary email, root sessions, mail waits, transient secrets, the
//! vault, Step Functions and the audit log.

mod contacts;
mod dynamo;
mod kms_signer;
mod member;
mod organizations;
mod release_item;
mod shredder;

use std::sync::Arc;

pub use contacts::{with_primary, AccountContactsApi, ALTERNATE_TITLE, ALTERNATE_TYPES};
pub use dynamo::{conditional_update, DynamoReleaseStore};
pub use kms_signer::{KmsCertificateSigner, ALGORITHM, MAX_RAW_MESSAGE};
pub use member::{MemberAccountApi, CONTROL_TOWER_ROLE, SESSION_NAME};
pub use organizations::{arn_partition, partition_of, OrganizationsApi};
pub use release_item::{release_attributes, release_from_item, CERTIFICATE, RELEASE_ATTRIBUTES};
pub use rootwarden_core::release::*;
pub use shredder::{vault_partitions, DynamoVaultShredder};

use crate::access::DynamoReleaseAccess;
use crate::audit::DynamoAuditLog;
use crate::enforcement::StsIamRootCredentials;
use crate::executions::SfnExecutions;
use crate::registry::DynamoAccountRegistry;
use crate::takeover::AccountApiPrimaryEmail;
use crate::vault::{KmsTransientStore, KmsVault};
use crate::workflows::DynamoWorkflowWaits;
use crate::{Clock, Config};

/// Everything the release use cases talk to.
#[derive(Clone)]
pub struct Deps {
    pub orgs: OrganizationsApi,
    pub contacts: AccountContactsApi,
    pub member: MemberAccountApi,
    pub email: AccountApiPrimaryEmail,
    pub root: StsIamRootCredentials,
    pub signer: KmsCertificateSigner,
    pub store: DynamoReleaseStore,
    pub shredder: DynamoVaultShredder,
    pub access: DynamoReleaseAccess,
    pub waits: DynamoWorkflowWaits,
    pub transient: KmsTransientStore,
    pub vault: KmsVault,
    pub executions: SfnExecutions,
    pub audit: DynamoAuditLog,
    pub clock: Arc<dyn Clock>,
    /// Who acts (audit `actor`): the Lambda's name, or the operator's ARN.
    pub actor: String,
}

impl Deps {
    /// The partition comes from the configured ARNs (state machines, certificate key) or the
    /// region. Without `ROOTWARDEN_CERTIFICATE_KEY` signing fails with `ConfigError` (only
    /// `certify` and the public key need it).
    pub fn new(
        config: &Config,
        sdk: &aws_config::SdkConfig,
        clock: Arc<dyn Clock>,
        actor: impl Into<String>,
    ) -> Self {
        let actor = actor.into();
        let ddb = aws_sdk_dynamodb::Client::new(sdk);
        let kms = aws_sdk_kms::Client::new(sdk);
        let sfn = aws_sdk_sfn::Client::new(sdk);
        let audit = DynamoAuditLog::new(ddb.clone(), &config.audit_table, clock.clone());
        let registry = DynamoAccountRegistry::new(ddb.clone(), &config.accounts_table);
        let arns = config
            .release_state_machines
            .iter()
            .flatten()
            .chain(config.certificate_key.iter())
            .map(String::as_str);
        let partition = partition_of(arns, sdk.region().map(|r| r.as_ref()));
        Self {
            orgs: OrganizationsApi::new(aws_sdk_organizations::Client::new(sdk), &partition),
            contacts: AccountContactsApi::new(aws_sdk_account::Client::new(sdk)),
            member: MemberAccountApi::new(sdk, &partition, &config.release_member_role),
            email: AccountApiPrimaryEmail::new(aws_sdk_account::Client::new(sdk)),
            root: StsIamRootCredentials::new(sdk),
            signer: KmsCertificateSigner::new(
                kms.clone(),
                config.certificate_key.clone().unwrap_or_default(),
            ),
            store: DynamoReleaseStore::new(registry, audit.clone()),
            shredder: DynamoVaultShredder::new(ddb.clone(), &config.vault_table, audit.clone()),
            access: DynamoReleaseAccess::new(ddb.clone(), config, actor.clone()),
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
            actor,
        }
    }
}

impl ReleasePorts for Deps {
    type Orgs = OrganizationsApi;
    type Contacts = AccountContactsApi;
    type Member = MemberAccountApi;
    type Email = AccountApiPrimaryEmail;
    type Root = StsIamRootCredentials;
    type Signer = KmsCertificateSigner;
    type Store = DynamoReleaseStore;
    type Shredder = DynamoVaultShredder;
    type Access = DynamoReleaseAccess;
    type Waits = DynamoWorkflowWaits;
    type Transient = KmsTransientStore;
    type Vault = KmsVault;
    type Executions = SfnExecutions;
    type Audit = DynamoAuditLog;

    fn orgs(&self) -> &OrganizationsApi {
        &self.orgs
    }
    fn contacts(&self) -> &AccountContactsApi {
        &self.contacts
    }
    fn member(&self) -> &MemberAccountApi {
        &self.member
    }
    fn email(&self) -> &AccountApiPrimaryEmail {
        &self.email
    }
    fn root(&self) -> &StsIamRootCredentials {
        &self.root
    }
    fn signer(&self) -> &KmsCertificateSigner {
        &self.signer
    }
    fn store(&self) -> &DynamoReleaseStore {
        &self.store
    }
    fn shredder(&self) -> &DynamoVaultShredder {
        &self.shredder
    }
    fn access(&self) -> &DynamoReleaseAccess {
        &self.access
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
}
