//! Inbound mail end to end on the emulator: the raw message is in S3 (as SES's S3 action leaves
//! it), the real `inbound-mail` binary is invoked with the SES receipt event, and a ticket, an
//! audit record and a KMS-encrypted reset link come out, exactly once however often SES retries.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_lambda::primitives::Blob;
use chrono::{Duration, Utc};
use rootwarden::audit::{AuditLog, DynamoAuditLog};
use rootwarden::inbound::{self, Delivery, S3RawMailStore};
use rootwarden::mail::{Category, Priority, SecretKind, SesVerdicts, Verdict};
use rootwarden::notify::{Notifications, SesNotifier, WebhookNotifier};
use rootwarden::registry::DynamoAccountRegistry;
use rootwarden::tickets::{DynamoTicketStore, TicketStore};
use rootwarden::vault::{KmsTransientStore, TransientStore};
use rootwarden::workflows::{DynamoWorkflowWaits, Wait, WorkflowWaits};
use rootwarden::{AccountId, ErrorType, SystemClock};
use rootwarden_tests::{build_functions, repo_root, Emulator, Options};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

const ACCOUNT: &str = "210987654321";
const ROOT_EMAIL: &str = "acme-prod@root.provider.example";
/// The verified sender of e-mails to an account's contacts.
const NOTIFY_FROM: &str = "rootwarden@provider.example";

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("tests/fixtures").join(path)).unwrap()
}

fn ses_event(ses_id: &str, recipient: &str) -> Value {
    let mut e: Value = serde_json::from_slice(&fixture("ses/lambda-event.json")).unwrap();
    e["Records"][0]["ses"]["mail"]["messageId"] = json!(ses_id);
    e["Records"][0]["ses"]["receipt"]["recipients"] = json!([recipient]);
    // Delivered now: transient secrets expire relative to the receipt time.
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    e["Records"][0]["ses"]["receipt"]["timestamp"] = json!(now);
    e["Records"][0]["ses"]["mail"]["timestamp"] = json!(now);
    e
}

struct Stack {
    emu: Emulator,
    /// The harness ("the world"): seeds the registry, drives Step Functions, reads tables to
    /// assert. It never stands in for production code.
    sfn: aws_sdk_sfn::Client,
    ddb: aws_sdk_dynamodb::Client,
    /// inbound-mail's own role: the use case runs in-process with exactly the permissions the
    /// Lambda has.
    mail_role: SdkConfig,
    /// The access function's role: the only one that decrypts reset links (at check-out).
    access_role: SdkConfig,
}

async fn stack(functions: bool) -> Stack {
    stack_from(functions, None).await
}

/// A stack provisioned from `template` (default `infra/template.yaml`).
async fn stack_from(functions: bool, template: Option<PathBuf>) -> Stack {
    if functions {
        build_functions().unwrap();
    }
    let emu = Emulator::start_with(Options {
        provision: true,
        function_host: functions,
        template,
    })
    .await
    .unwrap();
    let conf = emu.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
    // The registry maps the root address to its account (onboarding writes this).
    ddb.put_item()
        .table_name(emu.env("ROOTWARDEN_ACCOUNTS_TABLE"))
        .set_item(Some(HashMap::from([
            ("account_id".to_owned(), AttributeValue::S(ACCOUNT.into())),
            (
                "root_email".to_owned(),
                AttributeValue::S(ROOT_EMAIL.into()),
            ),
            ("status".to_owned(), AttributeValue::S("active".into())),
        ])))
        .send()
        .await
        .unwrap();
    let sfn = aws_sdk_sfn::Client::new(&conf);
    let mail_role = emu.role_config("InboundMailFunction").await;
    let access_role = emu.role_config("AccessFunction").await;
    Stack {
        emu,
        sfn,
        ddb,
        mail_role,
        access_role,
    }
}

