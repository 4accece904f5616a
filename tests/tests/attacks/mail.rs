//! Forged or misdirected mail cannot complete a workflow (`mail::workflow_trust`). Every test
//! registers a real wait (a Step Functions task waiting on its token, or a real rotation's apply
//! step) and delivers mail through the real inbound use case or the `inbound-mail` binary. A
//! refused claim leaves the wait waiting and the vault unchanged, and is ticketed with raised
//! priority and a reason naming the workflow and every failed condition.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, Duration, Utc};
use rootwarden::audit::DynamoAuditLog;
use rootwarden::inbound::{self, Delivery, Processed, S3RawMailStore};
use rootwarden::mail::{Category, Priority, SesVerdicts, Verdict};
use rootwarden::notify::{Notifications, WebhookNotifier};
use rootwarden::registry::DynamoAccountRegistry;
use rootwarden::rotation::{self, RotationStage};
use rootwarden::tickets::{DynamoTicketStore, Ticket, TicketStore};
use rootwarden::vault::{CredentialKind, KmsTransientStore, Vault};
use rootwarden::workflows::{DynamoWorkflowWaits, Wait, WorkflowWaits};
use rootwarden::{AccountId, ErrorType, LambdaError, SystemClock};
use rootwarden_tests::{build_functions, custody, Emulator};
use serde_json::{json, Value};

const ACCOUNT: &str = "210987654321";
const ROOT_EMAIL: &str = "acme-prod@root.provider.example";
const SUBJECT: &str = "Your AWS password has been changed";

/// A "password changed" message as SES stores it: SES's own `Authentication-Results` on top
/// (DKIM pass for `dkim`), then the sender's headers.
fn raw(from: &str, dkim: &str, message_id: &str) -> Vec<u8> {
    format!(
        "Return-Path: <bounce@amazonses.com>\r\n\
         X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\n\
         Authentication-Results: amazonses.com;\r\n spf=pass smtp.mailfrom=bounce@amazonses.com;\r\n \
         dkim=pass header.i=@{dkim};\r\n dmarc=pass header.from={dkim};\r\n\
         From: Amazon Web Services <{from}>\r\nTo: {ROOT_EMAIL}\r\nSubject: {SUBJECT}\r\n\
         Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n\
         Hello,\r\n\r\nYour AWS password has been changed.\r\n\r\nThe password for the root user of \
         the Amazon Web Services account {ACCOUNT} was changed.\r\n\r\nAmazon Web Services\r\n"
    )
    .into_bytes()
}

/// Genuine AWS mail: `no-reply@signin.aws`, DKIM-signed by signin.aws.
fn genuine(message_id: &str) -> Vec<u8> {
    raw("no-reply@signin.aws", "signin.aws", message_id)
}

fn pass() -> SesVerdicts {
    SesVerdicts {
        spam: Verdict::Pass,
        virus: Verdict::Pass,
        spf: Verdict::Pass,
        dkim: Verdict::Pass,
        dmarc: Verdict::Pass,
    }
}

/// Delivered now to the registered root address, SES saying everything passed.
fn delivery(ses_id: &str) -> Delivery {
    Delivery {
        ses_message_id: ses_id.into(),
        recipients: vec![ROOT_EMAIL.into()],
        verdicts: Some(pass()),
        subject: None,
        from: None,
        received_at: Utc::now(),
        object: None,
    }
}

struct Rig {
    emu: Emulator,
    /// The harness ("the world"): seeds the registry, drives Step Functions, reads to assert.
    sfn: aws_sdk_sfn::Client,
    ddb: aws_sdk_dynamodb::Client,
    /// The use case's adapters, acting as inbound-mail's role as the Lambda does.
    mail: S3RawMailStore,
    tickets: DynamoTicketStore,
    vault: KmsTransientStore,
    registry: DynamoAccountRegistry,
    waits: DynamoWorkflowWaits,
}

