//! `MemoryVault`: the twin of `KmsVault`. Per account and kind, a head of stage pointers and
//! numbered versions that are never deleted. Every stage move is applied with its audit record
//! or not at all (an audit outage fails closed), one writer at a time, with the adapter's rules:
//! staging is idempotent per execution, a pending version of another execution is a conflict,
//! promotion moves pending → current → previous → retired and is idempotent per execution,
//! discarding is idempotent.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rootwarden_core::audit::{AuditEntry, AuditLog, MemoryAuditLog, Stream};
use rootwarden_core::registry::stamp;
use rootwarden_core::vault::{
    Actor, CredentialKind, Head, HeadCondition, Plan, Stage, Vault, VaultError, VersionInfo,
};
use rootwarden_core::{AccountId, Clock, SystemClock};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

struct Version {
    info: VersionInfo,
    /// Plain only inside the twin; never printed.
    secret: String,
}

struct Credential {
    head: Head,
    versions: BTreeMap<u32, Version>,
}

type Credentials = HashMap<(AccountId, CredentialKind), Credential>;

#[derive(Clone)]
pub struct MemoryVault {
    creds: Arc<Mutex<Credentials>>,
    audit: MemoryAuditLog,
    clock: Arc<dyn Clock>,
    key_refuses: Arc<AtomicBool>,
}

impl Default for MemoryVault {
    fn default() -> Self {
        Self::new(MemoryAuditLog::default(), Arc::new(SystemClock))
    }
}

fn partition(account: &AccountId, kind: CredentialKind) -> String {
    format!("cred#{account}#{}", kind.as_str())
}

fn not_vaulted(account: &AccountId, kind: CredentialKind) -> VaultError {
    VaultError::NotFound(format!(
        "no {} vaulted for account {account}",
        kind.as_str()
    ))
}

fn set_stage(c: &mut Credential, version: u32, to: Stage, now: &str) {
    if let Some(v) = c.versions.get_mut(&version) {
        v.info.stage = to;
        v.info.stage_changed_at = now.to_owned();
    }
}

impl MemoryVault {
    /// A vault writing its audit records to `audit`, stamping times from `clock`.
    pub fn new(audit: MemoryAuditLog, clock: Arc<dyn Clock>) -> Self {
        Self {
            creds: Arc::default(),
            audit,
            clock,
            key_refuses: Arc::default(),
        }
    }

    pub fn audit(&self) -> &MemoryAuditLog {
        &self.audit
    }

    /// Vaults `secret` as version 1, `current`, of a new account, as onboarding does (its audit
    /// record is onboarding's). `Conflict` if anything is vaulted already.
    pub async fn seed(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        secret: &SecretString,
        execution: &str,
    ) -> Result<(), VaultError> {
        self.key()?;
        let mut creds = self.creds.lock().await;
        if creds.contains_key(&(account.clone(), kind)) {
            return Err(VaultError::Conflict(format!(
                "account {account} already has a {} vaulted",
                kind.as_str()
            )));
        }
        let now = stamp(self.clock.now());
        let info = VersionInfo {
            version: 1,
            stage: Stage::Current,
            created_at: now.clone(),
            stage_changed_at: now.clone(),
            execution: Some(execution.to_owned()),
        };
        creds.insert(
            (account.clone(), kind),
            Credential {
                head: Head {
                    current: Some(1),
                    current_execution: Some(execution.to_owned()),
                    current_since: now,
                    previous: None,
                    pending: None,
                    pending_execution: None,
                    next_version: 2,
                },
                versions: BTreeMap::from([(
                    1,
                    Version {
                        info,
                        secret: secret.expose_secret().to_owned(),
                    },
                )]),
            },
        );
        Ok(())
    }

    /// Deletes every version of every credential of `account` (the release's crypto-shred).
    /// Returns how many versions were deleted.
    pub async fn shred(&self, account: &AccountId) -> u32 {
        let mut creds = self.creds.lock().await;
        let mut n = 0;
        creds.retain(|(a, _), c| {
            if a == account {
                n += c.versions.len() as u32;
                false
            } else {
                true
            }
        });
        n
    }

    /// How many versions of `account`'s credentials are stored (any stage).
    pub async fn stored_versions(&self, account: &AccountId) -> usize {
        self.creds
            .lock()
            .await
            .iter()
            .filter(|((a, _), _)| a == account)
            .map(|(_, c)| c.versions.len())
            .sum()
    }

    /// Whether any stored version equals `value` (to prove where a secret went, or did not).
    pub async fn holds(&self, value: &str) -> bool {
        self.creds
            .lock()
            .await
            .values()
            .any(|c| c.versions.values().any(|v| v.secret == value))
    }

    /// Makes the key refuse every later encryption and decryption (disabled key, no grant).
    pub fn refuse_key(&self, refuse: bool) {
        self.key_refuses.store(refuse, Ordering::SeqCst);
    }

    fn key(&self) -> Result<(), VaultError> {
        if self.key_refuses.load(Ordering::SeqCst) {
            return Err(VaultError::Key {
                message: "vault key refused the operation (simulated)".into(),
            });
        }
        Ok(())
    }

