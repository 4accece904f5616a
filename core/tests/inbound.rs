//! The whole inbound decision (`inbound::process`) with the in-memory ports: what becomes a
//! ticket, what threads, what is quarantined, where secrets go, which workflow waits complete,
//! and that redeliveries and notifier outages lose nothing. Milliseconds, no emulator.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use rootwarden_core::audit::{self, Stream};
use rootwarden_core::inbound::{process, Delivery, Deps, Processed};
use rootwarden_core::mail::{Category, Priority, SecretKind, SesVerdicts, Verdict};
use rootwarden_core::tickets::TicketStore;
use rootwarden_core::vault::TransientStore;
use rootwarden_core::workflows::{Wait, WorkflowWaits};
use rootwarden_core::{AccountId, LambdaError, RootEmail};
use rootwarden_testkit::contract::fixtures::pass;
use rootwarden_testkit::{
    MemoryAccountRegistry, MemoryAuditLog, MemoryRawMailStore, MemoryTicketStore,
    MemoryTransientStore, MemoryWorkflowWaits, RecordingNotifier,
};

const ACTOR: &str = "arn:aws:lambda:us-east-1:123456789012:function:inbound-mail";
/// The account of the support-case and password-reset fixtures.
const ACME: &str = "210987654321";
/// The account of the password-changed fixture.
const PI: &str = "314159265358";
const RESET_TOKEN: &str =
    "rhTuvqCdmPG0tmKXPDZpAemm1za7v0fHhvjwdbT2HwDqzuM14qHOXHlpaBqCefuv2FSJghB6hRLeos47wGJkcU_0XXkHG5qJ";

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/mail")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

fn sub_address(id: &str) -> String {
    format!("aws-root+{id}@provider.example")
}

#[derive(Default)]
struct Rig {
    audit: MemoryAuditLog,
    mail: MemoryRawMailStore,
    tickets: MemoryTicketStore,
    vault: MemoryTransientStore,
    registry: MemoryAccountRegistry,
    notifier: RecordingNotifier,
    waits: MemoryWorkflowWaits,
}

impl Rig {
    /// The accounts of the fixtures registered at their sub-addresses.
    fn new() -> Self {
        let vault = MemoryTransientStore::default();
        let audit = MemoryAuditLog::default();
        let rig = Rig {
            tickets: MemoryTicketStore::new(audit.clone()).with_vault(vault.clone()),
            vault,
            audit,
            ..Rig::default()
        };
        for id in [ACME, PI] {
            let email = RootEmail::parse(&sub_address(id)).unwrap();
            rig.registry
                .register(&account(id), &email, &["ops@provider.example"]);
        }
        rig
    }

    async fn deliver(
        &self,
        ses_id: &str,
        to: &str,
        raw: &[u8],
        verdicts: SesVerdicts,
        at: DateTime<Utc>,
    ) -> Result<Processed, LambdaError> {
        self.mail.deliver(ses_id, raw);
        self.redeliver(ses_id, to, verdicts, at).await
    }

    /// SES (or Lambda) delivers an already stored message again.
    async fn redeliver(
        &self,
        ses_id: &str,
        to: &str,
        verdicts: SesVerdicts,
        at: DateTime<Utc>,
    ) -> Result<Processed, LambdaError> {
        let deps = Deps {
            mail: &self.mail,
            tickets: &self.tickets,
            vault: &self.vault,
            registry: &self.registry,
            notifier: &self.notifier,
            waits: &self.waits,
            actor: ACTOR,
            max_bytes: 10_000_000,
        };
        let delivery = Delivery {
            ses_message_id: ses_id.to_owned(),
            recipients: vec![to.to_owned()],
            verdicts: Some(verdicts),
            subject: None,
            from: None,
            received_at: at,
            object: None,
        };
        process(&deps, &delivery).await
    }

    fn audit_actions(&self, stream: &Stream) -> Vec<String> {
        self.audit
            .records(&stream.key())
            .into_iter()
            .map(|r| r.action)
            .collect()
    }

    fn events(&self) -> Vec<&'static str> {
        self.notifier.delivered().iter().map(|d| d.event).collect()
    }
}

fn spoofed() -> SesVerdicts {
    SesVerdicts {
        dkim: Verdict::Fail,
        dmarc: Verdict::Fail,
        ..pass()
    }
}

