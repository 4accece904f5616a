//! Onboarding: register a managed account and vault its current root credentials.
//!
//! One write ([`OnboardingStore::create`]; a `TransactWriteItems` in DynamoDB) holds the
//! registry item, version 1 (`current`) of the root password and of the MFA seed, and the audit
//! record: an account is registered with its credentials vaulted and audited, or not at all. A
//! second onboarding of the same account is a `Conflict` and changes nothing.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::audit::{AuditEntry, Outcome, Stream};
use crate::registry::{
    first_due, Account, AccountMode, AccountRegistry, AccountStatus, RotationReason,
};
use crate::vault::totp::TotpSeed;
use crate::vault::CredentialKind;
use crate::{AccountId, ErrorType, LambdaError, RootEmail};

mod ports;

pub use ports::{NewAccount, OnboardingPorts, OnboardingStore};

/// Maximum root-password age bounds, in days.
pub const MAX_AGE_DAYS: std::ops::RangeInclusive<u32> = 1..=365;

#[derive(Debug, Clone)]
pub struct OnboardRequest {
    pub account_id: AccountId,
    pub root_email: RootEmail,
    pub name: Option<String>,
    pub mode: AccountMode,
    pub max_age_days: u32,
    pub contacts: Vec<String>,
}

/// The current root credentials, as the operator typed them (never from argv or environment).
pub struct OnboardSecrets {
    pub password: Option<SecretString>,
    pub mfa_seed: Option<SecretString>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Onboarded {
    pub account: Account,
    pub vaulted: Vec<CredentialKind>,
}

fn invalid(msg: impl Into<String>) -> LambdaError {
    LambdaError::new(ErrorType::ValidationError, msg)
}

/// Checks what the operator gave, without ever echoing a secret.
pub fn validate(req: &OnboardRequest, secrets: &OnboardSecrets) -> Result<(), LambdaError> {
    if !MAX_AGE_DAYS.contains(&req.max_age_days) {
        return Err(invalid("max age must be from 1 to 365 days"));
    }
    if let Some(n) = &req.name {
        if n.trim().is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control) {
            return Err(invalid("name must be 1-200 printable characters"));
        }
    }
    for c in &req.contacts {
        RootEmail::parse(c)
            .map_err(|_| invalid(format!("contact {c:?} is not an e-mail address")))?;
    }
    match req.mode {
        AccountMode::CredentialLess => {
            if secrets.password.is_some() || secrets.mfa_seed.is_some() {
                return Err(invalid(
                    "a credential-less account vaults nothing: give no password or MFA seed",
                ));
            }
        }
        AccountMode::Vaulted => {
            let Some(p) = &secrets.password else {
                return Err(invalid(
                    "a vaulted account needs its current root password on stdin",
                ));
            };
            let p = p.expose_secret();
            // AWS root passwords are 8-128 characters.
            if !(8..=128).contains(&p.chars().count()) {
                return Err(invalid("the root password must be 8 to 128 characters"));
            }
            if p.chars().any(char::is_control) {
                return Err(invalid(
                    "the root password must not contain control characters",
                ));
            }
            if let Some(seed) = &secrets.mfa_seed {
                TotpSeed::parse(seed).map_err(|e| invalid(format!("MFA seed: {e}")))?;
            }
        }
    }
    Ok(())
}

