//! The `takeover` check-out on the in-memory twins: for an account being taken over (status
//! `taking-over`, no current root password), it shows the pending password of the takeover's
//! rotation awaiting its apply and the reset link AWS mailed, while the takeover execution runs
//! and its deadline holds; dual control as for every reason. `rotation-apply` stays for active
//! accounts, and neither reason applies the other's rotation.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rootwarden_core::access::{
    self, AccessLedger, AccessPolicy, AccessPorts, AccessRequest, NewRequest,
};
use rootwarden_core::audit::{MemoryAuditLog, Stream};
use rootwarden_core::executions::{Executions, Started};
use rootwarden_core::mail::SecretKind;
use rootwarden_core::registry::{AccountMode, AccountStatus};
use rootwarden_core::rotation::{RotationRecord, RotationStage, TAKEOVER_TRIGGER};
use rootwarden_core::vault::{Actor, CredentialKind, TransientStore, Vault};
use rootwarden_core::{AccountId, Clock, ErrorType};
use rootwarden_testkit::{
    FixedClock, MemoryAccessAccounts, MemoryAccessLedger, MemoryAccessTickets, MemoryExecutions,
    MemoryRotationLookup, MemoryTransientStore, MemoryVault,
};
use secrecy::{ExposeSecret, SecretString};

const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const BOB: &str = "arn:aws:iam::123456789012:user/bob";
const PENDING: &str = "First-Root-Password-1!x";
const LINK: &str = "https://signin.aws.amazon.com/resetpassword?token=abc";
const EXEC: &str = "takeover-210987654321-1";

fn policy() -> AccessPolicy {
    AccessPolicy::from_json(&format!(
        r#"{{
        "principals": [
            {{"arn": "{ALICE}", "roles": ["requester"]}},
            {{"arn": "{BOB}", "roles": ["approver"]}}
        ],
        "approvals_required": 1,
        "approval_ttl_minutes": 60,
        "ticket_pattern": "^INC-[0-9]+$"
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

#[derive(Clone)]
struct Ports {
    ledger: MemoryAccessLedger,
    accounts: MemoryAccessAccounts,
    vault: MemoryVault,
    transient: MemoryTransientStore,
    tickets: MemoryAccessTickets,
    rotations: MemoryRotationLookup,
    executions: MemoryExecutions,
    audit: MemoryAuditLog,
    clock: Arc<dyn Clock>,
    policy: AccessPolicy,
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
        Some(&self.executions)
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
}

impl Ports {
    /// An account registered with `status`, vaulted, nothing in the vault.
    fn new(status: AccountStatus) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(FixedClock(t0()));
        let audit = MemoryAuditLog::new(clock.clone());
        let accounts = MemoryAccessAccounts::default();
        accounts.register(&account(), status, AccountMode::Vaulted);
        Self {
            ledger: MemoryAccessLedger::new(audit.clone()),
            accounts,
            vault: MemoryVault::new(audit.clone(), clock.clone()),
            transient: MemoryTransientStore::default(),
            tickets: MemoryAccessTickets::new(audit.clone()),
            rotations: MemoryRotationLookup::default(),
            executions: MemoryExecutions::new(),
            audit,
            clock,
            policy: policy(),
        }
    }

    fn at(&self, minutes: i64) -> Self {
        Self {
            clock: Arc::new(FixedClock(t0() + Duration::minutes(minutes))),
            ..self.clone()
        }
    }

    fn actions(&self) -> Vec<String> {
        self.audit
            .records(&Stream::Account(account()).key())
            .into_iter()
            .map(|r| r.action)
            .collect()
    }
}

/// The takeover's rotation awaiting its apply: the first password staged (no current), its
/// execution running, its apply deadline 24 h ahead; and AWS's reset link vaulted.
async fn takeover_awaiting(p: &Ports, trigger: &str) -> String {
    takeover_awaiting_until(p, trigger, Duration::hours(24)).await
}

async fn takeover_awaiting_until(p: &Ports, trigger: &str, deadline: Duration) -> String {
    let Started::New { execution_arn } = p
        .executions
        .start(
            "arn:aws:states:eu-west-1:1:stateMachine:takeover",
            EXEC,
            "{}",
        )
        .await
        .unwrap()
    else {
        panic!("a new execution")
    };
    let actor = Actor {
        actor: "rotation".into(),
        correlation_id: EXEC.into(),
        reason: "test".into(),
    };
    let secret = SecretString::from(PENDING.to_owned());
    let (version, _) = p
        .vault
        .stage_pending(
            &account(),
            CredentialKind::RootPassword,
            EXEC,
            &secret,
            &actor,
        )
        .await
        .unwrap();
    p.rotations.put(RotationRecord {
        account_id: account(),
        execution: EXEC.into(),
        execution_arn: execution_arn.clone(),
        trigger: trigger.into(),
        stage: RotationStage::AwaitingApply,
        pending_version: version,
        current_version: None,
        completed_version: None,
        max_age_days: None,
        ticket_id: format!("rotation-{EXEC}"),
        task_token: Some("token".into()),
        apply_deadline: Some((t0() + deadline).to_rfc3339()),
        started_at: t0().to_rfc3339(),
        updated_at: t0().to_rfc3339(),
        outcome: None,
    });
    p.transient
        .put(
            Some(&account()),
            SecretKind::PasswordResetLink,
            "mail-1",
            0,
            t0(),
            &SecretString::from(LINK.to_owned()),
        )
        .await
        .unwrap();
    execution_arn
}

fn ask(reason: &str) -> NewRequest {
    NewRequest {
        account: account(),
        reason: reason.into(),
        ticket: "INC-7".into(),
        duration_minutes: Some(30),
        release: None,
    }
}

async fn approved(p: &Ports, reason: &str) -> AccessRequest {
    let r = access::request(p, ALICE, ask(reason)).await.unwrap();
    access::approve(p, BOB, &r.id).await.unwrap()
}

#[tokio::test]
async fn a_takeover_checkout_shows_the_pending_password_and_reset_link_but_no_current() {
    let p = Ports::new(AccountStatus::TakingOver);
    takeover_awaiting(&p, TAKEOVER_TRIGGER).await;
    // Dual control as for every reason: the requester alone cannot approve.
    let r = access::request(&p, ALICE, ask("takeover")).await.unwrap();
    assert_eq!(
        access::approve(&p, ALICE, &r.id)
            .await
            .unwrap_err()
            .error_type,
        ErrorType::AccessDenied
    );
    let r = access::approve(&p, BOB, &r.id).await.unwrap();
    let out = access::checkout(&p.at(5), ALICE, &r.id).await.unwrap();
    assert!(out.password.is_none(), "no current password is vaulted");
    assert_eq!(out.password_version, None);
    let (version, pending) = out.pending.as_ref().unwrap();
    assert_eq!((*version, pending.expose_secret()), (1, PENDING));
    let links: Vec<_> = out.reset_links.iter().map(|l| l.expose_secret()).collect();
    assert_eq!(links, [LINK]);
    assert!(out.totp.is_none());
    // Applying a pending password is not a use of one: nothing is marked for rotation.
    assert_eq!(p.accounts.account(&account()).unwrap().rotation_due, None);
    assert!(p.actions().contains(&"access.checked-out".to_owned()));
}

#[tokio::test]
async fn a_takeover_request_needs_a_taking_over_account_with_a_takeover_rotation_awaiting() {
    // No rotation awaits its apply.
    let p = Ports::new(AccountStatus::TakingOver);
    let e = access::request(&p, ALICE, ask("takeover"))
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::ValidationError, "{e}");
    // An active account: takeover is refused, rotation-apply is its reason.
    let p = Ports::new(AccountStatus::Active);
    takeover_awaiting(&p, "manual").await;
    let e = access::request(&p, ALICE, ask("takeover"))
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::ValidationError, "{e}");
    assert!(e.message.contains("active"), "{e}");
    access::request(&p, ALICE, ask("rotation-apply"))
        .await
        .unwrap();
    // A taking-over account refuses every other reason, rotation-apply included.
    let p = Ports::new(AccountStatus::TakingOver);
    takeover_awaiting(&p, TAKEOVER_TRIGGER).await;
    for reason in ["rotation-apply", "billing-issue"] {
        let e = access::request(&p, ALICE, ask(reason)).await.unwrap_err();
        assert_eq!(e.error_type, ErrorType::ValidationError, "{reason}: {e}");
    }
    // A rotation that is not the takeover's does not admit a takeover check-out.
    let p = Ports::new(AccountStatus::TakingOver);
    takeover_awaiting(&p, "manual").await;
    let e = access::request(&p, ALICE, ask("takeover"))
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::ValidationError, "{e}");
}