    /// Stages `execution`'s pending version in `c` (the `Vault::stage_pending` rules).
    async fn stage_into(
        &self,
        c: &mut Credential,
        account: &AccountId,
        kind: CredentialKind,
        execution: &str,
        secret: &SecretString,
        actor: &Actor,
    ) -> Result<(u32, bool), VaultError> {
        if let Some(p) = c.head.pending {
            return if c.head.pending_execution.as_deref() == Some(execution) {
                Ok((p, false))
            } else {
                Err(VaultError::Conflict(format!(
                    "account {account} already has pending {} version {p} of another rotation",
                    kind.as_str()
                )))
            };
        }
        if c.head.current_execution.as_deref() == Some(execution) {
            return Err(VaultError::Conflict(format!(
                "rotation {execution} already completed for account {account}"
            )));
        }
        self.key()?;
        let v = c.head.next_version;
        let entry = Self::entry(account, kind, "vault.stage-pending", actor)
            .detail("version", v)
            .detail("current", c.head.current)
            .detail("execution", execution);
        self.audit.append(&entry).await?;
        let now = stamp(self.clock.now());
        c.versions.insert(
            v,
            Version {
                info: VersionInfo {
                    version: v,
                    stage: Stage::Pending,
                    created_at: now.clone(),
                    stage_changed_at: now,
                    execution: Some(execution.to_owned()),
                },
                secret: secret.expose_secret().to_owned(),
            },
        );
        c.head.pending = Some(v);
        c.head.pending_execution = Some(execution.to_owned());
        c.head.next_version = v + 1;
        Ok((v, true))
    }

    fn entry(account: &AccountId, kind: CredentialKind, action: &str, actor: &Actor) -> AuditEntry {
        AuditEntry::new(Stream::Account(account.clone()), &actor.actor, action)
            .target(partition(account, kind))
            .reason(&actor.reason)
            .correlation_id(&actor.correlation_id)
            .detail("kind", kind.as_str())
    }
}

impl Vault for MemoryVault {
    async fn head(
        &self,
        account: &AccountId,
        kind: CredentialKind,
    ) -> Result<Option<Head>, VaultError> {
        let creds = self.creds.lock().await;
        Ok(creds.get(&(account.clone(), kind)).map(|c| c.head.clone()))
    }

    async fn versions(
        &self,
        account: &AccountId,
        kind: CredentialKind,
    ) -> Result<Vec<VersionInfo>, VaultError> {
        let creds = self.creds.lock().await;
        Ok(creds
            .get(&(account.clone(), kind))
            .map(|c| c.versions.values().map(|v| v.info.clone()).collect())
            .unwrap_or_default())
    }

    async fn reveal(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        version: Option<u32>,
    ) -> Result<(VersionInfo, SecretString), VaultError> {
        let creds = self.creds.lock().await;
        let c = creds.get(&(account.clone(), kind));
        let v = match (version, c) {
            (Some(v), _) => v,
            (None, Some(c)) => c.head.current.ok_or_else(|| {
                VaultError::NotFound(format!(
                    "no {} is current yet for account {account}",
                    kind.as_str()
                ))
            })?,
            (None, None) => return Err(not_vaulted(account, kind)),
        };
        let found = c.and_then(|c| c.versions.get(&v)).ok_or_else(|| {
            VaultError::NotFound(format!("{} version {v} of {account}", kind.as_str()))
        })?;
        self.key()?;
        Ok((found.info.clone(), SecretString::from(found.secret.clone())))
    }

    async fn stage_pending(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        execution: &str,
        secret: &SecretString,
        actor: &Actor,
    ) -> Result<(u32, bool), VaultError> {
        if execution.is_empty() {
            return Err(VaultError::Invalid("execution must not be empty".into()));
        }
        let mut creds = self.creds.lock().await;
        // Nothing vaulted yet: version 1, pending, no current (a takeover's first password).
        // The empty credential is only kept if the staging below succeeds.
        let key = (account.clone(), kind);
        let fresh = !creds.contains_key(&key);
        let c = creds.entry(key.clone()).or_insert_with(|| Credential {
            head: Head {
                current: None,
                current_execution: None,
                current_since: String::new(),
                previous: None,
                pending: None,
                pending_execution: None,
                next_version: 1,
            },
            versions: BTreeMap::new(),
        });
        let staged = self
            .stage_into(c, account, kind, execution, secret, actor)
            .await;
        if fresh && staged.is_err() {
            creds.remove(&key);
        }
        staged
    }

