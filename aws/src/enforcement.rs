//! Root-credential enforcement: the use case behind the daily `root-enforcement` Lambda and the
//! operator's `account recover`.
//!
//! For every active account, `sts:AssumeRoot` with the task policy
//! `IAMAuditRootUserCredentials` reads the root user's access keys, signing certificates, MFA
//! devices and login profile. Root access keys and signing certificates are never allowed: a
//! second session with `IAMDeleteRootUserCredentials` deletes them. Credential-less accounts
//! (AWS's recommended model for member accounts: no root password at all) also lose any login
//! profile and MFA device, except while an operator's recovery window is open. The posture is
//! recorded on the registry item and in the account's audit chain; every removal is audited
//! before it is made (fail closed) and after, and operators get a ticket.
//!
//! Vaulted accounts whose root user has no MFA device or no password are reported as drift
//! (the vault holds credentials AWS no longer has, or root sign-in is single-factor) with one
//! ticket per distinct finding set; nothing is deleted for drift.
//!
//! Every run is idempotent: an interrupted run is finished by the next one (deleting what is
//! already gone counts as done; tickets have deterministic ids and are opened before the
//! removals they describe).

use std::sync::Arc;

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_sts::types::PolicyDescriptorType;
use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditEntry, AuditLog, DynamoAuditLog, Outcome, Stream};
use crate::mail::{Category, Priority};
use crate::registry::{stamp, Account, AccountMode, AccountStatus, DynamoAccountRegistry};
use crate::sdk::sdk_error;
use crate::tickets::{DynamoTicketStore, Ticket};
use crate::{AccountId, Clock, Config, ErrorType, LambdaError};

/// How long `account recover` keeps a credential-less account's new password allowed.
pub const RECOVERY_WINDOW: Duration = Duration::hours(24);
/// Root sessions are as short as AWS allows (900 s is its maximum).
pub const ROOT_SESSION_SECONDS: i32 = 900;

/// The AWS managed task policies a root session is scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskPolicy {
    AuditRootUserCredentials,
    DeleteRootUserCredentials,
    CreateRootUserPassword,
}

impl TaskPolicy {
    pub fn name(self) -> &'static str {
        match self {
            TaskPolicy::AuditRootUserCredentials => "IAMAuditRootUserCredentials",
            TaskPolicy::DeleteRootUserCredentials => "IAMDeleteRootUserCredentials",
            TaskPolicy::CreateRootUserPassword => "IAMCreateRootUserPassword",
        }
    }
    pub fn arn(self) -> String {
        format!("arn:aws:iam::aws:policy/root-task/{}", self.name())
    }
}

/// Everything enforcement talks to.
#[derive(Clone)]
pub struct Deps {
    pub registry: DynamoAccountRegistry,
    pub audit: DynamoAuditLog,
    pub tickets: DynamoTicketStore,
    pub sts: aws_sdk_sts::Client,
    /// Base configuration of the IAM clients built for each root session (region, endpoint,
    /// retry, HTTP client); only the credentials differ.
    pub sdk: aws_types::SdkConfig,
    pub clock: Arc<dyn Clock>,
    /// Who acts (audit `actor`): the Lambda's name or the operator's ARN.
    pub actor: String,
    pub concurrency: usize,
}

impl Deps {
    pub fn new(
        config: &Config,
        sdk: &aws_types::SdkConfig,
        clock: Arc<dyn Clock>,
        actor: impl Into<String>,
    ) -> Self {
        let ddb = aws_sdk_dynamodb::Client::new(sdk);
        let audit = DynamoAuditLog::new(ddb.clone(), &config.audit_table, clock.clone());
        Self {
            registry: DynamoAccountRegistry::new(ddb.clone(), &config.accounts_table),
            tickets: DynamoTicketStore::new(ddb, &config.tickets_table, audit.clone()),
            audit,
            sts: aws_sdk_sts::Client::new(sdk),
            sdk: sdk.clone(),
            clock,
            actor: actor.into(),
            concurrency: config.sweep_concurrency,
        }
    }

