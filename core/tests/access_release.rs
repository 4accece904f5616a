//! Release requests (reason `release`) through the access use cases, on the in-memory twins:
//! the terms each exit needs, dual control (never self-service, never the requester nor another
//! session of the same person), the one execution an approval starts (and a retried approve
//! does not start twice), the approval that stands when the start fails, and the check-out a
//! release never allows. Time is a `FixedClock`; nothing sleeps.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rootwarden_core::access::release::{execution_name, release_admits, validate_terms};
use rootwarden_core::access::{
    self, AccessLedger, AccessPolicy, AccessPorts, AccessRequest, AccessStatus, NewRequest,
    ReasonRule,
};
use rootwarden_core::audit::{AuditRecord, MemoryAuditLog, Stream};
use rootwarden_core::config::{vars, ConfigError};
use rootwarden_core::registry::{AccountMode, AccountStatus};
use rootwarden_core::release::{Customer, Exit, ReleaseTerms, StartInput};
use rootwarden_core::{AccountId, Clock, ErrorType, LambdaError, RootEmail};
use rootwarden_testkit::{
    FixedClock, MemoryAccessAccounts, MemoryAccessLedger, MemoryAccessTickets, MemoryExecutions,
    MemoryRotationLookup, MemoryTransientStore, MemoryVault,
};

const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const BOB: &str = "arn:aws:iam::123456789012:user/bob";
const DAVE: &str = "arn:aws:iam::123456789012:user/dave";
const OPS: &str = "arn:aws:iam::123456789012:role/Ops";
const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:release-handback";

fn policy(approvals_required: u32, self_service: bool) -> AccessPolicy {
    AccessPolicy::from_json(&format!(
        r#"{{
        "principals": [
            {{"arn": "{ALICE}", "roles": ["requester"]}},
            {{"arn": "{BOB}", "roles": ["approver"]}},
            {{"arn": "{DAVE}", "roles": ["approver"]}},
            {{"arn": "{OPS}", "roles": ["requester", "approver"]}}
        ],
        "approvals_required": {approvals_required},
        "approval_ttl_minutes": 60,
        "ticket_pattern": "^INC-[0-9]+$",
        "reasons": {{"release": {{"max_minutes": 240, "self_service": {self_service}}}}}
    }}"#
    ))
    .unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn account() -> AccountId {
    AccountId::parse("210987654321").unwrap()
}

/// A session of role `Ops` (not person-bound: all its sessions are one person).
fn ops(session: &str) -> String {
    format!("arn:aws:sts::123456789012:assumed-role/Ops/{session}")
}

#[derive(Clone)]
struct Ports {
    ledger: MemoryAccessLedger,
    accounts: MemoryAccessAccounts,
    vault: MemoryVault,
    transient: MemoryTransientStore,
    tickets: MemoryAccessTickets,
    rotations: MemoryRotationLookup,
    executions: Option<MemoryExecutions>,
    audit: MemoryAuditLog,
    clock: Arc<dyn Clock>,
    policy: AccessPolicy,
    /// The release state machine (every exit), if configured.
    machine: Option<&'static str>,
}

impl AccessPorts for Ports {
    type Ledger = MemoryAccessLedger;
    type Accounts = MemoryAccessAccounts;
    type Vault = MemoryVault;
    type Transient = MemoryTransientStore;
    type Tickets = MemoryAccessTickets;
    type Rotations = MemoryRotationLookup;
    type Executions = MemoryExecutions;
    type Audit = MemoryAuditLog;

    fn ledger(&self) -> &MemoryAccessLedger {
        &self.ledger
    }
    fn accounts(&self) -> &MemoryAccessAccounts {
        &self.accounts
    }
    fn vault(&self) -> &MemoryVault {
        &self.vault
    }
    fn transient(&self) -> &MemoryTransientStore {
        &self.transient
    }
    fn tickets(&self) -> &MemoryAccessTickets {
        &self.tickets
    }
    fn rotations(&self) -> &MemoryRotationLookup {
        &self.rotations
    }
    fn executions(&self) -> Option<&MemoryExecutions> {
        self.executions.as_ref()
    }
    fn audit(&self) -> &MemoryAuditLog {
        &self.audit
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn policy(&self) -> &AccessPolicy {
        &self.policy
    }
    fn release_state_machine(&self, exit: Exit) -> Result<&str, ConfigError> {
        self.machine.ok_or(ConfigError::Missing {
            var: access::release::state_machine_var(exit),
        })
    }
}

impl Ports {
    /// An active account (`mode`), at `t0`.
    fn new(approvals_required: u32, mode: AccountMode) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(FixedClock(t0()));
        let audit = MemoryAuditLog::new(clock.clone());
        let accounts = MemoryAccessAccounts::default();
        accounts.register(&account(), AccountStatus::Active, mode);
        Self {
            ledger: MemoryAccessLedger::new(audit.clone()),
            accounts,
            vault: MemoryVault::new(audit.clone(), clock.clone()),
            transient: MemoryTransientStore::default(),
            tickets: MemoryAccessTickets::new(audit.clone()),
            rotations: MemoryRotationLookup::default(),
            executions: Some(MemoryExecutions::new()),
            audit,
            clock,
            policy: policy(approvals_required, false),
            machine: Some(MACHINE),
        }
    }

