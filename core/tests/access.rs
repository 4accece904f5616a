//! The access use cases with the in-memory twins: the whole flow, every refusal audited, dual
//! control, expiry, revoke, fail-closed check-out, the `rotation-apply` gate and racing
//! approvers. Time is a `FixedClock`; nothing sleeps.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rootwarden_core::access::{
    self, AccessLedger, AccessPolicy, AccessPorts, AccessRequest, AccessStatus, NewRequest,
};
use rootwarden_core::audit::{AuditRecord, MemoryAuditLog, Stream};
use rootwarden_core::executions::{Executions, Started};
use rootwarden_core::registry::{AccountMode, AccountStatus, RotationReason};
use rootwarden_core::rotation::{RotationRecord, RotationStage};
use rootwarden_core::vault::{Actor, CredentialKind, Vault};
use rootwarden_core::{AccountId, Clock, ErrorType, LambdaError};
use rootwarden_testkit::{
    FixedClock, MemoryAccessAccounts, MemoryAccessLedger, MemoryAccessTickets, MemoryExecutions,
    MemoryRotationLookup, MemoryTransientStore, MemoryVault,
};
use secrecy::{ExposeSecret, SecretString};

const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const CAROL: &str = "arn:aws:iam::123456789012:user/carol";
const BOB: &str = "arn:aws:iam::123456789012:user/bob";
const DAVE: &str = "arn:aws:iam::123456789012:user/dave";
const ADMIN: &str = "arn:aws:iam::123456789012:user/admin";
const MALLORY: &str = "arn:aws:iam::123456789012:user/mallory";
const PASSWORD: &str = "Current-Root-Password-1!";
const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn policy(approvals_required: u32) -> AccessPolicy {
    AccessPolicy::from_json(&format!(
        r#"{{
        "principals": [
            {{"arn": "{ALICE}", "roles": ["requester"]}},
            {{"arn": "{CAROL}", "roles": ["requester"]}},
            {{"arn": "{BOB}", "roles": ["approver"]}},
            {{"arn": "{DAVE}", "roles": ["approver"]}},
            {{"arn": "{ADMIN}", "roles": ["admin"]}}
        ],
        "approvals_required": {approvals_required},
        "approval_ttl_minutes": 60,
        "ticket_pattern": "^INC-[0-9]+$",
        "reasons": {{"security-incident": {{"max_minutes": 30, "self_service": true}}}}
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

/// The twins, shared by clones; `clock` and `policy` per bundle.
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
}

impl Ports {
    /// A vaulted active account with a root password and an MFA seed, at `t0`.
    async fn new(approvals_required: u32) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(FixedClock(t0()));
        let audit = MemoryAuditLog::new(clock.clone());
        let vault = MemoryVault::new(audit.clone(), clock.clone());
        let a = account();
        for (kind, secret) in [
            (CredentialKind::RootPassword, PASSWORD),
            (CredentialKind::MfaSeed, SEED),
        ] {
            let secret = SecretString::from(secret.to_owned());
            vault.seed(&a, kind, &secret, "onboarding").await.unwrap();
        }
        let accounts = MemoryAccessAccounts::default();
        accounts.register(&a, AccountStatus::Active, AccountMode::Vaulted);
        Self {
            ledger: MemoryAccessLedger::new(audit.clone()),
            accounts,
            vault,
            transient: MemoryTransientStore::default(),
            tickets: MemoryAccessTickets::new(audit.clone()),
            rotations: MemoryRotationLookup::default(),
            executions: Some(MemoryExecutions::new()),
            audit,
            clock,
            policy: policy(approvals_required),
        }
    }

    /// The same twins, `minutes` after `t0`.
    fn at(&self, minutes: i64) -> Self {
        Self {
            clock: Arc::new(FixedClock(t0() + Duration::minutes(minutes))),
            ..self.clone()
        }
    }

    fn records(&self) -> Vec<AuditRecord> {
        self.audit.records(&Stream::Account(account()).key())
    }

    fn actions(&self) -> Vec<String> {
        self.records().into_iter().map(|r| r.action).collect()
    }

    /// The refusal records, as (attempted action, actor).
    fn refusals(&self) -> Vec<(String, String)> {
        self.records()
            .into_iter()
            .filter(|r| r.action == "access.refused")
            .map(|r| {
                let details: serde_json::Value = serde_json::from_str(&r.details).unwrap();
                (details["attempted"].as_str().unwrap().to_owned(), r.actor)
            })
            .collect()
    }

    async fn stored(&self, id: &str) -> AccessRequest {
        access::get(self, id).await.unwrap().unwrap()
    }
}

fn ask(reason: &str) -> NewRequest {
    NewRequest {
        account: account(),
        reason: reason.into(),
        ticket: "INC-42".into(),
        duration_minutes: Some(30),
        release: None,
    }
}

async fn approved(p: &Ports) -> AccessRequest {
    let r = access::request(p, ALICE, ask("billing-issue"))
        .await
        .unwrap();
    access::approve(p, BOB, &r.id).await.unwrap()
}

/// The error, checked to be of `error_type`.
fn refused(e: LambdaError, error_type: ErrorType) -> LambdaError {
    assert_eq!(e.error_type, error_type, "{e}");
    e
}

#[tokio::test]
async fn request_approve_checkout_checkin() {
    let p = Ports::new(1).await;
    let r = access::request(&p, ALICE, ask("billing-issue"))
        .await
        .unwrap();
    assert_eq!((r.status, r.version), (AccessStatus::Requested, 1));
    let r = access::approve(&p, BOB, &r.id).await.unwrap();
    assert_eq!(r.status, AccessStatus::Approved);

    let out = access::checkout(&p.at(5), ALICE, &r.id).await.unwrap();
    assert_eq!(out.password.as_ref().unwrap().expose_secret(), PASSWORD);
    assert_eq!(out.password_version, Some(1));
    assert!(out.totp.is_some(), "the current TOTP code is shown");
    assert!(out.pending.is_none());
    assert_eq!(out.request.status, AccessStatus::CheckedOut);
    let lock = p.ledger.locks().await.unwrap();
    assert_eq!(lock.len(), 1);
    assert_eq!(lock[0].request_id, r.id);
    // Every use of the password ends in a rotation.
    let marked = p.accounts.account(&account()).unwrap();
    assert_eq!(marked.rotation_due, Some(t0() + Duration::minutes(5)));
    assert_eq!(marked.rotation_reason, Some(RotationReason::Checkout));

    let r = access::checkin(&p.at(10), ALICE, &r.id).await.unwrap();
    assert_eq!(r.status, AccessStatus::CheckedIn);
    assert!(
        p.ledger.locks().await.unwrap().is_empty(),
        "checked in: lock released"
    );
    assert_eq!(
        p.actions()
            .into_iter()
            .filter(|a| a.starts_with("access."))
            .collect::<Vec<_>>(),
        [
            "access.requested",
            "access.approved",
            "access.checked-out",
            "access.checked-in"
        ]
    );
    assert!(p.refusals().is_empty());
    assert_eq!(access::list(&p, Some(&account())).await.unwrap().len(), 1);
    assert!(rootwarden_core::audit::verify(&p.audit, None)
        .await
        .unwrap()
        .is_ok());
}

#[tokio::test]
async fn every_refusal_is_audited() {
    let p = Ports::new(1).await;
    // Not a requester; an unknown reason; a ticket not matching the pattern; an unknown account.
    refused(
        access::request(&p, MALLORY, ask("billing-issue"))
            .await
            .unwrap_err(),
        ErrorType::AccessDenied,
    );
    refused(
        access::request(&p, ALICE, ask("curiosity"))
            .await
            .unwrap_err(),
        ErrorType::ValidationError,
    );
    let mut bad_ticket = ask("billing-issue");
    bad_ticket.ticket = "whatever".into();
    refused(
        access::request(&p, ALICE, bad_ticket).await.unwrap_err(),
        ErrorType::NotFound,
    );
    let unknown = NewRequest {
        account: AccountId::parse("999999999999").unwrap(),
        ..ask("billing-issue")
    };
    refused(
        access::request(&p, ALICE, unknown.clone())
            .await
            .unwrap_err(),
        ErrorType::NotFound,
    );
    // (recorded in the stream of the account asked for)
    let elsewhere = p.audit.records(&Stream::Account(unknown.account).key());
    assert_eq!(elsewhere.len(), 1);
    assert_eq!(elsewhere[0].action, "access.refused");
    // A rotation-apply request with no rotation awaiting its apply step.
    refused(
        access::request(&p, ALICE, ask("rotation-apply"))
            .await
            .unwrap_err(),
        ErrorType::ValidationError,
    );

    let r = access::request(&p, ALICE, ask("billing-issue"))
        .await
        .unwrap();
    // Check-out before approval; approval by a requester; by a stranger.
    refused(
        access::checkout(&p, ALICE, &r.id).await.unwrap_err(),
        ErrorType::Conflict,
    );
    refused(
        access::approve(&p, CAROL, &r.id).await.unwrap_err(),
        ErrorType::AccessDenied,
    );
    refused(
        access::approve(&p, MALLORY, &r.id).await.unwrap_err(),
        ErrorType::AccessDenied,
    );
    access::approve(&p, BOB, &r.id).await.unwrap();
    // Someone else's check-out; a check-in of what is not checked out; a revoke by a
    // non-admin; a second approval of a decided request.
    refused(
        access::checkout(&p, CAROL, &r.id).await.unwrap_err(),
        ErrorType::AccessDenied,
    );
    refused(
        access::revoke(&p, BOB, &r.id, "no").await.unwrap_err(),
        ErrorType::AccessDenied,
    );
    refused(
        access::approve(&p, DAVE, &r.id).await.unwrap_err(),
        ErrorType::Conflict,
    );
    let attempted: Vec<(String, String)> = p.refusals();
    assert_eq!(
        attempted,
        [
            ("request", MALLORY),
            ("request", ALICE),
            ("request", ALICE),
            ("request", ALICE),
            ("checkout", ALICE),
            ("approve", CAROL),
            ("approve", MALLORY),
            ("checkout", CAROL),
            ("revoke", BOB),
            ("approve", DAVE),
        ]
        .map(|(a, c)| (a.to_owned(), c.to_owned()))
    );
    // Nothing was shown or locked by any of them.
    assert!(p.ledger.locks().await.unwrap().is_empty());
    assert_eq!(p.stored(&r.id).await.status, AccessStatus::Approved);

    // A refusal that cannot be recorded is reported as what it is: nothing is allowed.
    p.audit.fail_writes(true);
    let e = access::approve(&p, MALLORY, &r.id).await.unwrap_err();
    assert_eq!(e.error_type, ErrorType::AuditWriteFailed);
}

#[tokio::test]
async fn dual_control_needs_two_other_people() {
    let p = Ports::new(2).await;
    let r = access::request(&p, ALICE, ask("billing-issue"))
        .await
        .unwrap();
    let once = access::approve(&p, BOB, &r.id).await.unwrap();
    assert_eq!(
        (once.status, once.approvals.len()),
        (AccessStatus::Requested, 1)
    );
    // One approval short: no check-out.
    refused(
        access::checkout(&p, ALICE, &r.id).await.unwrap_err(),
        ErrorType::Conflict,
    );
    // The same approver twice does not count twice.
    refused(
        access::approve(&p, BOB, &r.id).await.unwrap_err(),
        ErrorType::Conflict,
    );
    let twice = access::approve(&p, DAVE, &r.id).await.unwrap();
    assert_eq!(twice.status, AccessStatus::Approved);
    assert_eq!(twice.approvals, [BOB, DAVE]);
    access::checkout(&p, ALICE, &r.id).await.unwrap();

    // Self-service reasons waive dual control, with a review ticket someone else resolves.
    let s = access::request(&p, CAROL, ask("security-incident"))
        .await
        .unwrap();
    assert_eq!(s.status, AccessStatus::Approved);
    let review = s.review_ticket.clone().unwrap();
    assert!(p.tickets.all().iter().any(|t| t.id == review));
    assert!(p
        .actions()
        .contains(&"access.requested-self-service".to_owned()));
}

#[tokio::test]
async fn a_checkout_ends_and_an_approval_lapses() {
    let p = Ports::new(1).await;
    let r = approved(&p).await;
    access::checkout(&p, ALICE, &r.id).await.unwrap();
    // Before its end nothing is due; at its end the expiry job checks it in.
    let early = access::expire_due(&p.at(29), "access-expiry")
        .await
        .unwrap();
    assert_eq!((early.active, early.expired.len()), (1, 0));
    let due = access::expire_due(&p.at(30), "access-expiry")
        .await
        .unwrap();
    assert_eq!((due.active, due.expired.clone()), (1, vec![r.id.clone()]));
    assert!(due.failed.is_empty());
    assert_eq!(p.stored(&r.id).await.status, AccessStatus::Expired);
    assert!(p.ledger.locks().await.unwrap().is_empty());

    // An approval not used within its lifetime expires when its check-out is attempted.
    let late = approved(&p).await;
    let e = refused(
        access::checkout(&p.at(61), ALICE, &late.id)
            .await
            .unwrap_err(),
        ErrorType::AccessDenied,
    );
    assert!(e.message.contains("expired"), "{e}");
    assert_eq!(p.stored(&late.id).await.status, AccessStatus::Expired);
    assert_eq!(
        p.actions()
            .iter()
            .filter(|a| *a == "access.expired")
            .count(),
        2
    );
}

/// A request not approved within `request_ttl_minutes` (a day by default) lapses: an approver
/// coming back to it later is refused (audited), and it ends as expired instead of waiting for
/// ever to be approved on stale grounds.
#[tokio::test]
async fn a_request_not_approved_in_time_lapses() {
    let p = Ports::new(1).await;
    let r = access::request(&p, ALICE, ask("billing-issue"))
        .await
        .unwrap();
    let day = 24 * 60;
    let e = refused(
        access::approve(&p.at(day + 1), BOB, &r.id)
            .await
            .unwrap_err(),
        ErrorType::AccessDenied,
    );
    assert!(e.message.contains("lapsed"), "{e}");
    assert_eq!(p.stored(&r.id).await.status, AccessStatus::Expired);
    assert!(p.actions().contains(&"access.expired".to_owned()));
    assert!(access::checkout(&p.at(day + 2), ALICE, &r.id)
        .await
        .is_err());
    // At the boundary itself it still waits, and is approved.
    let r = access::request(&p, ALICE, ask("billing-issue"))
        .await
        .unwrap();
    let r = access::approve(&p.at(day), BOB, &r.id).await.unwrap();
    assert_eq!(r.status, AccessStatus::Approved);
}

#[tokio::test]
async fn a_checkout_is_exclusive_and_an_admin_revokes() {
    let p = Ports::new(1).await;
    let first = approved(&p).await;
    let second = approved(&p).await;
    access::checkout(&p, ALICE, &first.id).await.unwrap();
    refused(
        access::checkout(&p, ALICE, &second.id).await.unwrap_err(),
        ErrorType::Conflict,
    );
    let r = access::revoke(&p, ADMIN, &first.id, "incident over")
        .await
        .unwrap();
    assert_eq!(r.status, AccessStatus::Revoked);
    assert_eq!(r.ended_by.as_deref(), Some(ADMIN));
    assert!(
        p.ledger.locks().await.unwrap().is_empty(),
        "revoked: lock released"
    );
    // Revoked is final; the account is free for the other request.
    refused(
        access::checkin(&p, ALICE, &first.id).await.unwrap_err(),
        ErrorType::Conflict,
    );
    access::checkout(&p, ALICE, &second.id).await.unwrap();
}

#[tokio::test]
async fn a_checkout_whose_write_fails_shows_nothing() {
    let p = Ports::new(1).await;
    let r = approved(&p).await;
    p.ledger.fail_writes(true);
    let e = access::checkout(&p, ALICE, &r.id).await.unwrap_err();
    assert!(!e.message.contains(PASSWORD));
    assert!(p.ledger.locks().await.unwrap().is_empty());
    assert_eq!(p.stored(&r.id).await.status, AccessStatus::Approved);
    assert!(!p.actions().contains(&"access.checked-out".to_owned()));

    // The audit record is part of the write: it failing fails the check-out too.
    p.ledger.fail_writes(false);
    p.audit.fail_writes(true);
    let e = access::checkout(&p, ALICE, &r.id).await.unwrap_err();
    assert_eq!(e.error_type, ErrorType::AuditWriteFailed);
    assert_eq!(p.stored(&r.id).await.status, AccessStatus::Approved);
    p.audit.fail_writes(false);
    access::checkout(&p, ALICE, &r.id).await.unwrap();
}

/// Approved while active, then the account left our custody (a release began, or ended)
/// before the check-out: nothing is shown, the refusal is audited, and no lock is
/// taken. Back to active, the same approval checks out (and marks the rotation).
#[tokio::test]
async fn an_account_no_longer_active_shows_nothing_at_check_out() {
    for status in [AccountStatus::Releasing, AccountStatus::Released] {
        let p = Ports::new(1).await;
        let r = approved(&p).await;
        p.accounts
            .register(&account(), status, AccountMode::Vaulted);
        let e = access::checkout(&p.at(5), ALICE, &r.id).await.unwrap_err();
        assert_eq!(e.error_type, ErrorType::ValidationError, "{status:?}: {e}");
        assert!(!e.message.contains(PASSWORD));
        assert!(p.ledger.locks().await.unwrap().is_empty(), "{status:?}");
        assert_eq!(p.stored(&r.id).await.status, AccessStatus::Approved);
        assert!(
            !p.actions().contains(&"access.checked-out".to_owned()),
            "{status:?}"
        );
        assert!(
            p.actions().contains(&"access.refused".to_owned()),
            "{status:?}: {:?}",
            p.actions()
        );
        assert_eq!(p.accounts.account(&account()).unwrap().rotation_due, None);
        p.accounts
            .register(&account(), AccountStatus::Active, AccountMode::Vaulted);
        access::checkout(&p.at(6), ALICE, &r.id).await.unwrap();
        assert!(p
            .accounts
            .account(&account())
            .unwrap()
            .rotation_due
            .is_some());
    }
}

/// A rotation of `account` awaiting its apply step, its execution running.
async fn awaiting_rotation(p: &Ports) -> String {
    let executions = p.executions.as_ref().unwrap();
    let Started::New { execution_arn } = executions
        .start(
            "arn:aws:states:eu-west-1:1:stateMachine:rotation",
            "rot-1",
            "{}",
        )
        .await
        .unwrap()
    else {
        panic!("a new execution")
    };
    let pending = SecretString::from("Pending-Root-Password-2!".to_owned());
    let actor = Actor {
        actor: "rotation".into(),
        correlation_id: "rot-1".into(),
        reason: "test".into(),
    };
    let (version, _) = p
        .vault
        .stage_pending(
            &account(),
            CredentialKind::RootPassword,
            "rot-1",
            &pending,
            &actor,
        )
        .await
        .unwrap();
    p.rotations.put(RotationRecord {
        account_id: account(),
        execution: "rot-1".into(),
        execution_arn: execution_arn.clone(),
        trigger: "manual".into(),
        stage: RotationStage::AwaitingApply,
        pending_version: version,
        current_version: Some(1),
        completed_version: None,
        max_age_days: None,
        ticket_id: "apply-rot-1".into(),
        task_token: Some("token".into()),
        apply_deadline: Some((t0() + Duration::hours(24)).to_rfc3339()),
        started_at: t0().to_rfc3339(),
        updated_at: t0().to_rfc3339(),
        outcome: None,
    });
    execution_arn
}

#[tokio::test]
async fn a_rotation_apply_checkout_needs_its_execution_running() {
    let p = Ports::new(1).await;
    let arn = awaiting_rotation(&p).await;
    let r = access::request(&p, ALICE, ask("rotation-apply"))
        .await
        .unwrap();
    access::approve(&p, BOB, &r.id).await.unwrap();

    // The execution was stopped: refused, audited, nothing shown or locked.
    p.executions.as_ref().unwrap().end(&arn, "ABORTED");
    let e = refused(
        access::checkout(&p, ALICE, &r.id).await.unwrap_err(),
        ErrorType::AccessDenied,
    );
    assert!(e.message.contains("no longer runs"), "{e}");
    assert_eq!(p.refusals(), [("checkout".to_owned(), ALICE.to_owned())]);
    assert!(p.ledger.locks().await.unwrap().is_empty());

    // A deployment that cannot ask Step Functions refuses too.
    let blind = Ports {
        executions: None,
        ..p.clone()
    };
    let e = access::checkout(&blind, ALICE, &r.id).await.unwrap_err();
    assert!(e.message.contains("cannot verify"), "{e}");
}

#[tokio::test]
async fn a_rotation_apply_checkout_shows_current_and_pending() {
    let p = Ports::new(1).await;
    awaiting_rotation(&p).await;
    let r = access::request(&p, ALICE, ask("rotation-apply"))
        .await
        .unwrap();
    access::approve(&p, BOB, &r.id).await.unwrap();
    let out = access::checkout(&p, ALICE, &r.id).await.unwrap();
    assert_eq!(out.password.as_ref().unwrap().expose_secret(), PASSWORD);
    let (version, pending) = out.pending.as_ref().unwrap();
    assert_eq!(
        (*version, pending.expose_secret()),
        (2, "Pending-Root-Password-2!")
    );
    // It does not mark another rotation.
    assert_eq!(p.accounts.account(&account()).unwrap().rotation_due, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_racing_approvers_one_wins() {
    for _ in 0..20 {
        let p = Ports::new(1).await;
        let r = access::request(&p, ALICE, ask("billing-issue"))
            .await
            .unwrap();
        let (bob, dave) = (p.clone(), p.clone());
        let (id_b, id_d) = (r.id.clone(), r.id.clone());
        let b = tokio::spawn(async move { access::approve(&bob, BOB, &id_b).await });
        let d = tokio::spawn(async move { access::approve(&dave, DAVE, &id_d).await });
        let (b, d) = (b.await.unwrap(), d.await.unwrap());
        assert_eq!(
            b.is_ok() as u8 + d.is_ok() as u8,
            1,
            "exactly one approval wins"
        );
        let lost = b.err().or(d.err()).unwrap();
        assert_eq!(lost.error_type, ErrorType::Conflict);
        let stored = p.stored(&r.id).await;
        assert_eq!(
            (stored.status, stored.approvals.len()),
            (AccessStatus::Approved, 1)
        );
        assert_eq!(
            p.actions()
                .iter()
                .filter(|a| *a == "access.approved")
                .count(),
            1
        );
    }
}