/// `infra/template.yaml` as deployed with its `NotifyFromAddress` parameter set to `from` (a copy
/// in a temporary directory, `template.yaml`): inbound-mail may then e-mail an account's contacts,
/// from that sender only.
fn template_with_notify_from(from: &str) -> tempfile::TempDir {
    let infra = repo_root().join("infra");
    let text = std::fs::read_to_string(infra.join("template.yaml")).unwrap();
    let param = "  NotifyFromAddress:\n    Type: String\n    Default: \"\"\n";
    assert!(
        text.contains(param),
        "no empty NotifyFromAddress parameter in the template"
    );
    let text = text
        .replace(
            param,
            &format!("  NotifyFromAddress:\n    Type: String\n    Default: {from}\n"),
        )
        // The copy lives elsewhere: definition files stay where the original's are.
        .replace(
            "DefinitionUri: statemachines/",
            &format!("DefinitionUri: {}/statemachines/", infra.display()),
        );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("template.yaml"), text).unwrap();
    dir
}

/// The use case's collaborators, built against one stack.
struct Services {
    mail: S3RawMailStore,
    tickets: DynamoTicketStore,
    vault: KmsTransientStore,
    registry: DynamoAccountRegistry,
    waits: DynamoWorkflowWaits,
    notifier: Notifications,
}

type UseCase<'a> = inbound::Deps<
    'a,
    S3RawMailStore,
    DynamoTicketStore,
    KmsTransientStore,
    DynamoAccountRegistry,
    Notifications,
    DynamoWorkflowWaits,
>;

impl Services {
    fn deps(&self, max_bytes: u64) -> UseCase<'_> {
        inbound::Deps {
            mail: &self.mail,
            tickets: &self.tickets,
            vault: &self.vault,
            registry: &self.registry,
            notifier: &self.notifier,
            waits: &self.waits,
            actor: "arn:aws:lambda:test",
            max_bytes,
        }
    }
}