pub async fn onboard<P: OnboardingPorts>(
    ports: &P,
    req: OnboardRequest,
    secrets: OnboardSecrets,
) -> Result<Onboarded, LambdaError> {
    validate(&req, &secrets)?;
    let now: DateTime<Utc> = ports.clock().now();
    let correlation = format!("onboard-{}", req.account_id);
    let account = Account {
        account_id: req.account_id.clone(),
        root_email: req.root_email.clone(),
        name: req.name.clone(),
        status: AccountStatus::Active,
        mode: req.mode,
        max_age_days: req.max_age_days,
        contacts: req.contacts.clone(),
        onboarded_at: now,
        last_rotated_at: None,
        rotation_due: (req.mode == AccountMode::Vaulted).then(|| first_due(now, req.max_age_days)),
        rotation_reason: (req.mode == AccountMode::Vaulted).then_some(RotationReason::MaxAge),
        rotation_execution: None,
        posture: None,
        posture_checked_at: None,
        recovery_until: None,
    };
    if ports.registry().is_registered(&req.account_id).await? {
        return Err(LambdaError::new(
            ErrorType::Conflict,
            format!("account {} is already onboarded", req.account_id),
        ));
    }
    let credentials: Vec<(CredentialKind, &SecretString)> = [
        (CredentialKind::RootPassword, &secrets.password),
        (CredentialKind::MfaSeed, &secrets.mfa_seed),
    ]
    .into_iter()
    .filter_map(|(kind, secret)| secret.as_ref().map(|s| (kind, s)))
    .collect();
    let vaulted: Vec<CredentialKind> = credentials.iter().map(|(k, _)| *k).collect();
    let record = AuditEntry::new(
        Stream::Account(req.account_id.clone()),
        ports.actor(),
        "account.onboarded",
    )
    .target(req.account_id.to_string())
    .outcome(Outcome::Success)
    .reason("onboarding")
    .correlation_id(&correlation)
    .detail("mode", req.mode.as_str())
    .detail("max_age_days", req.max_age_days)
    .detail(
        "vaulted",
        vaulted.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
    );
    let created = ports
        .store()
        .create(&NewAccount {
            account: &account,
            credentials,
            execution: &correlation,
            record: &record,
        })
        .await?;
    drop(secrets);
    if !created {
        return Err(LambdaError::new(
            ErrorType::Conflict,
            format!(
                "account {} is already onboarded or has vaulted credentials",
                req.account_id
            ),
        ));
    }
    tracing::info!(account = %req.account_id, mode = req.mode.as_str(), "account onboarded");
    Ok(Onboarded { account, vaulted })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(mode: AccountMode) -> OnboardRequest {
        OnboardRequest {
            account_id: AccountId::parse("111122223333").unwrap(),
            root_email: RootEmail::parse("aws+111122223333@example.com").unwrap(),
            name: Some("Acme".into()),
            mode,
            max_age_days: 90,
            contacts: vec!["ops@example.com".into()],
        }
    }

    fn secrets(p: Option<&str>, seed: Option<&str>) -> OnboardSecrets {
        OnboardSecrets {
            password: p.map(|p| SecretString::from(p.to_owned())),
            mfa_seed: seed.map(|s| SecretString::from(s.to_owned())),
        }
    }

    #[test]
    fn validation_names_the_problem_without_echoing_secrets() {
        let r = req(AccountMode::Vaulted);
        assert!(validate(&r, &secrets(Some("Corr3ct-Horse-Battery!"), None)).is_ok());
        assert!(validate(
            &r,
            &secrets(
                Some("Corr3ct-Horse-Battery!"),
                Some("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
            )
        )
        .is_ok());
        let e = validate(&r, &secrets(None, None)).unwrap_err();
        assert!(e.message.contains("stdin"));
        let e = validate(&r, &secrets(Some("short"), None)).unwrap_err();
        assert!(!e.message.contains("short"));
        let e = validate(
            &r,
            &secrets(Some("Corr3ct-Horse-Battery!"), Some("not base32 !!")),
        )
        .unwrap_err();
        assert!(e.message.starts_with("MFA seed") && !e.message.contains("base32 !!"));
        let e = validate(
            &req(AccountMode::CredentialLess),
            &secrets(Some("Corr3ct-Horse-Battery!"), None),
        )
        .unwrap_err();
        assert_eq!(e.error_type, ErrorType::ValidationError);
        let mut bad = req(AccountMode::Vaulted);
        bad.max_age_days = 0;
        assert!(validate(&bad, &secrets(Some("Corr3ct-Horse-Battery!"), None)).is_err());
        bad.max_age_days = 90;
        bad.contacts = vec!["not-an-address".into()];
        assert!(validate(&bad, &secrets(Some("Corr3ct-Horse-Battery!"), None)).is_err());
    }
}
