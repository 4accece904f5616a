//! Root-credential enforcement and `account recover` over the in-memory twins: a fleet with every
//! outcome, failures that stay with their account, idempotent re-runs, the recovery window, and
//! session scoping.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rootwarden_core::audit::{verify, AuditRecord};
use rootwarden_core::clock::FixedClock;
use rootwarden_core::enforcement::{
    enforce, recover, AccountOutcome, Posture, RootAccessKey, RootCertificate, TaskPolicy,
};
use rootwarden_core::registry::{Account, AccountMode, AccountStatus};
use rootwarden_core::{AccountId, ErrorType, RootEmail};
use rootwarden_testkit::MemoryEnforcementPorts;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
        .unwrap()
        .to_utc()
}

fn id(n: u64) -> AccountId {
    AccountId::parse(&format!("{:012}", 700_000_000_000 + n)).unwrap()
}

fn account(n: u64, mode: AccountMode) -> Account {
    let a = id(n);
    Account {
        root_email: RootEmail::parse(&format!("aws-root+{a}@provider.example")).unwrap(),
        account_id: a,
        name: None,
        status: AccountStatus::Active,
        mode,
        max_age_days: 90,
        contacts: vec![],
        onboarded_at: now() - Duration::days(10),
        last_rotated_at: None,
        rotation_due: None,
        rotation_reason: None,
        rotation_execution: None,
        posture: None,
        posture_checked_at: None,
        recovery_until: None,
    }
}

fn mfa(a: &AccountId) -> String {
    format!("arn:aws:iam::{a}:mfa/root-account-mfa-device")
}

/// A vaulted root user as it should be: password and MFA, nothing else.
fn healthy(a: &AccountId) -> Posture {
    Posture {
        mfa_devices: vec![mfa(a)],
        login_profile: true,
        ..Posture::default()
    }
}

fn with_key(mut p: Posture, key: &str, cert: Option<&str>) -> Posture {
    p.access_keys.push(RootAccessKey {
        id: key.into(),
        status: "Active".into(),
        created: None,
    });
    if let Some(c) = cert {
        p.signing_certificates.push(RootCertificate {
            id: c.into(),
            status: "Active".into(),
        });
    }
    p
}

fn ports_at(t: DateTime<Utc>) -> MemoryEnforcementPorts {
    MemoryEnforcementPorts::new(Arc::new(FixedClock(t)))
}

fn actions(records: &[AuditRecord]) -> Vec<&str> {
    records.iter().map(|r| r.action.as_str()).collect()
}

/// The fleet: 1 compliant vaulted, 2 vaulted with a root key and certificate (remediated),
/// 3 vaulted without MFA (drift), 4 released with a key (skipped), 5 credential-less whose
/// session is refused (failed), 6 credential-less with password and MFA (remediated),
/// 7 credential-less and clean (compliant).
fn fleet(p: &MemoryEnforcementPorts) {
    let vaulted = AccountMode::Vaulted;
    let less = AccountMode::CredentialLess;
    for (n, mode) in [
        (1, vaulted),
        (2, vaulted),
        (3, vaulted),
        (4, vaulted),
        (5, less),
        (6, less),
        (7, less),
    ] {
        let mut a = account(n, mode);
        if n == 4 {
            a.status = AccountStatus::Released;
        }
        p.registry.put(a);
    }
    p.root.set_root(&id(1), healthy(&id(1)));
    p.root.set_root(
        &id(2),
        with_key(healthy(&id(2)), "AKIAROOT000000000002", Some("CERT2")),
    );
    p.root.set_root(
        &id(3),
        Posture {
            login_profile: true,
            ..Posture::default()
        },
    );
    p.root.set_root(
        &id(4),
        with_key(healthy(&id(4)), "AKIAROOT000000000004", None),
    );
    p.root.set_root(
        &id(5),
        with_key(Posture::default(), "AKIAROOT000000000005", None),
    );
    p.root.refuse_sessions(&id(5), true);
    p.root.set_root(&id(6), healthy(&id(6)));
}

