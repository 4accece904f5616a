//! The plans of the core's stage machine as DynamoDB writes: the conditions that resolve
//! concurrent writers are all there.

use super::*;
use rootwarden_core::vault::stages::{Decision, Subject};
use rootwarden_core::vault::{CredentialKind, Stage};

use crate::AccountId;

const NOW: &str = "2024-02-01T00:00:00Z";

fn settled() -> Head {
    Head {
        current: Some(2),
        current_execution: Some("exec-2".into()),
        current_since: "2024-01-01T00:00:00Z".into(),
        previous: Some(1),
        pending: None,
        pending_execution: None,
        next_version: 3,
    }
}

fn pending() -> Head {
    Head {
        pending: Some(3),
        pending_execution: Some("exec-3".into()),
        next_version: 4,
        ..settled()
    }
}

fn plan(d: Result<Decision<u32>, VaultError>) -> Plan {
    match d {
        Ok(Decision::Write(p)) => p,
        other => panic!("expected a plan, got {other:?}"),
    }
}

fn with_subject<T>(f: impl FnOnce(&Subject<'_>) -> T) -> T {
    let a = AccountId::parse("111122223333").unwrap();
    f(&Subject {
        account: &a,
        kind: CredentialKind::RootPassword,
    })
}

fn blob() -> Blob {
    Blob::new(b"ciphertext".to_vec())
}

fn update(item: &TransactWriteItem) -> &Update {
    item.update().expect("an update")
}

fn value(u: &Update, placeholder: &str) -> AttributeValue {
    u.expression_attribute_values().unwrap()[placeholder].clone()
}

fn name(u: &Update, alias: &str) -> String {
    u.expression_attribute_names().unwrap()[alias].clone()
}

fn assert_move(item: &TransactWriteItem, version: u32, from: Stage, to: Stage) {
    let u = update(item);
    assert_eq!(u.key()["sk"], s(version_key(version)));
    assert_eq!(u.condition_expression(), Some("stage = :from"));
    assert_eq!(value(u, ":from"), s(from.as_str()));
    assert_eq!(value(u, ":to"), s(to.as_str()));
}

#[test]
fn staging_writes_the_pending_pointer_only_if_no_writer_moved_first() {
    let before = settled();
    let p = with_subject(|sub| plan(before.stage_pending(sub, "exec-3")));
    let items = plan_items("vault", "pk", Some(&before), &p, Some(blob()), NOW).unwrap();
    assert_eq!(items.len(), 2);
    let head = update(&items[0]);
    assert_eq!(
        head.update_expression(),
        "SET updated_at = :now, #pending = :pending, #pending_execution = :pending_execution, \
         #next_version = :next_version"
    );
    assert_eq!(
        head.condition_expression(),
        Some(
            "attribute_not_exists(#pending) AND #next_version = :if_next_version \
             AND #current = :if_current"
        )
    );
    assert_eq!(name(head, "#current"), "current");
    assert_eq!(value(head, ":if_next_version"), n(3));
    assert_eq!(value(head, ":if_current"), n(2));
    assert_eq!(value(head, ":next_version"), n(4));
    let put = items[1].put().expect("a put");
    assert_eq!(put.condition_expression(), Some("attribute_not_exists(pk)"));
    assert_eq!(put.item()["sk"], s(version_key(3)));
    assert_eq!(put.item()["stage"], s("pending"));
    assert_eq!(put.item()["ciphertext"], AttributeValue::B(blob()));
}

#[test]
fn promote_conditions_on_pending_current_and_previous_and_moves_each_version() {
    let before = pending();
    let p = with_subject(|sub| plan(before.promote(sub, "exec-3", NOW)));
    let items = plan_items("vault", "pk", Some(&before), &p, None, NOW).unwrap();
    assert_eq!(items.len(), 4);
    let head = update(&items[0]);
    assert_eq!(
        head.update_expression(),
        "SET updated_at = :now, #current = :current, #current_execution = :current_execution, \
         #current_since = :current_since, #previous = :previous \
         REMOVE #pending, #pending_execution"
    );
    assert_eq!(
        head.condition_expression(),
        Some(
            "#pending = :if_pending AND #pending_execution = :if_pending_execution \
             AND #current = :if_current AND #previous = :if_previous"
        )
    );
    assert_eq!(value(head, ":if_pending_execution"), s("exec-3"));
    assert_eq!(value(head, ":if_previous"), n(1));
    assert_eq!(value(head, ":current"), n(3));
    assert_eq!(value(head, ":previous"), n(2));
    assert_move(&items[1], 3, Stage::Pending, Stage::Current);
    assert_move(&items[2], 2, Stage::Current, Stage::Previous);
    assert_move(&items[3], 1, Stage::Previous, Stage::Retired);
}

#[test]
fn discard_removes_the_pending_pointer_only_if_it_is_still_that_executions() {
    let before = pending();
    let p = match before.discard_pending("exec-3") {
        Decision::Write(p) => p,
        other => panic!("{other:?}"),
    };
    let items = plan_items("vault", "pk", Some(&before), &p, None, NOW).unwrap();
    assert_eq!(items.len(), 2);
    let head = update(&items[0]);
    assert_eq!(
        head.update_expression(),
        "SET updated_at = :now REMOVE #pending, #pending_execution"
    );
    assert_eq!(
        head.condition_expression(),
        Some("#pending = :if_pending AND #pending_execution = :if_pending_execution")
    );
    assert_move(&items[1], 3, Stage::Pending, Stage::Discarded);
}

#[test]
fn the_first_version_is_put_only_where_nothing_is_vaulted() {
    let p = Head::initial("onboard", NOW);
    let items = plan_items("vault", "pk", None, &p, Some(blob()), NOW).unwrap();
    assert_eq!(items.len(), 2);
    for item in &items {
        let put = item.put().expect("a put");
        assert_eq!(put.condition_expression(), Some("attribute_not_exists(pk)"));
    }
    let head = items[0].put().unwrap().item();
    assert_eq!(head["sk"], s("head"));
    assert_eq!(head["current"], n(1));
    assert_eq!(head["next_version"], n(2));
    let version = items[1].put().unwrap().item();
    assert_eq!(version["stage"], s("current"));
}

#[test]
fn a_new_version_needs_exactly_its_ciphertext() {
    let before = settled();
    let p = with_subject(|sub| plan(before.stage_pending(sub, "exec-3")));
    assert!(plan_items("vault", "pk", Some(&before), &p, None, NOW).is_err());
    let promote = with_subject(|sub| plan(pending().promote(sub, "exec-3", NOW)));
    assert!(plan_items("vault", "pk", Some(&pending()), &promote, Some(blob()), NOW).is_err());
}

#[test]
fn a_takeovers_first_pending_is_put_with_no_current_and_promoted_on_no_current() {
    let p = Head::first_pending("takeover-1").unwrap();
    let items = plan_items("vault", "pk", None, &p, Some(blob()), NOW).unwrap();
    let head = items[0].put().expect("a put").item();
    assert_eq!(
        items[0].put().unwrap().condition_expression(),
        Some("attribute_not_exists(pk)")
    );
    for absent in ["current", "current_since", "current_execution", "previous"] {
        assert!(!head.contains_key(absent), "{absent}");
    }
    assert_eq!(head["pending"], n(1));
    assert_eq!(items[1].put().unwrap().item()["stage"], s("pending"));
    let staged = p.head;
    let promote = with_subject(|sub| plan(staged.promote(sub, "takeover-1", NOW)));
    let items = plan_items("vault", "pk", Some(&staged), &promote, None, NOW).unwrap();
    let update = update(&items[0]);
    assert!(update
        .condition_expression()
        .unwrap()
        .contains("attribute_not_exists(#current)"));
    assert!(update.update_expression().contains("#current = :current"));
    assert_eq!(items.len(), 2, "one head update and one stage move");
}
