//! What every `RotationSchedule` promises: the due index (active vaulted accounts, oldest due
//! first, paged) and the conditional schedule writes.

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use rootwarden_core::registry::schedule::RotationSchedule;
use rootwarden_core::registry::{
    stamp, Account, AccountMode, AccountStatus, DueAccount, RotationReason,
};

use super::fixtures::{fresh_account, nonce, root_email};

/// An active vaulted account due at `due`.
fn account(due: DateTime<Utc>) -> Account {
    let a = fresh_account();
    Account {
        root_email: root_email(&a),
        account_id: a,
        name: None,
        status: AccountStatus::Active,
        mode: AccountMode::Vaulted,
        max_age_days: 30,
        contacts: vec![],
        onboarded_at: due - Duration::days(30),
        last_rotated_at: None,
        rotation_due: Some(due),
        rotation_reason: Some(RotationReason::Checkout),
        rotation_execution: None,
        posture: None,
        posture_checked_at: None,
        recovery_until: None,
    }
}

/// Every due account at `now`, over all pages of `limit`.
async fn all_due<R: RotationSchedule>(r: &R, now: DateTime<Utc>, limit: u32) -> Vec<DueAccount> {
    let (mut all, mut after) = (Vec::new(), None);
    loop {
        let page = r.due_page(now, after, limit).await.unwrap();
        assert!(page.due.len() <= limit as usize);
        all.extend(page.due);
        after = page.next;
        if after.is_none() {
            return all;
        }
    }
}

/// `register(account)` writes an account record as onboarding does and returns a handle onto
/// the schedule. Due dates are in a fresh second of the year 2001 (nothing else is due then).
pub async fn rotation_schedule_contract<R, F, Fut>(register: F)
where
    R: RotationSchedule,
    F: Fn(Account) -> Fut,
    Fut: Future<Output = R>,
{
    let base = DateTime::parse_from_rfc3339("2001-01-01T00:00:00Z")
        .unwrap_or_default()
        .to_utc()
        + Duration::seconds((nonce() % 30_000_000) as i64);
    let first = account(base);
    let second = account(base + Duration::seconds(1));
    let third = account(base + Duration::seconds(2));
    let later = account(base + Duration::days(400));
    let credential_less = Account {
        mode: AccountMode::CredentialLess,
        ..account(base)
    };
    let mut r = None;
    for a in [&first, &second, &third, &later, &credential_less] {
        r = Some(register(a.clone()).await);
    }
    let Some(r) = r else { return };

    assert_eq!(
        r.account(&first.account_id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(r.account(&fresh_account()).await.unwrap(), None);

    // Due at base + 2 s: the three, oldest first, whatever the page size; never the later
    // one nor the credential-less one.
    let now = base + Duration::seconds(2);
    let mine = |all: Vec<DueAccount>| -> Vec<DueAccount> {
        all.into_iter()
            .filter(|d| {
                [&first, &second, &third, &later, &credential_less]
                    .iter()
                    .any(|a| a.account_id == d.account_id)
            })
            .collect()
    };
    let due = mine(all_due(&r, now, 1).await);
    let ids: Vec<_> = due.iter().map(|d| d.account_id.clone()).collect();
    assert_eq!(
        ids,
        vec![
            first.account_id.clone(),
            second.account_id.clone(),
            third.account_id.clone()
        ]
    );
    assert_eq!(due[0].due, stamp(base));
    assert_eq!(due[0].reason, RotationReason::Checkout);
    assert_eq!(due[0].execution, None);
    assert_eq!(mine(all_due(&r, now, 100).await), due);

    // Recording the started execution, only for the due date it served.
    let a = &first.account_id;
    assert!(!r
        .mark_started(a, &stamp(base - Duration::seconds(1)), "x")
        .await
        .unwrap());
    assert!(r.mark_started(a, &stamp(base), "rotate-1").await.unwrap());
    let d = mine(all_due(&r, now, 100).await);
    assert_eq!(d[0].execution.as_deref(), Some("rotate-1"));

    // Moving the due date from what was read: exactly one of two movers wins.
    let moved = base + Duration::seconds(10);
    assert!(r.move_due(a, &stamp(base), moved).await.unwrap());
    assert!(!r
        .move_due(a, &stamp(base), moved + Duration::seconds(1))
        .await
        .unwrap());
    let got = r.account(a).await.unwrap().unwrap();
    assert_eq!(
        (got.rotation_due, got.rotation_execution),
        (Some(moved), None)
    );
    assert!(!r
        .move_due(&fresh_account(), &stamp(base), moved)
        .await
        .unwrap());
    assert!(!r
        .mark_started(&fresh_account(), &stamp(base), "x")
        .await
        .unwrap());

    // Rescheduling: only by the owner of the schedule, or when nobody owns it.
    let b = &second.account_id;
    assert!(r
        .mark_started(b, &stamp(second.rotation_due.unwrap_or(base)), "owner")
        .await
        .unwrap());
    let next = base + Duration::days(30);
    r.reschedule(b, "intruder", next, RotationReason::MaxAge, Some(base))
        .await
        .unwrap();
    let got = r.account(b).await.unwrap().unwrap();
    assert_eq!(
        got.rotation_due, second.rotation_due,
        "not the owner: unchanged"
    );
    r.reschedule(b, "owner", next, RotationReason::MaxAge, Some(base))
        .await
        .unwrap();
    let got = r.account(b).await.unwrap().unwrap();
    assert_eq!(got.rotation_due, Some(next));
    assert_eq!(got.rotation_reason, Some(RotationReason::MaxAge));
    assert_eq!(got.rotation_execution, None);
    assert_eq!(got.last_rotated_at, Some(base));
    // Unowned: moved (a retry date, not rotated).
    let c = &third.account_id;
    r.reschedule(c, "any", next, RotationReason::Retry, None)
        .await
        .unwrap();
    let got = r.account(c).await.unwrap().unwrap();
    assert_eq!(
        (got.rotation_due, got.rotation_reason),
        (Some(next), Some(RotationReason::Retry))
    );
    assert_eq!(got.last_rotated_at, None);
    // No account: nothing happens, no error.
    r.reschedule(&fresh_account(), "any", next, RotationReason::Retry, None)
        .await
        .unwrap();
    assert_eq!(
        mine(all_due(&r, now + Duration::seconds(20), 100).await).len(),
        1
    );

    // Leave nothing due for later sweeps of the same store.
    let far = base + Duration::days(365 * 900);
    for a in [&first, &second, &third, &later] {
        let due = r
            .account(&a.account_id)
            .await
            .unwrap()
            .and_then(|a| a.rotation_due);
        if let Some(due) = due {
            r.move_due(&a.account_id, &stamp(due), far).await.unwrap();
        }
    }
}