#[tokio::test]
async fn genuine_aws_mail_to_a_registered_account_becomes_a_notified_ticket() {
    let rig = Rig::new();
    let raw = fixture("support-case-01-opened.eml");
    let out = rig
        .deliver("ses-1", &sub_address(ACME), &raw, pass(), Utc::now())
        .await
        .unwrap();
    assert_eq!(out.outcome, "created");
    assert_eq!(out.category, Category::SupportCase);
    assert!(!out.quarantined);
    let t = rig.tickets.get(&out.ticket_id).await.unwrap().unwrap();
    assert_eq!(t.account_id, Some(account(ACME)));
    assert_eq!(t.support_case_id.as_deref(), Some("17394856201"));
    assert_eq!(t.raw_locations, vec!["s3://rootwarden-mail/inbound/ses-1"]);
    // Notified once, and marked so a retry does not notify again.
    assert_eq!(rig.events(), vec!["ticket.created"]);
    assert_eq!(rig.notifier.delivered()[0].ticket, t);
    assert_eq!(rig.tickets.pending_notification(&t.id).await.unwrap(), None);
    // Audited on the account's chain, which verifies.
    assert_eq!(
        rig.audit_actions(&Stream::Account(account(ACME))),
        vec!["ticket.created"]
    );
    assert!(audit::verify(&rig.audit, None).await.unwrap().is_ok());
}

#[tokio::test]
async fn a_reply_threads_onto_its_ticket() {
    let rig = Rig::new();
    let now = Utc::now();
    let first = rig
        .deliver(
            "ses-1",
            &sub_address(ACME),
            &fixture("support-case-01-opened.eml"),
            pass(),
            now,
        )
        .await
        .unwrap();
    let reply = rig
        .deliver(
            "ses-2",
            &sub_address(ACME),
            &fixture("support-case-02-reply-thread.eml"),
            pass(),
            now + Duration::days(2),
        )
        .await
        .unwrap();
    assert_eq!(reply.outcome, "updated");
    assert_eq!(reply.ticket_id, first.ticket_id);
    let t = rig.tickets.get(&first.ticket_id).await.unwrap().unwrap();
    assert_eq!(t.messages, 2);
    assert_eq!(t.message_ids.len(), 2);
    assert_eq!(rig.events(), vec!["ticket.created", "ticket.updated"]);
    assert_eq!(rig.tickets.list(None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn spoofed_mail_is_quarantined_vaults_nothing_and_joins_no_thread() {
    let rig = Rig::new();
    let now = Utc::now();
    let real = rig
        .deliver(
            "ses-1",
            &sub_address(ACME),
            &fixture("support-case-01-opened.eml"),
            pass(),
            now,
        )
        .await
        .unwrap();
    // A phish from "amazon.com" whose DKIM fails, carrying a reset-shaped link.
    let out = rig
        .deliver(
            "ses-2",
            &sub_address(ACME),
            &fixture("quarantine-05-phishing-amazon-dkim-fail.eml"),
            spoofed(),
            now,
        )
        .await
        .unwrap();
    assert!(out.quarantined);
    assert_eq!(out.outcome, "created");
    assert_ne!(out.ticket_id, real.ticket_id);
    assert_eq!(out.secrets_vaulted, 0);
    assert!(
        rig.vault.stored().is_empty(),
        "quarantined mail vaults nothing"
    );
    let t = rig.tickets.get(&out.ticket_id).await.unwrap().unwrap();
    assert!(t.quarantined);
    assert!(!t.quarantine_reasons.is_empty());
    assert!(t.attachments.is_empty());
    assert!(t.redactions.contains(&SecretKind::PasswordResetLink));
    assert_eq!(
        rig.tickets
            .get(&real.ticket_id)
            .await
            .unwrap()
            .unwrap()
            .messages,
        1
    );
}

#[tokio::test]
async fn a_reset_link_is_vaulted_as_transient_and_never_reaches_the_ticket() {
    let rig = Rig::new();
    let now = Utc::now();
    let out = rig
        .deliver(
            "ses-reset",
            &sub_address(ACME),
            &fixture("password-reset-01-signin-aws.eml"),
            pass(),
            now,
        )
        .await
        .unwrap();
    assert_eq!(out.category, Category::PasswordReset);
    assert_eq!(out.secrets_vaulted, 1);
    // Vaulted under the account, for 24 hours from receipt.
    let stored = rig.vault.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].pk, format!("transient#{ACME}"));
    assert_eq!(stored[0].expires_at, now + Duration::hours(24));
    assert!(rig.vault.holds(&format!(
        "https://signin.aws.amazon.com/resetpassword?token={RESET_TOKEN}&type=ROOT_USER"
    )));
    let shown = rig
        .vault
        .unexpired(Some(&account(ACME)), SecretKind::PasswordResetLink, now)
        .await
        .unwrap();
    assert_eq!(shown.len(), 1);
    // Never in the ticket, the notification or the audit trail.
    let t = rig.tickets.get(&out.ticket_id).await.unwrap().unwrap();
    let ticket_json = serde_json::to_string(&t).unwrap();
    assert!(!ticket_json.contains(RESET_TOKEN), "{ticket_json}");
    assert!(t.redactions.contains(&SecretKind::PasswordResetLink));
    let notified = format!("{:?}", rig.notifier.delivered());
    assert!(!notified.contains(RESET_TOKEN));
    let audited = format!(
        "{:?}",
        rig.audit.records(&Stream::Account(account(ACME)).key())
    );
    assert!(!audited.contains(RESET_TOKEN));
}

fn password_changed_wait(account_id: &str, registered_at: DateTime<Utc>) -> Wait {
    Wait {
        account: account(account_id),
        kind: Category::PasswordChanged,
        execution: format!("rotation-{account_id}"),
        task_token: format!("token-{account_id}"),
        expires_at: registered_at + Duration::hours(72),
        registered_at,
        claimed_by: None,
    }
}

#[tokio::test]
async fn authentic_mail_meant_for_a_wait_completes_it_once() {
    let rig = Rig::new();
    let now = Utc::now();
    let wait = password_changed_wait(PI, now - Duration::minutes(10));
    rig.waits.register(&wait).await.unwrap();
    // Another account's wait is not this mail's.
    let other = password_changed_wait(ACME, now - Duration::minutes(10));
    rig.waits.register(&other).await.unwrap();

    let raw = fixture("password-changed-01-sub-address.eml");
    let out = rig
        .deliver("ses-changed", &sub_address(PI), &raw, pass(), now)
        .await
        .unwrap();
    assert_eq!(out.category, Category::PasswordChanged);
    assert_eq!(
        (out.workflows_completed, out.workflow_claims_refused),
        (1, 0)
    );
    assert!(
        out.priority < Priority::Critical,
        "expected mail is not critical"
    );
    let completed = rig.waits.completed();
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].execution, wait.execution);
    assert_eq!(completed[0].output["ticket_id"], out.ticket_id.as_str());
    assert_eq!(completed[0].output["account_id"], PI);
    assert!(
        rig.waits
            .record(&wait.account, wait.kind, &wait.execution)
            .is_none(),
        "a completed wait is removed"
    );
    assert!(rig
        .waits
        .record(&other.account, other.kind, &other.execution)
        .is_some());

    // A redelivery completes nothing new.
    let again = rig
        .redeliver("ses-changed", &sub_address(PI), pass(), now)
        .await
        .unwrap();
    assert_eq!(again.outcome, "duplicate");
    assert_eq!(again.workflows_completed, 0);
    assert_eq!(rig.waits.completed().len(), 1);
}