    fn at(&self, minutes: i64) -> Self {
        Self {
            clock: Arc::new(FixedClock(t0() + Duration::minutes(minutes))),
            ..self.clone()
        }
    }

    fn records(&self) -> Vec<AuditRecord> {
        self.audit.records(&Stream::Account(account()).key())
    }

    fn record(&self, action: &str) -> Vec<serde_json::Value> {
        self.records()
            .into_iter()
            .filter(|r| r.action == action)
            .map(|r| serde_json::from_str(&r.details).unwrap())
            .collect()
    }

    fn started(&self) -> Vec<rootwarden_testkit::Execution> {
        self.executions.as_ref().unwrap().executions()
    }
}

fn customer(email: Option<&str>) -> Customer {
    Customer {
        email: email.map(|e| RootEmail::parse(e).unwrap()),
        phone: "+14155550100".into(),
        name: Some("Customer Ltd".into()),
    }
}

fn handback() -> ReleaseTerms {
    ReleaseTerms {
        exit: Exit::Handback,
        customer: Some(customer(Some("owner@customer.example"))),
        customer_org: None,
        keep_email: false,
    }
}

fn transfer(keep_email: bool) -> ReleaseTerms {
    ReleaseTerms {
        exit: Exit::Transfer,
        customer: Some(customer((!keep_email).then_some("owner@customer.example"))),
        customer_org: Some("o-abcdef1234".into()),
        keep_email,
    }
}

fn close() -> ReleaseTerms {
    ReleaseTerms {
        exit: Exit::Close,
        customer: None,
        customer_org: None,
        keep_email: false,
    }
}

fn ask(terms: Option<ReleaseTerms>) -> NewRequest {
    NewRequest {
        account: account(),
        reason: "release".into(),
        ticket: "INC-42".into(),
        duration_minutes: None,
        release: terms,
    }
}

fn refused(e: LambdaError, error_type: ErrorType, contains: &str) {
    assert_eq!(e.error_type, error_type, "{e}");
    assert!(
        e.message.contains(contains),
        "{:?} lacks {contains:?}",
        e.message
    );
}

async fn requested(p: &Ports, terms: ReleaseTerms) -> AccessRequest {
    access::request(p, ALICE, ask(Some(terms))).await.unwrap()
}

// ---- Terms ----

