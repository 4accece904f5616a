//! The vault's DynamoDB items: keys, and the head and version items to and from the core's
//! `Head` and `VersionInfo` (layout in `rootwarden_core::vault::credentials`).

use aws_sdk_dynamodb::types::AttributeValue;
use rootwarden_core::vault::credentials::{CredentialKind, Head, Stage, VaultError, VersionInfo};
use rootwarden_core::vault::stages::NewVersion;
use std::collections::HashMap;

use crate::AccountId;

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub(super) fn n(v: u32) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn partition(account: &AccountId, kind: CredentialKind) -> String {
    format!("cred#{account}#{}", kind.as_str())
}

pub fn version_key(version: u32) -> String {
    format!("v#{version:010}")
}

pub(super) const HEAD_KEY: &str = "head";

fn num(item: &Item, k: &str) -> Option<u32> {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}
fn text(item: &Item, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}

pub(super) fn head_from(item: &Item) -> Result<Head, VaultError> {
    Ok(Head {
        // Absent while no version is current yet (a takeover's first password is pending).
        current: num(item, "current"),
        current_execution: text(item, "current_execution"),
        current_since: text(item, "current_since").unwrap_or_default(),
        previous: num(item, "previous"),
        pending: num(item, "pending"),
        pending_execution: text(item, "pending_execution"),
        next_version: num(item, "next_version")
            .ok_or_else(|| VaultError::Corrupt("head has no next_version".into()))?,
    })
}

pub(super) fn version_from(item: &Item) -> Result<VersionInfo, VaultError> {
    Ok(VersionInfo {
        version: num(item, "version")
            .ok_or_else(|| VaultError::Corrupt("version missing".into()))?,
        stage: text(item, "stage")
            .and_then(|st| Stage::parse(&st))
            .ok_or_else(|| VaultError::Corrupt("stage missing".into()))?,
        created_at: text(item, "created_at").unwrap_or_default(),
        stage_changed_at: text(item, "stage_changed_at").unwrap_or_default(),
        execution: text(item, "execution"),
    })
}

/// The head's attributes (without keys or `updated_at`), each `None` when absent. The order is
/// the order an update names them in.
pub(super) fn head_fields(head: &Head) -> [(&'static str, Option<AttributeValue>); 7] {
    [
        ("current", head.current.map(n)),
        (
            "current_execution",
            head.current_execution.as_deref().map(s),
        ),
        (
            "current_since",
            head.current.map(|_| s(&head.current_since)),
        ),
        ("previous", head.previous.map(n)),
        ("pending", head.pending.map(n)),
        (
            "pending_execution",
            head.pending_execution.as_deref().map(s),
        ),
        ("next_version", Some(n(head.next_version))),
    ]
}

/// A whole head item (a first head).
pub(super) fn head_item(pk: &str, head: &Head, now: &str) -> Item {
    let mut item: Item = head_fields(head)
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect();
    item.insert("pk".into(), s(pk));
    item.insert("sk".into(), s(HEAD_KEY));
    item.insert("updated_at".into(), s(now));
    item
}

/// The ciphertext of a version item, if it has one.
pub(super) fn ciphertext(item: &Item) -> Result<&aws_sdk_dynamodb::primitives::Blob, VaultError> {
    match item.get("ciphertext") {
        Some(AttributeValue::B(blob)) => Ok(blob),
        _ => Err(VaultError::Corrupt("ciphertext missing".into())),
    }
}

/// A new version item holding `ciphertext`.
pub(super) fn version_item(
    pk: &str,
    new: &NewVersion,
    ciphertext: aws_sdk_dynamodb::primitives::Blob,
    now: &str,
) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(pk)),
        ("sk".to_owned(), s(version_key(new.version))),
        ("version".to_owned(), n(new.version)),
        ("stage".to_owned(), s(new.stage.as_str())),
        ("ciphertext".to_owned(), AttributeValue::B(ciphertext)),
        ("created_at".to_owned(), s(now)),
        ("stage_changed_at".to_owned(), s(now)),
        ("execution".to_owned(), s(&new.execution)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> Head {
        Head {
            current: Some(2),
            current_execution: Some("exec-2".into()),
            current_since: "2024-01-01T00:00:00Z".into(),
            previous: Some(1),
            pending: Some(3),
            pending_execution: Some("exec-3".into()),
            next_version: 4,
        }
    }

    #[test]
    fn keys_sort_by_version() {
        assert!(version_key(9) < version_key(10));
        assert_eq!(version_key(3), "v#0000000003");
    }

    #[test]
    fn a_head_item_reads_back_as_the_same_head() {
        let item = head_item("cred#1#root-password", &head(), "now");
        assert_eq!(head_from(&item), Ok(head()));
        assert_eq!(item["sk"], s("head"));
    }

    #[test]
    fn a_first_head_item_has_no_pointers_it_does_not_need() {
        let first = Head {
            previous: None,
            pending: None,
            pending_execution: None,
            ..head()
        };
        let item = head_item("pk", &first, "now");
        for absent in ["previous", "pending", "pending_execution"] {
            assert!(!item.contains_key(absent), "{absent}");
        }
    }
}
