//! Mail cannot plant secrets, merge tickets across accounts, create audit chains for unknown
//! accounts or fail the pipeline. Every test runs the inbound-mail use case with its real
//! adapters (S3, DynamoDB, KMS, registry, workflow waits) against the emulator.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use rootwarden::audit::DynamoAuditLog;
use rootwarden::inbound::{self, Delivery, Processed, S3RawMailStore};
use rootwarden::mail::{SecretKind, SesVerdicts, Verdict};
use rootwarden::notify::Notifications;
use rootwarden::registry::DynamoAccountRegistry;
use rootwarden::tickets::{DynamoTicketStore, Ticket, TicketStore};
use rootwarden::vault::{KmsTransientStore, TransientStore};
use rootwarden::workflows::DynamoWorkflowWaits;
use rootwarden::{AccountId, SystemClock};
use rootwarden_tests::custody::audit_actions;
use rootwarden_tests::Emulator;
use secrecy::{ExposeSecret, SecretString};

const ACCOUNT_A: &str = "210987654321";
const ROOT_A: &str = "acme-prod@root.provider.example";
const ACCOUNT_B: &str = "310987654322";
const ROOT_B: &str = "globex-prod@root.provider.example";

/// Authenticated AWS sign-in mail (DKIM passes for the From domain, SES stamped it).
const AWS_SIGNIN: &str = "no-reply@signin.aws";
/// Someone else's mail: authenticated for its own domain, never AWS.
const OUTSIDER: &str = "attacker@evil.example";

struct World {
    emu: Emulator,
    /// The harness ("the world"): seeds the registry, reads tickets to assert.
    ddb: aws_sdk_dynamodb::Client,
    /// The use case's adapters, acting as inbound-mail's role as the Lambda does.
    mail: S3RawMailStore,
    tickets: DynamoTicketStore,
    vault: KmsTransientStore,
    registry: DynamoAccountRegistry,
    waits: DynamoWorkflowWaits,
    notifier: Notifications,
    /// The vault as break-glass check-out reads it: the access function's role, the only one
    /// that decrypts reset links.
    checkout: KmsTransientStore,
}

async fn world() -> World {
    world_on(Emulator::with_stack().await.unwrap()).await
}

async fn world_on(emu: Emulator) -> World {
    let conf = emu.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
    for (account, email) in [(ACCOUNT_A, ROOT_A), (ACCOUNT_B, ROOT_B)] {
        ddb.put_item()
            .table_name(emu.env("ROOTWARDEN_ACCOUNTS_TABLE"))
            .set_item(Some(HashMap::from([
                ("account_id".to_owned(), AttributeValue::S(account.into())),
                ("root_email".to_owned(), AttributeValue::S(email.into())),
                ("status".to_owned(), AttributeValue::S("active".into())),
            ])))
            .send()
            .await
            .unwrap();
    }
    let role = emu.role_config("InboundMailFunction").await;
    let access = emu.role_config("AccessFunction").await;
    let rootwarden_tests::InboundAdapters {
        mail,
        tickets,
        vault,
        registry,
        waits,
    } = emu.inbound_adapters(&role);
    World {
        mail,
        tickets,
        vault,
        registry,
        waits,
        notifier: Notifications {
            webhook: None,
            email: None,
        },
        checkout: KmsTransientStore::new(
            aws_sdk_dynamodb::Client::new(&access),
            aws_sdk_kms::Client::new(&access),
            emu.env("ROOTWARDEN_VAULT_TABLE"),
            emu.env("ROOTWARDEN_VAULT_KEY"),
        ),
        ddb,
        emu,
    }
}

/// One message to deliver.
struct Mail<'a> {
    ses_id: &'a str,
    to: &'a str,
    from: &'a str,
    subject: &'a str,
    message_id: String,
    in_reply_to: Option<String>,
    body: String,
    received_at: DateTime<Utc>,
}

impl<'a> Mail<'a> {
    fn new(ses_id: &'a str, to: &'a str, from: &'a str, subject: &'a str, body: &str) -> Self {
        Mail {
            ses_id,
            to,
            from,
            subject,
            message_id: format!("<{ses_id}@mail.example>"),
            in_reply_to: None,
            body: body.to_owned(),
            received_at: Utc::now(),
        }
    }