    /// An IAM client acting as `account`'s root user, scoped to `policy`, for 15 minutes.
    pub async fn root_iam(
        &self,
        account: &AccountId,
        policy: TaskPolicy,
    ) -> Result<aws_sdk_iam::Client, LambdaError> {
        let out = self
            .sts
            .assume_root()
            .target_principal(account.as_str())
            .task_policy_arn(PolicyDescriptorType::builder().arn(policy.arn()).build())
            .duration_seconds(ROOT_SESSION_SECONDS)
            .send()
            .await
            .map_err(|e| {
                let mut err = sdk_error("sts:AssumeRoot", &e);
                err.message = format!("{} ({} in {account})", err.message, policy.name());
                err
            })?;
        let c = out.credentials().ok_or_else(|| {
            LambdaError::new(
                ErrorType::AwsError,
                "sts:AssumeRoot returned no credentials",
            )
        })?;
        let expiry = std::time::SystemTime::try_from(*c.expiration()).ok();
        let credentials = aws_sdk_iam::config::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            expiry,
            "AssumeRoot",
        );
        let conf = aws_sdk_iam::config::Builder::from(&self.sdk)
            .credentials_provider(credentials)
            .build();
        Ok(aws_sdk_iam::Client::from_conf(conf))
    }

    fn entry(&self, account: &AccountId, action: &str, run: &str) -> AuditEntry {
        AuditEntry::new(Stream::Account(account.clone()), &self.actor, action).correlation_id(run)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootAccessKey {
    pub id: String,
    pub status: String,
    pub created: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootCertificate {
    pub id: String,
    pub status: String,
}

/// The root user's credentials as AWS reports them. Identifiers only, no secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posture {
    pub access_keys: Vec<RootAccessKey>,
    pub signing_certificates: Vec<RootCertificate>,
    pub mfa_devices: Vec<String>,
    pub login_profile: bool,
}

/// Reads the root user's credentials (any session whose policy allows the four reads).
pub async fn read_posture(iam: &aws_sdk_iam::Client) -> Result<Posture, LambdaError> {
    let access_keys = iam
        .list_access_keys()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| sdk_error("iam:ListAccessKeys", &e))?
        .into_iter()
        .map(|k| RootAccessKey {
            id: k.access_key_id().unwrap_or_default().to_owned(),
            status: k
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            created: k.create_date().map(|d| d.to_string()),
        })
        .collect();
    let signing_certificates = iam
        .list_signing_certificates()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| sdk_error("iam:ListSigningCertificates", &e))?
        .into_iter()
        .map(|c| RootCertificate {
            id: c.certificate_id().to_owned(),
            status: c.status().as_str().to_owned(),
        })
        .collect();
    let mfa_devices = iam
        .list_mfa_devices()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| sdk_error("iam:ListMFADevices", &e))?
        .into_iter()
        .map(|d| d.serial_number().to_owned())
        .collect();
    let login_profile = match iam.get_login_profile().send().await {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_no_such_entity_exception()) =>
        {
            false
        }
        Err(e) => return Err(sdk_error("iam:GetLoginProfile", &e)),
    };
    Ok(Posture {
        access_keys,
        signing_certificates,
        mfa_devices,
        login_profile,
    })
}

/// One root credential to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    AccessKey(String),
    SigningCertificate(String),
    MfaDevice(String),
    LoginProfile,
}

impl Removal {
    pub fn kind(&self) -> &'static str {
        match self {
            Removal::AccessKey(_) => "access-key",
            Removal::SigningCertificate(_) => "signing-certificate",
            Removal::MfaDevice(_) => "mfa-device",
            Removal::LoginProfile => "login-profile",
        }
    }
    pub fn id(&self) -> &str {
        match self {
            Removal::AccessKey(id) | Removal::SigningCertificate(id) | Removal::MfaDevice(id) => id,
            Removal::LoginProfile => "root",
        }
    }
    pub fn describe(&self) -> String {
        match self {
            Removal::LoginProfile => "login-profile".to_owned(),
            other => format!("{} {}", other.kind(), other.id()),
        }
    }
}

/// What must go. Root access keys and signing certificates never stay; on a credential-less
/// account the password and MFA go too, unless a recovery window is open.
pub fn plan(posture: &Posture, mode: AccountMode, recovering: bool) -> Vec<Removal> {
    let mut out: Vec<Removal> = posture
        .access_keys
        .iter()
        .map(|k| Removal::AccessKey(k.id.clone()))
        .chain(
            posture
                .signing_certificates
                .iter()
                .map(|c| Removal::SigningCertificate(c.id.clone())),
        )
        .collect();
    if mode == AccountMode::CredentialLess && !recovering {
        out.extend(posture.mfa_devices.iter().cloned().map(Removal::MfaDevice));
        if posture.login_profile {
            out.push(Removal::LoginProfile);
        }
    }
    out
}

