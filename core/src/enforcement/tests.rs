use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::audit::Outcome;
use crate::mail::Priority;
use crate::registry::{Account, AccountMode, AccountStatus};
use crate::{AccountId, ErrorType, LambdaError, RootEmail};

const KEY: &str = "AKIAEXAMPLE000000001";
const CERT: &str = "CERT1";
const VIRTUAL_MFA: &str = "arn:aws:iam::111122223333:mfa/root";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 30, 0).unwrap()
}

fn id() -> AccountId {
    AccountId::parse("111122223333").unwrap()
}

fn account(mode: AccountMode) -> Account {
    Account {
        account_id: id(),
        root_email: RootEmail::parse("root+111122223333@example.com").unwrap(),
        name: None,
        status: AccountStatus::Active,
        mode,
        max_age_days: 90,
        contacts: vec![],
        onboarded_at: now() - Duration::days(30),
        last_rotated_at: None,
        rotation_due: None,
        rotation_reason: None,
        rotation_execution: None,
        posture: None,
        posture_checked_at: None,
        recovery_until: None,
    }
}

fn recovering_until(mode: AccountMode, until: DateTime<Utc>) -> Account {
    Account {
        recovery_until: Some(until),
        ..account(mode)
    }
}

fn key() -> RootAccessKey {
    RootAccessKey {
        id: KEY.into(),
        status: "Active".into(),
        created: None,
    }
}

fn cert() -> RootCertificate {
    RootCertificate {
        id: CERT.into(),
        status: "Active".into(),
    }
}

/// What a vaulted account should look like: password and MFA, nothing else.
fn vaulted_ok() -> Posture {
    Posture {
        mfa_devices: vec![VIRTUAL_MFA.into()],
        login_profile: true,
        ..Posture::default()
    }
}

fn everything() -> Posture {
    Posture {
        access_keys: vec![key()],
        signing_certificates: vec![cert()],
        mfa_devices: vec![VIRTUAL_MFA.into()],
        login_profile: true,
    }
}

fn removals_of(p: &EnforcementPlan) -> Vec<Removal> {
    p.removals().cloned().collect()
}

fn ticket_of(p: &EnforcementPlan) -> Option<&crate::tickets::Ticket> {
    p.actions.iter().find_map(|a| match a {
        Action::OpenTicket(t) => Some(t.as_ref()),
        Action::Remove(_) => None,
    })
}

// --- plan: what goes -------------------------------------------------------------------------

#[test]
fn a_root_access_key_is_removed_after_its_ticket_is_opened() {
    let posture = Posture {
        access_keys: vec![key()],
        ..vaulted_ok()
    };
    let p = plan(&account(AccountMode::Vaulted), &posture, now());
    assert_eq!(p.actions.len(), 2);
    let Action::OpenTicket(t) = &p.actions[0] else {
        panic!("the ticket comes first: {:?}", p.actions)
    };
    assert_eq!(t.id, "enforce-111122223333-20260314");
    assert_eq!(t.priority, Priority::High);
    assert_eq!(t.category.as_str(), "security");
    assert_eq!(
        t.subject,
        "Root credentials removed from account 111122223333"
    );
    assert!(
        t.summary.contains("access-key AKIAEXAMPLE000000001"),
        "{}",
        t.summary
    );
    assert!(!t.summary.contains("credential-less"), "{}", t.summary);
    assert_eq!(p.actions[1], Action::Remove(Removal::AccessKey(KEY.into())));
}

#[test]
fn a_root_signing_certificate_is_removed() {
    let posture = Posture {
        signing_certificates: vec![cert()],
        ..vaulted_ok()
    };
    let p = plan(&account(AccountMode::Vaulted), &posture, now());
    assert_eq!(
        removals_of(&p),
        vec![Removal::SigningCertificate(CERT.into())]
    );
    assert!(ticket_of(&p)
        .unwrap()
        .summary
        .contains("signing-certificate CERT1"));
}

#[test]
fn inactive_keys_and_certificates_are_removed_too() {
    let posture = Posture {
        access_keys: vec![RootAccessKey {
            status: "Inactive".into(),
            ..key()
        }],
        signing_certificates: vec![RootCertificate {
            status: "Inactive".into(),
            ..cert()
        }],
        ..vaulted_ok()
    };
    let p = plan(&account(AccountMode::Vaulted), &posture, now());
    assert_eq!(p.removals().count(), 2);
}

#[test]
fn a_vaulted_account_keeps_its_password_and_mfa() {
    let p = plan(&account(AccountMode::Vaulted), &everything(), now());
    assert_eq!(
        removals_of(&p),
        vec![
            Removal::AccessKey(KEY.into()),
            Removal::SigningCertificate(CERT.into())
        ]
    );
}