impl Stack {
    /// The use case's collaborators as the inbound-mail Lambda builds them, acting as its role.
    fn services(&self, notifier: Notifications) -> Services {
        let conf = &self.mail_role;
        let ddb = aws_sdk_dynamodb::Client::new(conf);
        Services {
            mail: S3RawMailStore::new(
                rootwarden::sdk::s3_client(conf),
                self.emu.env("ROOTWARDEN_MAIL_BUCKET"),
                self.emu.env("ROOTWARDEN_MAIL_PREFIX"),
            ),
            tickets: self.tickets_as(conf),
            vault: self.vault_as(conf),
            registry: DynamoAccountRegistry::new(ddb, self.emu.env("ROOTWARDEN_ACCOUNTS_TABLE")),
            waits: self.waits_as(conf),
            notifier,
        }
    }
    /// SES's receipt rule stores the raw message (as the SES service principal).
    fn store_raw(&self, ses_id: &str, raw: Vec<u8>) {
        self.emu.deliver_raw_mail(ses_id, &raw).unwrap();
    }
    fn audit(&self) -> DynamoAuditLog {
        DynamoAuditLog::new(
            self.ddb.clone(),
            self.emu.env("ROOTWARDEN_AUDIT_TABLE"),
            Arc::new(SystemClock),
        )
    }
    /// The tickets as the harness reads them to assert.
    fn tickets(&self) -> DynamoTicketStore {
        DynamoTicketStore::new(
            self.ddb.clone(),
            self.emu.env("ROOTWARDEN_TICKETS_TABLE"),
            self.audit(),
        )
    }
    fn tickets_as(&self, conf: &SdkConfig) -> DynamoTicketStore {
        let ddb = aws_sdk_dynamodb::Client::new(conf);
        DynamoTicketStore::new(
            ddb.clone(),
            self.emu.env("ROOTWARDEN_TICKETS_TABLE"),
            DynamoAuditLog::new(
                ddb,
                self.emu.env("ROOTWARDEN_AUDIT_TABLE"),
                Arc::new(SystemClock),
            ),
        )
    }
    /// Workflow waits as the harness reads them to assert.
    fn waits(&self) -> DynamoWorkflowWaits {
        DynamoWorkflowWaits::new(
            self.ddb.clone(),
            self.sfn.clone(),
            self.emu.env("ROOTWARDEN_WORKFLOWS_TABLE"),
        )
    }
    fn waits_as(&self, conf: &SdkConfig) -> DynamoWorkflowWaits {
        DynamoWorkflowWaits::new(
            aws_sdk_dynamodb::Client::new(conf),
            aws_sdk_sfn::Client::new(conf),
            self.emu.env("ROOTWARDEN_WORKFLOWS_TABLE"),
        )
    }
    fn vault_as(&self, conf: &SdkConfig) -> KmsTransientStore {
        KmsTransientStore::new(
            aws_sdk_dynamodb::Client::new(conf),
            aws_sdk_kms::Client::new(conf),
            self.emu.env("ROOTWARDEN_VAULT_TABLE"),
            self.emu.env("ROOTWARDEN_VAULT_KEY"),
        )
    }
    /// The vault as check-out reads it: the access function's role, the only one that decrypts.
    fn checkout_vault(&self) -> KmsTransientStore {
        self.vault_as(&self.access_role)
    }
    async fn invoke(&self, event: &Value) -> (Option<String>, Value) {
        let lambda = aws_sdk_lambda::Client::new(&self.emu.sdk_config().await);
        let name = self.emu.stack().resources["InboundMailFunction"]
            .physical_id
            .clone()
            .unwrap();
        let out = lambda
            .invoke()
            .function_name(name)
            .payload(Blob::new(event.to_string()))
            .send()
            .await
            .unwrap();
        let body = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
        (out.function_error().map(str::to_owned), body)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn delivered_reset_mail_becomes_a_redacted_ticket_and_a_vaulted_link_once() {
    let st = stack(true).await;
    let raw = rootwarden_tests::readdressed(
        &fixture("mail/password-reset-01-signin-aws.eml"),
        ROOT_EMAIL,
    );
    let secret = "https://signin.aws.amazon.com/resetpassword?token=rhTuvqCdmPG0tmKXPDZpAemm1za7v0fHhvjwdbT2HwDqzuM14qHOXHlpaBqCefuv2FSJghB6hRLeos47wGJkcU_0XXkHG5qJ&type=ROOT_USER";
    assert!(String::from_utf8_lossy(&raw).contains("rhTuvqCdmPG0tmKX"));
    st.store_raw("sesreset0001", raw);
    let event = ses_event("sesreset0001", ROOT_EMAIL);

    let (err, out) = st.invoke(&event).await;
    assert_eq!(err, None, "{out}");
    let p = &out["processed"][0];
    assert_eq!(
        (
            p["outcome"].as_str(),
            p["category"].as_str(),
            p["secrets_vaulted"].as_u64()
        ),
        (Some("created"), Some("password-reset"), Some(1)),
        "{out}"
    );
    let ticket_id = p["ticket_id"].as_str().unwrap().to_owned();

    // The ticket: routed by the registry (the address has no sub-address), secret-free.
    let t = st.tickets().get(&ticket_id).await.unwrap().unwrap();
    assert_eq!(t.account_id.as_ref().map(|a| a.as_str()), Some(ACCOUNT));
    assert_eq!(
        (t.category, t.priority),
        (Category::PasswordReset, Priority::High)
    );
    assert_eq!(t.redactions, vec![SecretKind::PasswordResetLink]);
    assert_eq!(
        t.raw_locations,
        vec![format!(
            "s3://{}/inbound/sesreset0001",
            st.emu.env("ROOTWARDEN_MAIL_BUCKET")
        )]
    );
    let stored = serde_json::to_string(&t).unwrap();
    assert!(
        !stored.contains("rhTuvqCdmPG0tmKX"),
        "the token never reaches the ticket"
    );
    assert!(stored.contains("[redacted: password-reset-link]"));
    // Nor the tickets table as a whole.
    let scan = st
        .ddb
        .scan()
        .table_name(st.emu.env("ROOTWARDEN_TICKETS_TABLE"))
        .send()
        .await
        .unwrap();
    assert!(!format!("{:?}", scan.items()).contains("rhTuvqCdmPG0tmKX"));

    // The vault holds it encrypted, retrievable for 24 h under its encryption context only.
    let account = AccountId::parse(ACCOUNT).unwrap();
    let found = st
        .checkout_vault()
        .unexpired(Some(&account), SecretKind::PasswordResetLink, Utc::now())
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1.expose_secret(), secret);
    assert!(st
        .checkout_vault()
        .unexpired(
            Some(&account),
            SecretKind::PasswordResetLink,
            Utc::now() + Duration::hours(25)
        )
        .await
        .unwrap()
        .is_empty());
    let item = st
        .ddb
        .scan()
        .table_name(st.emu.env("ROOTWARDEN_VAULT_TABLE"))
        .send()
        .await
        .unwrap()
        .items()[0]
        .clone();
    assert!(
        !format!("{item:?}").contains("rhTuvqCdmPG0tmKX"),
        "no plaintext in DynamoDB"
    );
    let Some(AttributeValue::B(ct)) = item.get("ciphertext") else {
        panic!("no ciphertext")
    };
    // As the access function, the one role that may decrypt reset links: the link's own context
    // yields it, a mismatching one (another account) nothing.
    let kms = aws_sdk_kms::Client::new(&st.access_role);
    let decrypt = |account: &str| {
        kms.decrypt()
            .ciphertext_blob(ct.clone())
            .encryption_context("rootwarden:account", account)
            .encryption_context("rootwarden:kind", "password-reset-link")
            .encryption_context("rootwarden:source", "sesreset0001")
            .send()
    };
    let right = decrypt(ACCOUNT).await.unwrap();
    assert_eq!(right.plaintext().unwrap().as_ref(), secret.as_bytes());
    let wrong = decrypt("999999999999").await;
    assert!(
        wrong.is_err(),
        "a mismatching encryption context must not decrypt"
    );

    // SES retries and duplicate deliveries, ten at once: still one ticket, one audit record.
    let runs = (0..10).map(|_| {
        let event = event.clone();
        let st = &st;
        async move { st.invoke(&event).await }
    });
    for (err, out) in futures::future::join_all(runs).await {
        assert_eq!(err, None, "{out}");
        assert_eq!(out["processed"][0]["outcome"], "duplicate");
        assert_eq!(out["processed"][0]["ticket_id"], ticket_id.as_str());
    }
    // A re-delivery later on (a new receipt time) is recorded nowhere and vaulted nowhere again:
    // the stored link keeps its original expiry.
    let mut later = event.clone();
    later["Records"][0]["ses"]["receipt"]["timestamp"] =
        json!((Utc::now() + Duration::minutes(3)).to_rfc3339());
    let again = st.invoke(&later).await.1;
    assert_eq!(again["processed"][0]["outcome"], "duplicate");
    assert_eq!(
        again["processed"][0]["secrets_vaulted"], 0,
        "a recorded delivery is not vaulted again"
    );
    let after = st
        .checkout_vault()
        .unexpired(Some(&account), SecretKind::PasswordResetLink, Utc::now())
        .await
        .unwrap();
    assert_eq!(after[0].0.expires_at, found[0].0.expires_at);
    assert_eq!(
        st.audit()
            .read_stream(&format!("account/{ACCOUNT}"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        st.checkout_vault()
            .unexpired(Some(&account), SecretKind::PasswordResetLink, Utc::now())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_events_are_named_and_a_missing_object_is_transient() {
    let st = stack(true).await;
    let (err, out) = st.invoke(&json!({"hello": "world"})).await;
    assert_eq!(
        (err.as_deref(), out["errorType"].as_str()),
        (Some("Unhandled"), Some("ValidationError")),
        "{out}"
    );
    // SES invoked us but the object is not there (yet): retryable, so async retries and the DLQ apply.
    let (err, out) = st.invoke(&ses_event("sesmissing0001", ROOT_EMAIL)).await;
    assert_eq!(
        (err.as_deref(), out["errorType"].as_str()),
        (Some("Unhandled"), Some("TransientAwsError")),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_mail_is_a_ticket_without_loading_the_body_and_quarantine_is_not_vaulted() {
    let st = stack(false).await;
    let svc = st.services(Notifications {
        webhook: None,
        email: None,
    });
    let (tickets, mail) = (&svc.tickets, &svc.mail);
    let deps = svc.deps(1000);
    let delivery = |id: &str| Delivery {
        ses_message_id: id.into(),
        recipients: vec![ROOT_EMAIL.into()],
        verdicts: None,
        subject: Some("Your invoice".into()),
        from: Some("AWS Billing <aws-billing@amazon.com>".into()),
        received_at: Utc::now(),
        object: None,
    };
    st.store_raw(
        "sesbig0001",
        fixture("mail/billing-01-invoice-pdf-attachment.eml"),
    );
    let p = inbound::process(&deps, &delivery("sesbig0001"))
        .await
        .unwrap();
    assert!(p.oversized);
    assert_eq!((p.outcome, p.priority), ("created", Priority::High));
    let t = tickets.get(&p.ticket_id).await.unwrap().unwrap();
    assert!(
        t.summary.contains("exceeds the 1000-byte limit"),
        "{}",
        t.summary
    );
    assert_eq!(t.account_id.as_ref().map(|a| a.as_str()), Some(ACCOUNT));

    // A phish with a fake reset link: quarantined, link redacted, nothing vaulted.
    let deps = inbound::Deps {
        max_bytes: 40_000_000,
        ..deps
    };
    st.store_raw(
        "sesphish001",
        fixture("mail/quarantine-04-phishing-signin-aws-unaligned-dkim.eml"),
    );
    let p = inbound::process(&deps, &delivery("sesphish001"))
        .await
        .unwrap();
    assert!(p.quarantined);
    assert_eq!(p.secrets_vaulted, 0);
    assert!(matches!(p.priority, Priority::High | Priority::Critical));

    // An S3-action event names its object: read exactly that (not `<prefix><ses id>`, which does
    // not exist); another bucket is refused. SES stores only under the receipt rule's prefix.
    let bucket = st.emu.env("ROOTWARDEN_MAIL_BUCKET");
    let named_key = format!(
        "{}elsewhere/sesnamed001",
        st.emu.env("ROOTWARDEN_MAIL_PREFIX")
    );
    st.emu
        .store_as_ses(
            &bucket,
            &named_key,
            &fixture("mail/billing-03-free-tier-alert.eml"),
        )
        .unwrap();
    let named = Delivery {
        object: Some((bucket.clone(), named_key.clone())),
        ..delivery("sesnamed001")
    };
    let p = inbound::process(&deps, &named).await.unwrap();
    assert_eq!(
        tickets
            .get(&p.ticket_id)
            .await
            .unwrap()
            .unwrap()
            .raw_locations,
        vec![format!("s3://{bucket}/{named_key}")]
    );
    let foreign = Delivery {
        object: Some(("someone-elses-bucket".into(), "x".into())),
        ..delivery("sesforeign01")
    };
    assert_eq!(
        inbound::process(&deps, &foreign)
            .await
            .unwrap_err()
            .error_type,
        ErrorType::ValidationError
    );

    // Missing object: retried briefly, then a transient error (so SES/Lambda retry later).
    let mut quick = mail.clone();
    quick.retry_delays = vec![std::time::Duration::from_millis(10)];
    let deps = inbound::Deps {
        mail: &quick,
        ..deps
    };
    let err = inbound::process(&deps, &delivery("sesnothere01"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, ErrorType::TransientAwsError);
}

/// A one-endpoint HTTP server on loopback that records requests and answers with the next status
/// from `statuses` (then 200).
/// One received request: lower-cased headers and the body.
type Request = (HashMap<String, String>, Vec<u8>);

struct Receiver {
    url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<Request>>>,
    statuses: std::sync::Arc<std::sync::Mutex<Vec<u16>>>,
}

fn receiver(statuses: Vec<u16>) -> Receiver {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/rootwarden", listener.local_addr().unwrap());
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let statuses = std::sync::Arc::new(std::sync::Mutex::new(statuses));
    let (g, st) = (got.clone(), statuses.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut headers = HashMap::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                if let Some((k, v)) = l.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            g.lock().unwrap().push((headers, body));
            let status = {
                let mut s = st.lock().unwrap();
                if s.is_empty() {
                    200
                } else {
                    s.remove(0)
                }
            };
            let mut c = conn;
            let _ = write!(
                c,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    Receiver { url, got, statuses }
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_are_signed_retried_and_delivered_at_least_once() {
    use hmac::{Hmac, Mac};
    // Deployed with a contact sender: inbound-mail may send from it (and only from it).
    let template = template_with_notify_from(NOTIFY_FROM);
    let st = stack_from(false, Some(template.path().join("template.yaml"))).await;
    assert_eq!(st.emu.env("ROOTWARDEN_NOTIFY_FROM"), NOTIFY_FROM);
    let conf = st.emu.sdk_config().await;
    // Contacts for the account, and a verified SES sender (unverified senders are refused).
    st.ddb
        .update_item()
        .table_name(st.emu.env("ROOTWARDEN_ACCOUNTS_TABLE"))
        .key("account_id", AttributeValue::S(ACCOUNT.into()))
        .update_expression("SET contacts = :c")
        .expression_attribute_values(
            ":c",
            AttributeValue::L(vec![AttributeValue::S("secops@customer.example".into())]),
        )
        .send()
        .await
        .unwrap();
    let ses = aws_sdk_sesv2::Client::new(&conf);
    ses.create_email_identity()
        .email_identity("provider.example")
        .send()
        .await
        .unwrap();

    let hook = receiver(vec![500]);
    let secret = secrecy::SecretString::from("whsec-test-key");
    let mut webhook = WebhookNotifier::new(&hook.url, secret.clone()).unwrap();
    webhook.retry_delays = vec![std::time::Duration::from_millis(20)];
    let notifier = Notifications {
        webhook: Some(webhook),
        // As the Lambda sends it: with its own role.
        email: Some(SesNotifier::new(
            aws_sdk_sesv2::Client::new(&st.mail_role),
            NOTIFY_FROM,
        )),
    };
    let svc = st.services(notifier);
    let deps = svc.deps(40_000_000);
    let delivery = Delivery {
        ses_message_id: "sesnotify01".into(),
        recipients: vec![ROOT_EMAIL.into()],
        verdicts: None,
        subject: None,
        from: None,
        received_at: Utc::now(),
        object: None,
    };
    st.store_raw(
        "sesnotify01",
        fixture("mail/security-02-exposed-access-key.eml"),
    );

    let p = inbound::process(&deps, &delivery).await.unwrap();
    assert_eq!((p.outcome, p.priority), ("created", Priority::Critical));
    // First attempt got a 500 and was retried; both carry a valid signature.
    let got = hook.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    for (headers, body) in &got {
        let ts = &headers["x-rootwarden-timestamp"];
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(b"whsec-test-key").unwrap();
        mac.update(format!("{ts}.").as_bytes());
        mac.update(body);
        assert_eq!(
            headers["x-rootwarden-signature"],
            format!("v1={}", hex::encode(mac.finalize().into_bytes()))
        );
        assert_eq!(headers["x-rootwarden-event"], "ticket.created");
        assert_eq!(
            headers["x-rootwarden-delivery"],
            format!("{}/1", p.ticket_id)
        );
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["ticket"]["id"], p.ticket_id.as_str());
    }
    // The contact e-mail went out through SES (critical ≥ high), visible on the emulator.
    let (_, data) = st
        .emu
        .test_endpoint("GET", "/moto-api/data.json", None)
        .unwrap();
    let sent = data["ses"].to_string();
    assert!(
        sent.contains("secops@customer.example") && sent.contains(&p.ticket_id),
        "SES send not observed: {sent:.400}"
    );

    // The receiver is down for longer than the retries: the invocation fails (retryable) ...
    // (one 503 per attempt: the first try and its one retry)
    *hook.statuses.lock().unwrap() = vec![503, 503];
    let delivery2 = Delivery {
        ses_message_id: "sesnotify02".into(),
        ..delivery.clone()
    };
    st.store_raw(
        "sesnotify02",
        fixture("mail/security-03-suspicious-signin.eml"),
    );
    let err = inbound::process(&deps, &delivery2).await.unwrap_err();
    assert_eq!(err.error_type, rootwarden::ErrorType::TransientAwsError);
    // ... and the retry (a duplicate now) delivers the notification that did not go out.
    let before = hook.got.lock().unwrap().len();
    let p2 = inbound::process(&deps, &delivery2).await.unwrap();
    assert_eq!(p2.outcome, "duplicate");
    assert_eq!(hook.got.lock().unwrap().len(), before + 1);
    // Once delivered, further retries send nothing.
    inbound::process(&deps, &delivery2).await.unwrap();
    assert_eq!(hook.got.lock().unwrap().len(), before + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn password_changed_mail_completes_the_waiting_workflow_once() {
    use aws_sdk_sfn::types::ExecutionStatus;
    let st = stack(false).await;
    // The account the mail's sub-address names is a managed one (the registry knows it).
    st.ddb
        .put_item()
        .table_name(st.emu.env("ROOTWARDEN_ACCOUNTS_TABLE"))
        .item("account_id", AttributeValue::S("314159265358".into()))
        .item(
            "root_email",
            AttributeValue::S("aws-root+314159265358@provider.example".into()),
        )
        .send()
        .await
        .unwrap();
    // A workflow that waits for AWS's "password changed" mail, as rotation's apply step does.
    let function = st.emu.stack().resources["AuditVerifierFunction"]
        .arn
        .clone()
        .unwrap();
    let definition = json!({
        "StartAt": "AwaitApply",
        "States": {"AwaitApply": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": function, "Payload": {"token.$": "$$.Task.Token"}},
            "TimeoutSeconds": 600,
            "End": true
        }}
    });
    let sm = st
        .sfn
        .create_state_machine()
        .name(format!("{}-await", st.emu.stack().name))
        .definition(definition.to_string())
        .role_arn(st.emu.state_machine_role("await", &function).await.unwrap())
        .send()
        .await
        .unwrap();
    let exec = st
        .sfn
        .start_execution()
        .state_machine_arn(sm.state_machine_arn())
        .name("rotation-1")
        .input("{}")
        .send()
        .await
        .unwrap();
    // The token the waiting task was given (in production the task itself registers it).
    let mut token = None;
    for _ in 0..100 {
        let h = st
            .sfn
            .get_execution_history()
            .execution_arn(exec.execution_arn())
            .send()
            .await
            .unwrap();
        token = h.events().iter().find_map(|e| {
            let params: Value =
                serde_json::from_str(e.task_scheduled_event_details()?.parameters()).ok()?;
            params["Payload"]["token"].as_str().map(str::to_owned)
        });
        if token.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let account = AccountId::parse("314159265358").unwrap();
    let waits = st.waits();
    // Registered as rotation's apply step registers it: with the rotation function's role.
    st.waits_as(&st.emu.role_config("RotationFunction").await)
        .register(&Wait {
            account: account.clone(),
            kind: Category::PasswordChanged,
            execution: "rotation-1".into(),
            task_token: token.expect("task token in history"),
            expires_at: Utc::now() + Duration::hours(72),
            registered_at: Utc::now(),
            claimed_by: None,
        })
        .await
        .unwrap();

    let svc = st.services(Notifications {
        webhook: None,
        email: None,
    });
    let deps = svc.deps(40_000_000);
    // The account's registered root address (onboarding writes this).
    st.ddb
        .put_item()
        .table_name(st.emu.env("ROOTWARDEN_ACCOUNTS_TABLE"))
        .set_item(Some(HashMap::from([
            (
                "account_id".to_owned(),
                AttributeValue::S(account.as_str().into()),
            ),
            (
                "root_email".to_owned(),
                AttributeValue::S("aws-root+314159265358@provider.example".into()),
            ),
            ("status".to_owned(), AttributeValue::S("active".into())),
        ])))
        .send()
        .await
        .unwrap();
    // AWS's authenticated "password changed" mail to that root address, received after the
    // wait was registered, with SES's receipt verdicts all PASS.
    st.store_raw(
        "seschanged01",
        fixture("mail/password-changed-01-sub-address.eml"),
    );
    let delivery = Delivery {
        ses_message_id: "seschanged01".into(),
        recipients: vec!["aws-root+314159265358@provider.example".into()],
        verdicts: Some(SesVerdicts {
            spam: Verdict::Pass,
            virus: Verdict::Pass,
            spf: Verdict::Pass,
            dkim: Verdict::Pass,
            dmarc: Verdict::Pass,
        }),
        subject: None,
        from: None,
        received_at: Utc::now(),
        object: None,
    };
    let p = inbound::process(&deps, &delivery).await.unwrap();
    assert_eq!(p.category, Category::PasswordChanged);
    assert_eq!(p.workflows_completed, 1);
    assert_eq!(
        p.priority,
        Priority::Normal,
        "expected by a workflow: not critical"
    );

    let mut status = ExecutionStatus::Running;
    let mut output = String::new();
    for _ in 0..100 {
        let d = st
            .sfn
            .describe_execution()
            .execution_arn(exec.execution_arn())
            .send()
            .await
            .unwrap();
        status = d.status().clone();
        output = d.output().unwrap_or_default().to_owned();
        if status != ExecutionStatus::Running {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let history = st
        .sfn
        .get_execution_history()
        .execution_arn(exec.execution_arn())
        .send()
        .await
        .unwrap();
    let failures: Vec<_> = history
        .events()
        .iter()
        .filter_map(|e| {
            let d = e.task_failed_event_details()?;
            Some((d.error().map(str::to_owned), d.cause().map(str::to_owned)))
        })
        .collect();
    assert_eq!(status, ExecutionStatus::Succeeded, "{failures:?}");
    let out: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(out["ticket_id"], p.ticket_id.as_str());
    assert_eq!(out["category"], "password-changed");
    assert!(waits
        .waiting(&account, Category::PasswordChanged, Utc::now())
        .await
        .unwrap()
        .is_empty());
    // A retry of the same delivery completes nothing more.
    assert_eq!(
        inbound::process(&deps, &delivery)
            .await
            .unwrap()
            .workflows_completed,
        0
    );

    // Without a waiting workflow, the same kind of mail is unexpected: critical.
    st.store_raw(
        "seschanged02",
        fixture("mail/password-changed-02-account-in-body.eml"),
    );
    let p2 = inbound::process(
        &deps,
        &Delivery {
            ses_message_id: "seschanged02".into(),
            recipients: vec![],
            ..delivery.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (p2.category, p2.priority, p2.workflows_completed),
        (Category::PasswordChanged, Priority::Critical, 0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_shared_corpus_message_goes_through_the_pipeline_to_a_ticket() {
    let Some(shared) = rootwarden_tests::shared_dir() else {
        eprintln!("SKIPPED: ../shared is absent, so the mail-parser corpus cannot be read");
        return;
    };
    let mut files = Vec::new();
    let mut dirs = vec![shared.join("corpus/mail-parser-eml")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "eml") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 100);
    let st = stack(false).await;
    let svc = st.services(Notifications {
        webhook: None,
        email: None,
    });
    let tickets = &svc.tickets;
    let deps = svc.deps(40_000_000);
    let mut seen = std::collections::HashSet::new();
    let mut recorded = 0;
    for (i, f) in files.iter().enumerate() {
        let id = format!("corpus{i:04}");
        st.store_raw(&id, std::fs::read(f).unwrap());
        let delivery = Delivery {
            ses_message_id: id,
            recipients: vec![ROOT_EMAIL.into()],
            verdicts: None,
            subject: None,
            from: None,
            received_at: Utc::now(),
            object: None,
        };
        let p = inbound::process(&deps, &delivery)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(
            tickets.get(&p.ticket_id).await.unwrap().is_some(),
            "{}: no ticket",
            f.display()
        );
        if p.outcome != "duplicate" {
            recorded += 1;
        }
        seen.insert(p.ticket_id);
    }
    // Messages that share a Message-ID with an earlier one are duplicates; every other message
    // was recorded (a new ticket or a thread update) with exactly one audit record.
    let audit = st
        .audit()
        .read_stream(&format!("account/{ACCOUNT}"))
        .await
        .unwrap();
    assert_eq!(audit.len(), recorded);
    assert!(
        recorded >= files.len() * 3 / 4,
        "{recorded} of {} recorded",
        files.len()
    );
    assert!(rootwarden::audit::verify(&st.audit(), None)
        .await
        .unwrap()
        .is_ok());
    eprintln!(
        "{} messages: {recorded} recorded, {} tickets",
        files.len(),
        seen.len()
    );
}
