//! The stage machine's first versions: a takeover's first password (pending with no current)
//! and an operator's MFA seed (current at once, [`Head::replace_current`]).

use super::*;
use crate::vault::credentials::Stage;

const T0: &str = "2024-01-01T00:00:00Z";
const T1: &str = "2024-02-01T00:00:00Z";

fn account() -> AccountId {
    AccountId::parse("111122223333").expect("valid account id")
}

fn subject(account: &AccountId) -> Subject<'_> {
    Subject {
        account,
        kind: CredentialKind::RootPassword,
    }
}

/// `current` v2 (made by `exec-2`), `previous` v1, no pending, next v3.
fn settled() -> Head {
    Head {
        current: Some(2),
        current_execution: Some("exec-2".into()),
        current_since: T0.into(),
        previous: Some(1),
        pending: None,
        pending_execution: None,
        next_version: 3,
    }
}

fn pending_for(execution: &str) -> Head {
    Head {
        pending: Some(3),
        pending_execution: Some(execution.into()),
        next_version: 4,
        ..settled()
    }
}

fn write<T: std::fmt::Debug>(d: Decision<T>) -> Plan {
    match d {
        Decision::Write(plan) => plan,
        Decision::Already(t) => panic!("expected a plan, got Already({t:?})"),
    }
}

fn mv(version: u32, from: Stage, to: Stage) -> StageMove {
    StageMove { version, from, to }
}

// --- a takeover's first password: pending with no current ---

#[test]
fn a_first_pending_version_is_staged_only_where_nothing_is_vaulted() {
    let plan = Head::first_pending("takeover-1").unwrap();
    assert_eq!(plan.version, 1);
    assert_eq!(plan.conditions, vec![HeadCondition::Absent]);
    assert_eq!(
        plan.create,
        Some(NewVersion {
            version: 1,
            stage: Stage::Pending,
            execution: "takeover-1".into()
        })
    );
    assert!(plan.moves.is_empty());
    assert_eq!(
        (plan.head.current, plan.head.pending, plan.head.next_version),
        (None, Some(1), 2)
    );
    assert!(matches!(
        Head::first_pending(""),
        Err(VaultError::Invalid(_))
    ));
}

#[test]
fn promote_with_no_current_moves_only_pending_and_conditions_on_no_current() {
    let a = account();
    let s = subject(&a);
    let staged = Head::first_pending("takeover-1").unwrap().head;
    // A retry of the same execution stages nothing new; another execution conflicts.
    assert_eq!(
        staged.stage_pending(&s, "takeover-1").unwrap(),
        Decision::Already(1)
    );
    assert!(matches!(
        staged.stage_pending(&s, "other"),
        Err(VaultError::Conflict(_))
    ));
    let plan = write(staged.promote(&s, "takeover-1", T1).unwrap());
    assert_eq!(plan.moves, vec![mv(1, Stage::Pending, Stage::Current)]);
    assert_eq!(
        plan.conditions,
        vec![
            HeadCondition::Pending {
                version: 1,
                execution: "takeover-1".into()
            },
            HeadCondition::NoCurrent,
        ]
    );
    assert_eq!(
        plan.head,
        Head {
            current: Some(1),
            current_execution: Some("takeover-1".into()),
            current_since: T1.into(),
            previous: None,
            pending: None,
            pending_execution: None,
            next_version: 2,
        }
    );
    // Promoting again is the answer, not a write; a lost race is won by the same execution.
    assert_eq!(
        plan.head.promote(&s, "takeover-1", T1).unwrap(),
        Decision::Already(1)
    );
    assert_eq!(plan.head.after_lost_promote(&s, "takeover-1"), Ok(1));
    assert!(matches!(
        staged.after_lost_promote(&s, "takeover-1"),
        Err(VaultError::Conflict(_))
    ));
    // The next rotation is an ordinary one.
    let next = write(plan.head.stage_pending(&s, "r2").unwrap());
    assert!(next.conditions.contains(&HeadCondition::Current(1)));
}

#[test]
fn a_discarded_first_pending_leaves_no_current_and_a_fresh_number_next() {
    let a = account();
    let s = subject(&a);
    let staged = Head::first_pending("takeover-1").unwrap().head;
    let plan = write(staged.discard_pending("takeover-1"));
    assert_eq!(plan.moves, vec![mv(1, Stage::Pending, Stage::Discarded)]);
    assert_eq!((plan.head.current, plan.head.pending), (None, None));
    let again = write(plan.head.stage_pending(&s, "takeover-2").unwrap());
    assert_eq!(again.version, 2, "the discarded number is not reused");
    assert!(again.conditions.contains(&HeadCondition::NoCurrent));
    assert!(matches!(
        plan.head.promote(&s, "takeover-1", T1),
        Err(VaultError::NotFound(_))
    ));
}

// --- replace_current (an operator's MFA seed) ---

#[test]
fn replace_current_vaults_the_first_version_or_moves_the_old_one_to_previous() {
    let a = account();
    let s = Subject {
        account: &a,
        kind: CredentialKind::MfaSeed,
    };
    let first = Head::replace_current(None, &s, "mfa-1", T0).unwrap();
    assert_eq!(first, Head::initial("mfa-1", T0));
    let plan = Head::replace_current(Some(&settled()), &s, "mfa-3", T1).unwrap();
    assert_eq!(plan.version, 3);
    assert_eq!(
        plan.create,
        Some(NewVersion {
            version: 3,
            stage: Stage::Current,
            execution: "mfa-3".into()
        })
    );
    assert_eq!(
        plan.moves,
        vec![
            mv(2, Stage::Current, Stage::Previous),
            mv(1, Stage::Previous, Stage::Retired)
        ]
    );
    assert_eq!(
        plan.conditions,
        vec![
            HeadCondition::NoPending,
            HeadCondition::NextVersion(3),
            HeadCondition::Current(2),
            HeadCondition::Previous(1),
        ]
    );
    assert_eq!(
        (
            plan.head.current,
            plan.head.previous,
            plan.head.next_version
        ),
        (Some(3), Some(2), 4)
    );
    assert!(matches!(
        Head::replace_current(Some(&pending_for("r")), &s, "mfa-4", T1),
        Err(VaultError::Conflict(_))
    ));
    assert!(matches!(
        Head::replace_current(None, &s, "", T1),
        Err(VaultError::Invalid(_))
    ));
}