/// Posture findings that are reported, not remediated.
pub fn findings(posture: &Posture, mode: AccountMode, recovering: bool) -> Vec<String> {
    let mut out = Vec::new();
    match mode {
        AccountMode::Vaulted => {
            if !posture.login_profile {
                out.push("root-password-absent".to_owned());
            }
            if posture.mfa_devices.is_empty() {
                out.push("root-mfa-absent".to_owned());
            }
        }
        AccountMode::CredentialLess => {
            if recovering && posture.login_profile {
                out.push("recovery-window-open".to_owned());
            }
        }
    }
    out
}

async fn remove(iam: &aws_sdk_iam::Client, r: &Removal) -> Result<(), LambdaError> {
    // Deleting what is already gone (an earlier, interrupted run) counts as done.
    fn gone<E: ProvideErrorMetadata>(
        e: &aws_smithy_runtime_api::client::result::SdkError<
            E,
            aws_smithy_runtime_api::http::Response,
        >,
    ) -> bool {
        e.code() == Some("NoSuchEntity")
    }
    match r {
        Removal::AccessKey(id) => match iam.delete_access_key().access_key_id(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(sdk_error("iam:DeleteAccessKey", &e)),
        },
        Removal::SigningCertificate(id) => {
            match iam
                .delete_signing_certificate()
                .certificate_id(id)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if gone(&e) => Ok(()),
                Err(e) => Err(sdk_error("iam:DeleteSigningCertificate", &e)),
            }
        }
        Removal::MfaDevice(serial) => {
            match iam
                .deactivate_mfa_device()
                .serial_number(serial)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if gone(&e) => {}
                Err(e) => return Err(sdk_error("iam:DeactivateMFADevice", &e)),
            }
            // A virtual device would otherwise linger, ready to be enabled again.
            if serial.contains(":mfa/") {
                match iam
                    .delete_virtual_mfa_device()
                    .serial_number(serial)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if gone(&e) => {}
                    Err(e) => return Err(sdk_error("iam:DeleteVirtualMFADevice", &e)),
                }
            }
            Ok(())
        }
        Removal::LoginProfile => match iam.delete_login_profile().send().await {
            Ok(_) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(sdk_error("iam:DeleteLoginProfile", &e)),
        },
    }
}

/// What happened to one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing to remove, nothing to report.
    Compliant,
    /// Root credentials were removed.
    Remediated,
    /// Findings reported (nothing removed).
    Drift,
    /// Not active (released or closed): not touched.
    Skipped,
    /// AssumeRoot, IAM, the registry or the audit log failed; the next run tries again.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountReport {
    pub account_id: String,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<ErrorType>,
}

/// Ticket of the removals of one day.
pub fn removal_ticket_id(account: &AccountId, now: DateTime<Utc>) -> String {
    format!("enforce-{account}-{}", now.format("%Y%m%d"))
}

/// Ticket of one finding set (opened once while it persists).
pub fn drift_ticket_id(account: &AccountId, findings: &[String]) -> String {
    format!("posture-{account}-{}", findings.join("-"))
}