#[test]
fn each_exit_takes_the_terms_it_needs() {
    for ok in [close(), handback(), transfer(false), transfer(true)] {
        assert_eq!(validate_terms(&ok), Ok(()), "{ok:?}");
    }
    let mut nameless = handback();
    nameless.customer.as_mut().unwrap().name = None;
    assert_eq!(validate_terms(&nameless), Ok(()));

    let bad = |edit: &dyn Fn(&mut ReleaseTerms), from: ReleaseTerms, why: &str| {
        let mut t = from;
        edit(&mut t);
        let e = validate_terms(&t).unwrap_err();
        assert!(e.contains(why), "{t:?}: {e:?} lacks {why:?}");
    };
    bad(
        &|t| t.customer = Some(customer(None)),
        close(),
        "a closure has no customer",
    );
    bad(
        &|t| t.customer_org = Some("o-abcdef1234".into()),
        close(),
        "customer_org is for a transfer only",
    );
    bad(
        &|t| t.keep_email = true,
        close(),
        "keep_email is for a transfer only",
    );
    bad(
        &|t| t.customer = None,
        handback(),
        "a hand-back needs the customer",
    );
    bad(
        &|t| t.customer.as_mut().unwrap().email = None,
        handback(),
        "customer's email",
    );
    bad(
        &|t| t.keep_email = true,
        handback(),
        "keep_email is for a transfer only",
    );
    bad(
        &|t| t.customer_org = Some("o-abcdef1234".into()),
        handback(),
        "customer_org is for a transfer only",
    );
    bad(
        &|t| t.customer_org = None,
        transfer(false),
        "a transfer needs customer_org",
    );
    bad(
        &|t| t.customer = None,
        transfer(false),
        "a transfer needs the customer",
    );
    bad(
        &|t| t.customer.as_mut().unwrap().email = None,
        transfer(false),
        "unless keep_email",
    );
    bad(
        &|t| t.customer.as_mut().unwrap().email = RootEmail::parse("a@b.example").ok(),
        transfer(true),
        "give no customer email",
    );
    for org in [
        "o-abc",
        "o-ABCDEF1234",
        "x-abcdef1234",
        "o-abcdef1234-",
        "o-",
        &format!("o-{}", "a".repeat(33)),
        "r-abcdef1234",
    ] {
        bad(
            &|t| t.customer_org = Some(org.into()),
            transfer(false),
            "customer_org must be o-",
        );
    }
    for org in ["o-abcdef1234", &format!("o-{}", "a".repeat(32))] {
        let mut t = transfer(false);
        t.customer_org = Some(org.into());
        assert_eq!(validate_terms(&t), Ok(()), "{org}");
    }
    for phone in [
        "14155550100",
        "+1415",
        "+1234567890123456",
        "+1 415 555 0100",
        "+",
        "",
        "+１４１５５５５０１００",
    ] {
        bad(
            &|t| t.customer.as_mut().unwrap().phone = phone.into(),
            handback(),
            "E.164",
        );
    }
    for phone in ["+1234567", "+123456789012345"] {
        let mut t = handback();
        t.customer.as_mut().unwrap().phone = phone.into();
        assert_eq!(validate_terms(&t), Ok(()), "{phone}");
    }
    for name in [
        "",
        " ",
        " padded",
        "a\nb",
        "a\u{202E}b",
        "tab\there",
        &"x".repeat(51),
    ] {
        let e = {
            let mut t = handback();
            t.customer.as_mut().unwrap().name = Some(name.into());
            validate_terms(&t).unwrap_err()
        };
        assert!(e.contains("customer's name"), "{name:?}: {e}");
    }
    let mut t = handback();
    t.customer.as_mut().unwrap().name = Some("Evil\u{1b}[2JCorp".into());
    let e = validate_terms(&t).unwrap_err();
    assert!(!e.contains("Evil"), "the hostile value is not echoed: {e}");
    let mut t = handback();
    t.customer.as_mut().unwrap().name = Some("Zoë Müller-Łukasik".into());
    assert_eq!(validate_terms(&t), Ok(()));
}

#[test]
fn terms_go_with_reason_release_only_and_never_self_service() {
    let rule = |self_service| ReasonRule {
        max_minutes: 240,
        self_service,
    };
    assert!(release_admits("billing-issue", &rule(false), None).is_ok());
    assert!(release_admits("release", &rule(false), Some(&close())).is_ok());
    let e = LambdaError::from(
        release_admits("billing-issue", &rule(false), Some(&close())).unwrap_err(),
    );
    refused(
        e,
        ErrorType::ValidationError,
        "release terms go with reason release only",
    );
    let e = LambdaError::from(release_admits("release", &rule(false), None).unwrap_err());
    refused(
        e,
        ErrorType::ValidationError,
        "a release request needs its terms",
    );
    let e = LambdaError::from(release_admits("release", &rule(true), Some(&close())).unwrap_err());
    refused(
        e,
        ErrorType::AccessDenied,
        "a release is never self-service",
    );
}

// ---- Opening ----

#[tokio::test]
async fn a_release_request_is_opened_with_its_terms_for_an_active_account_of_any_mode() {
    for mode in [AccountMode::Vaulted, AccountMode::CredentialLess] {
        let p = Ports::new(1, mode);
        let r = requested(&p, transfer(true)).await;
        assert_eq!(r.status, AccessStatus::Requested);
        assert_eq!(r.release, Some(transfer(true)));
        let stored = access::get(&p, &r.id).await.unwrap().unwrap();
        assert_eq!(stored.release, Some(transfer(true)), "the terms are stored");
        assert_eq!(p.record("access.requested")[0]["exit"], "transfer");
        assert!(p.started().is_empty(), "a request starts nothing");
    }
}

