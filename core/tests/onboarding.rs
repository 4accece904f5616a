//! Onboarding over the in-memory twins: the account, its initial vault versions and the audit
//! record are written together or not at all; a second onboarding is refused and changes nothing.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rootwarden_core::audit::{verify, AuditLog};
use rootwarden_core::clock::FixedClock;
use rootwarden_core::onboarding::{onboard, OnboardRequest, OnboardSecrets};
use rootwarden_core::registry::{AccountMode, AccountStatus, RotationReason};
use rootwarden_core::vault::{CredentialKind, Stage, Vault};
use rootwarden_core::{AccountId, ErrorType, RootEmail};
use rootwarden_testkit::MemoryOnboardingPorts;
use secrecy::SecretString;

const PASSWORD: &str = "Corr3ct-Horse-Battery!";
const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
        .unwrap()
        .to_utc()
}

fn id(n: u64) -> AccountId {
    AccountId::parse(&format!("{:012}", 710_000_000_000 + n)).unwrap()
}

fn req(n: u64, mode: AccountMode) -> OnboardRequest {
    OnboardRequest {
        account_id: id(n),
        root_email: RootEmail::parse(&format!("aws-root+{}@provider.example", id(n))).unwrap(),
        name: Some(format!("Customer {n}")),
        mode,
        max_age_days: 90,
        contacts: vec!["ops@provider.example".into()],
    }
}

fn secrets(password: Option<&str>, seed: Option<&str>) -> OnboardSecrets {
    OnboardSecrets {
        password: password.map(|p| SecretString::from(p.to_owned())),
        mfa_seed: seed.map(|s| SecretString::from(s.to_owned())),
    }
}

fn ports() -> MemoryOnboardingPorts {
    MemoryOnboardingPorts::new(Arc::new(FixedClock(now())))
}

fn stream(n: u64) -> String {
    format!("account/{}", id(n))
}

#[tokio::test]
async fn a_vaulted_account_is_registered_with_its_credentials_vaulted_and_audited() {
    let p = ports();
    let done = onboard(
        &p,
        req(1, AccountMode::Vaulted),
        secrets(Some(PASSWORD), Some(SEED)),
    )
    .await
    .unwrap();
    assert_eq!(
        done.vaulted,
        vec![CredentialKind::RootPassword, CredentialKind::MfaSeed]
    );
    let stored = p.store.registry.get(&id(1)).unwrap();
    assert_eq!(stored, done.account);
    assert_eq!(stored.status, AccountStatus::Active);
    assert_eq!(stored.onboarded_at, now());
    assert_eq!(stored.rotation_due, Some(now() + Duration::days(90)));
    assert_eq!(stored.rotation_reason, Some(RotationReason::MaxAge));
    for kind in [CredentialKind::RootPassword, CredentialKind::MfaSeed] {
        let head = p.store.vault.head(&id(1), kind).await.unwrap().unwrap();
        assert_eq!(head.current, Some(1));
        let versions = p.store.vault.versions(&id(1), kind).await.unwrap();
        assert_eq!(versions.len(), 1);
        assert_eq!(versions[0].stage, Stage::Current);
        assert_eq!(
            versions[0].execution.as_deref(),
            Some(format!("onboard-{}", id(1)).as_str())
        );
    }
    let records = p.store.audit.records(&stream(1));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].action, "account.onboarded");
    assert_eq!(records[0].actor, p.actor);
    assert_eq!(records[0].correlation_id, format!("onboard-{}", id(1)));
    assert!(!format!("{records:?}").contains(PASSWORD));
    assert!(verify(&p.store.audit, None).await.unwrap().is_ok());
}

#[tokio::test]
async fn a_credential_less_account_vaults_nothing_and_has_no_schedule() {
    let p = ports();
    let done = onboard(&p, req(2, AccountMode::CredentialLess), secrets(None, None))
        .await
        .unwrap();
    assert!(done.vaulted.is_empty());
    let stored = p.store.registry.get(&id(2)).unwrap();
    assert_eq!((stored.rotation_due, stored.rotation_reason), (None, None));
    assert!(p
        .store
        .vault
        .head(&id(2), CredentialKind::RootPassword)
        .await
        .unwrap()
        .is_none());
    assert_eq!(p.store.audit.records(&stream(2)).len(), 1);
}