#[tokio::test]
async fn mail_that_may_not_complete_a_wait_leaves_it_waiting_and_flags_the_ticket() {
    let now = Utc::now();
    let raw = fixture("password-changed-01-sub-address.eml");
    // Spoofed (DKIM/DMARC fail); received before the wait was registered: both refused.
    for (verdicts, registered_at) in [
        (spoofed(), now - Duration::minutes(10)),
        (pass(), now + Duration::minutes(10)),
    ] {
        let rig = Rig::new();
        let wait = password_changed_wait(PI, registered_at);
        rig.waits.register(&wait).await.unwrap();
        let out = rig
            .deliver("ses-x", &sub_address(PI), &raw, verdicts, now)
            .await
            .unwrap();
        assert_eq!(out.workflows_completed, 0);
        assert!(rig.waits.completed().is_empty());
        let left = rig
            .waits
            .record(&wait.account, wait.kind, &wait.execution)
            .expect("the wait is still there");
        assert_eq!(left.claimed_by, None);
        if !out.quarantined {
            assert_eq!(out.workflow_claims_refused, 1);
            assert!(out.priority >= Priority::High);
            let t = rig.tickets.get(&out.ticket_id).await.unwrap().unwrap();
            assert!(
                t.summary.starts_with('['),
                "the ticket says why: {}",
                t.summary
            );
        }
    }
}

