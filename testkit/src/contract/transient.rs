//! What every `TransientStore` promises.

use chrono::{Duration, Utc};
use rootwarden_core::mail::SecretKind;
use rootwarden_core::vault::TransientStore;
use secrecy::{ExposeSecret, SecretString};

use super::fixtures::{fresh, fresh_account};

const LINK: SecretKind = SecretKind::PasswordResetLink;

fn link(token: &str) -> SecretString {
    SecretString::from(format!(
        "https://signin.aws.amazon.com/resetpassword?token={token}"
    ))
}

/// `writer` stores (the inbound-mail function's role), `reader` reads (the access function's
/// role). Both are handles onto one store.
///
/// One item per account, kind, message and index (a re-delivery overwrites its own item);
/// expiry counts from receipt and is enforced on read; a read returns at most the newest
/// unexpired secret, never a reset link off AWS's sign-in host, and only the account's own.
pub async fn transient_store_contract<S: TransientStore>(writer: S, reader: S) {
    let (a, b) = (fresh_account(), fresh_account());
    let t0 = Utc::now() - Duration::hours(3);
    let (s1, s2, s3) = (fresh("ses"), fresh("ses"), fresh("ses"));

    let stored = writer
        .put(Some(&a), LINK, &s1, 0, t0, &link("one"))
        .await
        .unwrap();
    assert_eq!(stored.pk, format!("transient#{a}"));
    assert_eq!(stored.sk, format!("password-reset-link#{s1}#0"));
    assert_eq!(stored.kind, LINK);
    assert_eq!(stored.expires_at, t0 + Duration::hours(24));
    // A re-delivery lands on the same item.
    let again = writer
        .put(Some(&a), LINK, &s1, 0, t0, &link("one"))
        .await
        .unwrap();
    assert_eq!(again, stored);

    // Newer genuine link, then a newer phishing link (never shown).
    writer
        .put(
            Some(&a),
            LINK,
            &s2,
            0,
            t0 + Duration::hours(1),
            &link("two"),
        )
        .await
        .unwrap();
    let phish = SecretString::from("https://signin.aws.amazon.com.evil.example/resetpassword?x=1");
    writer
        .put(Some(&a), LINK, &s3, 0, t0 + Duration::hours(2), &phish)
        .await
        .unwrap();
    let now = t0 + Duration::hours(3);
    let shown = reader.unexpired(Some(&a), LINK, now).await.unwrap();
    assert_eq!(shown.len(), 1, "at most one secret is shown");
    assert_eq!(
        shown[0].1.expose_secret(),
        link("two").expose_secret(),
        "the newest genuine link"
    );
    assert_eq!(shown[0].0.sk, format!("password-reset-link#{s2}#0"));

    // Expiry is enforced on read.
    let later = t0 + Duration::hours(25) + Duration::seconds(1);
    assert!(reader
        .unexpired(Some(&a), LINK, later)
        .await
        .unwrap()
        .is_empty());
    // Only the account's own (and unrouted is its own partition).
    assert!(reader
        .unexpired(Some(&b), LINK, now)
        .await
        .unwrap()
        .is_empty());
    assert!(
        reader.unexpired(None, LINK, now).await.unwrap().is_empty() || {
            // Other runs may have left unrouted links; none of them is this account's.
            reader
                .unexpired(None, LINK, now)
                .await
                .unwrap()
                .iter()
                .all(|(s, _)| s.pk == "transient#unrouted")
        }
    );
    let unrouted = writer
        .put(None, LINK, &fresh("ses"), 0, t0, &link("u"))
        .await
        .unwrap();
    assert_eq!(unrouted.pk, "transient#unrouted");

    // Verification codes live 15 minutes.
    let code = writer
        .put(
            Some(&a),
            SecretKind::VerificationCode,
            &s1,
            0,
            t0,
            &SecretString::from("123456"),
        )
        .await
        .unwrap();
    assert_eq!(code.expires_at, t0 + Duration::minutes(15));
    assert_eq!(code.sk, format!("verification-code#{s1}#0"));
}
