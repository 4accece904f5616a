//! What every `AccountRegistry` promises (as inbound mail reads it).

use std::future::Future;

use rootwarden_core::registry::AccountRegistry;
use rootwarden_core::{AccountId, RootEmail};

use super::fixtures::{fresh_account, root_email};

/// `register(account, root email, contacts)` registers an account (as onboarding does) and
/// returns a handle onto the registry.
///
/// An account is found by its root e-mail, with its contacts; only registered accounts exist.
pub async fn account_registry_contract<R, F, Fut>(register: F)
where
    R: AccountRegistry,
    F: Fn(AccountId, RootEmail, Vec<String>) -> Fut,
    Fut: Future<Output = R>,
{
    let a = fresh_account();
    let email = root_email(&a);
    let contacts = vec![
        "ops@provider.example".to_owned(),
        "sec@provider.example".to_owned(),
    ];
    let registry = register(a.clone(), email.clone(), contacts.clone()).await;

    let found = registry
        .by_root_email(&email)
        .await
        .unwrap()
        .expect("registered by its root email");
    assert_eq!(found.account_id, a);
    assert_eq!(found.root_email, email);
    assert_eq!(found.contacts, contacts);
    assert!(registry.is_registered(&a).await.unwrap());

    let stranger = fresh_account();
    assert_eq!(
        registry
            .by_root_email(&root_email(&stranger))
            .await
            .unwrap(),
        None
    );
    assert!(!registry.is_registered(&stranger).await.unwrap());
}
