//! An account in custody, an approved release request, and a state machine's moves (each exit's
//! ASL as `asl` drives it), for the release tests.

use std::panic::AssertUnwindSafe;

use chrono::{DateTime, Duration, Utc};
use futures::FutureExt;
use rootwarden_core::access::{AccessRequest, AccessStatus};
use rootwarden_core::enforcement::{Posture, RootAccessKey};
use rootwarden_core::executions::Executions;
use rootwarden_core::registry::{Account, AccountMode, AccountStatus};
use rootwarden_core::release::{
    self, Customer, Exit, Invitation, MemberStatus, ReleaseTerms, StartInput, Step,
};
use rootwarden_core::vault::CredentialKind;
use rootwarden_core::{AccountId, Clock, ErrorType, LambdaError, RootEmail};
use rootwarden_testkit::release::MemoryRelease;
use rootwarden_testkit::KILLED;
use secrecy::SecretString;
use serde_json::{json, Value};

pub const OURS: &str = "acme-prod@root.provider.example";
pub const CUSTOMER_EMAIL: &str = "owner@customer.example";
pub const CUSTOMER_ORG: &str = "o-customer123";
pub const ROOT_PASSWORD: &str = "Vaulted-Root-Pw-7781!";
pub const REQUESTER: &str = "arn:aws:iam::999988887777:user/alice";
pub const APPROVER: &str = "arn:aws:iam::999988887777:user/bob";
pub const OPERATOR: &str = "arn:aws:iam::999988887777:user/carol";

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
        .unwrap()
        .to_utc()
}

pub fn account() -> AccountId {
    AccountId::parse("111122223333").unwrap()
}

pub fn quiet_kills() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let killed = payload.downcast_ref::<&str>().is_some_and(|m| *m == KILLED)
                || payload
                    .downcast_ref::<String>()
                    .is_some_and(|m| m == KILLED);
            if !killed {
                default(info);
            }
        }));
    });
}

pub fn customer() -> Customer {
    Customer {
        email: Some(RootEmail::parse(CUSTOMER_EMAIL).unwrap()),
        phone: "+4930123456".into(),
        name: Some("Customer Ops".into()),
    }
}

pub fn terms(exit: Exit) -> ReleaseTerms {
    match exit {
        Exit::Close => ReleaseTerms {
            exit,
            customer: None,
            customer_org: None,
            keep_email: false,
        },
        Exit::Handback => ReleaseTerms {
            exit,
            customer: Some(customer()),
            customer_org: None,
            keep_email: false,
        },
        Exit::Transfer => ReleaseTerms {
            exit,
            customer: Some(customer()),
            customer_org: Some(CUSTOMER_ORG.into()),
            keep_email: false,
        },
    }
}

/// An account in custody (vaulted, active), a member of our organization for 30 days, with our
/// MFA device, login profile and a stray root access key.
pub async fn setup() -> MemoryRelease {
    quiet_kills();
    let p = MemoryRelease::new(now(), "release-fn");
    let a = account();
    {
        p.store
            .put(Account {
                account_id: a.clone(),
                root_email: RootEmail::parse(OURS).unwrap(),
                name: Some("Acme Prod".into()),
                status: AccountStatus::Active,
                mode: AccountMode::Vaulted,
                max_age_days: 90,
                contacts: vec![],
                onboarded_at: now() - Duration::days(200),
                last_rotated_at: None,
                rotation_due: Some(now() + Duration::days(20)),
                rotation_reason: None,
                rotation_execution: None,
                posture: None,
                posture_checked_at: None,
                recovery_until: None,
            })
            .await;
        p.vault
            .seed(
                &a,
                CredentialKind::RootPassword,
                &SecretString::from(ROOT_PASSWORD.to_owned()),
                "onboarding",
            )
            .await
            .unwrap();
    }
    p.email.set(&a, &RootEmail::parse(OURS).unwrap());
    p.root.set_root(
        &a,
        Posture {
            access_keys: vec![RootAccessKey {
                id: "AKIASTRAYROOTKEY".into(),
                status: "Active".into(),
                created: None,
            }],
            signing_certificates: vec![],
            mfa_devices: vec!["arn:aws:iam::111122223333:mfa/root-ours".into()],
            login_profile: true,
        },
    );
    p.orgs
        .add(&a, MemberStatus::Active, now() - Duration::days(30));
    p
}

/// An approved release request: asked by alice, approved by bob.
pub fn request(id: &str, terms: ReleaseTerms) -> AccessRequest {
    AccessRequest {
        id: id.into(),
        account_id: account(),
        requester: REQUESTER.into(),
        requester_person: Some(REQUESTER.into()),
        reason: release::RELEASE_REASON.into(),
        ticket: "CHG-7".into(),
        duration_minutes: 60,
        status: AccessStatus::Approved,
        approvals: vec![APPROVER.into()],
        approver_persons: vec![APPROVER.into()],
        review_ticket: None,
        ended_by: None,
        note: None,
        created_at: now(),
        approved_at: Some(now()),
        checked_out_at: None,
        expires_at: None,
        ended_at: None,
        release: Some(terms),
        version: 1,
    }
}