/// Enforces one account. `run` correlates the audit records of one job run.
pub async fn enforce_account(
    deps: &Deps,
    account: &Account,
    run: &str,
) -> Result<AccountReport, LambdaError> {
    let id = &account.account_id;
    let mut report = AccountReport {
        account_id: id.to_string(),
        verdict: Verdict::Compliant,
        removed: Vec::new(),
        findings: Vec::new(),
        ticket_id: None,
        error: None,
        error_type: None,
    };
    if account.status != AccountStatus::Active {
        report.verdict = Verdict::Skipped;
        return Ok(report);
    }
    let now = deps.clock.now();
    let recovering = account.recovery_until.is_some_and(|u| u > now);
    let iam = deps
        .root_iam(id, TaskPolicy::AuditRootUserCredentials)
        .await?;
    let before = read_posture(&iam).await?;
    let removals = plan(&before, account.mode, recovering);
    let mut after = before.clone();
    if !removals.is_empty() {
        let listing: Vec<String> = removals.iter().map(Removal::describe).collect();
        let ticket = Ticket::task(
            removal_ticket_id(id, now),
            id,
            Category::Security,
            Priority::High,
            format!(
                "Root credentials removed from account {account_id}",
                account_id = id
            ),
            format!(
                "The daily root-credential enforcement found and removed: {}. Root access keys \
                 and signing certificates are never allowed{}. Find out who created them and \
                 why (CloudTrail: CreateAccessKey / UploadSigningCertificate by the root user), \
                 and treat the account as possibly compromised until you know.",
                listing.join(", "),
                if account.mode == AccountMode::CredentialLess {
                    "; this account is credential-less, so its root password and MFA devices \
                     are removed too"
                } else {
                    ""
                }
            ),
            now,
        );
        let ticket = deps
            .tickets
            .open_task(&ticket, &deps.actor, run)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
        report.ticket_id = Some(ticket.id);
        let iam = deps
            .root_iam(id, TaskPolicy::DeleteRootUserCredentials)
            .await?;
        for r in &removals {
            // Fail closed: no removal without its record.
            deps.audit
                .append(
                    &deps
                        .entry(id, "root.credential-removal-started", run)
                        .target(r.describe())
                        .reason(format!(
                            "root {} not allowed ({} account)",
                            r.kind(),
                            account.mode.as_str()
                        ))
                        .detail("credential", r.kind())
                        .detail("id", r.id()),
                )
                .await
                .map_err(|e| LambdaError::from_classified(&e))?;
            match remove(&iam, r).await {
                Ok(()) => {
                    deps.audit
                        .append(
                            &deps
                                .entry(id, "root.credential-removed", run)
                                .target(r.describe())
                                .reason(format!(
                                    "removed {} (IAMDeleteRootUserCredentials session)",
                                    r.describe()
                                ))
                                .detail("credential", r.kind())
                                .detail("id", r.id()),
                        )
                        .await
                        .map_err(|e| LambdaError::from_classified(&e))?;
                    tracing::warn!(account = %id, credential = r.kind(), id = r.id(), "root credential removed");
                    report.removed.push(r.describe());
                }
                Err(e) => {
                    let _ = deps
                        .audit
                        .append(
                            &deps
                                .entry(id, "root.credential-removed", run)
                                .target(r.describe())
                                .outcome(Outcome::Failure)
                                .reason(&e.message)
                                .detail("credential", r.kind())
                                .detail("id", r.id()),
                        )
                        .await;
                    return Err(e);
                }
            }
        }
        after = read_posture(&iam).await?;
    }
    report.findings = findings(&after, account.mode, recovering);
    let mut stored = serde_json::to_value(&after)
        .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))?;
    if let Some(obj) = stored.as_object_mut() {
        obj.insert("findings".into(), serde_json::json!(report.findings));
        obj.insert("removed".into(), serde_json::json!(report.removed));
    }
    deps.registry.record_posture(id, &stored, now).await?;
    if !report.findings.is_empty() && account.mode == AccountMode::Vaulted {
        let ticket = Ticket::task(
            drift_ticket_id(id, &report.findings),
            id,
            Category::Security,
            Priority::Normal,
            format!(
                "Root credential drift in account {id}: {}",
                report.findings.join(", ")
            ),
            format!(
                "Account {id} is vaulted, but AWS reports: {}. root-password-absent: the \
                 vaulted password no longer exists in AWS (someone deleted the login profile); \
                 run `rootwarden account recover` and a rotation, or offboard the account to \
                 credential-less. root-mfa-absent: root sign-in is single-factor; enable MFA \
                 with the vaulted TOTP seed.",
                report.findings.join(", ")
            ),
            now,
        );
        let ticket = deps
            .tickets
            .open_task(&ticket, &deps.actor, run)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
        report.ticket_id.get_or_insert(ticket.id);
    }
    report.verdict = if !report.removed.is_empty() {
        Verdict::Remediated
    } else if !report.findings.is_empty() {
        Verdict::Drift
    } else {
        Verdict::Compliant
    };
    deps.audit
        .append(
            &deps
                .entry(id, "root.posture-recorded", run)
                .target(id.as_str())
                .reason(format!(
                    "{}: {} access keys, {} signing certificates, {} MFA devices, {}",
                    serde_json::to_value(report.verdict)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    after.access_keys.len(),
                    after.signing_certificates.len(),
                    after.mfa_devices.len(),
                    if after.login_profile {
                        "password"
                    } else {
                        "no password"
                    }
                ))
                .detail(
                    "verdict",
                    serde_json::to_value(report.verdict).unwrap_or_default(),
                )
                .detail("access_keys", after.access_keys.len())
                .detail("signing_certificates", after.signing_certificates.len())
                .detail("mfa_devices", after.mfa_devices.len())
                .detail("login_profile", after.login_profile)
                .detail("removed", report.removed.clone())
                .detail("findings", report.findings.clone()),
        )
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    Ok(report)
}