    async fn promote(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        execution: &str,
        actor: &Actor,
    ) -> Result<u32, VaultError> {
        let mut creds = self.creds.lock().await;
        let c = creds
            .get_mut(&(account.clone(), kind))
            .ok_or_else(|| not_vaulted(account, kind))?;
        let head = c.head.clone();
        let p = match (head.pending, head.pending_execution.as_deref()) {
            (Some(p), Some(e)) if e == execution => p,
            _ if head.current_execution.as_deref() == Some(execution) => {
                return head.current.ok_or_else(|| {
                    VaultError::Corrupt("a current execution without a current version".into())
                })
            }
            (Some(p), _) => {
                return Err(VaultError::Conflict(format!(
                    "pending version {p} of account {account} belongs to another rotation"
                )))
            }
            (None, _) => {
                return Err(VaultError::NotFound(format!(
                    "rotation {execution} has no pending {} for account {account}",
                    kind.as_str()
                )))
            }
        };
        // The new current must decrypt before it becomes current.
        self.key()?;
        let entry = Self::entry(account, kind, "vault.promote", actor)
            .detail("current", p)
            .detail("previous", head.current)
            .detail("execution", execution);
        self.audit.append(&entry).await?;
        let now = stamp(self.clock.now());
        set_stage(c, p, Stage::Current, &now);
        if let Some(current) = head.current {
            set_stage(c, current, Stage::Previous, &now);
            if let Some(old) = head.previous {
                set_stage(c, old, Stage::Retired, &now);
            }
        }
        c.head = Head {
            current: Some(p),
            current_execution: Some(execution.to_owned()),
            current_since: now,
            previous: head.current,
            pending: None,
            pending_execution: None,
            next_version: head.next_version,
        };
        Ok(p)
    }

    async fn discard_pending(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        execution: &str,
        actor: &Actor,
    ) -> Result<Option<u32>, VaultError> {
        let mut creds = self.creds.lock().await;
        let c = creds
            .get_mut(&(account.clone(), kind))
            .ok_or_else(|| not_vaulted(account, kind))?;
        let p = match (c.head.pending, c.head.pending_execution.as_deref()) {
            (Some(p), Some(e)) if e == execution => p,
            _ => return Ok(None),
        };
        let entry = Self::entry(account, kind, "vault.discard-pending", actor)
            .detail("version", p)
            .detail("current", c.head.current)
            .detail("execution", execution);
        self.audit.append(&entry).await?;
        let now = stamp(self.clock.now());
        set_stage(c, p, Stage::Discarded, &now);
        c.head.pending = None;
        c.head.pending_execution = None;
        Ok(Some(p))
    }
}

impl MemoryVault {
    /// Writes a stage-machine `plan` (as `KmsVault` writes it: every head condition checked,
    /// the new version created with `secret`, each move from its stage, `entry` audited with it
    /// or nothing written). `Ok(false)`: a condition failed, nothing was written.
    pub async fn write_plan(
        &self,
        account: &AccountId,
        kind: CredentialKind,
        plan: &Plan,
        secret: Option<&SecretString>,
        entry: &AuditEntry,
    ) -> Result<bool, VaultError> {
        let mut creds = self.creds.lock().await;
        let key = (account.clone(), kind);
        let head = creds.get(&key).map(|c| &c.head);
        let holds = plan.conditions.iter().all(|c| match (c, head) {
            (HeadCondition::Absent, h) => h.is_none(),
            (_, None) => false,
            (HeadCondition::Current(v), Some(h)) => h.current == Some(*v),
            (HeadCondition::NoCurrent, Some(h)) => h.current.is_none(),
            (HeadCondition::Previous(v), Some(h)) => h.previous == Some(*v),
            (HeadCondition::NoPending, Some(h)) => h.pending.is_none(),
            (HeadCondition::NextVersion(v), Some(h)) => h.next_version == *v,
            (HeadCondition::Pending { version, execution }, Some(h)) => {
                h.pending == Some(*version) && h.pending_execution.as_deref() == Some(execution)
            }
        });
        let stages_hold = plan.moves.iter().all(|m| {
            creds
                .get(&key)
                .and_then(|c| c.versions.get(&m.version))
                .is_some_and(|v| v.info.stage == m.from)
        });
        let fresh = plan.create.as_ref().is_none_or(|n| {
            creds
                .get(&key)
                .is_none_or(|c| !c.versions.contains_key(&n.version))
        });
        if !(holds && stages_hold && fresh) {
            return Ok(false);
        }
        if plan.create.is_some() != secret.is_some() {
            return Err(VaultError::Invalid(
                "a new version needs exactly its secret".into(),
            ));
        }
        self.key()?;
        self.audit.append(entry).await?;
        let now = stamp(self.clock.now());
        let c = creds.entry(key).or_insert_with(|| Credential {
            head: plan.head.clone(),
            versions: BTreeMap::new(),
        });
        if let (Some(new), Some(secret)) = (&plan.create, secret) {
            c.versions.insert(
                new.version,
                Version {
                    info: VersionInfo {
                        version: new.version,
                        stage: new.stage,
                        created_at: now.clone(),
                        stage_changed_at: now.clone(),
                        execution: Some(new.execution.clone()),
                    },
                    secret: secret.expose_secret().to_owned(),
                },
            );
        }
        for m in &plan.moves {
            set_stage(c, m.version, m.to, &now);
        }
        c.head = plan.head.clone();
        Ok(true)
    }
}