/// A stack whose registry maps `ROOT_EMAIL` to `ACCOUNT`.
async fn rig() -> Rig {
    let emu = Emulator::with_stack().await.unwrap();
    let conf = emu.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
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
    let role = emu.role_config("InboundMailFunction").await;
    let rootwarden_tests::InboundAdapters {
        mail,
        tickets,
        vault,
        registry,
        waits,
    } = emu.inbound_adapters(&role);
    Rig {
        mail,
        tickets,
        vault,
        registry,
        waits,
        sfn,
        ddb,
        emu,
    }
}

/// A test double around the real waits whose first `complete` fails transiently, as
/// SendTaskSuccess may.
struct FlakyCompletion {
    inner: DynamoWorkflowWaits,
    failed_once: AtomicBool,
}

impl WorkflowWaits for FlakyCompletion {
    async fn register(&self, wait: &Wait) -> Result<(), LambdaError> {
        self.inner.register(wait).await
    }
    async fn waiting(
        &self,
        account: &AccountId,
        kind: Category,
        now: DateTime<Utc>,
    ) -> Result<Vec<Wait>, LambdaError> {
        self.inner.waiting(account, kind, now).await
    }
    async fn remove(
        &self,
        account: &AccountId,
        kind: Category,
        execution: &str,
    ) -> Result<(), LambdaError> {
        self.inner.remove(account, kind, execution).await
    }
    async fn claim(&self, wait: &Wait, ses_message_id: &str) -> Result<bool, LambdaError> {
        self.inner.claim(wait, ses_message_id).await
    }
    async fn complete(&self, wait: &Wait, output: &Value) -> Result<(), LambdaError> {
        if !self.failed_once.swap(true, Ordering::SeqCst) {
            return Err(LambdaError::new(
                ErrorType::TransientAwsError,
                "states:SendTaskSuccess: throttled (injected)",
            ));
        }
        self.inner.complete(wait, output).await
    }
}

impl Rig {
    /// SES's receipt rule stores the raw message (as the SES service principal).
    fn store(&self, ses_id: &str, raw: Vec<u8>) {
        self.emu.deliver_raw_mail(ses_id, &raw).unwrap();
    }

    /// Runs the inbound use case for `raw` delivered as `d`.
    async fn deliver_with<W: WorkflowWaits>(
        &self,
        raw: Vec<u8>,
        d: &Delivery,
        waits: &W,
        notifier: &Notifications,
    ) -> Result<Processed, LambdaError> {
        self.store(&d.ses_message_id, raw);
        let deps = inbound::Deps {
            mail: &self.mail,
            tickets: &self.tickets,
            vault: &self.vault,
            registry: &self.registry,
            notifier,
            waits,
            actor: "arn:aws:lambda:us-east-1:123456789012:function:inbound-mail",
            max_bytes: 40_000_000,
        };
        inbound::process(&deps, d).await
    }

    async fn deliver(&self, raw: Vec<u8>, d: &Delivery) -> Processed {
        let quiet = Notifications {
            webhook: None,
            email: None,
        };
        self.deliver_with(raw, d, &self.waits, &quiet)
            .await
            .unwrap()
    }

    /// A Step Functions task waiting on its token, registered as waiting for AWS's "password
    /// changed" mail for `ACCOUNT`, as rotation's apply step does.
    async fn awaiting_mail(&self, name: &str) -> (String, Wait) {
        let function = self.emu.stack().resources["AuditVerifierFunction"]
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
        let sm = self
            .sfn
            .create_state_machine()
            .name(format!("{}-{name}", self.emu.stack().name))
            .definition(definition.to_string())
            .role_arn(self.emu.state_machine_role(name, &function).await.unwrap())
            .send()
            .await
            .unwrap();
        let exec = self
            .sfn
            .start_execution()
            .state_machine_arn(sm.state_machine_arn())
            .name(name)
            .input("{}")
            .send()
            .await
            .unwrap();
        let mut token = None;
        for _ in 0..100 {
            let h = self
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
            tokio::time::sleep(StdDuration::from_millis(100)).await;
        }
        let now = Utc::now();
        let wait = Wait {
            account: AccountId::parse(ACCOUNT).unwrap(),
            kind: Category::PasswordChanged,
            execution: name.into(),
            task_token: token.expect("task token in history"),
            expires_at: now + Duration::hours(72),
            registered_at: now,
            claimed_by: None,
        };
        // Registered as rotation's apply step registers it: with the rotation function's role.
        let rotation = self.emu.role_config("RotationFunction").await;
        DynamoWorkflowWaits::new(
            aws_sdk_dynamodb::Client::new(&rotation),
            aws_sdk_sfn::Client::new(&rotation),
            self.emu.env("ROOTWARDEN_WORKFLOWS_TABLE"),
        )
        .register(&wait)
        .await
        .unwrap();
        (exec.execution_arn().to_owned(), wait)
    }

