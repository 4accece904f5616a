use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::decisions::*;
use super::liveness::ExecutionState;
use super::steps::*;
use super::{RotationRecord, RotationStage};
use crate::mail::Priority;
use crate::registry::{Account, AccountMode, AccountStatus};
use crate::vault::Head;
use crate::{AccountId, ErrorType, RootEmail};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn id() -> AccountId {
    AccountId::parse("111122223333").unwrap()
}

fn account(status: AccountStatus, mode: AccountMode) -> Account {
    Account {
        account_id: id(),
        root_email: RootEmail::parse("root+111122223333@example.com").unwrap(),
        name: None,
        status,
        mode,
        max_age_days: 30,
        contacts: vec![],
        onboarded_at: at("2026-01-01T00:00:00Z"),
        last_rotated_at: None,
        rotation_due: None,
        rotation_reason: None,
        rotation_execution: None,
        posture: None,
        posture_checked_at: None,
        recovery_until: None,
    }
}

fn record(stage: RotationStage, token: Option<&str>) -> RotationRecord {
    RotationRecord {
        account_id: id(),
        execution: "e1".into(),
        execution_arn: "arn:aws:states:r:1:execution:sm:e1".into(),
        trigger: "manual".into(),
        stage,
        pending_version: 2,
        current_version: Some(1),
        completed_version: None,
        max_age_days: None,
        ticket_id: "rotation-e1".into(),
        task_token: token.map(str::to_owned),
        apply_deadline: None,
        started_at: "2026-12-01T10:00:00Z".into(),
        updated_at: "2026-12-01T10:00:00Z".into(),
        outcome: None,
    }
}

fn head(pending: Option<u32>, pending_execution: Option<&str>) -> Head {
    Head {
        current: Some(1),
        current_execution: None,
        current_since: "2026-11-01T00:00:00Z".into(),
        previous: None,
        pending,
        pending_execution: pending_execution.map(str::to_owned),
        next_version: 3,
    }
}

// --- payloads and names ----------------------------------------------------------------------

#[test]
fn steps_parse_from_state_machine_payloads() {
    let s: Step = serde_json::from_value(json!({
        "action": "prepare", "execution": "e1",
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:rot:e1",
        "input": {"account_id": "111122223333", "trigger": "schedule"}
    }))
    .unwrap();
    assert!(
        matches!(s, Step::Prepare { ref input, .. } if input.trigger.as_deref() == Some("schedule"))
    );
    let s: Step = serde_json::from_value(json!({
        "action": "abandon", "account_id": "111122223333", "execution": "e1",
        "error": {"Error": "States.Timeout", "Cause": ""}
    }))
    .unwrap();
    let Step::Abandon { error, .. } = s else {
        panic!("not abandon")
    };
    assert_eq!(abandon_reason(&error), "the apply step timed out");
    assert!(serde_json::from_value::<Step>(json!({"action": "explode"})).is_err());
    assert_eq!(
        account_id("12").unwrap_err().error_type,
        ErrorType::ValidationError
    );
}

#[test]
fn names_are_deterministic() {
    assert_eq!(
        sibling_arn("arn:aws:states:r:1:execution:sm:a", "b"),
        "arn:aws:states:r:1:execution:sm:b"
    );
    assert_eq!(sibling_arn("plain", "b"), "b");
    assert_eq!(ticket_id("e1"), "rotation-e1");
}

#[test]
fn two_manual_starts_in_one_second_get_two_names() {
    let now = at("2026-11-24T10:00:00Z");
    let a = manual_execution_name(&id(), now);
    assert!(
        a.starts_with("manual-111122223333-20261124T100000Z-"),
        "{a}"
    );
    assert_eq!(a.len(), 45);
    assert!(
        a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "{a}"
    );
    let names: std::collections::HashSet<_> =
        (0..64).map(|_| manual_execution_name(&id(), now)).collect();
    assert_eq!(names.len(), 64);
}

// --- prepare ---------------------------------------------------------------------------------

