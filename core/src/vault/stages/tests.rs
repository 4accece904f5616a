use super::*;

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

/// A head with `current` v2 (made by `exec-2`), `previous` v1, no pending, next v3.
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

/// `settled()` with v3 pending for `execution`.
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

// --- initial ---

#[test]
fn initial_vaults_version_one_as_current_only_where_nothing_is_vaulted() {
    let plan = Head::initial("onboard-1", T0);
    assert_eq!(plan.version, 1);
    assert_eq!(plan.conditions, vec![HeadCondition::Absent]);
    assert_eq!(
        plan.create,
        Some(NewVersion {
            version: 1,
            stage: Stage::Current,
            execution: "onboard-1".into()
        })
    );
    assert!(plan.moves.is_empty());
    assert_eq!(
        plan.head,
        Head {
            current: Some(1),
            current_execution: Some("onboard-1".into()),
            current_since: T0.into(),
            previous: None,
            pending: None,
            pending_execution: None,
            next_version: 2,
        }
    );
}

// --- stage_pending ---

#[test]
fn staging_takes_the_next_version_and_conditions_on_the_head_it_read() {
    let a = account();
    let plan = write(settled().stage_pending(&subject(&a), "exec-3").unwrap());
    assert_eq!(plan.version, 3);
    assert_eq!(
        plan.create,
        Some(NewVersion {
            version: 3,
            stage: Stage::Pending,
            execution: "exec-3".into()
        })
    );
    assert!(plan.moves.is_empty(), "no existing version changes stage");
    assert_eq!(plan.head, pending_for("exec-3"));
    assert_eq!(
        plan.conditions,
        vec![
            HeadCondition::NoPending,
            HeadCondition::NextVersion(3),
            HeadCondition::Current(2),
        ]
    );
}

#[test]
fn staging_again_for_the_same_execution_returns_its_version_without_writing() {
    let a = account();
    let d = pending_for("exec-3")
        .stage_pending(&subject(&a), "exec-3")
        .unwrap();
    assert_eq!(d, Decision::Already(3));
}

#[test]
fn staging_while_another_rotation_is_pending_is_a_conflict() {
    let a = account();
    let e = pending_for("exec-3")
        .stage_pending(&subject(&a), "exec-4")
        .unwrap_err();
    assert!(matches!(e, VaultError::Conflict(_)), "{e:?}");
    assert!(e.to_string().contains("another rotation"));
}

#[test]
fn staging_for_an_execution_that_already_completed_is_a_conflict() {
    let a = account();
    let e = settled().stage_pending(&subject(&a), "exec-2").unwrap_err();
    assert!(matches!(e, VaultError::Conflict(_)), "{e:?}");
    assert!(e.to_string().contains("already completed"));
}

#[test]
fn staging_needs_an_execution() {
    let a = account();
    assert!(matches!(
        settled().stage_pending(&subject(&a), ""),
        Err(VaultError::Invalid(_))
    ));
    assert!(matches!(check_execution(""), Err(VaultError::Invalid(_))));
    assert!(check_execution("exec").is_ok());
}

// --- promote ---

#[test]
fn promote_moves_pending_to_current_current_to_previous_and_previous_to_retired() {
    let a = account();
    let plan = write(
        pending_for("exec-3")
            .promote(&subject(&a), "exec-3", T1)
            .unwrap(),
    );
    assert_eq!(plan.version, 3);
    assert_eq!(
        plan.moves,
        vec![
            mv(3, Stage::Pending, Stage::Current),
            mv(2, Stage::Current, Stage::Previous),
            mv(1, Stage::Previous, Stage::Retired),
        ]
    );
    assert_eq!(
        plan.conditions,
        vec![
            HeadCondition::Pending {
                version: 3,
                execution: "exec-3".into()
            },
            HeadCondition::Current(2),
            HeadCondition::Previous(1),
        ]
    );
    assert_eq!(plan.create, None);
    assert_eq!(
        plan.head,
        Head {
            current: Some(3),
            current_execution: Some("exec-3".into()),
            current_since: T1.into(),
            previous: Some(2),
            pending: None,
            pending_execution: None,
            next_version: 4,
        }
    );
}

