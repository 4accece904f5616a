//! The `ReleaseAccess` contract: `request` reads a request as stored, release terms included
//! (absent: `None`); `revoke_open` revokes every open request and check-out of the account
//! except its release requests, each with an `access.revoked` record (the actor, the note) in
//! the same write, releases the lock a check-out held, leaves ended requests and other accounts
//! alone, and revokes nothing more when called again.

use chrono::{Duration, Utc};
use rootwarden_core::access::{
    AccessLedger, AccessRequest, AccessStatus, LedgerWrite, LockMove, Written,
};
use rootwarden_core::audit::{AuditEntry, AuditLog, Stream};
use rootwarden_core::release::{Customer, Exit, ReleaseAccess, ReleaseTerms, RELEASE_REASON};
use rootwarden_core::{AccountId, RootEmail};

use super::fixtures::{fresh, fresh_account};

fn request(account: &AccountId, reason: &str, status: AccessStatus) -> AccessRequest {
    let now = Utc::now();
    let release = (reason == RELEASE_REASON).then(|| ReleaseTerms {
        exit: Exit::Handback,
        customer: Some(Customer {
            email: RootEmail::parse("owner@customer.example").ok(),
            phone: "+14155550100".into(),
            name: Some("Customer Ltd".into()),
        }),
        customer_org: None,
        keep_email: false,
    });
    AccessRequest {
        id: fresh("AR-release-contract"),
        account_id: account.clone(),
        requester: "arn:aws:iam::111122223333:role/Requester".into(),
        requester_person: None,
        reason: reason.into(),
        ticket: "INC-1".into(),
        duration_minutes: 30,
        release,
        status,
        approvals: Vec::new(),
        approver_persons: Vec::new(),
        review_ticket: None,
        ended_by: None,
        note: None,
        created_at: now,
        approved_at: None,
        checked_out_at: None,
        expires_at: (status == AccessStatus::CheckedOut).then(|| now + Duration::minutes(30)),
        ended_at: None,
        version: 0,
    }
}

async fn seed<L: AccessLedger>(ledger: &L, r: &AccessRequest) {
    let lock = match (r.status, r.expires_at) {
        (AccessStatus::CheckedOut, Some(expires_at)) => LockMove::Take { expires_at },
        _ => LockMove::Keep,
    };
    let record = AuditEntry::new(
        Stream::Account(r.account_id.clone()),
        "contract",
        "access.seeded",
    )
    .target(&r.id);
    let written = ledger
        .write(&LedgerWrite {
            request: r,
            lock,
            record: &record,
        })
        .await
        .unwrap_or_else(|e| panic!("seeding {} failed: {e}", r.id));
    assert_eq!(written, Written::Done, "seeding {}", r.id);
}

async fn revoked_records<A: AuditLog>(audit: &A, account: &AccountId) -> Vec<(String, String)> {
    audit
        .read_stream(&Stream::Account(account.clone()).key())
        .await
        .expect("audit stream readable")
        .into_iter()
        .map(|r| r.expect("audit record well formed"))
        .filter(|r| r.action == "access.revoked")
        .map(|r| (r.target, r.actor))
        .collect()
}

/// Runs the contract: `access` acts as `actor` on the requests of `ledger` (the same table),
/// whose audit records `audit` reads.
pub async fn release_access_contract<R: ReleaseAccess, L: AccessLedger, A: AuditLog>(
    access: R,
    actor: &str,
    ledger: L,
    audit: &A,
) {
    let a = fresh_account();
    let other = fresh_account();
    let requested = request(&a, "billing-issue", AccessStatus::Requested);
    let approved = request(&a, "root-only-task", AccessStatus::Approved);
    let checked_out = request(&a, "billing-issue", AccessStatus::CheckedOut);
    let denied = request(&a, "billing-issue", AccessStatus::Denied);
    let release = request(&a, RELEASE_REASON, AccessStatus::Approved);
    let elsewhere = request(&other, "billing-issue", AccessStatus::Approved);
    for r in [
        &requested,
        &approved,
        &checked_out,
        &denied,
        &release,
        &elsewhere,
    ] {
        seed(&ledger, r).await;
    }
    assert!(
        ledger.lock_of(&a).await.unwrap().is_some(),
        "check-out holds the lock"
    );

    // The release's request, read back with its terms.
    let read = access
        .request(&release.id)
        .await
        .unwrap()
        .expect("a stored request is read");
    assert_eq!(
        (read.status, read.reason.as_str(), &read.release),
        (AccessStatus::Approved, RELEASE_REASON, &release.release),
        "the request as stored, release terms included"
    );
    assert!(access
        .request(&fresh("AR-missing"))
        .await
        .unwrap()
        .is_none());

    // Every open request of the account but the release's, each audited; lock released.
    let mut ids = access
        .revoke_open(&a, "the account is being released")
        .await
        .unwrap();
    ids.sort();
    let mut expected = vec![
        requested.id.clone(),
        approved.id.clone(),
        checked_out.id.clone(),
    ];
    expected.sort();
    assert_eq!(
        ids, expected,
        "open requests revoked, release and ended ones not"
    );
    for id in &expected {
        let r = ledger.get(id).await.unwrap().expect("kept");
        assert_eq!(r.status, AccessStatus::Revoked, "{id}");
        assert_eq!(r.ended_by.as_deref(), Some(actor), "{id}");
        assert_eq!(r.note.as_deref(), Some("the account is being released"));
        assert!(r.ended_at.is_some());
    }
    assert!(
        ledger.lock_of(&a).await.unwrap().is_none(),
        "the check-out's lock is released"
    );
    let records = revoked_records(audit, &a).await;
    assert_eq!(records.len(), 3, "one access.revoked record per revocation");
    assert!(records.iter().all(|(_, who)| who == actor));
    for (id, status) in [
        (&release.id, AccessStatus::Approved),
        (&denied.id, AccessStatus::Denied),
        (&elsewhere.id, AccessStatus::Approved),
    ] {
        let r = ledger.get(id).await.unwrap().expect("kept");
        assert_eq!((r.status, r.version), (status, 1), "{id} untouched");
    }

    // Again: nothing left to revoke, nothing written.
    assert!(access.revoke_open(&a, "again").await.unwrap().is_empty());
    assert_eq!(revoked_records(audit, &a).await.len(), 3, "idempotent");
    assert!(access
        .revoke_open(&fresh_account(), "none")
        .await
        .unwrap()
        .is_empty());
}