#[tokio::test]
async fn mail_to_an_unknown_recipient_is_unrouted() {
    let rig = Rig::new();
    // Names an account by sub-address that the registry does not know.
    let out = rig
        .deliver(
            "ses-u",
            "aws-root+222233334444@provider.example",
            &fixture("account-01-closure-confirmation.eml"),
            pass(),
            Utc::now(),
        )
        .await
        .unwrap();
    let t = rig.tickets.get(&out.ticket_id).await.unwrap().unwrap();
    assert_eq!(t.account_id, None);
    assert_eq!(t.unregistered_account, Some(account("222233334444")));
    // No audit chain for an account that does not exist: the record is on the system chain.
    assert!(rig
        .audit_actions(&Stream::Account(account("222233334444")))
        .is_empty());
    assert_eq!(rig.audit_actions(&Stream::System), vec!["ticket.created"]);
    // Notified without anyone's contacts.
    assert!(rig.notifier.delivered()[0].emailed.is_empty());

    // Personal mail to an unregistered address: unrouted too.
    let out = rig
        .deliver(
            "ses-p",
            "acme-prod@root.provider.example",
            &fixture("unknown-01-personal-mail-bcc.eml"),
            pass(),
            Utc::now(),
        )
        .await
        .unwrap();
    let t = rig.tickets.get(&out.ticket_id).await.unwrap().unwrap();
    assert_eq!((t.account_id, t.unregistered_account), (None, None));
}

#[tokio::test]
async fn a_redelivery_is_idempotent() {
    let rig = Rig::new();
    let now = Utc::now();
    let raw = fixture("password-reset-01-signin-aws.eml");
    let first = rig
        .deliver("ses-r", &sub_address(ACME), &raw, pass(), now)
        .await
        .unwrap();
    for _ in 0..3 {
        let again = rig
            .redeliver("ses-r", &sub_address(ACME), pass(), now)
            .await
            .unwrap();
        assert_eq!(again.outcome, "duplicate");
        assert_eq!(again.ticket_id, first.ticket_id);
        assert_eq!(again.secrets_vaulted, 0);
    }
    assert_eq!(rig.tickets.list(None).await.unwrap().len(), 1);
    assert_eq!(rig.vault.stored().len(), 1);
    assert_eq!(rig.events(), vec!["ticket.created"]);
    assert_eq!(
        rig.audit_actions(&Stream::Account(account(ACME))),
        vec!["ticket.created"]
    );
}

#[tokio::test]
async fn a_redelivery_never_brings_back_a_link_shredded_since() {
    let rig = Rig::new();
    let now = Utc::now();
    let raw = fixture("password-reset-01-signin-aws.eml");
    rig.deliver("ses-gone", &sub_address(ACME), &raw, pass(), now)
        .await
        .unwrap();
    assert_eq!(rig.vault.shred(&account(ACME)), 1);
    // SES or Lambda retries the delivery after the account's secrets were shredded (a release)
    // or the link was used: the recorded delivery writes nothing again.
    let again = rig
        .redeliver("ses-gone", &sub_address(ACME), pass(), now)
        .await
        .unwrap();
    assert_eq!((again.outcome, again.secrets_vaulted), ("duplicate", 0));
    assert!(rig.vault.stored().is_empty());
}

#[tokio::test]
async fn a_link_is_stored_only_with_its_ticket_and_a_failed_ticket_write_stores_neither() {
    let rig = Rig::new();
    let now = Utc::now();
    let raw = fixture("password-reset-01-signin-aws.eml");
    rig.tickets.fail(true);
    assert!(rig
        .deliver("ses-atomic", &sub_address(ACME), &raw, pass(), now)
        .await
        .is_err());
    assert!(rig.vault.stored().is_empty(), "a link without its ticket");
    assert!(rig.tickets.list(None).await.unwrap_or_default().is_empty());
    rig.tickets.fail(false);
    let out = rig
        .redeliver("ses-atomic", &sub_address(ACME), pass(), now)
        .await
        .unwrap();
    assert_eq!((out.outcome, out.secrets_vaulted), ("created", 1));
    assert_eq!(rig.vault.stored().len(), 1);
}

#[tokio::test]
async fn a_notifier_outage_loses_no_ticket_and_the_retry_notifies() {
    let rig = Rig::new();
    let now = Utc::now();
    rig.notifier.fail(true);
    let raw = fixture("support-case-01-opened.eml");
    let err = rig
        .deliver("ses-n", &sub_address(ACME), &raw, pass(), now)
        .await
        .unwrap_err();
    assert_eq!(
        err.error_type,
        rootwarden_core::ErrorType::TransientAwsError
    );
    let id = rig
        .tickets
        .delivery_recorded("ses-n")
        .await
        .unwrap()
        .expect("the ticket was written before notifying");
    assert!(rig
        .tickets
        .pending_notification(&id)
        .await
        .unwrap()
        .is_some());

    // Lambda retries once the webhook is back: a duplicate, notified now, exactly once.
    rig.notifier.fail(false);
    let out = rig
        .redeliver("ses-n", &sub_address(ACME), pass(), now)
        .await
        .unwrap();
    assert_eq!(
        (out.outcome, out.ticket_id.as_str()),
        ("duplicate", id.as_str())
    );
    assert_eq!(rig.events(), vec!["ticket.created"]);
    assert_eq!(rig.tickets.pending_notification(&id).await.unwrap(), None);
    rig.redeliver("ses-n", &sub_address(ACME), pass(), now)
        .await
        .unwrap();
    assert_eq!(rig.events().len(), 1);
}