#[test]
fn the_first_promote_retires_nothing_and_does_not_condition_on_previous() {
    let a = account();
    let first = Head::initial("onboard", T0).head;
    let staged = write(first.stage_pending(&subject(&a), "exec-2").unwrap()).head;
    let plan = write(staged.promote(&subject(&a), "exec-2", T1).unwrap());
    assert_eq!(
        plan.moves,
        vec![
            mv(2, Stage::Pending, Stage::Current),
            mv(1, Stage::Current, Stage::Previous),
        ]
    );
    assert!(!plan
        .conditions
        .iter()
        .any(|c| matches!(c, HeadCondition::Previous(_))));
    assert_eq!(plan.head.previous, Some(1));
    assert_eq!(plan.head.current, Some(2));
}

#[test]
fn promoting_twice_returns_the_current_version_without_writing() {
    let a = account();
    let promoted = write(
        pending_for("exec-3")
            .promote(&subject(&a), "exec-3", T1)
            .unwrap(),
    )
    .head;
    assert_eq!(
        promoted.promote(&subject(&a), "exec-3", T1).unwrap(),
        Decision::Already(3)
    );
}

#[test]
fn promote_of_another_rotations_pending_version_is_a_conflict() {
    let a = account();
    let e = pending_for("exec-3")
        .promote(&subject(&a), "exec-4", T1)
        .unwrap_err();
    assert!(matches!(e, VaultError::Conflict(_)), "{e:?}");
}

#[test]
fn promote_without_a_pending_version_is_not_found() {
    let a = account();
    let e = settled().promote(&subject(&a), "exec-3", T1).unwrap_err();
    assert!(matches!(e, VaultError::NotFound(_)), "{e:?}");
}

#[test]
fn promote_of_a_stale_execution_whose_version_was_superseded_is_refused() {
    let a = account();
    // exec-1 made v1 current once; v2 (exec-2) superseded it. No pending: nothing to promote.
    let e = settled().promote(&subject(&a), "exec-1", T1).unwrap_err();
    assert!(matches!(e, VaultError::NotFound(_)), "{e:?}");
    // With another rotation pending, the stale execution must not take it over.
    let e = pending_for("exec-3")
        .promote(&subject(&a), "exec-1", T1)
        .unwrap_err();
    assert!(matches!(e, VaultError::Conflict(_)), "{e:?}");
}

#[test]
fn a_discarded_pending_version_cannot_be_promoted() {
    let a = account();
    let discarded = write(pending_for("exec-3").discard_pending("exec-3")).head;
    let e = discarded.promote(&subject(&a), "exec-3", T1).unwrap_err();
    assert!(matches!(e, VaultError::NotFound(_)), "{e:?}");
}

// --- discard_pending ---

#[test]
fn discard_moves_pending_to_discarded_and_leaves_current_alone() {
    let plan = write(pending_for("exec-3").discard_pending("exec-3"));
    assert_eq!(plan.version, 3);
    assert_eq!(plan.moves, vec![mv(3, Stage::Pending, Stage::Discarded)]);
    assert_eq!(
        plan.conditions,
        vec![HeadCondition::Pending {
            version: 3,
            execution: "exec-3".into()
        }]
    );
    assert_eq!(plan.create, None);
    // Current, previous and the version counter stay: v3 is never reused.
    assert_eq!(
        plan.head,
        Head {
            next_version: 4,
            ..settled()
        }
    );
}

