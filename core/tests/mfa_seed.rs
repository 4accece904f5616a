//! `account mfa-seed` on the in-memory twins: the seed validated, vaulted as the current MFA
//! seed of a vaulted account being taken over with its audit record, the takeover's `mfa` wait
//! completed; refused for other accounts, over a current seed without `replace`, and for a
//! malformed seed (never echoed); a retry converges.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rootwarden_core::audit::Stream;
use rootwarden_core::mail::Category;
use rootwarden_core::registry::{Account, AccountMode, AccountStatus};
use rootwarden_core::vault::mfa_seed::{vault_mfa_seed, VAULTED_ACTION};
use rootwarden_core::vault::{CredentialKind, Stage, Vault};
use rootwarden_core::workflows::{Wait, WorkflowWaits};
use rootwarden_core::{AccountId, Clock, ErrorType, RootEmail};
use rootwarden_testkit::{FixedClock, MemoryMfaSeedPorts};
use secrecy::{ExposeSecret, SecretString};

const ALICE: &str = "arn:aws:sts::123456789012:assumed-role/rootwarden-operator/alice";
const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const OTHER_SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const EXEC: &str = "takeover-210987654321-1";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn account() -> AccountId {
    AccountId::parse("210987654321").unwrap()
}

fn registered(status: AccountStatus, mode: AccountMode) -> Account {
    Account {
        account_id: account(),
        root_email: RootEmail::parse("aws-210987654321-abcdefgh@root.example.com").unwrap(),
        name: None,
        status,
        mode,
        max_age_days: 90,
        contacts: vec![],
        onboarded_at: t0(),
        last_rotated_at: None,
        rotation_due: None,
        rotation_reason: None,
        rotation_execution: None,
        posture: None,
        posture_checked_at: None,
        recovery_until: None,
    }
}

fn ports(status: AccountStatus) -> MemoryMfaSeedPorts {
    let clock: Arc<dyn Clock> = Arc::new(FixedClock(t0()));
    let p = MemoryMfaSeedPorts::new(clock, ALICE);
    p.store.put(registered(status, AccountMode::Vaulted));
    p
}

async fn with_wait(p: &MemoryMfaSeedPorts) -> Wait {
    let w = Wait {
        account: account(),
        kind: Category::Mfa,
        execution: EXEC.into(),
        task_token: "mfa-token".into(),
        expires_at: t0() + Duration::hours(24),
        registered_at: t0() - Duration::minutes(10),
        claimed_by: None,
    };
    p.waits.register(&w).await.unwrap();
    w
}

fn seed(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn actions(p: &MemoryMfaSeedPorts) -> Vec<String> {
    p.vault
        .audit()
        .records(&Stream::Account(account()).key())
        .into_iter()
        .map(|r| r.action)
        .collect()
}

#[tokio::test]
async fn the_seed_is_vaulted_current_audited_and_completes_the_takeovers_mfa_wait() {
    let p = ports(AccountStatus::TakingOver);
    with_wait(&p).await;
    // A seed as the console shows it: lower case, spaces.
    let typed = "gezd gnbv gy3t qojq gezd gnbv gy3t qojq";
    let out = vault_mfa_seed(&p, &account(), seed(typed), false)
        .await
        .unwrap();
    assert_eq!((out.version, out.replaced, out.written), (1, None, true));
    assert_eq!(out.completed_waits, [EXEC]);
    let head = p
        .vault
        .head(&account(), CredentialKind::MfaSeed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (head.current, head.current_execution.as_deref()),
        (Some(1), Some(EXEC))
    );
    let (info, _) = p
        .vault
        .reveal(&account(), CredentialKind::MfaSeed, None)
        .await
        .unwrap();
    assert_eq!(info.stage, Stage::Current);
    assert_eq!(actions(&p), [VAULTED_ACTION]);
    let completed = p.waits.completed();
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].output["mfa_seed_version"], 1);
    // Nothing it returns or audits holds the seed.
    let shown = format!(
        "{out:?} {:?}",
        p.vault.audit().records(&Stream::Account(account()).key())
    );
    assert!(!shown.contains("GEZD") && !shown.to_lowercase().contains("gezd"));
}

