//! The mail a takeover waits for, through the whole inbound decision on the in-memory ports:
//! AWS's "MFA device added" mail is ticketed but never completes the `mfa` wait (only the
//! seed's vaulting does), and the root email change's
//! verification code (from `no-reply@verify.signin.aws`, or `aws-verification@amazon.com`) is
//! classified `verification-code`, vaulted as a transient secret when authentic, and completes
//! a waiting `verification-code` wait, under the one trust rule (`mail::workflow_trust`).

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use rootwarden_core::inbound::{process, Delivery, Deps, Processed};
use rootwarden_core::mail::{Category, SecretKind, SesVerdicts, Verdict};
use rootwarden_core::tickets::TicketStore;
use rootwarden_core::vault::TransientStore;
use rootwarden_core::workflows::{Wait, WorkflowWaits};
use rootwarden_core::{AccountId, LambdaError, RootEmail};
use rootwarden_testkit::contract::fixtures::pass;
use rootwarden_testkit::{
    MemoryAccountRegistry, MemoryAuditLog, MemoryRawMailStore, MemoryTicketStore,
    MemoryTransientStore, MemoryWorkflowWaits, RecordingNotifier,
};
use secrecy::ExposeSecret;

const ACTOR: &str = "arn:aws:lambda:us-east-1:123456789012:function:inbound-mail";
const ACCOUNT: &str = "555566667777";
/// The root address of the fixtures below (their `To:`).
const MFA_ROOT: &str = "globex-shared@root.provider.example";
const CODE_ROOT: &str = "newco-dev@root.provider.example";
const CODE: &str = "483920";

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/mail")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The root email change's code as AWS sends it: the sign-up code fixture, sent by
/// `no-reply@verify.signin.aws` and DKIM-signed by it (SES's `Authentication-Results`).
fn verify_signin_code() -> String {
    let raw = fixture("verification-code-01-signup.eml");
    let raw = raw
        .replace(
            "From: Amazon Web Services <aws-verification@amazon.com>",
            "From: Amazon Web Services <no-reply@verify.signin.aws>",
        )
        .replace(
            "dkim=pass header.i=@amazon.com;",
            "dkim=pass header.i=@verify.signin.aws;",
        )
        .replace(
            "dmarc=pass header.from=amazon.com;",
            "dmarc=pass header.from=verify.signin.aws;",
        );
    assert!(raw.contains("<no-reply@verify.signin.aws>"));
    assert!(raw.contains("header.i=@verify.signin.aws"));
    raw
}

#[derive(Default)]
struct Rig {
    mail: MemoryRawMailStore,
    tickets: MemoryTicketStore,
    vault: MemoryTransientStore,
    registry: MemoryAccountRegistry,
    notifier: RecordingNotifier,
    waits: MemoryWorkflowWaits,
}

impl Rig {
    /// `ACCOUNT` registered at `root` (the address a takeover allocated).
    fn new(root: &str) -> Self {
        let vault = MemoryTransientStore::default();
        let rig = Rig {
            tickets: MemoryTicketStore::new(MemoryAuditLog::default()).with_vault(vault.clone()),
            vault,
            ..Rig::default()
        };
        rig.registry.register(
            &account(),
            &RootEmail::parse(root).unwrap(),
            &["ops@provider.example"],
        );
        rig
    }