#[test]
fn a_credential_less_account_loses_everything() {
    let p = plan(&account(AccountMode::CredentialLess), &everything(), now());
    assert_eq!(
        removals_of(&p),
        vec![
            Removal::AccessKey(KEY.into()),
            Removal::SigningCertificate(CERT.into()),
            Removal::MfaDevice(VIRTUAL_MFA.into()),
            Removal::LoginProfile,
        ]
    );
    let summary = &ticket_of(&p).unwrap().summary;
    assert!(summary.contains("login-profile"), "{summary}");
    assert!(
        summary.contains("this account is credential-less"),
        "{summary}"
    );
}

#[test]
fn a_credential_less_password_alone_is_removed() {
    let posture = Posture {
        login_profile: true,
        ..Posture::default()
    };
    let p = plan(&account(AccountMode::CredentialLess), &posture, now());
    assert_eq!(removals_of(&p), vec![Removal::LoginProfile]);
    assert!(!p.recovering);
}

#[test]
fn an_open_recovery_window_keeps_the_password_and_mfa_but_not_keys() {
    let a = recovering_until(AccountMode::CredentialLess, now() + Duration::hours(1));
    let p = plan(&a, &everything(), now());
    assert!(p.recovering);
    assert_eq!(
        removals_of(&p),
        vec![
            Removal::AccessKey(KEY.into()),
            Removal::SigningCertificate(CERT.into())
        ]
    );
    let p = plan(&a, &vaulted_ok(), now());
    assert!(p.is_empty(), "{:?}", p.actions);
}

#[test]
fn a_closed_recovery_window_no_longer_protects() {
    // The window ends at `recovery_until`: at that instant it is closed.
    for until in [now(), now() - Duration::hours(1)] {
        let a = recovering_until(AccountMode::CredentialLess, until);
        let p = plan(&a, &vaulted_ok(), now());
        assert!(!p.recovering);
        assert_eq!(
            removals_of(&p),
            vec![
                Removal::MfaDevice(VIRTUAL_MFA.into()),
                Removal::LoginProfile
            ]
        );
    }
}

#[test]
fn a_recovery_window_means_nothing_to_a_vaulted_account() {
    let a = recovering_until(AccountMode::Vaulted, now() + Duration::hours(1));
    let p = plan(&a, &everything(), now());
    assert_eq!(p.removals().count(), 2);
}

#[test]
fn nothing_found_means_nothing_to_do() {
    let p = plan(
        &account(AccountMode::CredentialLess),
        &Posture::default(),
        now(),
    );
    assert!(p.is_empty());
    let p = plan(&account(AccountMode::Vaulted), &vaulted_ok(), now());
    assert!(p.is_empty());
    assert_eq!(p.account_id, id());
    assert_eq!(p.now, now());
}

#[test]
fn released_and_closed_accounts_are_skipped() {
    assert!(!skips(&account(AccountMode::Vaulted)));
    for status in [AccountStatus::Released, AccountStatus::Closed] {
        let a = Account {
            status,
            ..account(AccountMode::CredentialLess)
        };
        assert!(skips(&a));
    }
}

#[test]
fn only_virtual_mfa_devices_are_deleted_after_deactivation() {
    assert!(Removal::MfaDevice(VIRTUAL_MFA.into()).deletes_virtual_mfa());
    assert!(!Removal::MfaDevice("GAHT12345678".into()).deletes_virtual_mfa());
    assert!(!Removal::LoginProfile.deletes_virtual_mfa());
}

#[test]
fn removals_describe_themselves_without_secrets() {
    assert_eq!(
        Removal::AccessKey(KEY.into()).describe(),
        format!("access-key {KEY}")
    );
    assert_eq!(Removal::LoginProfile.describe(), "login-profile");
    assert_eq!(Removal::LoginProfile.id(), "root");
    assert_eq!(Removal::MfaDevice("X".into()).kind(), "mfa-device");
}

// --- conclude: what is reported, recorded, ticketed -----------------------------------------

#[test]
fn removals_conclude_remediated_with_the_posture_recorded() {
    let p = plan(&account(AccountMode::Vaulted), &everything(), now());
    let removed: Vec<String> = p.removals().map(Removal::describe).collect();
    let c = p.conclude(&vaulted_ok(), removed).unwrap();
    assert_eq!(c.outcome, AccountOutcome::Remediated);
    assert!(c.findings.is_empty());
    assert!(c.drift_ticket.is_none());
    assert_eq!(
        c.record,
        json!({
            "access_keys": [],
            "signing_certificates": [],
            "mfa_devices": [VIRTUAL_MFA],
            "login_profile": true,
            "findings": [],
            "removed": [format!("access-key {KEY}"), "signing-certificate CERT1"],
        })
    );
}

