//! `KmsVault`: the vault in DynamoDB, each version encrypted under KMS with its encryption
//! context. The stage moves are decided by the core's stage machine
//! (`rootwarden_core::vault::stages`); this adapter reads the head, asks it for a plan, and
//! writes the plan in one transaction ([`transaction`]). Items in [`items`], KMS calls in
//! [`keys`].

mod batch_read;
mod items;
mod keys;
mod transaction;

use crate::audit::{AuditEntry, DynamoAuditLog, Stream};
use crate::sdk::{classify_sdk_error, describe_sdk_error};
use crate::{AccountId, Clock};
use aws_sdk_dynamodb::types::TransactWriteItem;
use rootwarden_core::vault::credentials::*;
use rootwarden_core::vault::stages::{check_execution, Decision, Plan, Subject};
use secrecy::SecretString;

use items::{ciphertext, head_from, s, version_from, HEAD_KEY};
pub use items::{partition, version_key};
use transaction::{plan_items, TxOutcome};

#[derive(Clone)]
pub struct KmsVault {
    ddb: aws_sdk_dynamodb::Client,
    kms: aws_sdk_kms::Client,
    table: String,
    key_id: String,
    audit: DynamoAuditLog,
    clock: std::sync::Arc<dyn Clock>,
}

fn unavailable<E>(
    op: &str,
    e: &aws_sdk_dynamodb::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> VaultError
where
    E: std::error::Error + aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    VaultError::Unavailable {
        message: describe_sdk_error(op, e),
        error_type: classify_sdk_error(e),
    }
}

impl KmsVault {
    pub fn new(
        ddb: aws_sdk_dynamodb::Client,
        kms: aws_sdk_kms::Client,
        table: impl Into<String>,
        key_id: impl Into<String>,
        audit: DynamoAuditLog,
        clock: std::sync::Arc<dyn Clock>,
    ) -> Self {
        Self {
            ddb,
            kms,
            table: table.into(),
            key_id: key_id.into(),
            audit,
            clock,
        }
    }

    fn now(&self) -> String {
        crate::registry::stamp(self.clock.now())
    }

    async fn get(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        sk: &str,
    ) -> Result<Option<items::Item>, VaultError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(partition(account, kind)))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("dynamodb:GetItem", &e))?;
        Ok(out.item)
    }

    async fn read_head(
        &self,
        account: &AccountId,
        kind: CredentialKind,
    ) -> Result<Head, VaultError> {
        match self.get(account, kind, HEAD_KEY).await? {
            Some(item) => head_from(&item),
            None => Err(VaultError::NotFound(format!(
                "no {} vaulted for account {account}",
                kind.as_str()
            ))),
        }
    }

    fn audit_entry(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        action: &str,
        actor: &Actor,
    ) -> AuditEntry {
        AuditEntry::new(Stream::Account(account.clone()), &actor.actor, action)
            .target(partition(account, kind))
            .reason(&actor.reason)
            .correlation_id(&actor.correlation_id)
            .detail("kind", kind.as_str())
    }

    /// The transaction items of `plan`, decided on `before`; encrypts `secret` for the version
    /// the plan creates.
    async fn items(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        before: Option<&Head>,
        plan: &Plan,
        secret: Option<&SecretString>,
        now: &str,
    ) -> Result<Vec<TransactWriteItem>, VaultError> {
        let blob = match (&plan.create, secret) {
            (Some(new), Some(secret)) => {
                Some(self.encrypt(account, kind, new.version, secret).await?)
            }
            _ => None,
        };
        plan_items(
            &self.table,
            &partition(account, kind),
            before,
            plan,
            blob,
            now,
        )
    }

    /// Writes a stage-machine `plan` decided on `before` (`secret`: the version it creates)
    /// with `extra` items (e.g. a registry condition check) and the audit record `entry`, in
    /// one transaction. `Ok(false)`: a condition failed (the head, a stage, or an extra item's)
    /// and nothing was written.
    pub async fn write_plan(
        &self,
        subject: &Subject<'_>,
        before: Option<&Head>,
        plan: &Plan,
        secret: Option<&SecretString>,
        extra: Vec<TransactWriteItem>,
        entry: &AuditEntry,
    ) -> Result<bool, VaultError> {
        let now = self.now();
        let mut items = self
            .items(subject.account, subject.kind, before, plan, secret, &now)
            .await?;
        items.extend(extra);
        Ok(matches!(
            self.transact(items, entry).await?,
            TxOutcome::Done
        ))
    }

    /// The transaction items that vault `secret` as version 1, `current`, for a new account
    /// (onboarding puts them in one transaction with the registry item and the audit record).
    /// Fails with `Conflict` in that transaction if anything is vaulted already.
    pub async fn initial_items(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        secret: &SecretString,
        execution: &str,
    ) -> Result<Vec<TransactWriteItem>, VaultError> {
        let now = self.now();
        let plan = Head::initial(execution, &now);
        self.items(account, kind, None, &plan, Some(secret), &now)
            .await
    }
}