/// One execution of a release: its name, ARN and request.
#[derive(Clone)]
pub struct Exec {
    pub name: String,
    pub arn: String,
    pub request_id: String,
    pub exit: Exit,
}

/// Stores the approved request and starts its execution, as the access function does.
pub async fn approve(p: &MemoryRelease, request_id: &str, terms: ReleaseTerms) -> Exec {
    let exit = terms.exit;
    p.access.put(request(request_id, terms));
    let name = release::approval::execution_name(&account(), request_id);
    let sm = format!(
        "arn:aws:states:us-east-1:999988887777:stateMachine:release-{}",
        exit.as_str()
    );
    let input = serde_json::to_string(&start_input(exit, request_id)).unwrap();
    let arn = match p.executions.start(&sm, &name, &input).await.unwrap() {
        rootwarden_core::executions::Started::New { execution_arn } => execution_arn,
        other => panic!("{other:?}"),
    };
    Exec {
        name,
        arn,
        request_id: request_id.into(),
        exit,
    }
}

pub fn start_input(exit: Exit, request_id: &str) -> StartInput {
    StartInput {
        account_id: account().to_string(),
        exit: exit.as_str().into(),
        request_id: request_id.into(),
        poll_seconds: Some(10),
        code_timeout_seconds: None,
        invitation_timeout_seconds: Some(3600),
    }
}

pub fn begin(e: &Exec) -> Step {
    Step::Begin {
        execution: e.name.clone(),
        execution_arn: e.arn.clone(),
        input: start_input(e.exit, &e.request_id),
    }
}

pub fn step(action: &str, exec: &str, extra: Value) -> Step {
    let mut v = json!({"action": action, "account_id": account().to_string(), "execution": exec});
    if let (Some(m), Some(x)) = (v.as_object_mut(), extra.as_object()) {
        m.extend(x.clone());
    }
    serde_json::from_value(v).unwrap()
}

pub async fn run(p: &MemoryRelease, s: Step) -> Result<Value, LambdaError> {
    release::run(p, s).await
}

/// A step as Lambda runs it: a simulated kill is an error named `KILLED`.
pub async fn attempt(p: &MemoryRelease, s: Step) -> Result<Value, String> {
    AssertUnwindSafe(release::run(p, s))
        .catch_unwind()
        .await
        .map_err(|_| KILLED.to_owned())?
        .map_err(|e| e.to_string())
}