#[tokio::test]
async fn a_stopped_release_resumes_through_a_new_request() {
    // The account is still `releasing`: a new request (and its approval) is how it resumes;
    // `begin` adopts the recorded release only if its execution stopped.
    let p = Ports::new(1, AccountMode::Vaulted);
    p.accounts
        .register(&account(), AccountStatus::Releasing, AccountMode::Vaulted);
    let r = requested(&p, close()).await;
    access::approve(&p, BOB, &r.id).await.unwrap();
    assert_eq!(p.started().len(), 1);
}

#[tokio::test]
async fn a_release_request_is_refused_and_audited_for_each_reason() {
    let p = Ports::new(1, AccountMode::Vaulted);
    let e = access::request(&p, ALICE, ask(None)).await.unwrap_err();
    refused(e, ErrorType::ValidationError, "needs its terms");
    let mut other = ask(Some(close()));
    other.reason = "billing-issue".into();
    let e = access::request(&p, ALICE, other).await.unwrap_err();
    refused(
        e,
        ErrorType::ValidationError,
        "release terms go with reason release only",
    );
    let mut bad = handback();
    bad.customer.as_mut().unwrap().phone = "555".into();
    let e = access::request(&p, ALICE, ask(Some(bad)))
        .await
        .unwrap_err();
    refused(e, ErrorType::ValidationError, "E.164");
    for status in [
        AccountStatus::Released,
        AccountStatus::Closed,
        AccountStatus::TakingOver,
    ] {
        p.accounts
            .register(&account(), status, AccountMode::Vaulted);
        let e = access::request(&p, ALICE, ask(Some(close())))
            .await
            .unwrap_err();
        refused(
            e,
            ErrorType::ValidationError,
            "only an active account can be released",
        );
    }
    p.accounts
        .register(&account(), AccountStatus::Active, AccountMode::Vaulted);
    // A policy that says self-service does not waive dual control for a release.
    let lax = Ports {
        policy: policy(1, true),
        ..p.clone()
    };
    let e = access::request(&lax, ALICE, ask(Some(close())))
        .await
        .unwrap_err();
    refused(e, ErrorType::AccessDenied, "never self-service");
    assert_eq!(
        p.record("access.refused").len(),
        7,
        "every refusal is audited"
    );
    assert!(access::list(&p, Some(&account())).await.unwrap().is_empty());
}

// ---- Approving ----

#[tokio::test]
async fn the_requester_never_approves_their_own_release_not_even_from_another_session() {
    let p = Ports::new(1, AccountMode::Vaulted);
    let r = access::request(&p, ops("alice").as_str(), ask(Some(close())))
        .await
        .unwrap();
    let e = access::approve(&p, ops("alice").as_str(), &r.id)
        .await
        .unwrap_err();
    refused(
        e,
        ErrorType::AccessDenied,
        "cannot approve their own request",
    );
    // Another session of the same role is the same person.
    let e = access::approve(&p, ops("bob").as_str(), &r.id)
        .await
        .unwrap_err();
    refused(
        e,
        ErrorType::AccessDenied,
        "cannot approve their own request",
    );
    assert_eq!(
        access::get(&p, &r.id).await.unwrap().unwrap().status,
        AccessStatus::Requested
    );
    assert!(
        p.started().is_empty(),
        "no execution without another person's approval"
    );
}

#[tokio::test]
async fn an_approval_starts_exactly_one_execution_and_names_it() {
    let p = Ports::new(1, AccountMode::Vaulted);
    let r = requested(&p, handback()).await;
    let r = access::approve(&p, BOB, &r.id).await.unwrap();
    assert_eq!(
        r.status,
        AccessStatus::Approved,
        "the request stays approved"
    );
    let name = execution_name(&account(), &r.id);
    assert_eq!(name, format!("release-210987654321-{}", r.id));
    let started = p.started();
    assert_eq!(started.len(), 1);
    assert_eq!(
        started[0].arn,
        format!("arn:aws:states:us-east-1:123456789012:execution:release-handback:{name}")
    );
    let input: StartInput = serde_json::from_value(started[0].input.clone()).unwrap();
    assert_eq!(
        (
            input.account_id.as_str(),
            input.exit.as_str(),
            input.request_id.as_str()
        ),
        ("210987654321", "handback", r.id.as_str())
    );
    let approved = p.record("access.approved");
    assert_eq!(approved.len(), 1);
    assert_eq!(
        approved[0]["execution"],
        name.as_str(),
        "the approval names the execution"
    );

    // Approving again (a retry, or a second approver) starts nothing new.
    let again = access::approve(&p.at(5), DAVE, &r.id).await.unwrap();
    assert_eq!(
        (again.status, again.version),
        (AccessStatus::Approved, r.version)
    );
    access::approve(&p.at(6), BOB, &r.id).await.unwrap();
    assert_eq!(
        p.started().len(),
        1,
        "a retried approve does not start twice"
    );
    assert_eq!(p.record("access.release-start-retried").len(), 2);
    assert_eq!(p.record("access.approved").len(), 1);
    assert!(rootwarden_core::audit::verify(&p.audit, None)
        .await
        .unwrap()
        .is_ok());
}

