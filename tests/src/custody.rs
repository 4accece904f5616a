//! Shared set-up for the vault, onboarding and rotation tests: the use cases' dependencies
//! built against an emulator stack, onboarding, and a fault-injecting SDK interceptor that
//! "kills" a step at its n-th AWS call.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;
use rootwarden::onboarding::{self, OnboardRequest, OnboardSecrets};
use rootwarden::registry::AccountMode;
use rootwarden::rotation::{Clients, Deps};
use rootwarden::{AccountId, Config, RootEmail, SystemClock};
use secrecy::SecretString;

use crate::Emulator;

/// The stack's configuration, exactly as a Lambda there would read it.
pub fn config(emu: &Emulator) -> Config {
    let env = emu.stack().env.clone();
    Config::from_lookup(|k| env.get(k).cloned()).expect("stack env is a valid config")
}

/// The rotation use cases' dependencies, acting as the rotation function's role (what runs
/// them in production).
pub async fn deps(emu: &Emulator, actor: &str) -> Deps {
    function_deps(emu, "RotationFunction", actor).await
}

/// The same dependencies acting as another function's role (e.g. RotationSchedulerFunction
/// for the sweep).
pub async fn function_deps(emu: &Emulator, logical_id: &str, actor: &str) -> Deps {
    let sdk = emu.role_config(logical_id).await;
    Deps::new(
        &config(emu),
        Clients::new(&sdk),
        Arc::new(SystemClock),
        actor,
    )
}

/// The same dependencies acting as the operator alice (the CLI's principal): onboarding and
/// `rotation confirm/reject` run in the CLI.
pub async fn operator_deps(emu: &Emulator, actor: &str) -> Deps {
    let sdk = emu.sdk_config_as(emu.operator("alice")).await;
    Deps::new(
        &config(emu),
        Clients::new(&sdk),
        Arc::new(SystemClock),
        actor,
    )
}

/// Deps for a test's own checks: reads tables and runs executions as the harness, and decrypts
/// as the access function (the one role that may reveal a vaulted secret).
pub async fn inspector_deps(emu: &Emulator) -> Deps {
    let harness = emu.sdk_config().await;
    let access = emu.role_config("AccessFunction").await;
    let clients = Clients {
        ddb: aws_sdk_dynamodb::Client::new(&harness),
        kms: aws_sdk_kms::Client::new(&access),
        sfn: aws_sdk_sfn::Client::new(&harness),
    };
    Deps::new(
        &config(emu),
        clients,
        Arc::new(SystemClock),
        "test-inspector",
    )
}

/// Deps whose clients fail the n-th AWS call (and never retry), see [`KillSwitch`]; acting as
/// the rotation function's role.
pub async fn faulty_deps(emu: &Emulator, actor: &str, kill: &KillSwitch) -> Deps {
    let sdk = emu.role_config("RotationFunction").await;
    let clients = Clients {
        ddb: aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(kill.clone())
                .retry_config(RetryConfig::disabled())
                .build(),
        ),
        kms: aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(&sdk)
                .interceptor(kill.clone())
                .retry_config(RetryConfig::disabled())
                .build(),
        ),
        sfn: aws_sdk_sfn::Client::from_conf(
            aws_sdk_sfn::config::Builder::from(&sdk)
                .interceptor(kill.clone())
                .retry_config(RetryConfig::disabled())
                .build(),
        ),
    };
    Deps::new(&config(emu), clients, Arc::new(SystemClock), actor)
}

/// Where the kill happens relative to the n-th call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillPoint {
    /// The n-th call never reaches AWS.
    BeforeSend,
    /// The n-th call takes effect in AWS, but the caller dies before reading the response.
    AfterEffect,
}

/// Fails the n-th AWS call a client makes (counted across every client sharing it), as if the
/// process died there: every later call of the step is never made because the error
/// propagates.
#[derive(Clone)]
pub struct KillSwitch {
    calls: Arc<AtomicUsize>,
    kill_at: usize,
    point: KillPoint,
    fired: Arc<AtomicBool>,
}

impl fmt::Debug for KillSwitch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KillSwitch(at {} {:?})", self.kill_at, self.point)
    }
}

