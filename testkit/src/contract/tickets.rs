//! What every `TicketStore` promises.

use chrono::{Duration, Utc};
use rootwarden_core::mail::SecretKind;
use rootwarden_core::tickets::{RecordOutcome, TicketStatus, TicketStore};
use rootwarden_core::vault::TransientStore;
use secrecy::{ExposeSecret, SecretString};

use super::fixtures::{aws_mail, forged_mail, fresh, fresh_account, incoming};

const LINK: SecretKind = SecretKind::PasswordResetLink;
const ACTOR: &str = "arn:aws:sts::123456789012:assumed-role/inbound-mail/contract";

/// `make` returns a handle onto the store under test; every call returns another handle onto
/// the same store (as another Lambda instance would have).
///
/// Create, read, thread, deduplicate (per delivery and per Message-ID, scoped to the account),
/// never thread quarantined mail, one winner among concurrent re-deliveries, notification
/// bookkeeping, and listing.
pub async fn ticket_store_contract<T: TicketStore + Clone + 'static>(make: impl Fn() -> T) {
    let store = make();
    let (a, b) = (fresh_account(), fresh_account());
    let now = Utc::now();
    let mid = format!("{}@amazon.com", fresh("first"));
    let ses1 = fresh("ses");
    let first = incoming(
        &a,
        &ses1,
        &aws_mail(
            &a,
            &mid,
            "Your AWS Account has been suspended",
            "",
            "Account ID",
        ),
        now,
    );

    // Nothing recorded yet.
    assert_eq!(store.delivery_recorded(&ses1).await.unwrap(), None);
    assert_eq!(
        store
            .message_id_recorded(&first.decision, &mid)
            .await
            .unwrap(),
        None
    );

    // Create.
    let created = store.record(&first, ACTOR).await.unwrap();
    let RecordOutcome::Created(t) = &created else {
        panic!("a new message creates a ticket: {created:?}")
    };
    assert_eq!(t.id, first.new_ticket_id(), "ticket ids are deterministic");
    assert_eq!(t.messages, 1);
    assert_eq!(t.account_id.as_ref(), Some(&a));
    assert_eq!(t.status, TicketStatus::Open);
    let id = t.id.clone();
    assert_eq!(store.get(&id).await.unwrap().as_ref(), Some(t));
    assert_eq!(store.get("T-no-such-ticket").await.unwrap(), None);
    assert_eq!(
        store.delivery_recorded(&ses1).await.unwrap().as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        store
            .message_id_recorded(&first.decision, &mid)
            .await
            .unwrap()
            .as_deref(),
        Some(id.as_str())
    );

    // Idempotent: the same delivery again, or another delivery of the same Message-ID.
    let again = store.record(&first, ACTOR).await.unwrap();
    assert_eq!(
        again,
        RecordOutcome::Duplicate {
            ticket_id: id.clone()
        }
    );
    let mut resent = first.clone();
    resent.ses_message_id = fresh("ses");
    let again = store.record(&resent, ACTOR).await.unwrap();
    assert_eq!(
        again,
        RecordOutcome::Duplicate {
            ticket_id: id.clone()
        }
    );
    assert_eq!(store.get(&id).await.unwrap().unwrap().messages, 1);

    // The same Message-ID to another account is that account's own ticket, not a duplicate.
    let other = incoming(
        &b,
        &fresh("ses"),
        &aws_mail(
            &b,
            &mid,
            "Your AWS Account has been suspended",
            "",
            "Account ID",
        ),
        now,
    );
    assert_eq!(
        store
            .message_id_recorded(&other.decision, &mid)
            .await
            .unwrap(),
        None,
        "Message-ID markers are scoped to the account"
    );
    let out = store.record(&other, ACTOR).await.unwrap();
    let RecordOutcome::Created(tb) = &out else {
        panic!("another account's mail opens its own ticket: {out:?}")
    };
    assert_ne!(tb.id, id);

    // Threading by In-Reply-To.
    let reply = incoming(
        &a,
        &fresh("ses"),
        &aws_mail(
            &a,
            &format!("{}@amazon.com", fresh("reply")),
            "Re: Your AWS Account has been suspended",
            &format!("In-Reply-To: <{mid}>\r\n"),
            "Still suspended",
        ),
        now + Duration::minutes(5),
    );
    let out = store.record(&reply, ACTOR).await.unwrap();
    let RecordOutcome::Updated(t) = &out else {
        panic!("a reply threads onto its ticket: {out:?}")
    };
    assert_eq!((t.id.as_str(), t.messages), (id.as_str(), 2));
    assert_eq!(t.status, TicketStatus::Updated);
    assert_eq!(t.last_seen, now + Duration::minutes(5));
    assert_eq!(t.first_seen, now);

    // Threading by support case id; quarantined mail never joins a thread.
    let case = format!(
        "[Case ID {}] Billing question",
        10_000_000_000 + rand_digits()
    );
    let c1 = incoming(
        &a,
        &fresh("ses"),
        &aws_mail(&a, &fresh("c1"), &case, "", "ok"),
        now,
    );
    let case_id = store
        .record(&c1, ACTOR)
        .await
        .unwrap()
        .ticket_id()
        .to_owned();
    let c2 = incoming(
        &a,
        &fresh("ses"),
        &aws_mail(&a, &fresh("c2"), &format!("Re: {case}"), "", "ok"),
        now + Duration::hours(1),
    );
    let out = store.record(&c2, ACTOR).await.unwrap();
    assert!(
        matches!(&out, RecordOutcome::Updated(t) if t.id == case_id),
        "same support case, same ticket: {out:?}"
    );
    let forged = incoming(
        &a,
        &fresh("ses"),
        &forged_mail(
            &a,
            &fresh("forged"),
            &format!("Re: {case}"),
            &format!("In-Reply-To: <{mid}>\r\n"),
        ),
        now + Duration::hours(2),
    );
    assert!(forged.decision.quarantined, "the fixture is quarantined");
    let out = store.record(&forged, ACTOR).await.unwrap();
    let RecordOutcome::Created(t) = &out else {
        panic!("quarantined mail opens its own ticket: {out:?}")
    };
    assert!(t.quarantined);
    assert_ne!(t.id, case_id);
    assert_ne!(t.id, id);
    assert_eq!(store.get(&case_id).await.unwrap().unwrap().messages, 2);
    assert_eq!(store.get(&id).await.unwrap().unwrap().messages, 2);

    // Concurrent re-deliveries of one new message: exactly one creates.
    let burst = incoming(
        &a,
        &fresh("ses"),
        &aws_mail(
            &a,
            &fresh("burst"),
            "Your AWS Free Tier usage alert",
            "",
            "x",
        ),
        now,
    );
    let tasks = (0..5).map(|_| {
        let (store, msg) = (make(), burst.clone());
        async move { store.record(&msg, ACTOR).await }
    });
    let outcomes: Vec<RecordOutcome> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let creates = outcomes
        .iter()
        .filter(|o| matches!(o, RecordOutcome::Created(_)))
        .count();
    assert_eq!(creates, 1, "one winner: {outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|o| o.ticket_id() == burst.new_ticket_id()));

    // Notification bookkeeping: pending until marked for the latest message; monotone.
    let pending = store.pending_notification(&id).await.unwrap();
    assert_eq!(pending.map(|t| t.messages), Some(2));
    store.mark_notified(&id, 1).await.unwrap();
    assert!(store.pending_notification(&id).await.unwrap().is_some());
    store.mark_notified(&id, 2).await.unwrap();
    assert_eq!(store.pending_notification(&id).await.unwrap(), None);
    store.mark_notified(&id, 1).await.unwrap();
    assert_eq!(
        store.pending_notification(&id).await.unwrap(),
        None,
        "marking never goes back"
    );
    store.mark_notified("T-no-such-ticket", 1).await.unwrap();
    assert_eq!(
        store
            .pending_notification("T-no-such-ticket")
            .await
            .unwrap(),
        None
    );

    // Listing: one account's tickets, most recent first; every ticket without an account.
    let listed: Vec<String> = store
        .list(Some(&a))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert_eq!(listed[0], forged_id(&store, &a).await);
    assert!(listed.contains(&id) && listed.contains(&case_id));
    assert!(!listed.contains(&tb.id));
    let all: Vec<String> = store
        .list(None)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert!(all.contains(&id) && all.contains(&tb.id));
}