/// The run's summary. Compliant and skipped accounts are only counted, so the report of a
/// large estate stays small.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnforcementReport {
    pub run: String,
    pub checked: usize,
    pub compliant: usize,
    pub remediated: usize,
    pub drift: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Every account that was not compliant or skipped.
    pub accounts: Vec<AccountReport>,
}

impl EnforcementReport {
    fn add(&mut self, r: AccountReport) {
        match r.verdict {
            Verdict::Compliant => self.compliant += 1,
            Verdict::Remediated => self.remediated += 1,
            Verdict::Drift => self.drift += 1,
            Verdict::Skipped => self.skipped += 1,
            Verdict::Failed => self.failed += 1,
        }
        if r.verdict != Verdict::Skipped {
            self.checked += 1;
        }
        if !matches!(r.verdict, Verdict::Compliant | Verdict::Skipped) {
            self.accounts.push(r);
        }
    }

    /// The first failure, as a handler error.
    pub fn failure(&self) -> Option<LambdaError> {
        let first = self
            .accounts
            .iter()
            .find(|a| a.verdict == Verdict::Failed)?;
        Some(LambdaError::new(
            first.error_type.unwrap_or(ErrorType::AwsError),
            format!(
                "{} of {} accounts could not be enforced (first: {}: {})",
                self.failed,
                self.checked,
                first.account_id,
                first.error.as_deref().unwrap_or("unknown error")
            ),
        ))
    }
}

async fn enforce_or_fail(deps: &Deps, account: &Account, run: &str) -> AccountReport {
    match enforce_account(deps, account, run).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(account = %account.account_id, error_type = e.error_type.as_str(), error = %e.message, "enforcement failed");
            // Best effort: the failure is also in the run's report and the logs.
            let _ = deps
                .audit
                .append(
                    &deps
                        .entry(&account.account_id, "root.enforcement-failed", run)
                        .target(account.account_id.as_str())
                        .outcome(Outcome::Failure)
                        .reason(&e.message)
                        .detail("error_type", e.error_type.as_str()),
                )
                .await;
            AccountReport {
                account_id: account.account_id.to_string(),
                verdict: Verdict::Failed,
                removed: Vec::new(),
                findings: Vec::new(),
                ticket_id: None,
                error: Some(e.message),
                error_type: Some(e.error_type),
            }
        }
    }
}

/// Enforces the given accounts (all registered ones when `only` is `None`), with bounded
/// concurrency. One account's failure does not stop the others.
pub async fn enforce(
    deps: &Deps,
    only: Option<&AccountId>,
    run: &str,
) -> Result<EnforcementReport, LambdaError> {
    let accounts = match only {
        Some(id) => vec![deps.registry.get(id).await?.ok_or_else(|| {
            LambdaError::new(
                ErrorType::NotFound,
                format!("account {id} is not registered"),
            )
        })?],
        None => deps.registry.list().await?,
    };
    let mut report = EnforcementReport {
        run: run.to_owned(),
        ..Default::default()
    };
    let results: Vec<AccountReport> = stream::iter(accounts.iter())
        .map(|a| enforce_or_fail(deps, a, run))
        .buffer_unordered(deps.concurrency.max(1))
        .collect()
        .await;
    for r in results {
        report.add(r);
    }
    report
        .accounts
        .sort_by(|a, b| a.account_id.cmp(&b.account_id));
    tracing::info!(
        run,
        checked = report.checked,
        remediated = report.remediated,
        drift = report.drift,
        failed = report.failed,
        "root-credential enforcement finished"
    );
    Ok(report)
}

/// What `account recover` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryReport {
    pub account_id: String,
    /// False when the root user already had a password (nothing created).
    pub created: bool,
    pub recovery_until: String,
}