impl KillSwitch {
    pub fn new(kill_at: usize, point: KillPoint) -> Self {
        Self {
            calls: Arc::new(AtomicUsize::new(0)),
            kill_at,
            point,
            fired: Arc::new(AtomicBool::new(false)),
        }
    }
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    fn hit(&self, point: KillPoint) -> Result<(), BoxError> {
        if point != self.point {
            return Ok(());
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.kill_at {
            self.fired.store(true, Ordering::SeqCst);
            return Err(format!("fault injection: killed at AWS call {n} ({point:?})").into());
        }
        Ok(())
    }
}

impl Intercept for KillSwitch {
    fn name(&self) -> &'static str {
        "KillSwitch"
    }
    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.hit(KillPoint::BeforeSend)
    }
    fn read_before_deserialization(
        &self,
        _ctx: &BeforeDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.hit(KillPoint::AfterEffect)
    }
}

/// A distinct 12-digit account id per (test, n).
pub fn account(prefix: u64, n: u64) -> AccountId {
    AccountId::parse(&format!("{:012}", prefix * 1_000_000 + n)).expect("12 digits")
}

pub fn root_email(account: &AccountId) -> RootEmail {
    RootEmail::parse(&format!("aws-root+{account}@provider.example")).expect("valid")
}

/// Onboards a vaulted account with the given password (and optional seed).
pub async fn onboard(
    deps: &Deps,
    account: &AccountId,
    password: &str,
    seed: Option<&str>,
) -> anyhow::Result<()> {
    onboarding::onboard(
        deps,
        OnboardRequest {
            account_id: account.clone(),
            root_email: root_email(account),
            name: Some(format!("Customer {account}")),
            mode: AccountMode::Vaulted,
            max_age_days: 90,
            contacts: vec!["ops@provider.example".into()],
        },
        OnboardSecrets {
            password: Some(SecretString::from(password.to_owned())),
            mfa_seed: seed.map(|s| SecretString::from(s.to_owned())),
        },
    )
    .await?;
    Ok(())
}

/// The stack's audit log, read as the CLI reads it.
pub async fn audit_log(emu: &Emulator) -> rootwarden::audit::DynamoAuditLog {
    rootwarden::audit::DynamoAuditLog::new(
        aws_sdk_dynamodb::Client::new(&emu.sdk_config().await),
        emu.env("ROOTWARDEN_AUDIT_TABLE"),
        Arc::new(SystemClock),
    )
}

/// The actions of an account's audit chain, oldest first.
pub async fn audit_actions(emu: &Emulator, account: &AccountId) -> Vec<String> {
    use rootwarden::audit::{AuditLog, Stream};
    audit_log(emu)
        .await
        .read_stream(&Stream::Account(account.clone()).key())
        .await
        .expect("audit chain readable")
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|r| r.action.clone()))
        .collect()
}

/// Asserts one account's audit chain (or every chain) verifies.
pub async fn assert_audit_intact(emu: &Emulator, account: Option<&AccountId>) {
    let stream = account.map(|a| rootwarden::audit::Stream::Account(a.clone()));
    let report = rootwarden::audit::verify(&audit_log(emu).await, stream.as_ref())
        .await
        .expect("audit log readable");
    assert!(
        report.is_ok(),
        "audit chain {account:?}: {:?}",
        report.first_fault()
    );
}

/// The stack's rotation state machine ARN.
pub fn rotation_state_machine(emu: &Emulator) -> String {
    config(emu).rotation_state_machine().unwrap().to_owned()
}

/// The ARN of execution `name` of `state_machine`.
pub fn execution_arn(state_machine: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine.replace(":stateMachine:", ":execution:")
    )
}

/// Polls until `f` returns Some, for up to 60 s; panics naming `what` after that.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..600 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The rotation record of `execution` once it awaits its apply step with a task token.
pub async fn awaiting_apply(
    deps: &Deps,
    a: &AccountId,
    execution: &str,
) -> rootwarden::rotation::RotationRecord {
    eventually("the rotation to await its apply step", || async {
        deps.rotations.get(a, execution).await.unwrap().filter(|r| {
            r.stage == rootwarden::rotation::RotationStage::AwaitingApply && r.task_token.is_some()
        })
    })
    .await
}