#[tokio::test]
async fn onboarding_twice_is_refused_and_changes_nothing() {
    let p = ports();
    onboard(
        &p,
        req(3, AccountMode::Vaulted),
        secrets(Some(PASSWORD), None),
    )
    .await
    .unwrap();
    let before = p.store.registry.get(&id(3)).unwrap();
    let err = onboard(
        &p,
        req(3, AccountMode::Vaulted),
        secrets(Some("Another-Pa55word!!"), None),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type, ErrorType::Conflict);
    assert_eq!(
        err.message,
        format!("account {} is already onboarded", id(3))
    );
    assert!(!err.message.contains("Another"));
    assert_eq!(p.store.registry.get(&id(3)).unwrap(), before);
    assert_eq!(
        p.store
            .vault
            .versions(&id(3), CredentialKind::RootPassword)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(p.store.audit.records(&stream(3)).len(), 1);
}

#[tokio::test]
async fn vaulted_credentials_without_a_registry_item_are_a_conflict_too() {
    // A leftover vault item (say, an account removed from the registry by hand): the
    // transaction's vault condition refuses it, nothing is written.
    let p = ports();
    p.store
        .vault
        .seed(
            &id(4),
            CredentialKind::MfaSeed,
            &SecretString::from(SEED.to_owned()),
            "earlier",
        )
        .await
        .unwrap();
    let err = onboard(
        &p,
        req(4, AccountMode::Vaulted),
        secrets(Some(PASSWORD), Some(SEED)),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type, ErrorType::Conflict);
    assert_eq!(
        err.message,
        format!(
            "account {} is already onboarded or has vaulted credentials",
            id(4)
        )
    );
    assert!(p.store.registry.get(&id(4)).is_none());
    assert!(p
        .store
        .vault
        .head(&id(4), CredentialKind::RootPassword)
        .await
        .unwrap()
        .is_none());
    assert!(p.store.audit.records(&stream(4)).is_empty());
}

async fn nothing_behind(p: &MemoryOnboardingPorts, n: u64) {
    assert!(p.store.registry.get(&id(n)).is_none());
    for kind in [CredentialKind::RootPassword, CredentialKind::MfaSeed] {
        assert!(p.store.vault.head(&id(n), kind).await.unwrap().is_none());
    }
    assert!(p.store.audit.records(&stream(n)).is_empty());
    assert!(verify(&p.store.audit, None).await.unwrap().is_ok());
}

#[tokio::test]
async fn a_failing_transaction_leaves_nothing_behind_and_a_retry_succeeds() {
    let p = ports();
    let full = || secrets(Some(PASSWORD), Some(SEED));

    // The store is unavailable.
    p.store.fail(true);
    let err = onboard(&p, req(5, AccountMode::Vaulted), full())
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::TransientAwsError);
    nothing_behind(&p, 5).await;
    p.store.fail(false);

    // The audit record cannot be written.
    p.store.audit.fail_writes(true);
    let err = onboard(&p, req(5, AccountMode::Vaulted), full())
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::AuditWriteFailed);
    p.store.audit.fail_writes(false);
    nothing_behind(&p, 5).await;

    // The vault key refuses to encrypt.
    p.store.vault.refuse_key(true);
    let err = onboard(&p, req(5, AccountMode::Vaulted), full())
        .await
        .unwrap_err();
    assert!(!err.message.contains(PASSWORD));
    p.store.vault.refuse_key(false);
    nothing_behind(&p, 5).await;

    // The registry cannot be read: refused before anything is written.
    p.store.registry.fail(true);
    let err = onboard(&p, req(5, AccountMode::Vaulted), full())
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::TransientAwsError);
    p.store.registry.fail(false);
    nothing_behind(&p, 5).await;

    // Once everything is back, onboarding succeeds whole.
    onboard(&p, req(5, AccountMode::Vaulted), full())
        .await
        .unwrap();
    assert!(p.store.registry.get(&id(5)).is_some());
    assert_eq!(p.store.audit.records(&stream(5)).len(), 1);
    assert_eq!(
        AuditLog::streams(&p.store.audit).await.unwrap(),
        vec![stream(5)]
    );
}

#[tokio::test]
async fn invalid_requests_write_nothing() {
    let p = ports();
    let err = onboard(&p, req(6, AccountMode::Vaulted), secrets(None, None))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::ValidationError);
    let err = onboard(
        &p,
        req(6, AccountMode::CredentialLess),
        secrets(Some(PASSWORD), None),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type, ErrorType::ValidationError);
    nothing_behind(&p, 6).await;
}

#[tokio::test]
async fn concurrent_onboardings_of_one_account_write_it_once() {
    let p = ports();
    let (a, b) = tokio::join!(
        onboard(
            &p,
            req(7, AccountMode::Vaulted),
            secrets(Some(PASSWORD), None)
        ),
        onboard(
            &p,
            req(7, AccountMode::Vaulted),
            secrets(Some(PASSWORD), None)
        ),
    );
    assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1);
    let err = a.err().or(b.err()).unwrap();
    assert_eq!(err.error_type, ErrorType::Conflict);
    assert_eq!(p.store.audit.records(&stream(7)).len(), 1);
}