    /// The raw message as SES stores it: SES's own verdicts and Authentication-Results on top.
    fn raw(&self, extra_parts: &str) -> Vec<u8> {
        let domain = self.from.rsplit_once('@').map(|d| d.1).unwrap_or("");
        let mut h = format!(
            "X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\n\
             Authentication-Results: amazonses.com; spf=pass smtp.mailfrom={domain}; \
             dkim=pass header.i=@{domain}; dmarc=pass header.from={domain};\r\n\
             From: <{}>\r\nTo: {}\r\nSubject: {}\r\nMessage-ID: {}\r\nMIME-Version: 1.0\r\n",
            self.from, self.to, self.subject, self.message_id
        );
        if let Some(r) = &self.in_reply_to {
            h.push_str(&format!("In-Reply-To: {r}\r\nReferences: {r}\r\n"));
        }
        if extra_parts.is_empty() {
            h.push_str("Content-Type: text/plain; charset=UTF-8\r\n\r\n");
            h.push_str(&self.body);
        } else {
            h.push_str("Content-Type: multipart/mixed; boundary=\"b0undary\"\r\n\r\n");
            h.push_str("--b0undary\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n");
            h.push_str(&self.body);
            h.push_str("\r\n");
            h.push_str(extra_parts);
            h.push_str("--b0undary--\r\n");
        }
        h.into_bytes()
    }
}

impl World {
    async fn deliver_with(&self, m: &Mail<'_>, extra_parts: &str) -> Processed {
        // SES's receipt rule stores the raw message (as the SES service principal).
        self.emu
            .deliver_raw_mail(m.ses_id, &m.raw(extra_parts))
            .unwrap();
        let pass = Verdict::Pass;
        let delivery = Delivery {
            ses_message_id: m.ses_id.to_owned(),
            recipients: vec![m.to.to_owned()],
            verdicts: Some(SesVerdicts {
                spam: pass,
                virus: pass,
                spf: pass,
                dkim: pass,
                dmarc: pass,
            }),
            subject: None,
            from: Some(m.from.to_owned()),
            received_at: m.received_at,
            object: None,
        };
        let deps = inbound::Deps {
            mail: &self.mail,
            tickets: &self.tickets,
            vault: &self.vault,
            registry: &self.registry,
            notifier: &self.notifier,
            waits: &self.waits,
            actor: "arn:aws:lambda:us-east-1:000000000000:function:inbound-mail",
            max_bytes: 40_000_000,
        };
        match inbound::process(&deps, &delivery).await {
            Ok(p) => p,
            Err(e) => panic!("{} did not become a ticket: {e:?}", m.ses_id),
        }
    }

    /// Delivers through the real `inbound-mail` Lambda binary, as SES invokes it.
    async fn deliver_to_lambda(&self, m: &Mail<'_>, extra_parts: &str) -> serde_json::Value {
        // SES's receipt rule stores the raw message (as the SES service principal).
        self.emu
            .deliver_raw_mail(m.ses_id, &m.raw(extra_parts))
            .unwrap();
        let fixture = rootwarden_tests::repo_root().join("tests/fixtures/ses/lambda-event.json");
        let mut e: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        e["Records"][0]["ses"]["mail"]["messageId"] = serde_json::json!(m.ses_id);
        e["Records"][0]["ses"]["mail"]["timestamp"] = serde_json::json!(now);
        e["Records"][0]["ses"]["receipt"]["timestamp"] = serde_json::json!(now);
        e["Records"][0]["ses"]["receipt"]["recipients"] = serde_json::json!([m.to]);
        let lambda = aws_sdk_lambda::Client::new(&self.emu.sdk_config().await);
        let name = self.emu.stack().resources["InboundMailFunction"]
            .physical_id
            .clone()
            .unwrap();
        let out = lambda
            .invoke()
            .function_name(name)
            .payload(aws_sdk_lambda::primitives::Blob::new(e.to_string()))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value =
            serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
        assert_eq!(out.function_error(), None, "{body}");
        body
    }

    async fn deliver(&self, m: &Mail<'_>) -> Processed {
        self.deliver_with(m, "").await
    }

    /// A ticket, as the harness reads it to assert.
    async fn ticket(&self, id: &str) -> Ticket {
        let audit = DynamoAuditLog::new(
            self.ddb.clone(),
            self.emu.env("ROOTWARDEN_AUDIT_TABLE"),
            Arc::new(SystemClock),
        );
        DynamoTicketStore::new(
            self.ddb.clone(),
            self.emu.env("ROOTWARDEN_TICKETS_TABLE"),
            audit,
        )
        .get(id)
        .await
        .unwrap()
        .unwrap()
    }