#[test]
fn the_apply_timeout_is_the_executions_own_within_bounds() {
    assert_eq!(apply_timeout(None, 86_400).unwrap(), 86_400);
    assert_eq!(apply_timeout(Some(1), 86_400).unwrap(), 1);
    assert_eq!(apply_timeout(Some(2_592_000), 86_400).unwrap(), 2_592_000);
    for bad in [0, 2_592_001] {
        assert_eq!(
            apply_timeout(Some(bad), 86_400).unwrap_err().error_type,
            ErrorType::ValidationError
        );
    }
}

#[test]
fn only_active_vaulted_accounts_rotate() {
    let ok = account(AccountStatus::Active, AccountMode::Vaulted);
    assert!(rotatable(&id(), Some(&ok), None).is_ok());
    assert!(may_start(&id(), Some(&ok)).is_ok());
    assert_eq!(
        rotatable(&id(), None, None).unwrap_err().error_type,
        ErrorType::NotFound
    );
    assert_eq!(
        may_start(&id(), None).unwrap_err().error_type,
        ErrorType::NotFound
    );
    for a in [
        account(AccountStatus::Released, AccountMode::Vaulted),
        account(AccountStatus::Active, AccountMode::CredentialLess),
    ] {
        let e = rotatable(&id(), Some(&a), None).unwrap_err();
        assert_eq!(e.error_type, ErrorType::ValidationError);
        assert!(
            e.message.contains("only active vaulted accounts rotate"),
            "{e}"
        );
        assert_eq!(
            may_start(&id(), Some(&a)).unwrap_err().error_type,
            ErrorType::ValidationError
        );
    }
}

#[test]
fn a_retried_prepare_goes_on_but_an_ended_rotation_never_prepares_again() {
    assert!(may_prepare("e1", None).is_ok());
    assert!(may_prepare("e1", Some(&record(RotationStage::AwaitingApply, None))).is_ok());
    for stage in [RotationStage::Completed, RotationStage::Abandoned] {
        let e = may_prepare("e1", Some(&record(stage, None))).unwrap_err();
        assert_eq!(e.error_type, ErrorType::Conflict);
        assert!(e.message.contains(stage.as_str()));
    }
}

#[test]
fn only_another_executions_pending_version_needs_settling() {
    assert_eq!(orphan_execution(&head(None, None), "e2"), None);
    assert_eq!(
        orphan_execution(&head(Some(2), Some("e2")), "e2"),
        None,
        "its own: reused"
    );
    assert_eq!(
        orphan_execution(&head(Some(2), Some("e1")), "e2"),
        Some("e1")
    );
    // A pointer without a pending version is stale: nothing to settle.
    assert_eq!(orphan_execution(&head(None, Some("e1")), "e2"), None);
    assert_eq!(
        pending_execution(Some(&head(Some(2), Some("e1")))),
        Some("e1")
    );
    assert_eq!(pending_execution(Some(&head(None, Some("e1")))), None);
    assert_eq!(pending_execution(None), None);
}

#[test]
fn the_apply_ticket_tells_the_operator_what_to_do() {
    let t = apply_ticket(
        &id(),
        "e1",
        2,
        Some(1),
        7 * 24 * 3600,
        at("2026-12-01T10:00:00Z"),
    );
    assert_eq!(t.id, "rotation-e1");
    assert_eq!(t.priority, Priority::Normal);
    assert_eq!(
        t.subject,
        "Apply pending root password for account 111122223333"
    );
    assert_eq!(
        t.summary,
        "Rotation e1 vaulted a new root password as pending version 2 (current: version 1). To \
         apply it: check out with reason rotation-apply (shows current and pending), sign in as \
         root, change the password to the pending one. AWS's \"password changed\" mail \
         completes the rotation; or run `rootwarden rotation confirm --account 111122223333`. \
         It is abandoned after 168 hours."
    );
}

// --- await apply -----------------------------------------------------------------------------