fn eml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            eml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "eml") {
            out.push(p);
        }
    }
}

#[tokio::test]
async fn every_real_world_message_becomes_a_ticket_or_a_quarantine_decision() {
    // `../shared` beside the repository (see tests/src/lib.rs `shared_dir`).
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/mail-parser-eml");
    if !corpus.is_dir() {
        println!("skipped: {} is absent", corpus.display());
        return;
    }
    let mut files = Vec::new();
    eml_files(&corpus, &mut files);
    files.sort();
    assert!(files.len() > 100, "{} messages", files.len());
    let rig = Rig::new();
    let now = Utc::now();
    for (i, path) in files.iter().enumerate() {
        let raw = std::fs::read(path).unwrap();
        let ses_id = format!("corpus-{i:03}");
        let out = rig
            .deliver(&ses_id, &sub_address(ACME), &raw, pass(), now)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let t = rig.tickets.get(&out.ticket_id).await.unwrap();
        assert!(t.is_some(), "{}: no ticket", path.display());
        assert_eq!(
            rig.tickets.delivery_recorded(&ses_id).await.unwrap(),
            Some(out.ticket_id),
            "{}",
            path.display()
        );
    }
    assert!(audit::verify(&rig.audit, None).await.unwrap().is_ok());
}

#[tokio::test]
async fn aws_account_closed_mail_completes_a_closing_release_wait() {
    let rig = Rig::new();
    let closing = "222233334444";
    rig.registry.register(
        &account(closing),
        &RootEmail::parse(&sub_address(closing)).unwrap(),
        &[],
    );
    let now = Utc::now();
    let wait = Wait {
        kind: Category::AccountClosed,
        execution: "release-222233334444-AR-1".into(),
        ..password_changed_wait(closing, now - Duration::minutes(5))
    };
    rig.waits.register(&wait).await.unwrap();
    let raw = fixture("account-01-closure-confirmation.eml");
    let out = rig
        .deliver("ses-closed", &sub_address(closing), &raw, pass(), now)
        .await
        .unwrap();
    assert_eq!(out.category, Category::AccountClosed);
    assert_eq!(
        (out.workflows_completed, out.workflow_claims_refused),
        (1, 0)
    );
    assert_eq!(rig.waits.completed()[0].execution, wait.execution);
}

#[tokio::test]
async fn mail_to_a_released_or_closed_account_is_ticketed_and_marked() {
    use rootwarden_core::registry::AccountStatus;
    let rig = Rig::new();
    let raw = fixture("account-05-root-email-changed.eml");
    // Custody still ours: a root email change nobody expected is critical.
    let out = rig
        .deliver("ses-rec-1", &sub_address(ACME), &raw, pass(), Utc::now())
        .await
        .unwrap();
    assert_eq!(out.category, Category::RootEmailChanged);
    assert_eq!(out.priority, Priority::Critical);
    // Handed back: ticketed, marked, expected.
    rig.registry
        .set_status(&account(ACME), AccountStatus::Released);
    let raw = fixture("support-case-01-opened.eml");
    let out = rig
        .deliver("ses-rel-1", &sub_address(ACME), &raw, pass(), Utc::now())
        .await
        .unwrap();
    let t = rig.tickets.get(&out.ticket_id).await.unwrap().unwrap();
    assert_eq!(t.account_id, Some(account(ACME)));
    assert!(
        t.summary.starts_with("[mail to a released account"),
        "{}",
        t.summary
    );
    rig.registry.set_status(&account(PI), AccountStatus::Closed);
    let raw = fixture("password-changed-01-sub-address.eml");
    let out = rig
        .deliver("ses-cl-1", &sub_address(PI), &raw, pass(), Utc::now())
        .await
        .unwrap();
    let t = rig.tickets.get(&out.ticket_id).await.unwrap().unwrap();
    assert!(
        t.summary.starts_with("[mail to a closed account"),
        "{}",
        t.summary
    );
}