#[tokio::test]
async fn with_two_approvals_required_the_second_starts_it() {
    let p = Ports::new(2, AccountMode::Vaulted);
    let r = requested(&p, close()).await;
    let r = access::approve(&p, BOB, &r.id).await.unwrap();
    assert_eq!(r.status, AccessStatus::Requested);
    assert!(p.started().is_empty());
    assert!(p.record("access.approved")[0].get("execution").is_none());
    let r = access::approve(&p, DAVE, &r.id).await.unwrap();
    assert_eq!(r.status, AccessStatus::Approved);
    assert_eq!(p.started().len(), 1);
}

#[tokio::test]
async fn a_failed_start_leaves_the_approval_and_an_approve_again_starts_it() {
    let p = Ports::new(1, AccountMode::Vaulted);
    let sfn = p.executions.clone().unwrap();
    let r = requested(&p, close()).await;
    sfn.fail(true);
    let e = access::approve(&p, BOB, &r.id).await.unwrap_err();
    refused(
        e,
        ErrorType::TransientAwsError,
        "is approved, but its release execution",
    );
    assert_eq!(
        access::get(&p, &r.id).await.unwrap().unwrap().status,
        AccessStatus::Approved
    );
    assert!(p.started().is_empty());
    sfn.fail(false);
    // The requester cannot nudge it; an approver can, while the approval holds.
    let e = access::approve(&p.at(1), ALICE, &r.id).await.unwrap_err();
    refused(e, ErrorType::AccessDenied, "not authorized to approve");
    let e = access::approve(&p.at(1), ops("x").as_str(), &r.id).await;
    assert!(e.is_ok(), "another person with the approver role may retry");
    assert_eq!(p.started().len(), 1);
    access::approve(&p.at(2), BOB, &r.id).await.unwrap();
    assert_eq!(p.started().len(), 1, "still one");
    let e = access::approve(&p.at(61), BOB, &r.id).await.unwrap_err();
    refused(e, ErrorType::AccessDenied, "approval of request");
}

#[tokio::test]
async fn without_its_state_machine_the_approval_stands_and_names_the_variable() {
    let p = Ports {
        machine: None,
        ..Ports::new(1, AccountMode::Vaulted)
    };
    let r = requested(&p, transfer(false)).await;
    let e = access::approve(&p, BOB, &r.id).await.unwrap_err();
    refused(
        e,
        ErrorType::ConfigError,
        vars::RELEASE_TRANSFER_STATE_MACHINE,
    );
    assert_eq!(
        access::get(&p, &r.id).await.unwrap().unwrap().status,
        AccessStatus::Approved
    );
    let configured = Ports {
        machine: Some(MACHINE),
        ..p.clone()
    };
    access::approve(&configured, BOB, &r.id).await.unwrap();
    assert_eq!(p.started().len(), 1);
}

// ---- Never checked out ----

#[tokio::test]
async fn a_release_request_is_never_checked_out() {
    let p = Ports::new(1, AccountMode::Vaulted);
    let r = requested(&p, close()).await;
    let r = access::approve(&p, BOB, &r.id).await.unwrap();
    let e = access::checkout(&p.at(1), ALICE, &r.id).await.unwrap_err();
    refused(
        e,
        ErrorType::AccessDenied,
        "is a release: it shows no credential",
    );
    let stored = access::get(&p, &r.id).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        AccessStatus::Approved,
        "still approved: begin reads it"
    );
    assert!(p.ledger.locks().await.unwrap().is_empty());
    assert_eq!(
        p.record("access.refused").len(),
        1,
        "the attempt is audited"
    );
    assert!(p
        .accounts
        .account(&account())
        .unwrap()
        .rotation_due
        .is_none());
}