impl Vault for KmsVault {
    async fn head(
        &self,
        account: &AccountId,
        kind: CredentialKind,
    ) -> Result<Option<Head>, VaultError> {
        self.get(account, kind, HEAD_KEY)
            .await?
            .map(|i| head_from(&i))
            .transpose()
    }

    async fn versions(
        &self,
        account: &AccountId,
        kind: CredentialKind,
    ) -> Result<Vec<VersionInfo>, VaultError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .ddb
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :v)")
                .expression_attribute_values(":pk", s(partition(account, kind)))
                .expression_attribute_values(":v", s("v#"))
                .projection_expression("version, stage, created_at, stage_changed_at, execution")
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| unavailable("dynamodb:Query", &e))?;
            for item in out.items() {
                found.push(version_from(item)?);
            }
            start = out.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        Ok(found)
    }

    async fn reveal(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        version: Option<u32>,
    ) -> Result<(VersionInfo, SecretString), VaultError> {
        let v = match version {
            Some(v) => v,
            None => self
                .read_head(account, kind)
                .await?
                .current
                .ok_or_else(|| {
                    VaultError::NotFound(format!(
                        "no {} is current yet for account {account}",
                        kind.as_str()
                    ))
                })?,
        };
        let item = self
            .get(account, kind, &version_key(v))
            .await?
            .ok_or_else(|| {
                VaultError::NotFound(format!("{} version {v} of {account}", kind.as_str()))
            })?;
        let info = version_from(&item)?;
        let blob = ciphertext(&item)?.clone();
        let secret = self.decrypt(account, kind, v, blob).await?;
        Ok((info, secret))
    }

    async fn reveal_current(
        &self,
        account: &AccountId,
        kinds: &[CredentialKind],
    ) -> Result<Vec<Option<(VersionInfo, SecretString)>>, VaultError> {
        let heads: Vec<batch_read::Key> = kinds
            .iter()
            .map(|&k| (partition(account, k), HEAD_KEY.to_owned()))
            .collect();
        let found = self.batch_get(&heads).await?;
        let mut current = Vec::with_capacity(kinds.len());
        for (&kind, key) in kinds.iter().zip(&heads) {
            let version = match found.get(key) {
                Some(item) => head_from(item)?.current,
                None => None,
            };
            current.push(version.map(|v| (kind, v, (key.0.clone(), version_key(v)))));
        }
        let versions: Vec<batch_read::Key> = current
            .iter()
            .flatten()
            .map(|(_, _, k)| k.clone())
            .collect();
        let items = if versions.is_empty() {
            Default::default()
        } else {
            self.batch_get(&versions).await?
        };
        let mut revealed = Vec::with_capacity(kinds.len());
        for wanted in current {
            let Some((kind, v, key)) = wanted else {
                revealed.push(None);
                continue;
            };
            // The head names it as current, so it must exist.
            let item = items.get(&key).ok_or_else(|| {
                VaultError::NotFound(format!("{} version {v} of {account}", kind.as_str()))
            })?;
            let info = version_from(item)?;
            let blob = ciphertext(item)?.clone();
            let secret = self.decrypt(account, kind, v, blob).await?;
            revealed.push(Some((info, secret)));
        }
        Ok(revealed)
    }

    async fn stage_pending(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        execution: &str,
        secret: &SecretString,
        actor: &Actor,
    ) -> Result<(u32, bool), VaultError> {
        let head = self.head(account, kind).await?;
        self.stage_pending_on(head.as_ref(), account, kind, execution, secret, actor)
            .await
    }

    async fn stage_pending_on(
        &self,
        head: Option<&Head>,
        account: &AccountId,
        kind: CredentialKind,
        execution: &str,
        secret: &SecretString,
        actor: &Actor,
    ) -> Result<(u32, bool), VaultError> {
        check_execution(execution)?;
        let subject = Subject { account, kind };
        // Nothing vaulted yet: version 1, pending, no current (a takeover's first password).
        let plan = match head {
            None => Head::first_pending(execution)?,
            Some(head) => match head.stage_pending(&subject, execution)? {
                Decision::Already(p) => return Ok((p, false)),
                Decision::Write(plan) => plan,
            },
        };
        let now = self.now();
        let items = self
            .items(account, kind, head, &plan, Some(secret), &now)
            .await?;
        let entry = self
            .audit_entry(account, kind, "vault.stage-pending", actor)
            .detail("version", plan.version)
            .detail("current", head.and_then(|h| h.current))
            .detail("execution", execution);
        match self.transact(items, &entry).await? {
            TxOutcome::Done => Ok((plan.version, true)),
            TxOutcome::Lost => {
                let p = self
                    .read_head(account, kind)
                    .await?
                    .after_lost_stage_pending(&subject, execution)?;
                Ok((p, false))
            }
        }
    }

    async fn promote(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        execution: &str,
        actor: &Actor,
    ) -> Result<u32, VaultError> {
        let subject = Subject { account, kind };
        let head = self.read_head(account, kind).await?;
        let now = self.now();
        let plan = match head.promote(&subject, execution, &now)? {
            Decision::Already(current) => return Ok(current),
            Decision::Write(plan) => plan,
        };
        // The new current must decrypt before it becomes current: proved with a ReEncrypt onto
        // the same key, so whoever promotes (an operator settling an orphaned rotation too)
        // never needs kms:Decrypt and never sees the secret.
        self.verify_decrypts(account, kind, plan.version).await?;
        let items = self
            .items(account, kind, Some(&head), &plan, None, &now)
            .await?;
        let entry = self
            .audit_entry(account, kind, "vault.promote", actor)
            .detail("current", plan.version)
            .detail("previous", head.current)
            .detail("execution", execution);
        match self.transact(items, &entry).await? {
            TxOutcome::Done => Ok(plan.version),
            TxOutcome::Lost => self
                .read_head(account, kind)
                .await?
                .after_lost_promote(&subject, execution),
        }
    }

    async fn discard_pending(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        execution: &str,
        actor: &Actor,
    ) -> Result<Option<u32>, VaultError> {
        let subject = Subject { account, kind };
        let head = self.read_head(account, kind).await?;
        let plan = match head.discard_pending(execution) {
            Decision::Already(p) => return Ok(p),
            Decision::Write(plan) => plan,
        };
        let now = self.now();
        let items = self
            .items(account, kind, Some(&head), &plan, None, &now)
            .await?;
        let entry = self
            .audit_entry(account, kind, "vault.discard-pending", actor)
            .detail("version", plan.version)
            .detail("current", head.current)
            .detail("execution", execution);
        match self.transact(items, &entry).await? {
            TxOutcome::Done => Ok(Some(plan.version)),
            TxOutcome::Lost => self
                .read_head(account, kind)
                .await?
                .after_lost_discard(&subject, execution),
        }
    }
}
