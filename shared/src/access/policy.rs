//! The break-glass access policy: who may request, approve and administer access, for which
//! reasons, for how long, and how many approvals it takes. Read from `ROOTWARDEN_ACCESS_POLICY`
//! (JSON) and validated at start-up; everyone the policy does not name is denied.
//!
//! ```json
//! {
//!   "principals": [
//!     {"arn": "arn:aws:iam::111122223333:role/RootWardenOperators", "roles": ["requester"]},
//!     {"arn": "arn:aws:iam::111122223333:role/SecurityLead*", "roles": ["approver", "admin"]}
//!   ],
//!   "approvals_required": 1,
//!   "approval_ttl_minutes": 60,
//!   "ticket_pattern": "^(CHG|INC)-[0-9]+$",
//!   "reasons": {"security-incident": {"max_minutes": 120, "self_service": true}}
//! }
//! ```
//!
//! `reasons` entries override the defaults ([`default_reasons`]); a reason set to `null` is
//! removed. ARN patterns may use `*` (any run of characters). An STS assumed-role ARN
//! (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`) also matches patterns written for its
//! role (`arn:aws:iam::<acct>:role/<role>`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Requester,
    Approver,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonRule {
    /// Longest check-out for this reason.
    pub max_minutes: u32,
    /// Approved on request (no second person), with a mandatory after-the-fact review ticket.
    #[serde(default)]
    pub self_service: bool,
}