#[test]
fn a_compliant_account_concludes_compliant() {
    let p = plan(&account(AccountMode::Vaulted), &vaulted_ok(), now());
    let c = p.conclude(&vaulted_ok(), vec![]).unwrap();
    assert_eq!(c.outcome, AccountOutcome::Compliant);
    assert!(c.drift_ticket.is_none());
    let p = plan(
        &account(AccountMode::CredentialLess),
        &Posture::default(),
        now(),
    );
    let c = p.conclude(&Posture::default(), vec![]).unwrap();
    assert_eq!(c.outcome, AccountOutcome::Compliant);
}

#[test]
fn vaulted_drift_is_reported_and_ticketed_once_per_finding_set() {
    let bare = Posture::default();
    let p = plan(&account(AccountMode::Vaulted), &bare, now());
    assert!(p.is_empty(), "nothing is deleted for drift");
    let c = p.conclude(&bare, vec![]).unwrap();
    assert_eq!(c.outcome, AccountOutcome::Drift);
    assert_eq!(c.findings, vec!["root-password-absent", "root-mfa-absent"]);
    assert_eq!(
        c.record["findings"],
        json!(["root-password-absent", "root-mfa-absent"])
    );
    let t = c.drift_ticket.expect("drift ticket");
    assert_eq!(
        t.id,
        "posture-111122223333-root-password-absent-root-mfa-absent"
    );
    assert_eq!(t.priority, Priority::Normal);
    assert_eq!(
        t.subject,
        "Root credential drift in account 111122223333: root-password-absent, root-mfa-absent"
    );

    let no_mfa = Posture {
        login_profile: true,
        ..Posture::default()
    };
    let c = plan(&account(AccountMode::Vaulted), &no_mfa, now())
        .conclude(&no_mfa, vec![])
        .unwrap();
    assert_eq!(c.findings, vec!["root-mfa-absent"]);
    assert_eq!(
        c.drift_ticket.unwrap().id,
        "posture-111122223333-root-mfa-absent"
    );
}

#[test]
fn removals_outrank_drift() {
    let keys_only = Posture {
        access_keys: vec![key()],
        ..Posture::default()
    };
    let p = plan(&account(AccountMode::Vaulted), &keys_only, now());
    let c = p
        .conclude(&Posture::default(), vec![format!("access-key {KEY}")])
        .unwrap();
    assert_eq!(c.outcome, AccountOutcome::Remediated);
    assert_eq!(c.findings.len(), 2, "drift is still reported");
    assert!(c.drift_ticket.is_some());
}

#[test]
fn findings_are_judged_on_the_posture_observed_after_removals() {
    // Something the plan did not remove is still there on the second look.
    let p = plan(&account(AccountMode::Vaulted), &everything(), now());
    let c = p.conclude(&everything(), vec![]).unwrap();
    assert_eq!(c.outcome, AccountOutcome::Compliant);
    assert_eq!(c.record["access_keys"][0]["id"], json!(KEY));
}

#[test]
fn an_open_recovery_window_is_drift_without_a_ticket() {
    let a = recovering_until(AccountMode::CredentialLess, now() + Duration::hours(23));
    let posture = Posture {
        login_profile: true,
        ..Posture::default()
    };
    let p = plan(&a, &posture, now());
    assert!(p.is_empty());
    let c = p.conclude(&posture, vec![]).unwrap();
    assert_eq!(c.outcome, AccountOutcome::Drift);
    assert_eq!(c.findings, vec!["recovery-window-open"]);
    assert!(c.drift_ticket.is_none(), "only vaulted drift is ticketed");
    // An open window without a password is simply compliant.
    let c = p.conclude(&Posture::default(), vec![]).unwrap();
    assert_eq!(c.outcome, AccountOutcome::Compliant);
}

#[test]
fn ticket_ids_are_deterministic_per_day_and_finding_set() {
    assert_eq!(
        removal_ticket_id(&id(), now()),
        removal_ticket_id(&id(), now() + Duration::hours(10))
    );
    assert_ne!(
        removal_ticket_id(&id(), now()),
        removal_ticket_id(&id(), now() + Duration::days(1))
    );
    assert_eq!(
        drift_ticket_id(&id(), &["a".into(), "b".into()]),
        "posture-111122223333-a-b"
    );
}

