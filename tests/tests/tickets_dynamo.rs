//! Tickets on DynamoDB (emulator): one ticket per message however often it is delivered,
//! threading by reference / case id / subject, and exactly one audit record per recorded message,
//! written in the same transaction.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rootwarden::audit::{AuditLog, DynamoAuditLog};
use rootwarden::mail::{self, Context};
use rootwarden::tickets::{
    DynamoTicketStore, IncomingMessage, RecordOutcome, TicketStatus, TicketStore,
};
use rootwarden::SystemClock;
use rootwarden_tests::Emulator;

const ACTOR: &str = "arn:aws:sts::123456789012:assumed-role/inbound-mail/test";

async fn setup() -> (Emulator, DynamoTicketStore, DynamoAuditLog) {
    let emu = Emulator::with_stack().await.unwrap();
    let ddb = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
    let audit = DynamoAuditLog::new(
        ddb.clone(),
        emu.env("ROOTWARDEN_AUDIT_TABLE"),
        Arc::new(SystemClock),
    );
    let store = DynamoTicketStore::new(ddb, emu.env("ROOTWARDEN_TICKETS_TABLE"), audit.clone());
    (emu, store, audit)
}

fn eml(message_id: &str, subject: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "Authentication-Results: amazonses.com; spf=pass; dkim=pass header.i=@amazon.com; dmarc=pass header.from=amazon.com;\r\n\
         X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\n\
         From: AWS <no-reply-aws@amazon.com>\r\nTo: aws-root+111122223333@provider.example\r\n\
         Subject: {subject}\r\nMessage-ID: <{message_id}>\r\n{extra_headers}\r\n{body}\r\n"
    )
    .into_bytes()
}

fn incoming(ses_id: &str, raw: &[u8], at: DateTime<Utc>) -> IncomingMessage {
    let decision = mail::analyze(raw, &Context::default()).decision;
    IncomingMessage {
        ses_message_id: ses_id.into(),
        raw_location: format!("s3://mail/inbound/{ses_id}"),
        received_at: at,
        decision,
        unregistered_account: None,
        secrets: Vec::new(),
    }
}