/// The situations that really need root, with their longest check-out.
pub fn default_reasons() -> BTreeMap<String, ReasonRule> {
    [
        ("billing-issue", 60),
        ("root-only-task", 60),
        ("account-recovery", 120),
        ("release", 240),
        ("security-incident", 120),
        ("rotation-apply", 60),
    ]
    .into_iter()
    .map(|(r, m)| {
        (
            r.to_owned(),
            ReasonRule {
                max_minutes: m,
                self_service: false,
            },
        )
    })
    .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalDoc {
    arn: String,
    roles: Vec<Role>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDoc {
    principals: Vec<PrincipalDoc>,
    #[serde(default)]
    approvals_required: Option<u32>,
    #[serde(default)]
    approval_ttl_minutes: Option<u32>,
    #[serde(default)]
    ticket_pattern: Option<String>,
    #[serde(default)]
    reasons: BTreeMap<String, Option<ReasonRule>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid access policy: {0}")]
pub struct PolicyError(pub String);

#[derive(Debug, Clone)]
pub struct AccessPolicy {
    principals: Vec<(String, BTreeSet<Role>)>,
    pub approvals_required: u32,
    pub approval_ttl_minutes: u32,
    ticket_pattern: Option<regex::Regex>,
    pub reasons: BTreeMap<String, ReasonRule>,
}

impl AccessPolicy {
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let doc: PolicyDoc = serde_json::from_str(text).map_err(|e| PolicyError(format!("{e}")))?;
        let mut principals = Vec::new();
        for p in doc.principals {
            let arn = p.arn.trim().to_owned();
            if !arn.starts_with("arn:") {
                return Err(PolicyError(format!(
                    "principal {arn:?} is not an ARN or ARN pattern"
                )));
            }
            if arn.trim_matches('*').is_empty() || arn == "arn:*" {
                return Err(PolicyError(
                    "a principal pattern must not match everyone".into(),
                ));
            }
            if p.roles.is_empty() {
                return Err(PolicyError(format!("principal {arn} has no roles")));
            }
            principals.push((arn, p.roles.into_iter().collect()));
        }
        let approvals_required = doc.approvals_required.unwrap_or(1);
        if !(1..=5).contains(&approvals_required) {
            return Err(PolicyError("approvals_required must be from 1 to 5".into()));
        }
        let approval_ttl_minutes = doc.approval_ttl_minutes.unwrap_or(60);
        if !(1..=7 * 24 * 60).contains(&approval_ttl_minutes) {
            return Err(PolicyError(
                "approval_ttl_minutes must be from 1 to 10080".into(),
            ));
        }
        let ticket_pattern = doc
            .ticket_pattern
            .map(|p| regex::Regex::new(&p).map_err(|e| PolicyError(format!("ticket_pattern: {e}"))))
            .transpose()?;
        let mut reasons = default_reasons();
        for (name, rule) in doc.reasons {
            match rule {
                None => {
                    reasons.remove(&name);
                }
                Some(r) => {
                    if !(1..=24 * 60).contains(&r.max_minutes) {
                        return Err(PolicyError(format!(
                            "reason {name}: max_minutes must be from 1 to 1440"
                        )));
                    }
                    if !name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    {
                        return Err(PolicyError(format!(
                            "reason {name:?}: use lower-case letters, digits and '-'"
                        )));
                    }
                    reasons.insert(name, r);
                }
            }
        }
        Ok(Self {
            principals,
            approvals_required,
            approval_ttl_minutes,
            ticket_pattern,
            reasons,
        })
    }

    /// The roles the policy gives `arn` (empty: not authorized at all).
    pub fn roles_of(&self, arn: &str) -> BTreeSet<Role> {
        let role_arn = assumed_role_as_role(arn);
        let mut roles = BTreeSet::new();
        for (pattern, r) in &self.principals {
            if glob(pattern, arn) || role_arn.as_deref().is_some_and(|a| glob(pattern, a)) {
                roles.extend(r.iter().copied());
            }
        }
        roles
    }

    pub fn has(&self, arn: &str, role: Role) -> bool {
        self.roles_of(arn).contains(&role)
    }

    pub fn reason(&self, name: &str) -> Option<&ReasonRule> {
        self.reasons.get(name)
    }

    /// Whether `ticket` matches the configured external ticket pattern.
    pub fn external_ticket(&self, ticket: &str) -> bool {
        self.ticket_pattern
            .as_ref()
            .is_some_and(|p| p.is_match(ticket))
    }
}

/// `arn:aws:sts::<acct>:assumed-role/<role>/<session>` → `arn:aws:iam::<acct>:role/<role>`.
pub fn assumed_role_as_role(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("sts::")?;
    let (account, resource) = rest.split_once(':')?;
    let resource = resource.strip_prefix("assumed-role/")?;
    let (role, _session) = resource.rsplit_once('/')?;
    Some(format!("arn:{partition}:iam::{account}:role/{role}"))
}

/// `*` matches any run of characters (including none); everything else literally.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{
        "principals": [
            {"arn": "arn:aws:iam::123456789012:user/alice", "roles": ["requester"]},
            {"arn": "arn:aws:iam::123456789012:role/Approvers*", "roles": ["approver"]},
            {"arn": "arn:aws:iam::123456789012:user/root-admin-*", "roles": ["admin", "approver"]}
        ],
        "ticket_pattern": "^INC-[0-9]+$",
        "reasons": {"security-incident": {"max_minutes": 30, "self_service": true},
                    "release": null}
    }"#;

    #[test]
    fn roles_come_from_arns_and_patterns() {
        let p = AccessPolicy::from_json(POLICY).unwrap();
        assert!(p.has("arn:aws:iam::123456789012:user/alice", Role::Requester));
        assert!(!p.has("arn:aws:iam::123456789012:user/alice", Role::Approver));
        assert!(!p.has("arn:aws:iam::123456789012:user/alice2", Role::Requester));
        assert!(p.has(
            "arn:aws:sts::123456789012:assumed-role/ApproversEU/bob@example.com",
            Role::Approver
        ));
        assert!(!p.has(
            "arn:aws:sts::999999999999:assumed-role/ApproversEU/bob",
            Role::Approver
        ));
        assert_eq!(
            p.roles_of("arn:aws:iam::123456789012:user/root-admin-carol"),
            BTreeSet::from([Role::Approver, Role::Admin])
        );
        assert!(p
            .roles_of("arn:aws:iam::123456789012:user/mallory")
            .is_empty());
    }

    #[test]
    fn reasons_default_and_override() {
        let p = AccessPolicy::from_json(POLICY).unwrap();
        assert_eq!(p.reason("billing-issue").unwrap().max_minutes, 60);
        assert!(p.reason("security-incident").unwrap().self_service);
        assert!(p.reason("release").is_none());
        assert!(p.reason("curiosity").is_none());
        assert!(p.external_ticket("INC-42"));
        assert!(!p.external_ticket("CHG-42"));
        assert_eq!(p.approvals_required, 1);
    }

    #[test]
    fn bad_policies_are_refused_by_name() {
        for bad in [
            r#"{"principals": [{"arn": "*", "roles": ["admin"]}]}"#,
            r#"{"principals": [{"arn": "arn:*", "roles": ["admin"]}]}"#,
            r#"{"principals": [{"arn": "arn:aws:iam::1:user/a", "roles": []}]}"#,
            r#"{"principals": [], "approvals_required": 0}"#,
            r#"{"principals": [], "ticket_pattern": "("}"#,
            r#"{"principals": [], "reasons": {"x": {"max_minutes": 0}}}"#,
            r#"{"principals": [], "surprise": 1}"#,
            "not json",
        ] {
            assert!(AccessPolicy::from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn glob_matches_like_iam() {
        assert!(glob("a*c", "abc"));
        assert!(glob("a*c", "ac"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXcYb"));
        assert!(!glob("abc", "abcd"));
        assert!(!glob("ab*", "a"));
    }
}