// --- records and reports ---------------------------------------------------------------------

#[test]
fn audit_records_name_the_credential_and_the_outcome() {
    let account = id();
    let rec = Recorder {
        account: &account,
        actor: "root-enforcement",
        run: "run-1",
    };
    let r = Removal::AccessKey(KEY.into());
    let started = rec.removal_started(&r, AccountMode::CredentialLess);
    assert_eq!(started.action, "root.credential-removal-started");
    assert_eq!(started.correlation_id, "run-1");
    assert_eq!(
        started.reason,
        "root access-key not allowed (credential-less account)"
    );
    assert_eq!(started.details["id"], json!(KEY));
    assert_eq!(rec.removed(&r).action, "root.credential-removed");
    let failed = rec.removal_failed(&r, "iam:DeleteAccessKey failed");
    assert_eq!(failed.action, "root.credential-removed");
    assert_eq!(failed.outcome, Outcome::Failure);

    let entry = rec.posture_recorded(
        &vaulted_ok(),
        AccountOutcome::Remediated,
        &[format!("access-key {KEY}")],
        &[],
    );
    assert_eq!(entry.action, "root.posture-recorded");
    assert_eq!(
        entry.reason,
        "remediated: 0 access keys, 0 signing certificates, 1 MFA devices, password"
    );
    assert_eq!(entry.details["verdict"], json!("remediated"));
    assert_eq!(entry.details["login_profile"], json!(true));
}

#[test]
fn outcome_names_match_their_serialized_form() {
    for o in [
        AccountOutcome::Compliant,
        AccountOutcome::Remediated,
        AccountOutcome::Drift,
        AccountOutcome::Skipped,
        AccountOutcome::Failed,
    ] {
        assert_eq!(serde_json::to_value(o).unwrap(), json!(o.as_str()));
    }
}

#[test]
fn the_run_report_counts_every_account_and_lists_the_interesting_ones() {
    let mut report = EnforcementReport::new("run-1");
    let other = AccountId::parse("000011112222").unwrap();
    report.add(AccountReport::skipped(&id()));
    let compliant = plan(&account(AccountMode::Vaulted), &vaulted_ok(), now())
        .conclude(&vaulted_ok(), vec![])
        .unwrap();
    report.add(AccountReport::concluded(&id(), &compliant, None));
    report.add(AccountReport::failed(
        &id(),
        LambdaError::new(ErrorType::TransientAwsError, "throttled"),
    ));
    report.add(AccountReport::failed(
        &other,
        LambdaError::new(ErrorType::AwsError, "AccessDenied"),
    ));
    report.sort();
    assert_eq!(
        (
            report.checked,
            report.skipped,
            report.compliant,
            report.failed
        ),
        (3, 1, 1, 2)
    );
    assert_eq!(report.accounts.len(), 2);
    assert_eq!(report.accounts[0].account_id, "000011112222");
    let e = report.failure().expect("a failure");
    assert_eq!(e.error_type, ErrorType::AwsError);
    assert!(e
        .message
        .starts_with("2 of 3 accounts could not be enforced (first: 000011112222"));
    let json = serde_json::to_value(&report.accounts[0]).unwrap();
    assert_eq!(json["verdict"], json!("failed"));
    assert!(json.get("removed").is_none());
    assert!(EnforcementReport::new("r").failure().is_none());
}

#[test]
fn recovery_needs_a_reason_and_an_active_registered_account() {
    assert_eq!(
        recovery_reason("  ").unwrap_err().error_type,
        ErrorType::ValidationError
    );
    assert_eq!(recovery_reason(" lost phone ").unwrap(), "lost phone");
    assert_eq!(
        plan_recovery(&id(), None, now()).unwrap_err().error_type,
        ErrorType::NotFound
    );
    let released = Account {
        status: AccountStatus::Released,
        ..account(AccountMode::CredentialLess)
    };
    assert_eq!(
        plan_recovery(&id(), Some(&released), now())
            .unwrap_err()
            .error_type,
        ErrorType::ValidationError
    );
    let r = plan_recovery(&id(), Some(&account(AccountMode::CredentialLess)), now()).unwrap();
    assert_eq!(r.until, now() + Duration::hours(24));
    assert_eq!(r.correlation, "recover-111122223333-20260314T093000Z");
    // The window it opens is what keeps enforcement off the new password.
    let a = recovering_until(AccountMode::CredentialLess, r.until);
    assert!(recovering(&a, now() + Duration::hours(23)));
    assert!(!recovering(&a, now() + Duration::hours(25)));
}
