//! Twins set up as a customer's account, and the state machine's moves, for the takeover tests.

use std::panic::AssertUnwindSafe;

use chrono::{DateTime, Duration, Utc};
use futures::FutureExt;
use rootwarden_core::enforcement::{Posture, RootAccessKey};
use rootwarden_core::mail::SecretKind;
use rootwarden_core::registry::AccountMode;
use rootwarden_core::takeover::{self, StartInput, StartRequest, Step};
use rootwarden_core::vault::TransientStore;
use rootwarden_core::{AccountId, Clock, RootEmail};
use rootwarden_testkit::{MemoryTakeoverPorts, KILLED};
use secrecy::SecretString;
use serde_json::{json, Value};

pub const SM: &str = "arn:aws:states:us-east-1:999988887777:stateMachine:takeover";
pub const DOMAIN: &str = "root.example.com";
pub const OPERATOR: &str = "arn:aws:sts::999988887777:assumed-role/RootWardenOperator/alice";

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
            let killed = info
                .payload()
                .downcast_ref::<&str>()
                .is_some_and(|m| *m == KILLED);
            if !killed {
                default(info);
            }
        }));
    });
}

/// An account the customer owns: its old root email, a root access key and a certificate.
pub fn setup() -> MemoryTakeoverPorts {
    quiet_kills();
    let ports = MemoryTakeoverPorts::new(now(), "takeover-fn", DOMAIN);
    let a = account();
    ports
        .email
        .set(&a, &RootEmail::parse("founder@customer.example").unwrap());
    ports.root.set_root(
        &a,
        Posture {
            access_keys: vec![RootAccessKey {
                id: "AKIAOLDROOTKEY".into(),
                status: "Active".into(),
                created: None,
            }],
            signing_certificates: vec![],
            mfa_devices: vec!["arn:aws:iam::111122223333:mfa/old".into()],
            login_profile: true,
        },
    );
    ports
}

/// An execution started by the operator (Step Functions has it running).
pub async fn started(ports: &MemoryTakeoverPorts, mode: AccountMode) -> takeover::Started {
    takeover::start(
        &ports.acting_as(OPERATOR),
        SM,
        &StartRequest {
            account_id: account(),
            mode,
            reason: "custody of the new acquisition".into(),
            ticket: "CHG-42".into(),
            code_timeout_seconds: None,
        },
    )
    .await
    .unwrap()
}

pub fn input(mode: AccountMode) -> StartInput {
    StartInput {
        account_id: account().to_string(),
        mode: mode.as_str().into(),
        reason: "custody of the new acquisition".into(),
        ticket: "CHG-42".into(),
        requested_by: OPERATOR.into(),
        code_timeout_seconds: None,
        reset_timeout_seconds: None,
        mfa_timeout_seconds: None,
    }
}

pub fn step(action: &str, exec: &str, extra: Value) -> Step {
    let mut v = json!({"action": action, "account_id": account().to_string(), "execution": exec});
    if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    serde_json::from_value(v).unwrap()
}

pub async fn run(
    ports: &MemoryTakeoverPorts,
    s: Step,
) -> Result<Value, rootwarden_core::LambdaError> {
    takeover::run(ports, s).await
}

/// What inbound mail does with AWS's verification mail: vaults the code.
pub async fn deliver_code(ports: &MemoryTakeoverPorts, code: &str, n: usize) {
    ports
        .transient
        .put(
            Some(&account()),
            SecretKind::VerificationCode,
            &format!("ses-{n}"),
            0,
            ports.clock.now(),
            &SecretString::from(code.to_owned()),
        )
        .await
        .unwrap();
}

/// The code's wait step (registers the wait, then asks AWS for the code).
pub fn await_code(exec: &str) -> Step {
    step(
        "await-code",
        exec,
        json!({"task_token": format!("tok-{exec}"), "timeout_seconds": 900}),
    )
}

pub fn allocate(exec: &str, arn: &str, mode: AccountMode) -> Step {
    Step::Allocate {
        execution: exec.into(),
        execution_arn: arn.into(),
        input: input(mode),
    }
}

/// Allocate → start the update → await the code → (mail) → accept, as the state machine does.
pub async fn take_email(ports: &MemoryTakeoverPorts, exec: &str, arn: &str, mode: AccountMode) {
    run(ports, allocate(exec, arn, mode)).await.unwrap();
    let out = run(ports, step("start-email-update", exec, json!({})))
        .await
        .unwrap();
    if out["already_ours"] == json!(false) {
        run(
            ports,
            step(
                "await-code",
                exec,
                json!({"task_token": "tok-code", "timeout_seconds": 900}),
            ),
        )
        .await
        .unwrap();
        let code = ports.email.last_code(&account()).unwrap();
        deliver_code(ports, &code, ports.email.mailed(&account())).await;
        run(ports, step("accept-email-update", exec, json!({})))
            .await
            .unwrap();
    }
}

/// The credential-less path after the email.
pub async fn finish_credential_less(ports: &MemoryTakeoverPorts, exec: &str) -> Value {
    run(ports, step("delete-root-credentials", exec, json!({})))
        .await
        .unwrap();
    run(ports, step("delete-keys", exec, json!({})))
        .await
        .unwrap();
    run(ports, step("activate", exec, json!({}))).await.unwrap()
}

pub fn actions(ports: &MemoryTakeoverPorts) -> Vec<String> {
    ports
        .audit
        .records(&format!("account/{}", account()))
        .into_iter()
        .map(|r| r.action)
        .collect()
}

/// Every step of a credential-less takeover, in order, for execution `e`.
pub fn credential_less_steps(e: &str, arn: &str) -> Vec<Step> {
    vec![
        allocate(e, arn, AccountMode::CredentialLess),
        step("start-email-update", e, json!({})),
        step("await-code", e, json!({"task_token": format!("tok-{e}")})),
        step("accept-email-update", e, json!({})),
        step("delete-root-credentials", e, json!({})),
        step("delete-keys", e, json!({})),
        step("activate", e, json!({})),
    ]
}

/// Runs `s`, delivering AWS's newest code before an accept (as mail would have); an accept
/// refused for want of a code goes round the state machine's resend loop once (resend, await
/// the code, accept), as a kill between asking for the code and recording it leaves it.
pub async fn run_delivering(ports: &MemoryTakeoverPorts, s: Step) -> Result<Value, String> {
    let accept = matches!(s, Step::AcceptEmailUpdate { .. });
    let execution = match &s {
        Step::AcceptEmailUpdate { execution, .. } => execution.clone(),
        _ => String::new(),
    };
    if accept {
        deliver_newest(ports).await;
    }
    let r = attempt(ports, s.clone()).await;
    match r {
        Err(e) if accept && e.starts_with("WrongCode") => {
            attempt(ports, step("resend", &execution, json!({}))).await?;
            attempt(ports, await_code(&execution)).await?;
            deliver_newest(ports).await;
            attempt(ports, s).await
        }
        r => r,
    }
}

async fn deliver_newest(ports: &MemoryTakeoverPorts) {
    if let Some(code) = ports.email.last_code(&account()) {
        ports.clock.advance(Duration::seconds(1));
        deliver_code(ports, &code, ports.email.mailed(&account())).await;
    }
}

async fn attempt(ports: &MemoryTakeoverPorts, s: Step) -> Result<Value, String> {
    AssertUnwindSafe(takeover::run(ports, s))
        .catch_unwind()
        .await
        .map_err(|_| KILLED.to_owned())?
        .map_err(|e| e.to_string())
}