#[test]
fn the_apply_deadline_is_the_timeout_from_now() {
    let now = at("2026-12-01T10:00:00Z");
    assert_eq!(
        apply_deadline(now, 3600).unwrap(),
        at("2026-12-01T11:00:00Z")
    );
    assert!(apply_deadline(now, 5 * 365 * 24 * 3600).unwrap() > now + Duration::days(365 * 4));
    for absurd in [u64::MAX, i64::MAX as u64] {
        assert_eq!(
            apply_deadline(now, absurd).unwrap_err().error_type,
            ErrorType::ValidationError
        );
    }
    assert_eq!(
        require_token("").unwrap_err().error_type,
        ErrorType::ValidationError
    );
    assert!(require_token("t").is_ok());
}

// --- finish ----------------------------------------------------------------------------------

#[test]
fn finish_needs_a_rotation_that_was_not_abandoned() {
    assert_eq!(
        may_finish(&id(), "e1", None).unwrap_err().error_type,
        ErrorType::NotFound
    );
    assert_eq!(
        may_finish(&id(), "e1", Some(record(RotationStage::Abandoned, None)))
            .unwrap_err()
            .error_type,
        ErrorType::Conflict
    );
    // Completed: a retried finish converges (the vault's promote is idempotent).
    for stage in [RotationStage::AwaitingApply, RotationStage::Completed] {
        assert_eq!(
            may_finish(&id(), "e1", Some(record(stage, None)))
                .unwrap()
                .stage,
            stage
        );
    }
}

#[test]
fn confirmations_name_their_source() {
    assert_eq!(
        confirmation_text(&json!({"actor": "arn:aws:iam::1:user/alice"})),
        "confirmed by operator arn:aws:iam::1:user/alice"
    );
    assert_eq!(
        confirmation_text(&json!({"ticket_id": "T1"})),
        "confirmed by AWS password-changed mail (ticket T1)"
    );
    assert_eq!(confirmation_text(&json!(null)), "confirmed");
    assert_eq!(
        confirmation_text(&operator_confirmation("alice")),
        "confirmed by operator alice"
    );
}

#[test]
fn the_next_rotation_is_due_after_the_accounts_max_age() {
    let now = at("2026-12-01T10:00:00Z");
    assert_eq!(next_due(now, Some(30)), at("2026-12-31T10:00:00Z"));
    assert_eq!(next_due(now, None), now + Duration::days(90));
    assert_eq!(
        finish_note("confirmed", 3),
        "Rotation completed (confirmed): version 3 is current."
    );
}

// --- abandon ---------------------------------------------------------------------------------

#[test]
fn a_completed_rotation_is_never_abandoned() {
    assert!(may_abandon("e1", None).is_ok());
    assert!(may_abandon("e1", Some(&record(RotationStage::AwaitingApply, None))).is_ok());
    assert!(may_abandon("e1", Some(&record(RotationStage::Abandoned, None))).is_ok());
    assert_eq!(
        may_abandon("e1", Some(&record(RotationStage::Completed, None)))
            .unwrap_err()
            .error_type,
        ErrorType::Conflict
    );
}

#[test]
fn abandon_reasons_come_from_the_state_machines_error() {
    assert_eq!(
        abandon_reason(&json!({"Error": REJECTED_ERROR, "Cause": "MFA lost"})),
        "rejected: MFA lost"
    );
    assert_eq!(
        abandon_reason(&rejection_error("MFA lost")),
        "rejected: MFA lost"
    );
    let long = "x".repeat(400);
    assert_eq!(
        abandon_reason(&json!({"Error": REJECTED_ERROR, "Cause": long})).len(),
        "rejected: ".len() + 300
    );
    let lambda_cause = json!({"errorType": "PendingDecisionRequired", "errorMessage": "decide"});
    assert_eq!(
        abandon_reason(
            &json!({"Error": "PendingDecisionRequired", "Cause": lambda_cause.to_string()})
        ),
        "decision required: decide"
    );
    assert_eq!(
        abandon_reason(&json!({"Error": "PendingDecisionRequired", "Cause": "raw"})),
        "decision required: raw"
    );
    assert_eq!(abandon_reason(&json!({})), "abandoned");
    assert_eq!(
        abandon_reason(&json!({"Error": "States.TaskFailed"})),
        "failed with States.TaskFailed"
    );
}