/// Allows password recovery on an account: `AssumeRoot` with `IAMCreateRootUserPassword`, then
/// `CreateLoginProfile` (no password: the root user sets one through "Forgot password", whose
/// reset mail arrives through inbound mail and is vaulted). Opens a recovery window so the
/// enforcement job leaves a credential-less account's new password alone meanwhile. Audited
/// before (fail closed) and after.
pub async fn recover(
    deps: &Deps,
    account: &AccountId,
    reason: &str,
) -> Result<RecoveryReport, LambdaError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            "a reason is required to enable root password recovery",
        ));
    }
    let registered = deps.registry.get(account).await?.ok_or_else(|| {
        LambdaError::new(
            ErrorType::NotFound,
            format!("account {account} is not registered"),
        )
    })?;
    if registered.status != AccountStatus::Active {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            format!(
                "account {account} is {}: recovery is for active accounts",
                registered.status.as_str()
            ),
        ));
    }
    let now = deps.clock.now();
    let until = now + RECOVERY_WINDOW;
    let correlation = format!("recover-{account}-{}", now.format("%Y%m%dT%H%M%SZ"));
    deps.audit
        .append(
            &deps
                .entry(account, "root.password-recovery-requested", &correlation)
                .target(account.as_str())
                .reason(reason)
                .detail("recovery_until", stamp(until)),
        )
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    // The window first: enforcement must not delete the password the next call creates.
    deps.registry.open_recovery(account, until).await?;
    let iam = deps
        .root_iam(account, TaskPolicy::CreateRootUserPassword)
        .await?;
    let created = match iam.create_login_profile().send().await {
        Ok(_) => true,
        Err(e) if e.code() == Some("EntityAlreadyExists") => false,
        Err(e) => return Err(sdk_error("iam:CreateLoginProfile", &e)),
    };
    deps.audit
        .append(
            &deps
                .entry(account, "root.password-recovery-enabled", &correlation)
                .target(account.as_str())
                .reason(reason)
                .detail("login_profile_created", created)
                .detail("recovery_until", stamp(until)),
        )
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    Ok(RecoveryReport {
        account_id: account.to_string(),
        created,
        recovery_until: stamp(until),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posture() -> Posture {
        Posture {
            access_keys: vec![RootAccessKey {
                id: "AKIAEXAMPLE000000001".into(),
                status: "Active".into(),
                created: None,
            }],
            signing_certificates: vec![RootCertificate {
                id: "CERT1".into(),
                status: "Active".into(),
            }],
            mfa_devices: vec!["arn:aws:iam::111122223333:mfa/root".into()],
            login_profile: true,
        }
    }

    #[test]
    fn vaulted_accounts_lose_keys_and_certificates_only() {
        let p = plan(&posture(), AccountMode::Vaulted, false);
        assert_eq!(
            p,
            vec![
                Removal::AccessKey("AKIAEXAMPLE000000001".into()),
                Removal::SigningCertificate("CERT1".into())
            ]
        );
        assert!(findings(&posture(), AccountMode::Vaulted, false).is_empty());
    }

    #[test]
    fn credential_less_accounts_lose_everything_unless_recovering() {
        let p = plan(&posture(), AccountMode::CredentialLess, false);
        assert_eq!(p.len(), 4);
        assert!(p.contains(&Removal::LoginProfile));
        assert!(p.contains(&Removal::MfaDevice(
            "arn:aws:iam::111122223333:mfa/root".into()
        )));
        let p = plan(&posture(), AccountMode::CredentialLess, true);
        assert_eq!(p.len(), 2, "a recovery window keeps the password and MFA");
        assert_eq!(
            findings(&posture(), AccountMode::CredentialLess, true),
            vec!["recovery-window-open"]
        );
    }

    #[test]
    fn vaulted_drift_is_reported() {
        let bare = Posture::default();
        assert!(plan(&bare, AccountMode::Vaulted, false).is_empty());
        assert_eq!(
            findings(&bare, AccountMode::Vaulted, false),
            vec!["root-password-absent", "root-mfa-absent"]
        );
        assert!(findings(&bare, AccountMode::CredentialLess, false).is_empty());
    }

    #[test]
    fn task_policy_arns_are_the_aws_managed_ones() {
        assert_eq!(
            TaskPolicy::DeleteRootUserCredentials.arn(),
            "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"
        );
    }
}