    /// What a break-glass check-out of the account shows as reset links.
    async fn links_shown_at_checkout(&self, account: &str) -> Vec<String> {
        let account = AccountId::parse(account).unwrap();
        self.checkout
            .unexpired(Some(&account), SecretKind::PasswordResetLink, Utc::now())
            .await
            .unwrap()
            .into_iter()
            .map(|(_, s)| s.expose_secret().to_owned())
            .collect()
    }
}

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn lookalike_host_reset_links_are_not_vaulted_and_not_shown_at_checkout() {
    let w = world().await;
    let planted = [
        "https://signin.aws.amazon.com@evil.example/resetpassword?token=USERINFO1&type=ROOT_USER",
        "https://signin.aws.amazon.com.evil.example/resetpassword?token=SUFFIX22&type=ROOT_USER",
        "https://signin-aws.evil.example/resetpassword?token=LOOKALIKE3&type=ROOT_USER",
        "https://signin.aws.amazon.com:8443/resetpassword?token=OTHERPORT4&type=ROOT_USER",
        "http://signin.aws.amazon.com/resetpassword?token=PLAINHTTP5&type=ROOT_USER",
    ];
    let body = format!(
        "We received a request to reset the password of your AWS account root user.\n\n{}\n",
        planted.join("\n\n")
    );
    let m = Mail::new(
        "seslookalike01",
        ROOT_A,
        AWS_SIGNIN,
        "Amazon Web Services Password Assistance",
        &body,
    );
    let p = w.deliver(&m).await;
    assert!(!p.quarantined, "{p:?}");
    assert_eq!(p.secrets_vaulted, 0, "lookalike links were vaulted: {p:?}");
    assert!(w.links_shown_at_checkout(ACCOUNT_A).await.is_empty());
    // A lookalike link already in the vault (stored by inbound-mail before this rule existed) is
    // not shown either.
    let stale = SecretString::from(planted[1].to_owned());
    w.vault
        .put(
            Some(&account(ACCOUNT_A)),
            SecretKind::PasswordResetLink,
            "sesvaultedbefore",
            0,
            Utc::now(),
            &stale,
        )
        .await
        .unwrap();
    assert!(w.links_shown_at_checkout(ACCOUNT_A).await.is_empty());
    // Still redacted: the ticket holds none of the planted tokens.
    let t = w.ticket(&p.ticket_id).await;
    let stored = serde_json::to_string(&t).unwrap();
    for token in [
        "USERINFO1",
        "SUFFIX22",
        "LOOKALIKE3",
        "OTHERPORT4",
        "PLAINHTTP5",
    ] {
        assert!(!stored.contains(token), "{token} reached the ticket");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_of_reset_links_in_one_message_is_capped_and_checkout_shows_only_the_newest_genuine_link(
) {
    let w = world().await;
    let genuine =
        "https://signin.aws.amazon.com/resetpassword?token=EarlierGenuine0&type=ROOT_USER";
    let mut first = Mail::new(
        "sespage000001",
        ROOT_A,
        AWS_SIGNIN,
        "Amazon Web Services Password Assistance",
        &format!("To reset your root user password, open\n\n{genuine}\n"),
    );
    first.received_at = Utc::now() - Duration::hours(2);
    assert_eq!(w.deliver(&first).await.secrets_vaulted, 1);

    // A later message carrying a page of links on the right host.
    let page: Vec<String> = (0..40)
        .map(|i| {
            format!(
                "https://signin.aws.amazon.com/resetpassword?token=Page{i:02}Tok&type=ROOT_USER"
            )
        })
        .collect();
    let second = Mail::new(
        "sespage000002",
        ROOT_A,
        AWS_SIGNIN,
        "Amazon Web Services Password Assistance",
        &format!("Reset your password:\n\n{}\n", page.join("\n")),
    );
    let p = w.deliver(&second).await;
    assert!(
        p.secrets_vaulted <= 1,
        "{} links vaulted from one message",
        p.secrets_vaulted
    );
    let shown = w.links_shown_at_checkout(ACCOUNT_A).await;
    assert_eq!(shown, vec![page[0].clone()], "check-out shows {shown:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn support_case_id_of_account_a_in_mail_to_account_b_does_not_thread_onto_as_ticket() {
    let w = world().await;
    let mut real = Mail::new(
        "sescasea00001",
        ROOT_A,
        "no-reply-aws@amazon.com",
        "[Case ID 17394856201] Unable to remove root user MFA device",
        "Amazon Web Services has received your request and created case 17394856201.",
    );
    real.message_id = "<case-a-opened@email.amazonses.com>".into();
    let a = w.deliver(&real).await;
    assert_eq!(a.outcome, "created");

    // The attacker knows A's case id and A's Message-ID, and mails B.
    let mut forged = Mail::new(
        "sescaseb00001",
        ROOT_B,
        OUTSIDER,
        "RE: [Case ID 17394856201] Unable to remove root user MFA device",
        "Case ID: 17394856201. Please see the attached instructions.",
    );
    forged.in_reply_to = Some(real.message_id.clone());
    let b = w.deliver(&forged).await;
    assert_eq!(b.outcome, "created", "{b:?}");
    assert_ne!(b.ticket_id, a.ticket_id);
    let ta = w.ticket(&a.ticket_id).await;
    assert_eq!(ta.messages, 1, "mail to B landed on A's ticket");
    assert_eq!(ta.account_id, Some(account(ACCOUNT_A)));
    assert_eq!(
        w.ticket(&b.ticket_id).await.account_id,
        Some(account(ACCOUNT_B))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn message_id_of_account_a_mail_reused_for_account_b_is_neither_merged_nor_swallowed() {
    let w = world().await;
    // The attacker gets in first with the Message-ID AWS will use for A's mail.
    let mut forged = Mail::new("sesmida000001", ROOT_B, OUTSIDER, "Hello", "nothing to see");
    forged.message_id = "<0100018f-aws-notice@email.amazonses.com>".into();
    let b = w.deliver(&forged).await;
    let mut real = Mail::new(
        "sesmida000002",
        ROOT_A,
        "no-reply-aws@amazon.com",
        "Your AWS Account has been suspended",
        "Your AWS account has been suspended.",
    );
    real.message_id = forged.message_id.clone();
    let a = w.deliver(&real).await;
    assert_eq!(a.outcome, "created", "A's mail was swallowed: {a:?}");
    assert_ne!(a.ticket_id, b.ticket_id);
    assert_eq!(
        w.ticket(&a.ticket_id).await.account_id,
        Some(account(ACCOUNT_A))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn abuse_report_concerning_is_not_an_abuse_report_id() {
    let w = world().await;
    let first = w
        .deliver(&Mail::new(
            "sesabuse00001",
            ROOT_A,
            OUTSIDER,
            "Abuse report concerning your website",
            "Abuse report concerning example.org: please act.",
        ))
        .await;
    let second = w
        .deliver(&Mail::new(
            "sesabuse00002",
            ROOT_A,
            OUTSIDER,
            "Abuse report concerning your mail server",
            "Abuse report concerning mx.example.org.",
        ))
        .await;
    assert_ne!(
        first.ticket_id, second.ticket_id,
        "two unrelated mails threaded on the word 'concerning'"
    );
    assert_eq!(w.ticket(&first.ticket_id).await.abuse_report_id, None);
    // A real AWS abuse report still threads by its numeric id.
    let real = w
        .deliver(&Mail::new(
            "sesabuse00003",
            ROOT_A,
            "ec2-abuse@amazon.com",
            "Your EC2 Abuse Report [20731104589] [AWS ID 210987654321]",
            "AWS Abuse Case Number: 20731104589",
        ))
        .await;
    let reply = w
        .deliver(&Mail::new(
            "sesabuse00004",
            ROOT_A,
            "ec2-abuse@amazon.com",
            "Follow-up",
            "Regarding AWS Abuse Case Number: 20731104589, the activity stopped.",
        ))
        .await;
    assert_eq!(reply.ticket_id, real.ticket_id);
    assert_eq!(
        w.ticket(&real.ticket_id).await.abuse_report_id.as_deref(),
        Some("20731104589")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hundred_kilobyte_subject_still_becomes_a_ticket_and_threads() {
    let w = world().await;
    // Folded header lines of 70 characters, 100 KB in all.
    let words: Vec<String> = (0..1500)
        .map(|i| format!("word{i:05}-{}", "x".repeat(57)))
        .collect();
    let subject = words.join("\r\n ");
    assert!(subject.len() >= 100_000);
    let first = w
        .deliver(&Mail::new(
            "seslongsubj01",
            ROOT_A,
            OUTSIDER,
            &subject,
            "first",
        ))
        .await;
    assert_eq!(first.outcome, "created");
    let t = w.ticket(&first.ticket_id).await;
    assert!(
        t.subject.len() < 8 * 1024,
        "subject of {} bytes stored",
        t.subject.len()
    );
    assert!(t.subject.starts_with("word00000-"));
    let again = w
        .deliver(&Mail::new(
            "seslongsubj02",
            ROOT_A,
            OUTSIDER,
            &subject,
            "second",
        ))
        .await;
    assert_eq!(
        again.ticket_id, first.ticket_id,
        "same subject, same thread"
    );
    assert_eq!(again.outcome, "updated");
}

fn attachment_parts(n: usize, name_len: usize, tag: &str) -> String {
    let mut parts = String::new();
    for i in 0..n {
        let name = format!("{tag}-{i:05}-{}.txt", "n".repeat(name_len));
        parts.push_str(&format!(
            "--b0undary\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\r\n{i}\r\n"
        ));
    }
    parts
}

#[tokio::test(flavor = "multi_thread")]
async fn five_thousand_attachments_still_become_a_ticket() {
    let w = world().await;
    let m = Mail::new(
        "sesattach0001",
        ROOT_A,
        OUTSIDER,
        "Invoice documents",
        "see attached",
    );
    let p = w.deliver_with(&m, &attachment_parts(5000, 40, "doc")).await;
    assert_eq!(p.outcome, "created");
    let t = w.ticket(&p.ticket_id).await;
    assert!(!t.attachments.is_empty());
    assert!(
        t.attachments.len() < 5000,
        "{} attachments stored",
        t.attachments.len()
    );
    let doc = serde_json::to_value(&t).unwrap();
    assert_eq!(
        doc["attachments_total"], 5000,
        "the count of what was dropped is kept"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_100_kb_subject_with_5000_attachments_through_the_inbound_mail_lambda_becomes_a_ticket() {
    rootwarden_tests::build_functions().unwrap();
    let w = world_on(Emulator::with_functions().await.unwrap()).await;
    let words: Vec<String> = (0..1500)
        .map(|i| format!("word{i:05}-{}", "y".repeat(57)))
        .collect();
    let subject = words.join("\r\n ");
    let m = Mail::new("seslambdabig01", ROOT_A, OUTSIDER, &subject, "see attached");
    let body = w
        .deliver_to_lambda(&m, &attachment_parts(5000, 40, "doc"))
        .await;
    let id = body["processed"][0]["ticket_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = w.ticket(&id).await;
    assert_eq!(t.account_id, Some(account(ACCOUNT_A)));
    assert!(t.attachments.len() < 5000);
    assert!(t.subject.len() < 8 * 1024);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thread_of_hundreds_of_replies_stays_within_the_item_limit() {
    let w = world().await;
    let ids: Vec<String> = (0..301).map(|i| format!("seslongthr{i:04}")).collect();
    let mut ticket = None;
    for (i, id) in ids.iter().enumerate() {
        let subject = if i == 0 {
            "Quarterly access review".to_owned()
        } else {
            "RE: Quarterly access review".to_owned()
        };
        let m = Mail::new(id, ROOT_A, OUTSIDER, &subject, "another reply");
        let p = w
            .deliver_with(&m, &attachment_parts(8, 120, &format!("r{i}")))
            .await;
        match &ticket {
            None => ticket = Some(p.ticket_id.clone()),
            Some(t) => assert_eq!(&p.ticket_id, t, "reply {i} left the thread"),
        }
    }
    let t = w.ticket(ticket.as_deref().unwrap()).await;
    assert_eq!(t.messages, 301);
    assert!(t.attachments.len() < 301 * 8);
    assert!(t.raw_locations.len() < 301);
    // The newest message is always kept.
    assert!(t.raw_locations.last().unwrap().ends_with("seslongthr0300"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sub_address_of_an_unknown_account_creates_no_audit_chain() {
    let w = world().await;
    let unknown = "999988887777";
    let to = format!("root+{unknown}@root.provider.example");
    let p = w
        .deliver(&Mail::new(
            "sesunknown001",
            &to,
            OUTSIDER,
            "Your AWS account",
            "Account ID: 1111-2222-3333 has been suspended.",
        ))
        .await;
    let t = w.ticket(&p.ticket_id).await;
    assert_eq!(t.account_id, None, "an account the registry does not know");
    for id in [unknown, "111122223333"] {
        assert!(
            audit_actions(&w.emu, &account(id)).await.is_empty(),
            "audit chain account/{id} created by mail"
        );
    }
    // A known account named the same way still routes.
    let known = format!("root+{ACCOUNT_B}@root.provider.example");
    let p = w
        .deliver(&Mail::new(
            "sesunknown002",
            &known,
            OUTSIDER,
            "Your AWS account",
            "hello",
        ))
        .await;
    assert_eq!(
        w.ticket(&p.ticket_id).await.account_id,
        Some(account(ACCOUNT_B))
    );
}
