//! What every `RotationStore` promises: records created once, tokens only while awaiting the
//! apply step, a rotation ends once, newest first.

use rootwarden_core::rotation::{RotationRecord, RotationStage, RotationStore};
use rootwarden_core::{AccountId, ErrorType};

use super::fixtures::{fresh, fresh_account};

pub(crate) fn record(account: &AccountId, execution: &str, started_at: &str) -> RotationRecord {
    RotationRecord {
        account_id: account.clone(),
        execution: execution.to_owned(),
        execution_arn: format!(
            "arn:aws:states:us-east-1:123456789012:execution:rotation:{execution}"
        ),
        trigger: "max-age".into(),
        stage: RotationStage::AwaitingApply,
        pending_version: 2,
        current_version: Some(1),
        completed_version: None,
        max_age_days: Some(90),
        ticket_id: format!("rotation-{execution}"),
        task_token: None,
        apply_deadline: None,
        started_at: started_at.to_owned(),
        updated_at: started_at.to_owned(),
        outcome: None,
    }
}

pub async fn rotation_store_contract<R: RotationStore>(store: R) {
    let a = fresh_account();
    let (e1, e2) = (fresh("r1"), fresh("r2"));
    let first = record(&a, &e1, "2026-11-24T10:00:00Z");

    // Created once: a second create returns the first, unchanged.
    assert_eq!(store.create(&first).await.unwrap(), first);
    let other = RotationRecord {
        pending_version: 7,
        ..first.clone()
    };
    assert_eq!(store.create(&other).await.unwrap(), first, "create is once");
    assert_eq!(store.get(&a, &e1).await.unwrap(), Some(first.clone()));
    assert_eq!(store.get(&a, &fresh("none")).await.unwrap(), None);
    // A record written before the maximum age was kept reads back without one.
    let (older_account, older) = (fresh_account(), fresh("r0"));
    let before = RotationRecord {
        max_age_days: None,
        ..record(&older_account, &older, "2026-11-23T10:00:00Z")
    };
    store.create(&before).await.unwrap();
    assert_eq!(
        store.get(&older_account, &older).await.unwrap(),
        Some(before)
    );

    // Newest first; only this account's.
    let second = record(&a, &e2, "2026-11-25T10:00:00Z");
    store.create(&second).await.unwrap();
    store
        .create(&record(
            &fresh_account(),
            &fresh("x"),
            "2026-11-26T10:00:00Z",
        ))
        .await
        .unwrap();
    let listed: Vec<String> = store
        .list(&a)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.execution)
        .collect();
    assert_eq!(listed, vec![e2.clone(), e1.clone()]);

    // A token while awaiting the apply step.
    let now = "2026-11-24T10:01:00Z";
    store
        .set_token(&a, &e1, "tok-1", "2026-11-25T10:01:00Z", now)
        .await
        .unwrap();
    let r = store.get(&a, &e1).await.unwrap().unwrap();
    assert_eq!(r.task_token.as_deref(), Some("tok-1"));
    assert_eq!(r.apply_deadline.as_deref(), Some("2026-11-25T10:01:00Z"));
    assert_eq!(r.updated_at, now);
    let missing = store
        .set_token(&a, &fresh("none"), "t", now, now)
        .await
        .unwrap_err();
    assert_eq!(
        missing.error_type,
        ErrorType::Conflict,
        "no record: no token"
    );

    // Ends once; again the same way succeeds and keeps the first outcome.
    store
        .end(&a, &e1, RotationStage::Completed, Some(2), "confirmed", now)
        .await
        .unwrap();
    store
        .end(&a, &e1, RotationStage::Completed, Some(2), "again", now)
        .await
        .unwrap();
    let r = store.get(&a, &e1).await.unwrap().unwrap();
    assert_eq!(r.stage, RotationStage::Completed);
    assert_eq!(r.completed_version, Some(2));
    assert_eq!(r.outcome.as_deref(), Some("confirmed"));
    assert_eq!(r.task_token, None, "ending drops the token");
    let other_way = store
        .end(&a, &e1, RotationStage::Abandoned, None, "timeout", now)
        .await
        .unwrap_err();
    assert_eq!(other_way.error_type, ErrorType::Conflict);
    let token = store.set_token(&a, &e1, "t", now, now).await.unwrap_err();
    assert_eq!(token.error_type, ErrorType::Conflict, "ended: no token");
    assert_eq!(
        store.create(&first).await.unwrap().stage,
        RotationStage::Completed,
        "an ended record is never recreated"
    );

    // Abandoned without a completed version; no record cannot end.
    store
        .end(&a, &e2, RotationStage::Abandoned, None, "timeout", now)
        .await
        .unwrap();
    let r = store.get(&a, &e2).await.unwrap().unwrap();
    assert_eq!(
        (r.stage, r.completed_version),
        (RotationStage::Abandoned, None)
    );
    let none = store
        .end(&a, &fresh("none"), RotationStage::Abandoned, None, "x", now)
        .await
        .unwrap_err();
    assert_eq!(none.error_type, ErrorType::Conflict);
}