#[tokio::test]
async fn a_retry_after_the_write_only_completes_the_wait() {
    let p = ports(AccountStatus::TakingOver);
    with_wait(&p).await;
    // The first run wrote, then Step Functions was unreachable.
    p.waits.fail_completions(true);
    let e = vault_mfa_seed(&p, &account(), seed(SEED), false)
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::TransientAwsError);
    p.waits.fail_completions(false);
    let out = vault_mfa_seed(&p, &account(), seed(SEED), false)
        .await
        .unwrap();
    assert_eq!((out.version, out.written), (1, false));
    assert_eq!(out.completed_waits, [EXEC]);
    assert_eq!(actions(&p), [VAULTED_ACTION], "written once");
}

#[tokio::test]
async fn a_current_seed_is_replaced_only_when_asked() {
    let p = ports(AccountStatus::TakingOver);
    vault_mfa_seed(&p, &account(), seed(SEED), false)
        .await
        .unwrap();
    let e = vault_mfa_seed(&p, &account(), seed(OTHER_SEED), false)
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::Conflict);
    assert!(e.message.contains("--replace"), "{e}");
    let out = vault_mfa_seed(&p, &account(), seed(OTHER_SEED), true)
        .await
        .unwrap();
    assert_eq!((out.version, out.replaced), (2, Some(1)));
    assert!(out.completed_waits.is_empty(), "no wait was registered");
    let (info, secret) = p
        .vault
        .reveal(&account(), CredentialKind::MfaSeed, None)
        .await
        .unwrap();
    assert_eq!(info.version, 2);
    assert_eq!(
        secret.expose_secret().replace(' ', "").to_uppercase(),
        OTHER_SEED
    );
    let versions = p
        .vault
        .versions(&account(), CredentialKind::MfaSeed)
        .await
        .unwrap();
    assert_eq!(versions[0].stage, Stage::Previous);
}

#[tokio::test]
async fn only_a_vaulted_account_being_taken_over_and_a_valid_seed_are_accepted() {
    for status in [AccountStatus::Active, AccountStatus::Released] {
        let p = ports(status);
        with_wait(&p).await;
        let e = vault_mfa_seed(&p, &account(), seed(SEED), false)
            .await
            .unwrap_err();
        assert_eq!(e.error_type, ErrorType::ValidationError, "{e}");
        assert!(p.waits.completed().is_empty());
    }
    let p = ports(AccountStatus::TakingOver);
    p.store.put(registered(
        AccountStatus::TakingOver,
        AccountMode::CredentialLess,
    ));
    assert!(vault_mfa_seed(&p, &account(), seed(SEED), false)
        .await
        .is_err());
    let p = ports(AccountStatus::TakingOver);
    let bad = "NOT-A-SEED-!!";
    let e = vault_mfa_seed(&p, &account(), seed(bad), false)
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::ValidationError);
    assert!(
        e.message.starts_with("MFA seed") && !e.message.contains(bad),
        "{e}"
    );
    let unknown = MemoryMfaSeedPorts::new(Arc::new(FixedClock(t0())), ALICE);
    let e = vault_mfa_seed(&unknown, &account(), seed(SEED), false)
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::NotFound);
}

#[tokio::test]
async fn an_account_that_left_taking_over_meanwhile_gets_nothing_written() {
    // The status changed between the read and the write: the store's condition refuses.
    let p = ports(AccountStatus::TakingOver);
    let store = p.store.clone();
    let racing = MemoryMfaSeedPorts {
        store: store.clone(),
        ..p.clone()
    };
    store.put(registered(AccountStatus::TakingOver, AccountMode::Vaulted));
    // Simulate: the use case read `taking-over`, then it became active before the write.
    use rootwarden_core::vault::mfa_seed::MfaSeedStore;
    use rootwarden_core::vault::{Head, Subject};
    store.put(registered(AccountStatus::Active, AccountMode::Vaulted));
    let a = account();
    let plan = Head::replace_current(
        None,
        &Subject {
            account: &a,
            kind: CredentialKind::MfaSeed,
        },
        "x",
        "2026-03-01T12:00:00Z",
    )
    .unwrap();
    let record =
        rootwarden_core::audit::AuditEntry::new(Stream::Account(a.clone()), ALICE, VAULTED_ACTION);
    assert!(!racing
        .store
        .write(&a, None, &plan, &seed(SEED), &record)
        .await
        .unwrap());
    assert_eq!(
        p.vault.head(&a, CredentialKind::MfaSeed).await.unwrap(),
        None
    );
    assert!(actions(&p).is_empty());
}