/// The newest (quarantined) ticket of `account`.
async fn forged_id<T: TicketStore>(store: &T, account: &rootwarden_core::AccountId) -> String {
    store
        .list(Some(account))
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.quarantined)
        .map(|t| t.id)
        .unwrap_or_default()
}

fn rand_digits() -> u64 {
    super::fixtures::nonce() % 1_000_000_000
}

/// `recorder` writes a message's sealed secrets with its ticket (the inbound-mail wiring),
/// `bare` is the same store built without the vault; `sealer` seals (inbound mail's role) and
/// `reader` reads back (the access function's).
///
/// A message's secrets are written in the transaction that records its delivery: a re-delivery
/// (a duplicate) writes none, even a different one; a store that cannot write them refuses
/// the message and records nothing.
pub async fn ticket_secrets_contract<T: TicketStore, S: TransientStore>(
    recorder: T,
    bare: T,
    sealer: &S,
    reader: &S,
) {
    let a = fresh_account();
    let now = Utc::now();
    let ses = fresh("ses");
    let link = |token: &str| {
        SecretString::from(format!(
            "https://signin.aws.amazon.com/resetpassword?token={token}&type=ROOT_USER"
        ))
    };
    let raw = aws_mail(
        &a,
        &format!("{}@amazon.com", fresh("reset")),
        "Password reset requested",
        "",
        "",
    );
    let mut msg = incoming(&a, &ses, &raw, now);
    let sealed = sealer
        .seal(Some(&a), LINK, &ses, 0, now, &link("first"))
        .await
        .unwrap();
    assert_eq!(sealed.stored.pk, format!("transient#{a}"));
    assert!(
        !format!("{sealed:?}").contains("first"),
        "a sealed secret's Debug shows no plaintext"
    );
    // Sealed is not stored.
    assert!(reader
        .unexpired(Some(&a), LINK, now)
        .await
        .unwrap()
        .is_empty());

    // Refused whole by a store without the vault: no ticket, no secret.
    msg.secrets = vec![sealed.clone()];
    assert!(bare.record(&msg, ACTOR).await.is_err());
    assert_eq!(bare.delivery_recorded(&ses).await.unwrap(), None);
    assert!(reader
        .unexpired(Some(&a), LINK, now)
        .await
        .unwrap()
        .is_empty());

    let outcome = recorder.record(&msg, ACTOR).await.unwrap();
    assert!(matches!(outcome, RecordOutcome::Created(_)), "{outcome:?}");
    let shown = reader.unexpired(Some(&a), LINK, now).await.unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].0, sealed.stored);
    assert_eq!(shown[0].1.expose_secret(), link("first").expose_secret());

    // A re-delivery carrying another secret for the same item: a duplicate, nothing written.
    msg.secrets = vec![sealer
        .seal(Some(&a), LINK, &ses, 0, now, &link("second"))
        .await
        .unwrap()];
    let again = recorder.record(&msg, ACTOR).await.unwrap();
    assert!(
        matches!(again, RecordOutcome::Duplicate { .. }),
        "{again:?}"
    );
    let shown = reader.unexpired(Some(&a), LINK, now).await.unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].1.expose_secret(), link("first").expose_secret());
}