thread_local! {
    /// Every step that succeeded runs again at once (a duplicate delivery): it must succeed.
    pub static TWICE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A step with the state machine's Retry: a kill or a retryable error is retried (3 times).
pub async fn retried(p: &MemoryRelease, s: Step) -> Result<Value, String> {
    let mut last = String::new();
    if std::env::var("RELEASE_TRACE").is_ok() {
        eprintln!("  {s:?}");
    }
    for _ in 0..4 {
        match attempt(p, s.clone()).await {
            Ok(v) => {
                if TWICE.with(|t| t.get()) {
                    let again = attempt(p, s.clone()).await;
                    assert!(again.is_ok(), "{s:?} twice: {again:?}");
                }
                return Ok(v);
            }
            Err(e)
                if e == KILLED
                    || e.starts_with(ErrorType::Conflict.as_str())
                    || e.starts_with(ErrorType::TransientAwsError.as_str()) =>
            {
                last = e
            }
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// The execution ended (timed out, or a Catch) and its fail step recorded it.
pub async fn timed_out(p: &MemoryRelease, e: &Exec) {
    p.executions.end(&e.arn, "FAILED");
    run(
        p,
        step(
            "fail",
            &e.name,
            json!({"error": {"Error": "States.Timeout", "Cause": "timed out"}}),
        ),
    )
    .await
    .unwrap();
}

/// The customer's invitation from their organization.
pub fn invitation(org: &str, partition: &str) -> Invitation {
    Invitation {
        handshake_id: format!("h-{org}"),
        handshake_arn: format!(
            "arn:{partition}:organizations::555566667777:handshake/{org}/invite/h-{org}"
        ),
        organization_id: org.into(),
        state: "OPEN".into(),
        expires_at: Some(now() + Duration::days(15)),
    }
}

/// The operator relays the customer's newest code (`release otp`).
pub async fn relay_newest(p: &MemoryRelease) -> Result<(), LambdaError> {
    let code = p.email.last_code(&account()).expect("a code was mailed");
    // The customer reads their mail a moment later.
    p.clock.advance(Duration::seconds(1));
    // The operator runs `release otp` again if it died.
    let (op, a, secret) = (p.acting_as(OPERATOR), account(), SecretString::from(code));
    for _ in 0..3 {
        let relay = release::relay_code(&op, &a, &secret);
        if let Ok(r) = AssertUnwindSafe(relay).catch_unwind().await {
            return r;
        }
    }
    Err(LambdaError::new(ErrorType::InternalError, "killed thrice"))
}

/// Runs the exit's state machine from `begin` as its ASL does (flags skip completed phases;
/// polls loop; the customer relays codes and invites; AWS finishes closures). `budget`: stop
/// after that many steps (a stop mid-way), `None` to the end. Returns the last output.
#[allow(unused_assignments)]
pub async fn asl(p: &MemoryRelease, e: &Exec, budget: Option<usize>) -> Result<Value, String> {
    let mut left = budget.unwrap_or(usize::MAX);
    macro_rules! go {
        ($s:expr) => {{
            if left == 0 {
                return Err("stopped".into());
            }
            left -= 1;
            retried(p, $s).await?
        }};
    }
    let x = &e.name;
    let flags = go!(begin(e));
    let t = |v: &Value, k: &str| v[k].as_bool().unwrap_or(false);
    match e.exit {
        Exit::Close => {
            if !t(&flags, "close_requested") {
                go!(step("close-account", x, json!({})));
            }
            loop {
                let poll = go!(step("check-closure", x, json!({})));
                if t(&poll, "done") {
                    break;
                }
                go!(step(
                    "await-closure-mail",
                    x,
                    json!({"task_token": format!("tok-closure-{x}"), "timeout_seconds": poll["wait_seconds"]})
                ));
                // AWS finishes the closure (its mail completes the wait, or the timeout loops).
                p.orgs.finish_closure(&account());
            }
            Ok(go!(step("closed", x, json!({}))))
        }
        Exit::Handback | Exit::Transfer if t(&flags, "shredded") => {
            Ok(go!(step("certify", x, json!({}))))
        }
        Exit::Handback | Exit::Transfer => {
            let keep = t(&flags, "keep_email");
            if e.exit == Exit::Transfer && !t(&flags, "handshake_accepted") {
                go!(step("check-transfer", x, json!({})));
            }
            if !keep && !t(&flags, "email_accepted") && !t(&flags, "handshake_accepted") {
                let started = go!(step("start-email-update", x, json!({})));
                if !t(&started, "already_customers") {
                    loop {
                        go!(step(
                            "await-code",
                            x,
                            json!({"task_token": format!("tok-code-{x}"), "timeout_seconds": 3600})
                        ));
                        relay_newest(p).await.map_err(|e| e.to_string())?;
                        match retried(p, step("accept-email-update", x, json!({}))).await {
                            Ok(_) => break,
                            Err(err) if err.starts_with("WrongCode") => {
                                go!(step("resend", x, json!({})));
                            }
                            Err(err) => return Err(err),
                        }
                    }
                }
                loop {
                    let poll = go!(step("check-email", x, json!({})));
                    if t(&poll, "done") {
                        break;
                    }
                }
            }
            if !t(&flags, "handshake_accepted") {
                go!(step("put-contacts", x, json!({})));
                go!(step("remove-root-credentials", x, json!({})));
                go!(step("create-login-profile", x, json!({})));
            }
            if e.exit == Exit::Transfer {
                if !t(&flags, "handshake_accepted") {
                    loop {
                        let poll = go!(step("check-invitation", x, json!({})));
                        if t(&poll, "found") {
                            break;
                        }
                        p.orgs.invite(&account(), invitation(CUSTOMER_ORG, "aws"));
                    }
                    go!(step("accept-invitation", x, json!({})));
                }
                loop {
                    let poll = go!(step("check-departure", x, json!({})));
                    if t(&poll, "done") {
                        break;
                    }
                    p.orgs.depart(&account());
                }
            }
            go!(step("shred", x, json!({})));
            Ok(go!(step("certify", x, json!({}))))
        }
    }
}

/// The audit actions of the account's chain, in order.
pub fn actions(p: &MemoryRelease) -> Vec<String> {
    p.audit
        .records(&format!("account/{}", account()))
        .into_iter()
        .map(|r| r.action)
        .collect()
}

pub async fn state(p: &MemoryRelease) -> (Account, release::Release) {
    let (a, r) = p.store.item(&account()).await.unwrap();
    (a, r.unwrap())
}

pub fn advance(p: &MemoryRelease, d: Duration) {
    p.clock.advance(d);
}

pub fn clock_now(p: &MemoryRelease) -> DateTime<Utc> {
    p.clock.now()
}