#[tokio::test]
async fn a_fleet_run_reports_every_outcome_and_one_failure_does_not_stop_the_others() {
    let p = ports_at(now());
    fleet(&p);

    let report = enforce(&p, None, "run-1").await.unwrap();
    assert_eq!(
        (
            report.checked,
            report.compliant,
            report.remediated,
            report.drift,
            report.skipped,
            report.failed
        ),
        (6, 2, 2, 1, 1, 1),
        "{report:?}"
    );
    let by_id = |n: u64| {
        report
            .accounts
            .iter()
            .find(|a| a.account_id == id(n).as_str())
            .unwrap_or_else(|| panic!("account {n} listed"))
    };
    // Remediated: the key and certificate went, password and MFA of a vaulted account stay.
    assert_eq!(by_id(2).verdict, AccountOutcome::Remediated);
    assert_eq!(
        by_id(2).removed,
        vec![
            "access-key AKIAROOT000000000002",
            "signing-certificate CERT2"
        ]
    );
    assert_eq!(p.root.root(&id(2)), healthy(&id(2)));
    assert_eq!(
        by_id(2).ticket_id.as_deref(),
        Some(format!("enforce-{}-20261124", id(2)).as_str())
    );
    // A credential-less account loses its password and MFA too.
    assert_eq!(by_id(6).verdict, AccountOutcome::Remediated);
    assert_eq!(p.root.root(&id(6)), Posture::default());
    // Drift is reported and ticketed, nothing is removed.
    assert_eq!(by_id(3).verdict, AccountOutcome::Drift);
    assert_eq!(by_id(3).findings, vec!["root-mfa-absent"]);
    assert_eq!(
        by_id(3).ticket_id.as_deref(),
        Some(format!("posture-{}-root-mfa-absent", id(3)).as_str())
    );
    assert!(p.root.root(&id(3)).login_profile);
    // The failure is reported with its error and audited; the others ran.
    assert_eq!(by_id(5).verdict, AccountOutcome::Failed);
    assert_eq!(by_id(5).error_type, Some(ErrorType::AwsError));
    assert!(by_id(5)
        .error
        .as_deref()
        .unwrap()
        .contains("sts:AssumeRoot"));
    assert_eq!(p.root.root(&id(5)).access_keys.len(), 1);
    let failed = p.audit.records(&format!("account/{}", id(5)));
    assert_eq!(actions(&failed), vec!["root.enforcement-failed"]);
    assert!(report.failure().is_some());
    // Skipped: not even a session was opened, its key stays.
    assert!(p.root.opened().iter().all(|(a, _)| *a != id(4)));
    assert_eq!(p.root.root(&id(4)).access_keys.len(), 1);
    assert!(!report
        .accounts
        .iter()
        .any(|a| a.account_id == id(4).as_str()));

    // The posture is recorded on each enforced account, as observed after the removals.
    let rec = p.registry.get(&id(2)).unwrap();
    assert_eq!(rec.posture_checked_at, Some(now()));
    let posture = rec.posture.unwrap();
    assert_eq!(posture["access_keys"], serde_json::json!([]));
    assert_eq!(posture["removed"].as_array().unwrap().len(), 2);
    assert!(p.registry.get(&id(1)).unwrap().posture.is_some());
    assert!(p.registry.get(&id(4)).unwrap().posture.is_none());
    assert!(p.registry.get(&id(5)).unwrap().posture.is_none());

    // Each removal is audited before and after, after its ticket; the chains verify.
    let two = p.audit.records(&format!("account/{}", id(2)));
    assert_eq!(
        actions(&two),
        vec![
            "ticket.created",
            "root.credential-removal-started",
            "root.credential-removed",
            "root.credential-removal-started",
            "root.credential-removed",
            "root.posture-recorded",
        ]
    );
    assert!(verify(&p.audit, None).await.unwrap().is_ok());
    // Sessions are scoped: an audit session to observe, a delete session only to remove.
    let opened_for = |n: u64| -> Vec<TaskPolicy> {
        p.root
            .opened()
            .into_iter()
            .filter(|(a, _)| *a == id(n))
            .map(|(_, t)| t)
            .collect()
    };
    assert_eq!(
        opened_for(2),
        vec![
            TaskPolicy::AuditRootUserCredentials,
            TaskPolicy::DeleteRootUserCredentials
        ]
    );
    assert_eq!(opened_for(1), vec![TaskPolicy::AuditRootUserCredentials]);
}

