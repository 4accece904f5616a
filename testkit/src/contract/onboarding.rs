//! What every `OnboardingStore` promises.

use chrono::Utc;
use rootwarden_core::audit::{AuditEntry, Outcome, Stream};
use rootwarden_core::onboarding::{NewAccount, OnboardingStore};
use rootwarden_core::registry::{AccountMode, AccountRegistry};
use rootwarden_core::vault::{CredentialKind, Stage, Vault};
use secrecy::SecretString;

use super::posture::fresh_account_record;

/// `store` writes; `registry` and `vault` read what it wrote (as the account's later users do).
///
/// A new account is written whole: registered, version 1 `current` of each credential staged
/// by the onboarding's execution. Written again (the account exists), nothing is written and
/// the answer is `false`.
pub async fn onboarding_store_contract<S, R, V>(store: S, registry: R, vault: V)
where
    S: OnboardingStore,
    R: AccountRegistry,
    V: Vault,
{
    let mut account = fresh_account_record(Utc::now());
    account.mode = AccountMode::Vaulted;
    let a = account.account_id.clone();
    let execution = format!("onboard-{a}");
    let password = SecretString::from("Contract-Pa55word!".to_owned());
    let seed = SecretString::from("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".to_owned());
    let record = AuditEntry::new(Stream::Account(a.clone()), "contract", "account.onboarded")
        .target(a.to_string())
        .outcome(Outcome::Success)
        .reason("onboarding")
        .correlation_id(&execution);
    let new = NewAccount {
        account: &account,
        credentials: vec![
            (CredentialKind::RootPassword, &password),
            (CredentialKind::MfaSeed, &seed),
        ],
        execution: &execution,
        record: &record,
    };
    assert!(!format!("{new:?}").contains("Contract-Pa55word"));

    assert!(store.create(&new).await.unwrap(), "written");
    assert!(registry.is_registered(&a).await.unwrap());
    for kind in [CredentialKind::RootPassword, CredentialKind::MfaSeed] {
        let head = vault.head(&a, kind).await.unwrap().expect("vaulted");
        assert_eq!(head.current, Some(1));
        assert_eq!(head.current_execution.as_deref(), Some(execution.as_str()));
        let versions = vault.versions(&a, kind).await.unwrap();
        assert_eq!(versions.len(), 1);
        assert_eq!(versions[0].stage, Stage::Current);
    }

    // Again: the account exists; nothing changes.
    assert!(!store.create(&new).await.unwrap(), "refused");
    assert_eq!(
        vault
            .versions(&a, CredentialKind::RootPassword)
            .await
            .unwrap()
            .len(),
        1
    );

    // Another account is its own: written, with only the credentials it gives.
    let b = fresh_account_record(Utc::now());
    let b_record = AuditEntry::new(
        Stream::Account(b.account_id.clone()),
        "contract",
        "account.onboarded",
    );
    let b_execution = format!("onboard-{}", b.account_id);
    let b_new = NewAccount {
        account: &b,
        credentials: vec![(CredentialKind::RootPassword, &password)],
        execution: &b_execution,
        record: &b_record,
    };
    assert!(
        store.create(&b_new).await.unwrap(),
        "a second account is its own"
    );
    assert!(registry.is_registered(&b.account_id).await.unwrap());
    assert!(vault
        .head(&b.account_id, CredentialKind::MfaSeed)
        .await
        .unwrap()
        .is_none());
}
