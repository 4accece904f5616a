//! Enforcement's fleet steps over the twins: plan pages the whole registry into the manifest,
//! each page's attempts retry only the accounts that failed with a retryable error, and the
//! summary merges every page (a page without a result: its accounts failed).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rootwarden_core::clock::FixedClock;
use rootwarden_core::enforcement::fleet::{
    enforce_page, plan, summarize, PageOutcome, PageStep, JOB,
};
use rootwarden_core::enforcement::{AccountOutcome, Posture};
use rootwarden_core::fleet::{get_json, MemoryFleetStore, Page, RunKeys, MAX_ATTEMPTS};
use rootwarden_core::registry::{Account, AccountMode, AccountStatus};
use rootwarden_core::{AccountId, ErrorType, RootEmail};
use rootwarden_testkit::MemoryEnforcementPorts;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-02T05:00:00Z")
        .unwrap()
        .to_utc()
}

fn id(n: u64) -> AccountId {
    AccountId::parse(&format!("{:012}", 800_000_000_000 + n)).unwrap()
}

fn ports(accounts: u64) -> MemoryEnforcementPorts {
    let p = MemoryEnforcementPorts::new(Arc::new(FixedClock(now())));
    for n in 0..accounts {
        let a = id(n);
        p.registry.put(Account {
            root_email: RootEmail::parse(&format!("aws-root+{a}@provider.example")).unwrap(),
            account_id: a.clone(),
            name: None,
            status: AccountStatus::Active,
            mode: AccountMode::CredentialLess,
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
        });
        p.root.set_root(&a, Posture::default());
    }
    p
}

async fn run_page(p: &MemoryEnforcementPorts, store: &MemoryFleetStore, page: Page) -> u32 {
    let mut step = PageStep::from(page);
    for attempts in 1..=MAX_ATTEMPTS {
        match enforce_page(p, store, step).await.unwrap() {
            PageOutcome::Again(next) => {
                assert!(next.retry_needed && next.wait_seconds > 0);
                step = next;
            }
            PageOutcome::Done { retry_needed, .. } => {
                assert!(!retry_needed);
                return attempts;
            }
        }
    }
    panic!("the page was not done after {MAX_ATTEMPTS} attempts")
}

#[tokio::test]
async fn every_page_is_enforced_and_only_failed_accounts_are_tried_again() {
    let p = ports(120);
    let store = MemoryFleetStore::default();
    let (transient, broken, denied) = (id(7), id(61), id(119));
    p.root.throttle(&transient, 1);
    p.root.throttle(&broken, u32::MAX);
    p.root.refuse_sessions(&denied, true);

    let planned = plan(&p, &store, "daily-1").await.unwrap();
    assert_eq!((planned.items, planned.pages), (120, 3));
    let keys = RunKeys::new(JOB, "daily-1").unwrap();
    assert_eq!(planned.manifest.key, keys.manifest());
    let manifest: Vec<Page> = get_json(&store, &keys.manifest()).await.unwrap();
    let flat: Vec<String> = manifest.iter().flat_map(|p| p.items.clone()).collect();
    assert_eq!(
        flat,
        (0..120).map(|n| id(n).to_string()).collect::<Vec<_>>()
    );

    let mut attempts = Vec::new();
    for page in manifest {
        attempts.push(run_page(&p, &store, page).await);
    }
    // Page 0 retried the throttled account once; page 1 kept trying the broken one; page 2's
    // refused account is not retryable (AwsError): one attempt.
    assert_eq!(attempts, [2, MAX_ATTEMPTS, 1]);
    // Only the failed accounts were tried again: one audit session per healthy account.
    let opened = p.root.opened();
    for n in 0..120 {
        let a = id(n);
        let sessions = opened.iter().filter(|(o, _)| *o == a).count();
        let expected = usize::from(a != broken && a != denied);
        assert_eq!(sessions, expected, "{a}");
    }

    let out = summarize(&store, "daily-1").await.unwrap();
    assert_eq!(
        (
            out.pages,
            out.pages_missing,
            out.checked,
            out.compliant,
            out.failed,
            out.retried
        ),
        (3, 0, 120, 118, 2, 2)
    );
    assert_eq!(
        out.failed_accounts,
        vec![broken.to_string(), denied.to_string()]
    );
    let stored: serde_json::Value = get_json(&store, &keys.summary()).await.unwrap();
    assert_eq!(
        stored["retried"],
        serde_json::json!([transient.to_string(), broken.to_string()])
    );
    let failed: Vec<&serde_json::Value> = stored["report"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["verdict"] == serde_json::json!(AccountOutcome::Failed))
        .collect();
    assert_eq!(failed[0]["error_type"], "TransientAwsError");
    assert_eq!(failed[1]["error_type"], "AwsError");
}

#[tokio::test]
async fn a_page_without_a_result_reports_its_accounts_failed() {
    let p = ports(60);
    let store = MemoryFleetStore::default();
    plan(&p, &store, "daily-2").await.unwrap();
    let keys = RunKeys::new(JOB, "daily-2").unwrap();
    let manifest: Vec<Page> = get_json(&store, &keys.manifest()).await.unwrap();
    // Only the first page's child ran.
    run_page(&p, &store, manifest[0].clone()).await;
    let out = summarize(&store, "daily-2").await.unwrap();
    assert_eq!((out.pages, out.pages_missing), (2, 1));
    assert_eq!((out.compliant, out.failed), (50, 10));
    assert_eq!(out.failed_accounts.len(), 10);
    assert_eq!(out.failed_accounts[0], id(50).to_string());
}

#[tokio::test]
async fn hostile_page_inputs_are_refused() {
    let p = ports(1);
    let store = MemoryFleetStore::default();
    let step = |run: &str, items: Vec<String>, attempt: u32| PageStep {
        attempt,
        ..PageStep::from(Page {
            run: run.into(),
            page: 0,
            items,
        })
    };
    for bad in [
        step("../other-job", vec![id(0).to_string()], 0),
        step("r", vec!["12345".into()], 0),
        step("r", (0..51).map(|n| id(n).to_string()).collect(), 0),
        step("r", vec![id(0).to_string()], MAX_ATTEMPTS),
    ] {
        let e = enforce_page(&p, &store, bad).await.unwrap_err();
        assert_eq!(e.error_type, ErrorType::ValidationError, "{e}");
    }
    assert!(store.keys().is_empty(), "nothing was written");
    assert!(p.root.opened().is_empty(), "no account was touched");
}
