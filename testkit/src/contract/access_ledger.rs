//! The `AccessLedger` contract: a request is written as the next version only if the version
//! read is still stored (absent for a new one); a lock is taken only if free and released only
//! by its holder; a lost condition writes nothing (no request, no lock, no audit record); reads
//! are consistent; the list is per account, newest first.

use chrono::{DateTime, Duration, Utc};
use rootwarden_core::access::{
    AccessLedger, AccessRequest, AccessStatus, LedgerWrite, LockMove, Written,
};
use rootwarden_core::audit::{AuditEntry, AuditLog, Stream};
use rootwarden_core::AccountId;

use super::fixtures::{fresh, fresh_account};

fn request(account: &AccountId, created_at: DateTime<Utc>) -> AccessRequest {
    AccessRequest {
        id: fresh("AR-contract"),
        account_id: account.clone(),
        requester: "arn:aws:iam::111122223333:role/Requester".into(),
        requester_person: None,
        reason: "billing-issue".into(),
        ticket: "INC-1".into(),
        duration_minutes: 30,
        release: None,
        status: AccessStatus::Requested,
        approvals: Vec::new(),
        approver_persons: Vec::new(),
        review_ticket: None,
        ended_by: None,
        note: None,
        created_at,
        approved_at: None,
        checked_out_at: None,
        expires_at: None,
        ended_at: None,
        version: 0,
    }
}

async fn write<L: AccessLedger>(ledger: &L, r: &AccessRequest, lock: LockMove) -> Written {
    let record = AuditEntry::new(
        Stream::Account(r.account_id.clone()),
        "contract",
        "access.contract",
    )
    .target(&r.id)
    .detail("status", r.status.as_str());
    ledger
        .write(&LedgerWrite {
            request: r,
            lock,
            record: &record,
        })
        .await
        .unwrap_or_else(|e| panic!("write of {} failed: {e}", r.id))
}

async fn records<A: AuditLog>(audit: &A, account: &AccountId) -> usize {
    audit
        .read_stream(&Stream::Account(account.clone()).key())
        .await
        .expect("audit stream readable")
        .len()
}

/// Runs the contract against `ledger`, whose audit records `audit` reads.
pub async fn access_ledger_contract<L: AccessLedger, A: AuditLog>(ledger: L, audit: &A) {
    let a = fresh_account();
    let now = Utc::now();
    let until = now + Duration::minutes(30);

    // A new request: written once, read back as version 1 with its audit record.
    let mut r1 = request(&a, now - Duration::seconds(10));
    assert_eq!(write(&ledger, &r1, LockMove::Keep).await, Written::Done);
    let stored = ledger
        .get(&r1.id)
        .await
        .unwrap()
        .expect("written request is read");
    assert_eq!(stored.version, 1, "a new request is version 1");
    assert_eq!((stored.status, &stored.reason), (r1.status, &r1.reason));
    assert_eq!(
        records(audit, &a).await,
        1,
        "the write carries its audit record"
    );
    // The same id again as new: lost, nothing written.
    assert_eq!(write(&ledger, &r1, LockMove::Keep).await, Written::Retry);
    assert_eq!(
        records(audit, &a).await,
        1,
        "a lost write has no audit record"
    );

    // Checked out: the next version and the lock, together.
    r1 = stored;
    r1.status = AccessStatus::CheckedOut;
    r1.expires_at = Some(until);
    let take = LockMove::Take { expires_at: until };
    assert_eq!(write(&ledger, &r1, take).await, Written::Done);
    let lock = ledger.lock_of(&a).await.unwrap().expect("lock taken");
    assert_eq!(lock.request_id, r1.id);
    assert!(!lock.ended(now), "the lock holds until its end");
    assert!(lock.ended(until), "the lock ends at expires_at");
    assert!(
        ledger
            .locks()
            .await
            .unwrap()
            .iter()
            .any(|l| l.account_id == a && l.request_id == r1.id),
        "locks lists the taken lock"
    );
    assert_eq!(
        ledger.get(&r1.id).await.unwrap().map(|r| r.version),
        Some(2)
    );

    // A second request cannot take the held lock, and then is not written at all.
    let mut r2 = request(&a, now);
    assert_eq!(write(&ledger, &r2, take).await, Written::Locked);
    assert!(
        ledger.get(&r2.id).await.unwrap().is_none(),
        "locked write wrote nothing"
    );
    assert_eq!(records(audit, &a).await, 2);
    // Stored without the lock, it still cannot release another request's lock.
    assert_eq!(write(&ledger, &r2, LockMove::Keep).await, Written::Done);
    r2.version = 1;
    r2.status = AccessStatus::CheckedIn;
    assert_eq!(
        write(&ledger, &r2, LockMove::Release).await,
        Written::Locked
    );
    assert_eq!(
        ledger.lock_of(&a).await.unwrap().map(|l| l.request_id),
        Some(r1.id.clone())
    );

    // A stale version loses, even for the lock's holder.
    r1.status = AccessStatus::CheckedIn;
    assert_eq!(write(&ledger, &r1, LockMove::Release).await, Written::Retry);
    assert!(
        ledger.lock_of(&a).await.unwrap().is_some(),
        "a lost release keeps the lock"
    );
    // The holder, at the stored version, releases it.
    r1.version = 2;
    assert_eq!(write(&ledger, &r1, LockMove::Release).await, Written::Done);
    assert!(ledger.lock_of(&a).await.unwrap().is_none(), "lock released");
    assert!(
        !ledger
            .locks()
            .await
            .unwrap()
            .iter()
            .any(|l| l.account_id == a),
        "a released lock is not listed"
    );
    let ended = ledger.get(&r1.id).await.unwrap().expect("request kept");
    assert_eq!((ended.version, ended.status), (3, AccessStatus::CheckedIn));
    assert_eq!(
        records(audit, &a).await,
        4,
        "one audit record per committed write"
    );

    // Lists: per account, newest first.
    let ids: Vec<String> = ledger
        .list(Some(&a))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, vec![r2.id.clone(), r1.id.clone()]);
    assert!(ledger
        .list(Some(&fresh_account()))
        .await
        .unwrap()
        .is_empty());
    let all = ledger.list(None).await.unwrap();
    assert!(all.iter().any(|r| r.id == r1.id) && all.iter().any(|r| r.id == r2.id));
    assert!(ledger.get(&fresh("AR-missing")).await.unwrap().is_none());
}
