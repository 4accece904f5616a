//! What every `RawMailStore` promises.

use std::future::Future;

use chrono::Utc;
use rootwarden_core::inbound::{Delivery, RawMail, RawMailStore};
use rootwarden_core::ErrorType;

use super::fixtures::fresh;

fn delivery(ses_id: &str, object: Option<(String, String)>) -> Delivery {
    Delivery {
        ses_message_id: ses_id.to_owned(),
        recipients: vec!["aws-root+111122223333@provider.example".into()],
        verdicts: None,
        subject: None,
        from: None,
        received_at: Utc::now(),
        object,
    }
}

/// `deliver(ses_id, raw)` stores a message as SES's S3 action does (under the store's prefix);
/// `bucket` is the store's bucket.
///
/// The object key comes from the event when it names this bucket, else prefix + SES id; an
/// event naming another bucket is refused; one read gives the stored bytes, or only the size of a
/// message over the limit; a message not (yet) stored is a transient error, so the delivery is
/// retried.
pub async fn raw_mail_contract<M, F, Fut>(store: M, bucket: &str, deliver: F)
where
    M: RawMailStore,
    F: Fn(String, Vec<u8>) -> Fut,
    Fut: Future<Output = ()>,
{
    let ses_id = fresh("ses");
    let raw = b"From: a@b.example\r\nSubject: contract\r\n\r\nbody\r\n".to_vec();
    deliver(ses_id.clone(), raw.clone()).await;

    let key = store.object_key(&delivery(&ses_id, None)).unwrap();
    assert!(key.ends_with(&ses_id), "{key}");
    let n = raw.len() as u64;
    assert_eq!(
        store.load(&key, n).await.unwrap(),
        RawMail::Body(raw.clone())
    );
    assert_eq!(
        store.load(&key, n - 1).await.unwrap(),
        RawMail::Oversized(n)
    );
    assert_eq!(store.location(&key), format!("s3://{bucket}/{key}"));

    // The event's own key, in this bucket.
    let named = delivery(&fresh("ses"), Some((bucket.to_owned(), key.clone())));
    assert_eq!(store.object_key(&named).unwrap(), key);
    // Another bucket, or an empty key there: refused.
    let elsewhere = delivery(&ses_id, Some(("attacker-bucket".into(), key.clone())));
    let e = store.object_key(&elsewhere).unwrap_err();
    assert_eq!(e.error_type, ErrorType::ValidationError);
    assert!(store
        .object_key(&delivery(&ses_id, Some((bucket.to_owned(), String::new()))))
        .is_err());

    // Not there (yet): retryable.
    let missing = store
        .object_key(&delivery(&fresh("ses-missing"), None))
        .unwrap();
    let e = store.load(&missing, 1 << 20).await.unwrap_err();
    assert_eq!(e.error_type, ErrorType::TransientAwsError);
}