#[tokio::test]
async fn a_re_run_is_idempotent_and_finishes_what_a_failed_run_left() {
    let p = ports_at(now());
    fleet(&p);
    enforce(&p, None, "run-1").await.unwrap();
    let tickets = p.tickets.tickets().len();
    let records_of_3 = p.audit.records(&format!("account/{}", id(3))).len();

    // The refused account is reachable again; everything else is already enforced.
    p.root.refuse_sessions(&id(5), false);
    let again = enforce(&p, None, "run-2").await.unwrap();
    assert_eq!(
        (again.compliant, again.remediated, again.drift, again.failed),
        (4, 1, 1, 0),
        "{again:?}"
    );
    assert_eq!(again.accounts[0].account_id, id(3).as_str());
    assert_eq!(p.root.root(&id(5)), Posture::default());
    // Drift keeps its one ticket (same finding set: same id); only account 5's ticket is new.
    assert_eq!(p.tickets.tickets().len(), tickets + 1);
    let drift = p.audit.records(&format!("account/{}", id(3)));
    assert_eq!(
        actions(&drift[records_of_3..]),
        vec!["root.posture-recorded"]
    );

    // A third run changes nothing but the recorded postures.
    let third = enforce(&p, None, "run-3").await.unwrap();
    assert_eq!((third.remediated, third.failed), (0, 0));
    assert_eq!(p.tickets.tickets().len(), tickets + 1);
}

#[tokio::test]
async fn a_failing_removal_fails_its_account_audited_and_the_ticket_stays_for_the_next_run() {
    let p = ports_at(now());
    p.registry.put(account(1, AccountMode::Vaulted));
    p.registry.put(account(2, AccountMode::Vaulted));
    p.root.set_root(
        &id(1),
        with_key(healthy(&id(1)), "AKIAROOT000000000001", None),
    );
    p.root.set_root(
        &id(2),
        with_key(healthy(&id(2)), "AKIAROOT000000000002", None),
    );
    p.root.fail_removals(&id(1), true);

    let report = enforce(&p, None, "run-1").await.unwrap();
    assert_eq!((report.remediated, report.failed), (1, 1));
    assert_eq!(report.accounts[0].verdict, AccountOutcome::Failed);
    assert_eq!(
        report.accounts[0].error_type,
        Some(ErrorType::TransientAwsError)
    );
    let one = p.audit.records(&format!("account/{}", id(1)));
    assert_eq!(
        actions(&one),
        vec![
            "ticket.created",
            "root.credential-removal-started",
            "root.credential-removed",
            "root.enforcement-failed",
        ]
    );
    // The third record is the removal's failure.
    assert_eq!(one[2].outcome, "failure");
    assert!(p.registry.get(&id(1)).unwrap().posture.is_none());

    p.root.fail_removals(&id(1), false);
    let again = enforce(&p, Some(&id(1)), "run-2").await.unwrap();
    assert_eq!(again.remediated, 1);
    assert_eq!(p.root.root(&id(1)).access_keys, vec![]);
    // The same day's ticket is found again, not duplicated.
    assert_eq!(
        p.tickets
            .tickets()
            .iter()
            .filter(|t| t.id.starts_with(&format!("enforce-{}", id(1))))
            .count(),
        1
    );
}

#[tokio::test]
async fn an_audit_outage_fails_closed_before_any_removal() {
    let p = ports_at(now());
    p.registry.put(account(1, AccountMode::CredentialLess));
    p.root.set_root(&id(1), healthy(&id(1)));
    p.audit.fail_writes(true);
    let report = enforce(&p, None, "run-1").await.unwrap();
    assert_eq!(report.failed, 1);
    assert_eq!(
        report.accounts[0].error_type,
        Some(ErrorType::AuditWriteFailed)
    );
    assert_eq!(p.root.root(&id(1)), healthy(&id(1)), "nothing removed");
}