async fn audit_count(audit: &DynamoAuditLog) -> usize {
    audit
        .read_stream("account/111122223333")
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread")]
async fn same_delivery_ten_times_concurrently_makes_one_ticket_and_one_audit_record() {
    let (_emu, store, audit) = setup().await;
    let msg = incoming(
        "ses-0001",
        &eml(
            "a1@amazon.com",
            "Your AWS Account has been suspended",
            "",
            "Account ID: 111122223333",
        ),
        Utc::now(),
    );
    let tasks = (0..10).map(|_| {
        let (store, msg) = (store.clone(), msg.clone());
        tokio::spawn(async move { store.record(&msg, ACTOR).await })
    });
    let outcomes: Vec<RecordOutcome> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let created = outcomes
        .iter()
        .filter(|o| matches!(o, RecordOutcome::Created(_)))
        .count();
    assert_eq!(created, 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|o| o.ticket_id() == outcomes[0].ticket_id()));
    assert_eq!(audit_count(&audit).await, 1);
    let t = store.get(outcomes[0].ticket_id()).await.unwrap().unwrap();
    assert_eq!(
        (t.messages, t.status, t.category.as_str()),
        (1, TicketStatus::Open, "account")
    );
    assert!(rootwarden::audit::verify(&audit, None)
        .await
        .unwrap()
        .is_ok());

    // A later retry of the same delivery is still a no-op.
    assert!(matches!(
        store.record(&msg, ACTOR).await.unwrap(),
        RecordOutcome::Duplicate { .. }
    ));
    // The same RFC Message-ID arriving as a different SES delivery is too.
    let again = IncomingMessage {
        ses_message_id: "ses-0002".into(),
        ..msg
    };
    assert!(matches!(
        store.record(&again, ACTOR).await.unwrap(),
        RecordOutcome::Duplicate { .. }
    ));
    assert_eq!(audit_count(&audit).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_cases_and_subjects_thread_onto_one_ticket() {
    let (_emu, store, audit) = setup().await;
    let now = Utc::now();
    let first = incoming(
        "ses-1",
        &eml(
            "case-1@amazon.com",
            "[Case ID 12345678901] Service limit increase",
            "",
            "We opened your case.",
        ),
        now,
    );
    let id = store
        .record(&first, ACTOR)
        .await
        .unwrap()
        .ticket_id()
        .to_owned();

    // By In-Reply-To.
    let reply = incoming(
        "ses-2",
        &eml(
            "case-2@amazon.com",
            "Re: something else entirely",
            "In-Reply-To: <case-1@amazon.com>\r\nReferences: <case-1@amazon.com>\r\n",
            "Thanks",
        ),
        now + Duration::minutes(5),
    );
    let out = store.record(&reply, ACTOR).await.unwrap();
    assert!(
        matches!(&out, RecordOutcome::Updated(t) if t.id == id && t.messages == 2 && t.status == TicketStatus::Updated),
        "{out:?}"
    );

    // By support case id, with no references.
    let update = incoming(
        "ses-3",
        &eml(
            "case-3@amazon.com",
            "Update on [Case ID 12345678901]",
            "",
            "Your case was updated.",
        ),
        now + Duration::hours(1),
    );
    assert_eq!(store.record(&update, ACTOR).await.unwrap().ticket_id(), id);

    // By account + category + normalized subject within 7 days; not after.
    let bill = |ses: &str, mid: &str, at| {
        incoming(
            ses,
            &eml(
                mid,
                "Your AWS invoice is available",
                "",
                "Invoice for account 111122223333",
            ),
            at,
        )
    };
    let b1 = store
        .record(&bill("ses-4", "b1@amazon.com", now), ACTOR)
        .await
        .unwrap()
        .ticket_id()
        .to_owned();
    assert_eq!(
        store
            .record(
                &bill("ses-5", "b2@amazon.com", now + Duration::days(6)),
                ACTOR
            )
            .await
            .unwrap()
            .ticket_id(),
        b1
    );
    assert_ne!(
        store
            .record(
                &bill("ses-6", "b3@amazon.com", now + Duration::days(14)),
                ACTOR
            )
            .await
            .unwrap()
            .ticket_id(),
        b1
    );

    let t = store.get(&id).await.unwrap().unwrap();
    assert_eq!(t.messages, 3);
    assert_eq!(t.message_ids.len(), 3);
    assert_eq!(t.raw_locations.len(), 3);
    // Listing by account (the GSI) and in full both return the three tickets, newest first.
    let account = rootwarden::AccountId::parse("111122223333").unwrap();
    let by_account = store.list(Some(&account)).await.unwrap();
    assert_eq!(by_account.len(), 3);
    assert!(by_account
        .windows(2)
        .all(|w| w[0].last_seen >= w[1].last_seen));
    assert!(by_account.iter().any(|t| t.id == id && t.messages == 3));
    assert_eq!(store.list(None).await.unwrap(), by_account);
    // Six messages recorded, six audit records, one intact chain.
    assert_eq!(audit_count(&audit).await, 6);
    assert!(rootwarden::audit::verify(&audit, None)
        .await
        .unwrap()
        .is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn quarantined_mail_never_joins_a_thread() {
    let (_emu, store, _audit) = setup().await;
    let now = Utc::now();
    let real = incoming(
        "ses-r",
        &eml(
            "real@amazon.com",
            "[Case ID 22223333444] Billing question",
            "",
            "ok",
        ),
        now,
    );
    let real_id = store
        .record(&real, ACTOR)
        .await
        .unwrap()
        .ticket_id()
        .to_owned();
    // Forged: claims amazon.com, SES says DKIM failed, and it replies into the real case.
    let forged = "Authentication-Results: amazonses.com; spf=fail; dkim=fail header.i=@amazon.com; \
                  dmarc=fail header.from=amazon.com;\r\n\
         From: AWS Support <no-reply-aws@amazon.com>\r\nTo: aws-root+111122223333@provider.example\r\n\
         Subject: Re: [Case ID 22223333444] Billing question\r\nMessage-ID: <forged@evil.example>\r\n\
         In-Reply-To: <real@amazon.com>\r\n\r\nReset here: https://evil.example/resetpassword?token=x\r\n";
    let out = store
        .record(&incoming("ses-f", forged.as_bytes(), now), ACTOR)
        .await
        .unwrap();
    let RecordOutcome::Created(t) = out else {
        panic!("quarantined mail must open its own ticket: {out:?}")
    };
    assert_ne!(t.id, real_id);
    assert!(t.quarantined);
    assert!(t.attachments.is_empty());
    assert!(
        !t.summary.contains("https://evil.example"),
        "links are defanged: {}",
        t.summary
    );
    assert_eq!(store.get(&real_id).await.unwrap().unwrap().messages, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn notification_watermark_survives_threaded_updates() {
    let (emu, store, _audit) = setup().await;
    let now = Utc::now();
    let first = incoming(
        "ses-n1",
        &eml("n1@amazon.com", "[Case ID 55556666777] Question", "", "hi"),
        now,
    );
    let id = store
        .record(&first, ACTOR)
        .await
        .unwrap()
        .ticket_id()
        .to_owned();
    assert!(store.pending_notification(&id).await.unwrap().is_some());
    store.mark_notified(&id, 1).await.unwrap();
    assert!(store.pending_notification(&id).await.unwrap().is_none());
    let reply = incoming(
        "ses-n2",
        &eml(
            "n2@amazon.com",
            "Re: [Case ID 55556666777] Question",
            "In-Reply-To: <n1@amazon.com>\r\n",
            "more",
        ),
        now,
    );
    assert!(matches!(
        store.record(&reply, ACTOR).await.unwrap(),
        RecordOutcome::Updated(_)
    ));
    // The update kept the watermark (an item-replacing write would have dropped it) ...
    let ddb = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
    let item = ddb
        .get_item()
        .table_name(emu.env("ROOTWARDEN_TICKETS_TABLE"))
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("ticket#{id}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("ticket".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        item.get("notified")
            .and_then(|v| v.as_n().ok())
            .map(String::as_str),
        Some("1")
    );
    // ... so exactly the new message is pending.
    let pending = store.pending_notification(&id).await.unwrap().unwrap();
    assert_eq!(pending.messages, 2);
    store.mark_notified(&id, 2).await.unwrap();
    // A stale mark (a slow retry of the first notification) never moves it back.
    store.mark_notified(&id, 1).await.unwrap();
    assert!(store.pending_notification(&id).await.unwrap().is_none());
}