#[test]
fn the_abandon_ticket_is_escalated_with_what_was_discarded() {
    let now = at("2026-12-01T10:00:00Z");
    let t = abandon_ticket(&id(), "e1", now);
    assert_eq!((t.id.as_str(), t.priority), ("rotation-e1", Priority::High));
    let retry = now + RETRY_AFTER_ABANDON;
    let note = abandon_note("the apply step timed out", Some(2), Some(1), Some(retry));
    assert!(note
        .starts_with("Rotation abandoned: the apply step timed out. Pending version 2 discarded"));
    assert!(note.contains("current version 1 unchanged"));
    assert!(note.ends_with("Retry due 2026-12-02T10:00:00Z."), "{note}");
    let note = abandon_note("abandoned", Some(2), None, Some(retry));
    assert!(note.contains("current version - unchanged"), "{note}");
    let note = abandon_note("abandoned", None, None, Some(retry));
    assert!(note.contains("nothing was discarded"), "{note}");
}

// --- operator decisions ----------------------------------------------------------------------

#[test]
fn a_stopped_execution_makes_its_rotation_the_operators_to_decide() {
    let waiting = record(RotationStage::AwaitingApply, Some("token"));
    let d = Decidable::of(waiting.clone(), ExecutionState::Running).unwrap();
    assert_eq!(d, Decidable::Waiting(waiting.clone()));
    assert_eq!(d.execution_status(), "RUNNING");
    // Running but not at its apply step yet: nothing to decide.
    let early = record(RotationStage::AwaitingApply, None);
    assert_eq!(Decidable::of(early.clone(), ExecutionState::Running), None);
    // Not running, token or not: orphaned.
    for r in [waiting, early] {
        let d = Decidable::of(r.clone(), ExecutionState::Ended("ABORTED".into())).unwrap();
        assert_eq!(d.execution_status(), "ABORTED");
        assert_eq!(d.record(), &r);
    }
    let d = Decidable::of(
        record(RotationStage::AwaitingApply, None),
        ExecutionState::Missing,
    );
    assert_eq!(d.unwrap().execution_status(), "not found");
    assert_eq!(nothing_to_decide(&id()).error_type, ErrorType::NotFound);
    assert_eq!(
        awaiting_apply(&id(), &record(RotationStage::AwaitingApply, None)).error_type,
        ErrorType::Conflict
    );
}

#[test]
fn a_rejection_needs_a_reason_and_passes_on_a_bounded_cause() {
    assert_eq!(
        rejection("  ").unwrap_err().error_type,
        ErrorType::ValidationError
    );
    let (reason, cause) = rejection(" MFA lost ").unwrap();
    assert_eq!((reason, cause.as_str()), ("MFA lost", "MFA lost"));
    let long = "é".repeat(300);
    let (_, cause) = rejection(&long).unwrap();
    assert_eq!(cause.chars().count(), MAX_REJECT_CAUSE_CHARS);
}

#[test]
fn decisions_are_audited_with_the_execution_status() {
    let d = Decidable::Orphaned(
        record(RotationStage::AwaitingApply, None),
        ExecutionState::Ended("FAILED".into()),
    );
    let e = decision_entry("alice", &id(), "rotation.rejected", &d, "not applied");
    assert_eq!(e.action, "rotation.rejected");
    assert_eq!(e.target, "e1");
    assert_eq!(e.correlation_id, "e1");
    assert_eq!(e.reason, "not applied");
    assert_eq!(e.details["pending_version"], json!(2));
    assert_eq!(e.details["execution_status"], json!("FAILED"));
}

#[test]
fn the_task_token_never_serializes() {
    let v =
        serde_json::to_value(record(RotationStage::AwaitingApply, Some("secret-token"))).unwrap();
    assert!(v.get("task_token").is_none());
    assert_eq!(v["stage"], json!("awaiting-apply"));
}