#[tokio::test]
async fn a_posture_is_recorded_with_its_audit_record_or_not_at_all() {
    let p = ports_at(now());
    p.registry.put(account(1, AccountMode::Vaulted));
    p.root.set_root(&id(1), healthy(&id(1)));
    // A compliant account writes one record, the posture's: it failing leaves no posture.
    p.audit.fail_writes(true);
    let report = enforce(&p, None, "run-1").await.unwrap();
    assert_eq!(
        report.accounts[0].error_type,
        Some(ErrorType::AuditWriteFailed)
    );
    assert_eq!(p.registry.get(&id(1)).unwrap().posture, None);
    p.audit.fail_writes(false);
    enforce(&p, None, "run-2").await.unwrap();
    let chain = p.audit.records(&format!("account/{}", id(1)));
    assert_eq!(actions(&chain), ["root.posture-recorded"]);
    assert!(p.registry.get(&id(1)).unwrap().posture.is_some());
}

#[tokio::test]
async fn enforcing_one_account_needs_it_registered() {
    let p = ports_at(now());
    p.registry.put(account(1, AccountMode::Vaulted));
    p.root.set_root(&id(1), healthy(&id(1)));
    let one = enforce(&p, Some(&id(1)), "run-1").await.unwrap();
    assert_eq!((one.checked, one.compliant), (1, 1));
    let err = enforce(&p, Some(&id(99)), "run-2").await.unwrap_err();
    assert_eq!(err.error_type, ErrorType::NotFound);
    // A registry outage fails the run itself.
    p.registry.fail(true);
    let err = enforce(&p, None, "run-3").await.unwrap_err();
    assert_eq!(err.error_type, ErrorType::TransientAwsError);
}

#[tokio::test]
async fn recovery_creates_a_password_and_enforcement_respects_its_window() {
    let p = ports_at(now());
    p.registry.put(account(1, AccountMode::CredentialLess));

    let err = recover(&p, &id(1), "  ").await.unwrap_err();
    assert_eq!(err.error_type, ErrorType::ValidationError);
    let err = recover(&p, &id(99), "lost").await.unwrap_err();
    assert_eq!(err.error_type, ErrorType::NotFound);

    let done = recover(&p, &id(1), "customer billing dispute")
        .await
        .unwrap();
    assert!(done.created);
    assert_eq!(done.recovery_until, "2026-11-25T10:00:00Z");
    assert!(p.root.root(&id(1)).login_profile);
    assert_eq!(
        p.registry.get(&id(1)).unwrap().recovery_until,
        Some(now() + Duration::hours(24))
    );
    assert_eq!(
        p.root.opened().last().map(|(_, t)| *t),
        Some(TaskPolicy::CreateRootUserPassword)
    );
    let again = recover(&p, &id(1), "second try").await.unwrap();
    assert!(!again.created);
    let records = p.audit.records(&format!("account/{}", id(1)));
    assert_eq!(
        actions(&records),
        vec![
            "root.password-recovery-requested",
            "root.password-recovery-enabled",
            "root.password-recovery-requested",
            "root.password-recovery-enabled",
        ]
    );

    // Inside the window the password (and MFA) stay, reported as drift...
    p.root.set_root(&id(1), healthy(&id(1)));
    let inside = enforce(&p, None, "run-window").await.unwrap();
    assert_eq!(inside.accounts[0].verdict, AccountOutcome::Drift);
    assert_eq!(inside.accounts[0].findings, vec!["recovery-window-open"]);
    assert_eq!(p.root.root(&id(1)), healthy(&id(1)));
    // ... a root key still goes ...
    p.root.set_root(
        &id(1),
        with_key(healthy(&id(1)), "AKIAROOT000000000001", None),
    );
    let keyed = enforce(&p, None, "run-key").await.unwrap();
    assert_eq!(
        keyed.accounts[0].removed,
        vec!["access-key AKIAROOT000000000001"]
    );
    assert_eq!(p.root.root(&id(1)), healthy(&id(1)));
    // ... and after the window the account is credential-less again.
    let mut later = p.clone();
    later.clock = Arc::new(FixedClock(now() + Duration::hours(25)));
    let after = enforce(&later, None, "run-after").await.unwrap();
    assert_eq!(after.accounts[0].verdict, AccountOutcome::Remediated);
    assert_eq!(p.root.root(&id(1)), Posture::default());

    // Not for released accounts.
    let mut released = account(2, AccountMode::CredentialLess);
    released.status = AccountStatus::Released;
    p.registry.put(released);
    let err = recover(&p, &id(2), "x").await.unwrap_err();
    assert_eq!(err.error_type, ErrorType::ValidationError);
    assert!(!p.root.root(&id(2)).login_profile);
}