#[test]
fn discard_without_a_pending_version_of_that_execution_writes_nothing() {
    assert_eq!(settled().discard_pending("exec-3"), Decision::Already(None));
    // Another rotation's pending version is left alone.
    assert_eq!(
        pending_for("exec-4").discard_pending("exec-3"),
        Decision::Already(None)
    );
    // Discarding twice: the second is a no-op.
    let once = write(pending_for("exec-3").discard_pending("exec-3")).head;
    assert_eq!(once.discard_pending("exec-3"), Decision::Already(None));
}

#[test]
fn after_a_discard_the_next_rotation_stages_a_fresh_version() {
    let a = account();
    let discarded = write(pending_for("exec-3").discard_pending("exec-3")).head;
    let plan = write(discarded.stage_pending(&subject(&a), "exec-4").unwrap());
    assert_eq!(plan.version, 4, "the discarded number is not reused");
}

// --- a whole life ---

#[test]
fn two_rotations_walk_every_version_through_its_stages() {
    let a = account();
    let s = subject(&a);
    let v1 = Head::initial("onboard", T0).head;
    let staged2 = write(v1.stage_pending(&s, "r2").unwrap()).head;
    let v2 = write(staged2.promote(&s, "r2", T1).unwrap()).head;
    let staged3 = write(v2.stage_pending(&s, "r3").unwrap()).head;
    let plan = write(staged3.promote(&s, "r3", T1).unwrap());
    assert_eq!(
        (plan.head.current, plan.head.previous, plan.head.pending),
        (Some(3), Some(2), None)
    );
    assert_eq!(
        plan.moves.last(),
        Some(&mv(1, Stage::Previous, Stage::Retired))
    );
    // The completed rotation cannot stage again.
    assert!(matches!(
        plan.head.stage_pending(&s, "r3"),
        Err(VaultError::Conflict(_))
    ));
}

// --- losing a race ---

#[test]
fn a_lost_stage_race_stands_only_if_the_winner_was_the_same_execution() {
    let a = account();
    let s = subject(&a);
    assert_eq!(
        pending_for("exec-3").after_lost_stage_pending(&s, "exec-3"),
        Ok(3)
    );
    assert!(matches!(
        pending_for("exec-4").after_lost_stage_pending(&s, "exec-3"),
        Err(VaultError::Conflict(_))
    ));
    assert!(matches!(
        settled().after_lost_stage_pending(&s, "exec-3"),
        Err(VaultError::Conflict(_))
    ));
}

#[test]
fn a_lost_promote_race_is_done_if_the_execution_became_current() {
    let a = account();
    let s = subject(&a);
    let promoted = write(pending_for("exec-3").promote(&s, "exec-3", T1).unwrap()).head;
    assert_eq!(promoted.after_lost_promote(&s, "exec-3"), Ok(3));
    assert!(matches!(
        pending_for("exec-3").after_lost_promote(&s, "exec-3"),
        Err(VaultError::Conflict(_))
    ));
}

#[test]
fn a_lost_discard_race_is_done_unless_the_execution_still_has_a_pending_version() {
    let a = account();
    let s = subject(&a);
    assert_eq!(settled().after_lost_discard(&s, "exec-3"), Ok(None));
    assert!(matches!(
        pending_for("exec-3").after_lost_discard(&s, "exec-3"),
        Err(VaultError::Conflict(_))
    ));
}

#[test]
fn every_plan_moves_versions_out_of_the_stage_the_head_says_they_are_in() {
    let a = account();
    let s = subject(&a);
    let before = pending_for("exec-3");
    let plans = [
        write(before.promote(&s, "exec-3", T1).unwrap()),
        write(before.discard_pending("exec-3")),
    ];
    for plan in plans {
        for m in plan.moves {
            let said = if Some(m.version) == before.pending {
                Stage::Pending
            } else if Some(m.version) == before.current {
                Stage::Current
            } else if Some(m.version) == before.previous {
                Stage::Previous
            } else {
                panic!("move of a version the head does not point at: {m:?}")
            };
            assert_eq!(m.from, said, "{m:?}");
        }
    }
}
