//! `account mfa-seed` against the emulator, as the operator alice (IAM enforced): the seed of a
//! vaulted account being taken over is vaulted current with its audit record in one
//! transaction (KMS context `mfa-seed`), the takeover's `mfa` wait is completed, a second seed
//! needs `--replace`, and an account that is not being taken over gets nothing.

use chrono::{Duration, Utc};
use rootwarden::mail::Category;
use rootwarden::registry::{Account, AccountMode, AccountStatus};
use rootwarden::vault::mfa_seed::vault_mfa_seed;
use rootwarden::vault::{CredentialKind, MfaSeedDeps, Stage, Vault};
use rootwarden::workflows::{Wait, WorkflowWaits};
use rootwarden::ErrorType;
use rootwarden_tests::custody;
use rootwarden_tests::Emulator;
use secrecy::{ExposeSecret, SecretString};

const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const OTHER_SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn taking_over(account: &rootwarden::AccountId, status: AccountStatus) -> Account {
    Account {
        account_id: account.clone(),
        root_email: custody::root_email(account),
        name: None,
        status,
        mode: AccountMode::Vaulted,
        max_age_days: 90,
        contacts: vec![],
        onboarded_at: Utc::now(),
        last_rotated_at: None,
        rotation_due: None,
        rotation_reason: None,
        rotation_execution: None,
        posture: None,
        posture_checked_at: None,
        recovery_until: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_vaults_an_mfa_seed_and_completes_the_takeovers_wait() {
    let emu = Emulator::with_stack().await.unwrap();
    let inspect = custody::inspector_deps(&emu).await;
    let ops = custody::operator_deps(&emu, ALICE).await;
    let ops = MfaSeedDeps::new(ops.registry, ops.vault, ops.waits, ops.clock, ops.actor);
    let a = custody::account(7, 1);
    let put = inspect
        .registry
        .put_new(&taking_over(&a, AccountStatus::TakingOver))
        .unwrap();
    inspect
        .registry
        .client()
        .put_item()
        .table_name(put.table_name())
        .set_item(Some(put.item().clone()))
        .send()
        .await
        .unwrap();
    let now = Utc::now();
    let wait = Wait {
        account: a.clone(),
        kind: Category::Mfa,
        execution: format!("takeover-{a}-1"),
        // Not a live task: completing it only removes the record.
        task_token: "no-such-task".into(),
        expires_at: now + Duration::hours(1),
        registered_at: now - Duration::minutes(1),
        claimed_by: None,
    };
    inspect.waits.register(&wait).await.unwrap();

    let out = vault_mfa_seed(&ops, &a, SecretString::from(SEED), false)
        .await
        .unwrap();
    assert_eq!((out.version, out.written), (1, true));
    assert_eq!(out.completed_waits, std::slice::from_ref(&wait.execution));
    let (info, secret) = inspect
        .vault
        .reveal(&a, CredentialKind::MfaSeed, None)
        .await
        .unwrap();
    assert_eq!((info.version, info.stage), (1, Stage::Current));
    assert_eq!(secret.expose_secret(), SEED);
    assert!(inspect
        .waits
        .waiting(&a, Category::Mfa, Utc::now())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        custody::audit_actions(&emu, &a).await,
        vec!["account.mfa-seed-vaulted"]
    );

    // A second seed needs --replace; then the first is previous.
    let e = vault_mfa_seed(&ops, &a, SecretString::from(OTHER_SEED), false)
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::Conflict, "{e}");
    let out = vault_mfa_seed(&ops, &a, SecretString::from(OTHER_SEED), true)
        .await
        .unwrap();
    assert_eq!((out.version, out.replaced), (2, Some(1)));
    let versions = inspect
        .vault
        .versions(&a, CredentialKind::MfaSeed)
        .await
        .unwrap();
    assert_eq!(
        versions.iter().map(|v| v.stage).collect::<Vec<_>>(),
        [Stage::Previous, Stage::Current]
    );

    // An active account gets nothing, and nothing is audited.
    let b = custody::account(7, 2);
    let put = inspect
        .registry
        .put_new(&taking_over(&b, AccountStatus::Active))
        .unwrap();
    inspect
        .registry
        .client()
        .put_item()
        .table_name(put.table_name())
        .set_item(Some(put.item().clone()))
        .send()
        .await
        .unwrap();
    let e = vault_mfa_seed(&ops, &b, SecretString::from(SEED), false)
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::ValidationError, "{e}");
    assert_eq!(
        inspect
            .vault
            .head(&b, CredentialKind::MfaSeed)
            .await
            .unwrap(),
        None
    );
}