#[tokio::test]
async fn a_takeover_checkout_is_refused_when_its_execution_stopped_or_its_deadline_passed() {
    // Past the apply deadline (10 minutes after it was prepared).
    let p = Ports::new(AccountStatus::TakingOver);
    takeover_awaiting_until(&p, TAKEOVER_TRIGGER, Duration::minutes(10)).await;
    let r = approved(&p, "takeover").await;
    let late = access::checkout(&p.at(11), ALICE, &r.id).await.unwrap_err();
    assert_eq!(late.error_type, ErrorType::AccessDenied);
    assert!(late.message.contains("deadline"), "{late}");
    // The takeover execution was stopped: refused, audited, nothing locked.
    let p = Ports::new(AccountStatus::TakingOver);
    let arn2 = takeover_awaiting(&p, TAKEOVER_TRIGGER).await;
    let r = approved(&p, "takeover").await;
    p.executions.end(&arn2, "ABORTED");
    let e = access::checkout(&p, ALICE, &r.id).await.unwrap_err();
    assert_eq!(e.error_type, ErrorType::AccessDenied);
    assert!(
        e.message.starts_with("takeover:") && e.message.contains("no longer runs"),
        "{e}"
    );
    assert!(p.actions().contains(&"access.refused".to_owned()));
    assert!(p.ledger.locks().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_takeover_checkout_is_refused_once_the_account_is_active() {
    let p = Ports::new(AccountStatus::TakingOver);
    takeover_awaiting(&p, TAKEOVER_TRIGGER).await;
    let r = approved(&p, "takeover").await;
    p.accounts
        .register(&account(), AccountStatus::Active, AccountMode::Vaulted);
    let e = access::checkout(&p, ALICE, &r.id).await.unwrap_err();
    assert_eq!(e.error_type, ErrorType::ValidationError, "{e}");
    assert!(p.ledger.locks().await.unwrap().is_empty());
}
