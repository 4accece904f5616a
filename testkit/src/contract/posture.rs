//! What every `PostureRegistry` promises, and every `EnforcementTickets`.

use std::future::Future;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use rootwarden_core::audit::{AuditEntry, AuditLog, Stream};
use rootwarden_core::enforcement::EnforcementTickets;
use rootwarden_core::mail::{Category, Priority};
use rootwarden_core::registry::posture::PostureRegistry;
use rootwarden_core::registry::{Account, AccountMode};
use rootwarden_core::tickets::Ticket;
use rootwarden_core::AccountId;

use super::fixtures::{fresh, fresh_account, registered_account};

/// A fresh active credential-less account record, onboarded at `now` (whole seconds).
pub fn fresh_account_record(now: DateTime<Utc>) -> Account {
    Account {
        name: Some("Contract".into()),
        contacts: vec!["ops@provider.example".into()],
        onboarded_at: now.trunc_subsecs(0),
        ..registered_account(fresh_account(), AccountMode::CredentialLess)
    }
}

/// How many posture records the account's chain holds.
async fn posture_records<L: AuditLog>(audit: &L, account: &AccountId) -> usize {
    let items = audit
        .read_stream(&Stream::Account(account.clone()).key())
        .await
        .unwrap();
    items
        .iter()
        .filter(|i| {
            i.as_ref()
                .is_ok_and(|r| r.action == "root.posture-recorded")
        })
        .count()
}

/// `register(account)` registers the record (as onboarding does) and returns a handle onto the
/// registry and onto the audit log its posture records go to.
///
/// A registered account is found whole and listed (in id order); its posture and recovery
/// window are recorded on it, the posture with its audit record; neither write creates an
/// account that is not registered, nor a record for it.
pub async fn posture_registry_contract<R, L, F, Fut>(register: F)
where
    R: PostureRegistry,
    L: AuditLog,
    F: Fn(Account) -> Fut,
    Fut: Future<Output = (R, L)>,
{
    let now = Utc::now().trunc_subsecs(0);
    let account = fresh_account_record(now);
    let a = account.account_id.clone();
    let (registry, audit) = register(account.clone()).await;
    let record = |id: &AccountId| {
        AuditEntry::new(
            Stream::Account(id.clone()),
            "contract",
            "root.posture-recorded",
        )
        .target(id.as_str())
    };

    assert_eq!(
        registry.find_account(&a).await.unwrap(),
        Some(account.clone())
    );
    let all = registry.all_accounts().await.unwrap();
    assert!(all.contains(&account), "listed");
    assert!(
        all.windows(2).all(|w| w[0].account_id < w[1].account_id),
        "listed in id order"
    );

    let posture = serde_json::json!({"access_keys": [], "login_profile": false, "findings": []});
    registry
        .record_posture(&a, &posture, now, &record(&a))
        .await
        .unwrap();
    assert_eq!(
        posture_records(&audit, &a).await,
        1,
        "the record lands with it"
    );
    let until = now + Duration::hours(24);
    registry.open_recovery(&a, until).await.unwrap();
    let stored = registry.find_account(&a).await.unwrap().unwrap();
    assert_eq!(stored.posture, Some(posture.clone()));
    assert_eq!(stored.posture_checked_at, Some(now));
    assert_eq!(stored.recovery_until, Some(until));
    assert_eq!(
        stored.root_email, account.root_email,
        "the rest is left alone"
    );
    assert_eq!(stored.mode, account.mode);

    let stranger: AccountId = fresh_account();
    assert_eq!(registry.find_account(&stranger).await.unwrap(), None);
    assert!(registry
        .record_posture(&stranger, &posture, now, &record(&stranger))
        .await
        .is_err());
    assert_eq!(
        posture_records(&audit, &stranger).await,
        0,
        "no record without the posture"
    );
    assert!(registry.open_recovery(&stranger, until).await.is_err());
    assert_eq!(registry.find_account(&stranger).await.unwrap(), None);
}

/// A task ticket opens once per id: opening it again returns the first, unchanged.
pub async fn enforcement_tickets_contract<T: EnforcementTickets>(tickets: T) {
    let a = fresh_account();
    let id = fresh("enforce");
    let now = Utc::now().trunc_subsecs(0);
    let ticket = Ticket::task(
        id.clone(),
        &a,
        Category::Security,
        Priority::High,
        format!("Root credentials removed from account {a}"),
        "contract",
        now,
    );
    let opened = tickets
        .open_task(&ticket, "contract", "run-1")
        .await
        .unwrap();
    assert_eq!(opened.id, id);
    let mut other = ticket.clone();
    other.subject = "a different subject".into();
    let again = tickets
        .open_task(&other, "contract", "run-2")
        .await
        .unwrap();
    assert_eq!(again.id, id);
    assert_eq!(again.subject, ticket.subject, "the first ticket stays");
}