    async fn status(&self, execution_arn: &str) -> ExecutionStatus {
        self.sfn
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .unwrap()
            .status()
            .clone()
    }

    /// The execution is still waiting and its wait is still registered.
    async fn assert_still_waiting(&self, execution_arn: &str) {
        assert_eq!(self.status(execution_arn).await, ExecutionStatus::Running);
        let waiting = self
            .read_waits()
            .waiting(
                &AccountId::parse(ACCOUNT).unwrap(),
                Category::PasswordChanged,
                Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(waiting.len(), 1, "the wait is still registered");
    }

    async fn assert_completed(&self, execution_arn: &str) {
        let mut status = ExecutionStatus::Running;
        for _ in 0..100 {
            status = self.status(execution_arn).await;
            if status != ExecutionStatus::Running {
                break;
            }
            tokio::time::sleep(StdDuration::from_millis(100)).await;
        }
        assert_eq!(status, ExecutionStatus::Succeeded);
        assert!(self
            .read_waits()
            .waiting(
                &AccountId::parse(ACCOUNT).unwrap(),
                Category::PasswordChanged,
                Utc::now()
            )
            .await
            .unwrap()
            .is_empty());
    }

    /// The registered waits, as the harness reads them to assert.
    fn read_waits(&self) -> DynamoWorkflowWaits {
        DynamoWorkflowWaits::new(
            self.ddb.clone(),
            self.sfn.clone(),
            self.emu.env("ROOTWARDEN_WORKFLOWS_TABLE"),
        )
    }

    /// A ticket, as the harness reads it to assert.
    async fn ticket(&self, p: &Processed) -> Ticket {
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
        .get(&p.ticket_id)
        .await
        .unwrap()
        .unwrap()
    }
}

/// The use cases' dependencies as the CLI builds them for the operator `name` (a session of
/// OperatorRole), acting as that operator.
async fn operator_deps(emu: &Emulator, name: &str) -> rotation::Deps {
    let operator = emu.operator(name).clone();
    rotation::Deps::new(
        &custody::config(emu),
        rotation::Clients::new(&emu.sdk_config_as(&operator).await),
        Arc::new(SystemClock),
        operator.arn,
    )
}

fn counts(p: &Processed) -> [u64; 3] {
    [
        p.workflows_completed as u64,
        p.workflow_claims_refused as u64,
        p.secrets_vaulted as u64,
    ]
}

/// The claim was refused and ticketed: critical (password changed), the reason naming the
/// workflow and each expected refusal.
/// `counts`: workflows completed, claims refused, secrets vaulted.
fn assert_refused_claim(counts: [u64; 3], t: &Ticket, execution: &str, reasons: &[&str]) {
    assert_eq!(counts, [0, 1, 0], "completed, refused, vaulted");
    assert_eq!(t.priority, Priority::Critical);
    let claim =
        format!("claimed to complete workflow password-changed ({execution}): refused because ");
    assert!(t.summary.contains(&claim), "{}", t.summary);
    for r in reasons {
        assert!(t.summary.contains(r), "{r} missing from {}", t.summary);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_password_changed_mail_from_lookalike_domain_with_its_own_dkim_cannot_complete_rotation(
) {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    // Onboarding and `rotation start` are CLI commands: the operator alice runs them.
    let deps = operator_deps(&emu, "alice").await;
    let sm = custody::config(&emu)
        .rotation_state_machine()
        .unwrap()
        .to_owned();
    let a = custody::account(10, 1);
    custody::onboard(&deps, &a, "Onboard-Pa55word!<current>", None)
        .await
        .unwrap();
    let name = rotation::start(&deps, &sm, &a, Some(600)).await.unwrap();
    let mut awaiting = None;
    for _ in 0..600 {
        awaiting = deps
            .rotations
            .get(&a, &name)
            .await
            .unwrap()
            .filter(|r| r.stage == RotationStage::AwaitingApply && r.task_token.is_some());
        if awaiting.is_some() {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert!(awaiting.is_some(), "rotation awaits its apply step");
    let head_before = deps
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (head_before.current, head_before.pending),
        (Some(1), Some(2))
    );

    // The attacker's own domain, with valid DKIM and DMARC for it, to the account's root address.
    let root = custody::root_email(&a);
    let forged = String::from_utf8(raw(
        "aws-security@amazon-security.example",
        "amazon-security.example",
        "forged-1@amazon-security.example",
    ))
    .unwrap()
    .replace(ROOT_EMAIL, root.as_str())
    .replace(ACCOUNT, a.as_str());
    emu.deliver_raw_mail("sesforged1", forged.as_bytes())
        .unwrap();
    // The harness drives the Lambda as SES would and reads Step Functions to assert.
    let conf = emu.sdk_config().await;
    let mut event: Value = serde_json::from_slice(
        &std::fs::read(rootwarden_tests::repo_root().join("tests/fixtures/ses/lambda-event.json"))
            .unwrap(),
    )
    .unwrap();
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    event["Records"][0]["ses"]["mail"]["messageId"] = json!("sesforged1");
    event["Records"][0]["ses"]["receipt"]["recipients"] = json!([root.as_str()]);
    event["Records"][0]["ses"]["receipt"]["timestamp"] = json!(now);
    event["Records"][0]["ses"]["mail"]["timestamp"] = json!(now);
    let out = aws_sdk_lambda::Client::new(&conf)
        .invoke()
        .function_name(
            emu.stack().resources["InboundMailFunction"]
                .physical_id
                .clone()
                .unwrap(),
        )
        .payload(Blob::new(event.to_string()))
        .send()
        .await
        .unwrap();
    assert!(out.function_error().is_none(), "{:?}", out.payload());
    let body: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    let v = &body["processed"][0];
    assert_eq!(v["category"], "password-changed", "{body}");
    assert_eq!(v["quarantined"], false, "{body}");
    let n = |k: &str| v[k].as_u64().unwrap_or(u64::MAX);
    let ticket_id = v["ticket_id"].as_str().unwrap();
    let t = deps.tickets.get(ticket_id).await.unwrap().unwrap();
    assert_refused_claim(
        [
            n("workflows_completed"),
            n("workflow_claims_refused"),
            n("secrets_vaulted"),
        ],
        &t,
        &name,
        &["not-from-aws-sender"],
    );

    // The rotation still awaits its apply step; the vault did not promote the pending password.
    let record = deps.rotations.get(&a, &name).await.unwrap().unwrap();
    assert_eq!(record.stage, RotationStage::AwaitingApply);
    let head = deps
        .vault
        .head(&a, CredentialKind::RootPassword)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (head.current, head.previous, head.pending),
        (
            head_before.current,
            head_before.previous,
            head_before.pending
        )
    );
    let sfn = aws_sdk_sfn::Client::new(&conf);
    let exec = format!("{}:{name}", sm.replace(":stateMachine:", ":execution:"));
    let status = sfn
        .describe_execution()
        .execution_arn(exec)
        .send()
        .await
        .unwrap()
        .status()
        .clone();
    assert_eq!(status, ExecutionStatus::Running);
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_from_address_without_dkim_of_the_same_aws_sender_cannot_complete_a_wait() {
    let rig = rig().await;
    let (exec, _) = rig.awaiting_mail("rotate-unaligned").await;
    // A subdomain of amazon.com that relays others' mail (the marketplace), signed by amazon.com:
    // relaxed alignment passes it, and it is not quarantined, but it is no AWS credential sender.
    let p = rig
        .deliver(
            raw(
                "seller-42@marketplace.amazon.com",
                "amazon.com",
                "relayed-1@marketplace.amazon.com",
            ),
            &delivery("sesrelayed1"),
        )
        .await;
    assert!(!p.quarantined);
    assert_refused_claim(
        counts(&p),
        &rig.ticket(&p).await,
        "rotate-unaligned",
        &["not-from-aws-sender"],
    );
    // signin.aws in From, but DKIM only for amazon.com: quarantined, and refused.
    let p = rig
        .deliver(
            raw(
                "no-reply@signin.aws",
                "amazon.com",
                "unaligned-1@signin.aws",
            ),
            &delivery("sesunaligned1"),
        )
        .await;
    assert!(p.quarantined);
    assert_refused_claim(
        counts(&p),
        &rig.ticket(&p).await,
        "rotate-unaligned",
        &["quarantined", "dkim-not-aligned"],
    );
    rig.assert_still_waiting(&exec).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn genuine_looking_mail_that_ses_did_not_pass_cannot_complete_a_wait() {
    let rig = rig().await;
    let (exec, _) = rig.awaiting_mail("rotate-verdicts").await;
    let mut d = delivery("sesverdict1");
    d.verdicts = Some(SesVerdicts {
        spf: Verdict::Fail,
        virus: Verdict::Gray,
        ..pass()
    });
    let p = rig.deliver(genuine("verdict-1@signin.aws"), &d).await;
    assert!(!p.quarantined, "SPF FAIL and virus GRAY do not quarantine");
    assert_refused_claim(
        counts(&p),
        &rig.ticket(&p).await,
        "rotate-verdicts",
        &["ses-virus-not-pass", "ses-spf-not-pass"],
    );
    // Without the receipt event's verdicts (the stored headers are the sender's to write below
    // SES's), nothing completes either.
    let mut d = delivery("sesverdict2");
    d.verdicts = None;
    let p = rig.deliver(genuine("verdict-2@signin.aws"), &d).await;
    assert_refused_claim(
        counts(&p),
        &rig.ticket(&p).await,
        "rotate-verdicts",
        &["no-ses-verdicts"],
    );
    rig.assert_still_waiting(&exec).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_received_before_the_wait_was_registered_cannot_complete_it() {
    let rig = rig().await;
    let (exec, wait) = rig.awaiting_mail("rotate-early").await;
    let mut d = delivery("sesearly1");
    d.received_at = wait.registered_at - Duration::seconds(30);
    let p = rig.deliver(genuine("early-1@signin.aws"), &d).await;
    assert_refused_claim(
        counts(&p),
        &rig.ticket(&p).await,
        "rotate-early",
        &["received-before-wait"],
    );
    rig.assert_still_waiting(&exec).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_to_a_plus_account_sub_address_or_naming_the_account_in_its_body_cannot_complete_a_wait(
) {
    let rig = rig().await;
    let (exec, _) = rig.awaiting_mail("rotate-subaddress").await;
    // Routed to the account by its sub-address, not the registered root address.
    let mut d = delivery("sessub1");
    d.recipients = vec![format!("anyone+{ACCOUNT}@provider.example")];
    let p = rig.deliver(genuine("sub-1@signin.aws"), &d).await;
    assert_refused_claim(
        counts(&p),
        &rig.ticket(&p).await,
        "rotate-subaddress",
        &["not-addressed-to-root-email"],
    );
    // Routed by "the Amazon Web Services account <id>" in the body alone.
    let mut d = delivery("sesbody1");
    d.recipients = vec!["someone-else@provider.example".into()];
    let body_only = String::from_utf8(genuine("body-1@signin.aws"))
        .unwrap()
        .replace(
            &format!("account {ACCOUNT}"),
            &format!("account (Account ID: {ACCOUNT})"),
        );
    let p = rig.deliver(body_only.into_bytes(), &d).await;
    assert_eq!(
        rig.ticket(&p)
            .await
            .account_id
            .map(|a| a.as_str().to_owned()),
        Some(ACCOUNT.to_owned())
    );
    assert_refused_claim(
        counts(&p),
        &rig.ticket(&p).await,
        "rotate-subaddress",
        &["not-addressed-to-root-email"],
    );
    rig.assert_still_waiting(&exec).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replayed_message_id_in_a_new_message_cannot_complete_a_wait() {
    let rig = rig().await;
    // A genuine "password changed" mail, recorded before any wait (an earlier rotation).
    let old = rig
        .deliver(genuine("once-1@signin.aws"), &delivery("sesold1"))
        .await;
    assert_eq!(old.outcome, "created");
    let (exec, _) = rig.awaiting_mail("rotate-replay").await;
    // The attacker re-sends that very message (its DKIM signature still verifies).
    let p = rig
        .deliver(genuine("once-1@signin.aws"), &delivery("sesreplay1"))
        .await;
    assert_ne!(
        p.outcome, "duplicate",
        "the replay is ticketed, not dropped"
    );
    assert_refused_claim(
        counts(&p),
        &rig.ticket(&p).await,
        "rotate-replay",
        &["message-id-seen"],
    );
    rig.assert_still_waiting(&exec).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redelivered_ses_event_cannot_complete_a_wait_registered_after_its_first_delivery() {
    let rig = rig().await;
    let first = rig
        .deliver(
            genuine("redeliver-1@signin.aws"),
            &delivery("sesredeliver1"),
        )
        .await;
    assert_eq!(first.outcome, "created");
    let (exec, _) = rig.awaiting_mail("rotate-redelivery").await;
    // The same SES delivery again, even stamped after the wait (a replayed or redriven event).
    let p = rig
        .deliver(
            genuine("redeliver-1@signin.aws"),
            &delivery("sesredeliver1"),
        )
        .await;
    assert_eq!(p.outcome, "duplicate");
    assert_eq!((p.workflows_completed, p.workflow_claims_refused), (0, 1));
    rig.assert_still_waiting(&exec).await;
}

/// Not an attack: the guard that refusing re-deliveries does not lose a genuine confirmation.
/// The first delivery commits its ticket and claim, then SendTaskSuccess fails; Lambda's retry
/// (a re-delivery) finishes the wait that delivery earned.
#[tokio::test(flavor = "multi_thread")]
async fn retry_after_a_failed_completion_still_finishes_the_wait_its_first_delivery_earned() {
    let rig = rig().await;
    let (exec, _) = rig.awaiting_mail("rotate-retry").await;
    let flaky = FlakyCompletion {
        inner: rig.waits.clone(),
        failed_once: AtomicBool::new(false),
    };
    let quiet = Notifications {
        webhook: None,
        email: None,
    };
    let d = delivery("sesretry1");
    let e = rig
        .deliver_with(genuine("retry-1@signin.aws"), &d, &flaky, &quiet)
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::TransientAwsError);
    assert_eq!(rig.status(&exec).await, ExecutionStatus::Running);
    let p = rig
        .deliver_with(genuine("retry-1@signin.aws"), &d, &flaky, &quiet)
        .await
        .unwrap();
    assert_eq!(p.outcome, "duplicate");
    assert_eq!(p.workflows_completed, 1);
    rig.assert_completed(&exec).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_outage_does_not_stop_a_genuine_confirmation() {
    let rig = rig().await;
    let (exec, _) = rig.awaiting_mail("rotate-webhook-down").await;
    // Nothing listens on port 9: every POST fails at once.
    let mut webhook = WebhookNotifier::new(
        "http://127.0.0.1:9/hook",
        secrecy::SecretString::from("whsec-test-key"),
    )
    .unwrap();
    webhook.retry_delays = Vec::new();
    let down = Notifications {
        webhook: Some(webhook),
        email: None,
    };
    let d = delivery("seswebhook1");
    let e = rig
        .deliver_with(genuine("webhook-1@signin.aws"), &d, &rig.waits, &down)
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::TransientAwsError, "{e}");
    // The notification failed the invocation (it is retried), but the wait completed first.
    rig.assert_completed(&exec).await;
}