    async fn deliver(
        &self,
        ses_id: &str,
        to: &str,
        raw: &str,
        verdicts: SesVerdicts,
        at: DateTime<Utc>,
    ) -> Result<Processed, LambdaError> {
        self.mail.deliver(ses_id, raw.as_bytes());
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
}

fn account() -> AccountId {
    AccountId::parse(ACCOUNT).unwrap()
}

fn wait(kind: Category, registered_at: DateTime<Utc>) -> Wait {
    Wait {
        account: account(),
        kind,
        execution: format!("takeover-{ACCOUNT}-1"),
        task_token: "takeover-token".into(),
        expires_at: registered_at + Duration::hours(1),
        registered_at,
        claimed_by: None,
    }
}

#[tokio::test]
async fn mfa_mail_is_ticketed_and_never_completes_the_mfa_wait() {
    // Authentic, after the wait: recorded as a ticket of the account, but the wait is for the
    // seed, which is not in the vault when AWS mails (enrolment comes first).
    let now = Utc::now();
    let raw = fixture("mfa-01-device-added.eml");
    for (id, verdicts) in [
        ("ses-mfa", pass()),
        (
            "ses-spoof",
            SesVerdicts {
                dkim: Verdict::Fail,
                dmarc: Verdict::Fail,
                ..pass()
            },
        ),
    ] {
        let rig = Rig::new(MFA_ROOT);
        rig.waits
            .register(&wait(Category::Mfa, now - Duration::minutes(5)))
            .await
            .unwrap();
        let out = rig
            .deliver(id, MFA_ROOT, &raw, verdicts, now)
            .await
            .unwrap();
        assert_eq!(out.category, Category::Mfa, "{id}");
        assert_eq!(
            (out.workflows_completed, out.workflow_claims_refused),
            (0, 0),
            "{id}"
        );
        assert!(rig.waits.completed().is_empty(), "{id}");
        assert!(!out.ticket_id.is_empty(), "{id}: ticketed");
    }
}

#[tokio::test]
async fn the_email_change_code_from_verify_signin_aws_is_vaulted_and_completes_the_code_wait() {
    let rig = Rig::new(CODE_ROOT);
    let now = Utc::now();
    let w = wait(Category::VerificationCode, now - Duration::minutes(2));
    rig.waits.register(&w).await.unwrap();
    let out = rig
        .deliver("ses-code", CODE_ROOT, &verify_signin_code(), pass(), now)
        .await
        .unwrap();
    assert_eq!(out.category, Category::VerificationCode);
    assert!(!out.quarantined);
    assert_eq!(out.secrets_vaulted, 1);
    let codes = rig
        .vault
        .unexpired(Some(&account()), SecretKind::VerificationCode, now)
        .await
        .unwrap();
    assert_eq!(codes.len(), 1);
    assert_eq!(codes[0].1.expose_secret(), CODE);
    assert_eq!(codes[0].0.expires_at, now + Duration::minutes(15));
    assert_eq!(
        (out.workflows_completed, out.workflow_claims_refused),
        (1, 0)
    );
    assert_eq!(rig.waits.completed()[0].execution, w.execution);
    // The code never reaches the ticket.
    let t = rig.tickets.get(&out.ticket_id).await.unwrap().unwrap();
    assert!(!serde_json::to_string(&t).unwrap().contains(CODE));
}

#[tokio::test]
async fn the_aws_verification_fixtures_classify_vault_and_complete_the_code_wait() {
    // Each delivered to the root address its own (DKIM-signed) To names, as AWS sends it.
    for (name, root) in [
        ("verification-code-01-signup.eml", CODE_ROOT),
        (
            "verification-code-02-de-iso-8859-1-qp.eml",
            "aws-root+222233334444@provider.example",
        ),
    ] {
        let rig = Rig::new(root);
        let now = Utc::now();
        rig.waits
            .register(&wait(
                Category::VerificationCode,
                now - Duration::minutes(2),
            ))
            .await
            .unwrap();
        let raw = fixture(name);
        let out = rig
            .deliver("ses-code", root, &raw, pass(), now)
            .await
            .unwrap();
        assert_eq!(out.category, Category::VerificationCode, "{name}");
        assert_eq!(out.secrets_vaulted, 1, "{name}");
        assert_eq!(out.workflows_completed, 1, "{name}");
    }
}

#[tokio::test]
async fn a_code_from_a_look_alike_sender_is_neither_vaulted_nor_completes_the_wait() {
    let rig = Rig::new(CODE_ROOT);
    let now = Utc::now();
    rig.waits
        .register(&wait(
            Category::VerificationCode,
            now - Duration::minutes(2),
        ))
        .await
        .unwrap();
    let raw = verify_signin_code()
        .replace(
            "no-reply@verify.signin.aws",
            "no-reply@verify-signin.aws.example",
        )
        .replace(
            "header.i=@verify.signin.aws",
            "header.i=@verify-signin.aws.example",
        );
    let out = rig
        .deliver("ses-fake", CODE_ROOT, &raw, pass(), now)
        .await
        .unwrap();
    assert_eq!(out.secrets_vaulted, 0);
    assert_eq!(out.workflows_completed, 0);
    assert!(rig.waits.completed().is_empty());
}

/// Attacker: a genuine AWS code mail about the attacker's own account (DKIM, SPF and DMARC all
/// pass; its signed To names the attacker's address), re-sent by SMTP to our root address while
/// a takeover waits for AWS's code. It must neither complete the wait nor put its code in the
/// vault, where the takeover would take it as the account's newest.
#[tokio::test]
async fn a_genuine_aws_code_mail_for_another_address_resent_to_ours_drives_nothing() {
    let rig = Rig::new(CODE_ROOT);
    let now = Utc::now();
    rig.waits
        .register(&wait(
            Category::VerificationCode,
            now - Duration::minutes(2),
        ))
        .await
        .unwrap();
    let raw = verify_signin_code().replace(
        &format!("To: {CODE_ROOT}"),
        "To: attacker-root@elsewhere.example",
    );
    assert!(raw.contains("To: attacker-root@elsewhere.example"));
    let out = rig
        .deliver("ses-resent", CODE_ROOT, &raw, pass(), now)
        .await
        .unwrap();
    assert_eq!(out.category, Category::VerificationCode);
    assert!(!out.quarantined, "authentic AWS mail, just not ours");
    assert_eq!(out.secrets_vaulted, 0);
    assert_eq!(
        (out.workflows_completed, out.workflow_claims_refused),
        (0, 1)
    );
    assert!(rig
        .vault
        .unexpired(Some(&account()), SecretKind::VerificationCode, now)
        .await
        .unwrap()
        .is_empty());
    let t = rig.tickets.get(&out.ticket_id).await.unwrap().unwrap();
    let stored = serde_json::to_string(&t).unwrap();
    assert!(
        stored.contains("header-not-addressed-to-root-email"),
        "{stored}"
    );
    assert!(
        !stored.contains(CODE),
        "the code is redacted from the ticket"
    );
}

/// Attacker: an outsider with their own valid SPF/DKIM mails "your code is …" to a
/// sub-address naming the account, just after AWS's real code arrived. Nothing of theirs may
/// reach the vault: the takeover reads the account's newest code.
#[tokio::test]
async fn an_outsiders_code_to_a_sub_address_never_stands_in_front_of_aws_code() {
    let rig = Rig::new(CODE_ROOT);
    let now = Utc::now();
    let out = rig
        .deliver("ses-aws", CODE_ROOT, &verify_signin_code(), pass(), now)
        .await
        .unwrap();
    assert_eq!(out.secrets_vaulted, 1);
    let outsider = format!(
        "Authentication-Results: amazonses.com;\r\n spf=pass smtp.mailfrom=x@outsider.example;\r\n \
         dkim=pass header.i=@outsider.example;\r\n dmarc=pass header.from=outsider.example;\r\n\
         From: Helpful <help@outsider.example>\r\n\
         To: newco-dev+{ACCOUNT}@root.provider.example\r\n\
         Subject: Your verification code\r\n\
         Message-ID: <o1@outsider.example>\r\n\r\n\
         Your verification code is 999999.\r\n"
    );
    for (id, to) in [
        (
            "ses-outsider-sub",
            format!("newco-dev+{ACCOUNT}@root.provider.example"),
        ),
        ("ses-outsider-root", CODE_ROOT.to_owned()),
    ] {
        let raw = outsider.replace(
            &format!("To: newco-dev+{ACCOUNT}@root.provider.example"),
            &format!("To: {to}"),
        );
        let out = rig
            .deliver(id, &to, &raw, pass(), now + Duration::seconds(1))
            .await
            .unwrap();
        assert_eq!(out.secrets_vaulted, 0, "{id}");
    }
    let codes = rig
        .vault
        .unexpired(
            Some(&account()),
            SecretKind::VerificationCode,
            now + Duration::seconds(2),
        )
        .await
        .unwrap();
    let values: Vec<&str> = codes.iter().map(|c| c.1.expose_secret()).collect();
    assert_eq!(values, vec![CODE], "only AWS's code is vaulted");
}
