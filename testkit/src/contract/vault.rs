//! What every `Vault` promises.

use std::future::Future;

use rootwarden_core::vault::{Actor, CredentialKind, Stage, Vault, VaultError};
use rootwarden_core::AccountId;
use secrecy::{ExposeSecret, SecretString};

use super::fixtures::{fresh, fresh_account};

const KIND: CredentialKind = CredentialKind::RootPassword;

/// Two handles onto one vault: `writer` reads heads, stages, promotes and discards (the
/// rotation function's role), `reader` lists versions and reveals (the access function's key
/// grant, the only one that may decrypt).
pub struct VaultHandles<V> {
    pub writer: V,
    pub reader: V,
}

fn actor() -> Actor {
    Actor {
        actor: "arn:aws:sts::123456789012:assumed-role/rotation/contract".into(),
        correlation_id: fresh("corr"),
        reason: "vault contract".into(),
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

async fn stage<V: Vault>(
    v: &V,
    a: &AccountId,
    e: &str,
    s: &str,
) -> Result<(u32, bool), VaultError> {
    v.stage_pending(a, KIND, e, &secret(s), &actor()).await
}

async fn revealed<V: Vault>(v: &V, a: &AccountId, version: Option<u32>) -> (u32, Stage, String) {
    let (info, s) = v.reveal(a, KIND, version).await.unwrap();
    (info.version, info.stage, s.expose_secret().to_owned())
}

/// What `reveal_current` shows of the root password and the MFA seed (none vaulted here), and of
/// the password asked twice.
async fn current<V: Vault>(v: &V, a: &AccountId) -> Vec<Option<(u32, Stage, String)>> {
    v.reveal_current(a, &[KIND, CredentialKind::MfaSeed, KIND])
        .await
        .unwrap()
        .into_iter()
        .map(|found| found.map(|(i, s)| (i.version, i.stage, s.expose_secret().to_owned())))
        .collect()
}

async fn stages<V: Vault>(v: &V, a: &AccountId) -> Vec<(u32, Stage)> {
    v.versions(a, KIND)
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.version, i.stage))
        .collect()
}

