//! What every `WorkflowWaits` promises.

use chrono::{Duration, Utc};
use rootwarden_core::mail::Category;
use rootwarden_core::workflows::{Wait, WorkflowWaits};
use rootwarden_core::ErrorType;

use super::fixtures::{fresh, fresh_account};

/// Registration (waitable kinds only), expiry on read, a claim that one delivery wins (and keeps
/// on a retry), completion that removes the record (also for a task the workflow service no
/// longer knows), idempotent removal.
pub async fn workflow_waits_contract<W: WorkflowWaits>(waits: W) {
    let a = fresh_account();
    let now = Utc::now();
    let wait = |kind: Category| Wait {
        account: a.clone(),
        kind,
        execution: fresh("exec"),
        task_token: fresh("token"),
        expires_at: now + Duration::hours(1),
        registered_at: now - Duration::minutes(1),
        claimed_by: None,
    };

    let marketing = wait(Category::Marketing);
    let e = waits.register(&marketing).await.unwrap_err();
    assert_eq!(e.error_type, ErrorType::ValidationError);
    assert!(waits
        .waiting(&a, Category::Marketing, now)
        .await
        .unwrap()
        .is_empty());

    let w1 = wait(Category::PasswordChanged);
    waits.register(&w1).await.unwrap();
    assert_eq!(
        waits
            .waiting(&a, Category::PasswordChanged, now)
            .await
            .unwrap(),
        vec![w1.clone()]
    );
    assert!(waits
        .waiting(&a, Category::VerificationCode, now)
        .await
        .unwrap()
        .is_empty());
    assert!(waits
        .waiting(&fresh_account(), Category::PasswordChanged, now)
        .await
        .unwrap()
        .is_empty());
    assert!(
        waits
            .waiting(&a, Category::PasswordChanged, now + Duration::hours(2))
            .await
            .unwrap()
            .is_empty(),
        "expired waits are not waiting"
    );

    // One delivery wins the claim, and keeps it on a retry.
    let (ses1, ses2) = (fresh("ses"), fresh("ses"));
    let mut forged = w1.clone();
    forged.task_token = fresh("token");
    assert!(!waits.claim(&forged, &ses1).await.unwrap(), "another token");
    assert!(waits.claim(&w1, &ses1).await.unwrap());
    assert!(waits.claim(&w1, &ses1).await.unwrap(), "a retry keeps it");
    assert!(!waits.claim(&w1, &ses2).await.unwrap());
    let listed = waits
        .waiting(&a, Category::PasswordChanged, now)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].claimed_by.as_deref(), Some(ses1.as_str()));

    // Completion removes the record (this token is unknown to the workflow service: gone).
    let output = serde_json::json!({ "ticket_id": "T1", "ses_message_id": ses1 });
    waits.complete(&listed[0], &output).await.unwrap();
    assert!(waits
        .waiting(&a, Category::PasswordChanged, now)
        .await
        .unwrap()
        .is_empty());
    assert!(
        !waits.claim(&w1, &ses1).await.unwrap(),
        "a completed wait is gone"
    );

    // Removal is idempotent and leaves other waits alone.
    let (w2, w3) = (
        wait(Category::VerificationCode),
        wait(Category::VerificationCode),
    );
    waits.register(&w2).await.unwrap();
    waits.register(&w3).await.unwrap();
    waits.remove(&a, w2.kind, &w2.execution).await.unwrap();
    waits.remove(&a, w2.kind, &w2.execution).await.unwrap();
    assert_eq!(
        waits
            .waiting(&a, Category::VerificationCode, now)
            .await
            .unwrap(),
        vec![w3.clone()]
    );
    waits.remove(&a, w3.kind, &w3.execution).await.unwrap();
}
