//! What the access-owned ports promise: `AccessAccounts` (an account's standing; marking it
//! due for rotation keeps an earlier due date), `AccessTickets` (a task ticket opens once under
//! its id) and `RotationLookup` (the rotation awaiting its apply step, and no other).

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use rootwarden_core::access::ports::{AccessAccounts, AccessTickets, RotationLookup};
use rootwarden_core::mail::{Category, Priority};
use rootwarden_core::registry::{AccountMode, AccountStatus, RotationReason};
use rootwarden_core::rotation::{RotationRecord, RotationStage};
use rootwarden_core::tickets::Ticket;
use rootwarden_core::AccountId;

use super::fixtures::{fresh, fresh_account};
use super::rotations::record;

/// `register` makes an active vaulted account with no rotation due; `due` reads its due date.
pub async fn access_accounts_contract<A, R, RF, D, DF>(accounts: &A, register: R, due: D)
where
    A: AccessAccounts,
    R: Fn(AccountId) -> RF,
    RF: Future<Output = ()>,
    D: Fn(AccountId) -> DF,
    DF: Future<Output = Option<DateTime<Utc>>>,
{
    let a = fresh_account();
    assert_eq!(
        accounts.standing(&a).await.unwrap(),
        None,
        "unknown account"
    );
    register(a.clone()).await;
    assert_eq!(
        accounts.standing(&a).await.unwrap(),
        Some((AccountStatus::Active, AccountMode::Vaulted))
    );
    let now = Utc::now().with_timezone(&Utc) - Duration::hours(1);
    let now = now - Duration::nanoseconds(now.timestamp_subsec_nanos().into());
    assert_eq!(
        accounts
            .mark_for_rotation(&a, now, RotationReason::Manual)
            .await
            .unwrap(),
        (AccountStatus::Active, AccountMode::Vaulted)
    );
    assert_eq!(due(a.clone()).await, Some(now), "due now");
    // A later mark keeps the earlier due date, and still says the account is active.
    assert_eq!(
        accounts
            .mark_for_rotation(&a, now + Duration::minutes(5), RotationReason::Manual)
            .await
            .unwrap(),
        (AccountStatus::Active, AccountMode::Vaulted)
    );
    assert_eq!(
        due(a.clone()).await,
        Some(now),
        "the earlier due date is kept"
    );
}

/// A task ticket opens once: opening it again returns the first; it reads back by id.
pub async fn access_tickets_contract<T: AccessTickets>(tickets: &T) {
    let a = fresh_account();
    let id = fresh("access-review");
    let first = Ticket::task(
        id.clone(),
        &a,
        Category::Security,
        Priority::High,
        "self-service check-out",
        "review a self-approved check-out",
        Utc::now(),
    );
    let opened = tickets
        .open_task(&first, "arn:contract", "corr-1")
        .await
        .unwrap();
    assert_eq!(opened.id, id);
    let mut again = first.clone();
    again.subject = "another subject".into();
    let second = tickets
        .open_task(&again, "arn:contract", "corr-2")
        .await
        .unwrap();
    assert_eq!(
        second.subject, first.subject,
        "opened once: the first is returned"
    );
    let read = tickets.ticket(&id).await.unwrap().expect("reads back");
    assert_eq!(read.subject, first.subject);
    assert!(tickets.ticket(&fresh("none")).await.unwrap().is_none());
}

/// `put` stores a rotation record of the account.
pub async fn rotation_lookup_contract<L, P, PF>(lookup: &L, put: P)
where
    L: RotationLookup,
    P: Fn(RotationRecord) -> PF,
    PF: Future<Output = ()>,
{
    let a = fresh_account();
    assert!(lookup.awaiting_apply(&a).await.unwrap().is_none());
    let ended = RotationRecord {
        stage: RotationStage::Completed,
        ..record(&a, &fresh("done"), "2026-11-20T10:00:00Z")
    };
    put(ended).await;
    assert!(
        lookup.awaiting_apply(&a).await.unwrap().is_none(),
        "an ended rotation is not awaiting"
    );
    let waiting = record(&a, &fresh("wait"), "2026-11-24T10:00:00Z");
    put(waiting.clone()).await;
    put(record(
        &fresh_account(),
        &fresh("other"),
        "2026-11-24T10:00:00Z",
    ))
    .await;
    let found = lookup.awaiting_apply(&a).await.unwrap().expect("awaiting");
    assert_eq!(found.execution, waiting.execution);
    assert_eq!(found.account_id, a);
}