/// `seed(account, secret)` vaults `secret` as the root password of a new account (version 1,
/// current, as onboarding does) and returns handles onto that vault.
///
/// The stage machine: staging where nothing is vaulted makes version 1 pending with no
/// current (a takeover's first password); staging is idempotent per execution and refuses another execution's
/// pending version; promotion moves pending → current → previous → retired, is idempotent,
/// and refuses another execution's version; discarding keeps the ciphertext and is idempotent;
/// versions are never deleted.
pub async fn vault_contract<V, F, Fut>(seed: F)
where
    V: Vault,
    F: Fn(AccountId, SecretString) -> Fut,
    Fut: Future<Output = VaultHandles<V>>,
{
    let a = fresh_account();
    let VaultHandles {
        writer: w,
        reader: r,
    } = seed(a.clone(), secret("Initial-Pa55word!")).await;

    // As onboarded.
    let head = w.head(&a, KIND).await.unwrap().expect("seeded head");
    assert_eq!((head.current, head.next_version), (Some(1), 2));
    assert_eq!((head.pending, head.previous), (None, None));
    assert_eq!(stages(&r, &a).await, vec![(1, Stage::Current)]);
    assert_eq!(
        revealed(&r, &a, None).await,
        (1, Stage::Current, "Initial-Pa55word!".into())
    );
    let initial = Some((1, Stage::Current, "Initial-Pa55word!".to_owned()));
    assert_eq!(current(&r, &a).await, vec![initial.clone(), None, initial]);
    let stranger = fresh_account();
    assert_eq!(current(&r, &stranger).await, vec![None, None, None]);
    assert_eq!(w.head(&stranger, KIND).await.unwrap(), None);
    assert!(r.versions(&stranger, KIND).await.unwrap().is_empty());
    // Where nothing is vaulted (a takeover's first password): version 1, pending, no current
    // (reveal of the current one is NotFound) until it is promoted; idempotent per execution.
    let t1 = fresh("takeover");
    assert!(matches!(
        stage(&w, &stranger, "", "x").await,
        Err(VaultError::Invalid(_))
    ));
    assert_eq!(w.head(&stranger, KIND).await.unwrap(), None);
    assert_eq!(
        stage(&w, &stranger, &t1, "First-Pa55word!!").await.unwrap(),
        (1, true)
    );
    assert_eq!(
        stage(&w, &stranger, &t1, "Other-Pa55word!!").await.unwrap(),
        (1, false)
    );
    let head = w
        .head(&stranger, KIND)
        .await
        .unwrap()
        .expect("a first head");
    assert_eq!(
        (head.current, head.pending, head.previous, head.next_version),
        (None, Some(1), None, 2)
    );
    assert!(matches!(
        r.reveal(&stranger, KIND, None).await,
        Err(VaultError::NotFound(_))
    ));
    assert_eq!(current(&r, &stranger).await, vec![None, None, None]);
    assert!(matches!(
        stage(&w, &stranger, &fresh("takeover"), "x").await,
        Err(VaultError::Conflict(_))
    ));
    assert_eq!(w.promote(&stranger, KIND, &t1, &actor()).await.unwrap(), 1);
    assert_eq!(w.promote(&stranger, KIND, &t1, &actor()).await.unwrap(), 1);
    let head = w.head(&stranger, KIND).await.unwrap().unwrap();
    assert_eq!(
        (head.current, head.previous, head.pending),
        (Some(1), None, None)
    );
    assert_eq!(stages(&r, &stranger).await, vec![(1, Stage::Current)]);
    assert_eq!(
        revealed(&r, &stranger, None).await,
        (1, Stage::Current, "First-Pa55word!!".into())
    );
    // A discarded first pending leaves no current; the next one takes a fresh number.
    let (other, t2, t3) = (fresh_account(), fresh("takeover"), fresh("takeover"));
    assert_eq!(
        stage(&w, &other, &t2, "x-Pa55word!!!!!").await.unwrap(),
        (1, true)
    );
    assert_eq!(
        w.discard_pending(&other, KIND, &t2, &actor())
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        stage(&w, &other, &t3, "y-Pa55word!!!!!").await.unwrap(),
        (2, true)
    );
    let head = w.head(&other, KIND).await.unwrap().unwrap();
    assert_eq!((head.current, head.pending), (None, Some(2)));
    assert!(matches!(
        r.reveal(&a, KIND, Some(99)).await,
        Err(VaultError::NotFound(_))
    ));

    // Staging: idempotent per execution; the retry's secret is dropped.
    let (e1, e2, e3, e4) = (fresh("rot"), fresh("rot"), fresh("rot"), fresh("rot"));
    assert!(matches!(
        stage(&w, &a, "", "x").await,
        Err(VaultError::Invalid(_))
    ));
    assert_eq!(
        stage(&w, &a, &e1, "Second-Pa55word!").await.unwrap(),
        (2, true)
    );
    assert_eq!(
        stage(&w, &a, &e1, "Other-Pa55word!!").await.unwrap(),
        (2, false)
    );
    assert_eq!(
        revealed(&r, &a, Some(2)).await,
        (2, Stage::Pending, "Second-Pa55word!".into())
    );
    let head = w.head(&a, KIND).await.unwrap().unwrap();
    assert_eq!(
        (
            head.pending,
            head.pending_execution.as_deref(),
            head.next_version
        ),
        (Some(2), Some(e1.as_str()), 3)
    );
    // Another rotation may neither stage nor promote over it.
    assert!(matches!(
        stage(&w, &a, &e2, "x").await,
        Err(VaultError::Conflict(_))
    ));
    assert!(matches!(
        w.promote(&a, KIND, &e2, &actor()).await,
        Err(VaultError::Conflict(_))
    ));
    // Nor discard it.
    assert_eq!(
        w.discard_pending(&a, KIND, &e2, &actor()).await.unwrap(),
        None
    );

    // Promotion, idempotent.
    assert_eq!(w.promote(&a, KIND, &e1, &actor()).await.unwrap(), 2);
    assert_eq!(w.promote(&a, KIND, &e1, &actor()).await.unwrap(), 2);
    let head = w.head(&a, KIND).await.unwrap().unwrap();
    assert_eq!(
        (head.current, head.previous, head.pending),
        (Some(2), Some(1), None)
    );
    assert_eq!(head.current_execution.as_deref(), Some(e1.as_str()));
    assert_eq!(
        stages(&r, &a).await,
        vec![(1, Stage::Previous), (2, Stage::Current)]
    );
    assert_eq!(
        revealed(&r, &a, None).await,
        (2, Stage::Current, "Second-Pa55word!".into())
    );
    let second = Some((2, Stage::Current, "Second-Pa55word!".to_owned()));
    assert_eq!(current(&r, &a).await, vec![second.clone(), None, second]);
    // A completed rotation cannot stage again.
    assert!(matches!(
        stage(&w, &a, &e1, "x").await,
        Err(VaultError::Conflict(_))
    ));

    // Discarding: current untouched, the version kept (recoverable), idempotent.
    assert_eq!(
        w.discard_pending(&a, KIND, &e3, &actor()).await.unwrap(),
        None
    );
    assert_eq!(
        stage(&w, &a, &e3, "Third-Pa55word!!").await.unwrap(),
        (3, true)
    );
    assert_eq!(
        w.discard_pending(&a, KIND, &e3, &actor()).await.unwrap(),
        Some(3)
    );
    assert_eq!(
        w.discard_pending(&a, KIND, &e3, &actor()).await.unwrap(),
        None
    );
    assert!(matches!(
        w.promote(&a, KIND, &e3, &actor()).await,
        Err(VaultError::NotFound(_))
    ));
    let head = w.head(&a, KIND).await.unwrap().unwrap();
    assert_eq!(
        (head.current, head.pending, head.next_version),
        (Some(2), None, 4)
    );
    assert_eq!(
        revealed(&r, &a, Some(3)).await,
        (3, Stage::Discarded, "Third-Pa55word!!".into())
    );

    // A second promotion retires the previous version.
    assert_eq!(
        stage(&w, &a, &e4, "Fourth-Pa55word!").await.unwrap(),
        (4, true)
    );
    assert_eq!(w.promote(&a, KIND, &e4, &actor()).await.unwrap(), 4);
    assert_eq!(
        stages(&r, &a).await,
        vec![
            (1, Stage::Retired),
            (2, Stage::Previous),
            (3, Stage::Discarded),
            (4, Stage::Current)
        ]
    );
    assert_eq!(
        revealed(&r, &a, Some(1)).await,
        (1, Stage::Retired, "Initial-Pa55word!".into())
    );

    // Staging on a head the caller read earlier: one that changed since loses like a
    // concurrent writer; it never stages a second pending version or reuses a number.
    let late = fresh_account();
    let before = w.head(&late, KIND).await.unwrap();
    assert_eq!(before, None);
    let (e5, e6) = (fresh("takeover"), fresh("takeover"));
    assert_eq!(
        stage(&w, &late, &e5, "Fifth-Pa55word!!").await.unwrap(),
        (1, true)
    );
    assert!(matches!(
        w.stage_pending_on(
            before.as_ref(),
            &late,
            KIND,
            &e6,
            &secret("Stale-Pa55word!!"),
            &actor()
        )
        .await,
        Err(VaultError::Conflict(_))
    ));
    // The same execution on its stale head gets its own version back, unchanged.
    assert_eq!(
        w.stage_pending_on(
            before.as_ref(),
            &late,
            KIND,
            &e5,
            &secret("Again-Pa55word!!"),
            &actor()
        )
        .await
        .unwrap(),
        (1, false)
    );
    let fresh_head = w.head(&late, KIND).await.unwrap();
    assert_eq!(
        w.stage_pending_on(
            fresh_head.as_ref(),
            &late,
            KIND,
            &e5,
            &secret("Third-Pa55word!!"),
            &actor()
        )
        .await
        .unwrap(),
        (1, false)
    );
    assert_eq!(stages(&r, &late).await, vec![(1, Stage::Pending)]);
    assert_eq!(
        revealed(&r, &late, Some(1)).await,
        (1, Stage::Pending, "Fifth-Pa55word!!".into())
    );
}
