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
//!   "request_ttl_minutes": 1440,
//!   "ticket_pattern": "^(CHG|INC)-[0-9]+$",
//!   "reasons": {"security-incident": {"max_minutes": 120, "self_service": true}}
//! }
//! ```
//!
//! `reasons` entries override the defaults ([`default_reasons`]); a reason set to `null` is
//! removed. ARN patterns may use `*` (any run of characters). A pattern is matched against the
//! caller's ARN and against its principal ([`Caller::principal`]): an STS assumed-role session
//! (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`) matches patterns written for its role
//! **with the role's path** (`arn:aws:iam::<acct>:role/<path>/<role>`, as IAM reports it). STS
//! drops the path from session ARNs, so a session whose role was not looked up in IAM matches
//! only patterns for a path-less role, and a pattern for `role/a/Approver` never matches a
//! session of `role/Approver` (nor the reverse).
//!
//! **Dual control counts people** ([`AccessPolicy::person`], [`AccessPolicy::other_person`]):
//! an IAM user is one person; all sessions of one role are one person, unless the role is
//! listed in `person_bound_roles` (ARN patterns, path kept; for roles whose trust policy requires
//! `sts:SourceIdentity` so session names are people) or is an IAM Identity Center role
//! (`role/aws-reserved/sso.amazonaws.com/.../AWSReservedSSO_*`, resolved path only): then each
//! session name is a person. An approver is never the requester's principal: a principal that
//! holds both the requester and the approver role never approves its own requests, whichever
//! session asks.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::identity::{split_role, Caller, Person};

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
        ("takeover", 60),
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
    request_ttl_minutes: Option<u32>,
    #[serde(default)]
    ticket_pattern: Option<String>,
    #[serde(default)]
    reasons: BTreeMap<String, Option<ReasonRule>>,
    #[serde(default)]
    person_bound_roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid access policy: {0}")]
pub struct PolicyError(pub String);

#[derive(Debug, Clone)]
pub struct AccessPolicy {
    principals: Vec<(String, BTreeSet<Role>)>,
    pub approvals_required: u32,
    pub approval_ttl_minutes: u32,
    /// How long a request waits for its approvals before it lapses (default one day).
    pub request_ttl_minutes: u32,
    ticket_pattern: Option<regex::Regex>,
    pub reasons: BTreeMap<String, ReasonRule>,
    person_bound_roles: Vec<String>,
}

/// IAM Identity Center's roles: `role/aws-reserved/sso.amazonaws.com/[<region>/]AWSReservedSSO_*`.
fn identity_center_role(role_arn: &str) -> bool {
    split_role(role_arn).is_some_and(|(_, path, name)| {
        (path == "aws-reserved/sso.amazonaws.com"
            || path.starts_with("aws-reserved/sso.amazonaws.com/"))
            && name.starts_with("AWSReservedSSO_")
    })
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
        let request_ttl_minutes = doc.request_ttl_minutes.unwrap_or(24 * 60);
        if !(1..=7 * 24 * 60).contains(&request_ttl_minutes) {
            return Err(PolicyError(
                "request_ttl_minutes must be from 1 to 10080".into(),
            ));
        }
        let ticket_pattern = doc
            .ticket_pattern
            .map(|p| regex::Regex::new(&p).map_err(|e| PolicyError(format!("ticket_pattern: {e}"))))
            .transpose()?;
        let mut person_bound_roles = Vec::new();
        for r in doc.person_bound_roles {
            let r = r.trim().to_owned();
            if split_role(&r.replace('*', "x")).is_none() {
                return Err(PolicyError(format!(
                    "person_bound_roles: {r:?} is not an IAM role ARN or ARN pattern"
                )));
            }
            person_bound_roles.push(r);
        }
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
            request_ttl_minutes,
            ticket_pattern,
            reasons,
            person_bound_roles,
        })
    }

    /// The roles the policy gives the caller (empty: not authorized at all): patterns matching
    /// its ARN or its principal (a session's role, path kept).
    pub fn roles_of(&self, caller: &Caller) -> BTreeSet<Role> {
        let mut roles = BTreeSet::new();
        for (pattern, r) in &self.principals {
            if glob(pattern, caller.arn()) || glob(pattern, caller.principal()) {
                roles.extend(r.iter().copied());
            }
        }
        roles
    }

    pub fn has(&self, caller: &Caller, role: Role) -> bool {
        self.roles_of(caller).contains(&role)
    }

    /// Whether the sessions of this role are people: listed in `person_bound_roles`, or an IAM
    /// Identity Center role. Needs the role's real path (a resolved caller).
    pub fn session_names_are_people(&self, caller: &Caller) -> bool {
        caller.session().is_some()
            && caller.resolved()
            && (identity_center_role(caller.principal())
                || self
                    .person_bound_roles
                    .iter()
                    .any(|p| glob(p, caller.principal())))
    }

    /// The person acting: the IAM user; a role (all its sessions), or role + session name for
    /// person-bound roles.
    pub fn person(&self, caller: &Caller) -> Person {
        let bound = self
            .session_names_are_people(caller)
            .then(|| caller.session())
            .flatten();
        Person::new(caller.principal(), bound)
    }

    /// Whether `approver` is someone other than `requester` (and other than each of
    /// `approved_by`): a different person, never the requester's own principal, and never the
    /// same session name through another role ([`Person::same_session_name`]: one Identity
    /// Center user holding two permission sets is one person).
    pub fn other_person(
        &self,
        approver: &Caller,
        requester: &Person,
        approved_by: &[Person],
    ) -> bool {
        let me = self.person(approver);
        let same = |p: &Person| *p == me || me.same_session_name(p);
        !same(requester)
            && approver.principal() != requester.principal()
            && !approved_by.iter().any(same)
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

    fn c(arn: &str) -> Caller {
        Caller::from_arn(arn)
    }

    #[test]
    fn roles_come_from_arns_and_patterns() {
        let p = AccessPolicy::from_json(POLICY).unwrap();
        assert!(p.has(&c("arn:aws:iam::123456789012:user/alice"), Role::Requester));
        assert!(!p.has(&c("arn:aws:iam::123456789012:user/alice"), Role::Approver));
        assert!(!p.has(&c("arn:aws:iam::123456789012:user/alice2"), Role::Requester));
        assert!(p.has(
            &c("arn:aws:sts::123456789012:assumed-role/ApproversEU/bob@example.com"),
            Role::Approver
        ));
        assert!(!p.has(
            &c("arn:aws:sts::999999999999:assumed-role/ApproversEU/bob"),
            Role::Approver
        ));
        assert_eq!(
            p.roles_of(&c("arn:aws:iam::123456789012:user/root-admin-carol")),
            BTreeSet::from([Role::Approver, Role::Admin])
        );
        assert!(p
            .roles_of(&c("arn:aws:iam::123456789012:user/mallory"))
            .is_empty());
    }

    const ROLES: &str = r#"{
        "principals": [
            {"arn": "arn:aws:iam::123456789012:role/Approver", "roles": ["approver"]},
            {"arn": "arn:aws:iam::123456789012:role/team/Approver2", "roles": ["approver"]},
            {"arn": "arn:aws:iam::123456789012:role/Ops", "roles": ["requester", "approver"]},
            {"arn": "arn:aws:iam::123456789012:role/Bound", "roles": ["approver"]},
            {"arn": "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Sec_*", "roles": ["requester", "approver"]},
            {"arn": "arn:aws:iam::123456789012:user/alice", "roles": ["requester"]}
        ],
        "person_bound_roles": ["arn:aws:iam::123456789012:role/Bound"]
    }"#;

    fn session(role_arn: &str, name: &str) -> Caller {
        let role = role_arn.rsplit('/').next().unwrap();
        let acct = role_arn.split(':').nth(4).unwrap();
        c(&format!("arn:aws:sts::{acct}:assumed-role/{role}/{name}"))
            .with_role(role_arn)
            .unwrap()
    }

    #[test]
    fn role_paths_are_kept_when_matching() {
        let p = AccessPolicy::from_json(ROLES).unwrap();
        // The policy's role/Approver is path-less: a session of role/a/Approver is not it.
        assert!(!p.has(
            &session("arn:aws:iam::123456789012:role/a/Approver", "x"),
            Role::Approver
        ));
        assert!(p.has(
            &session("arn:aws:iam::123456789012:role/Approver", "x"),
            Role::Approver
        ));
        // The policy's role/team/Approver2 matches its resolved sessions only, never a
        // path-less role of that name.
        assert!(p.has(
            &session("arn:aws:iam::123456789012:role/team/Approver2", "x"),
            Role::Approver
        ));
        assert!(!p.has(
            &session("arn:aws:iam::123456789012:role/Approver2", "x"),
            Role::Approver
        ));
        assert!(!p.has(
            &c("arn:aws:sts::123456789012:assumed-role/Approver2/x"),
            Role::Approver
        ));
    }

    #[test]
    fn two_sessions_of_one_role_are_one_person() {
        let p = AccessPolicy::from_json(ROLES).unwrap();
        let ops = "arn:aws:iam::123456789012:role/Ops";
        let (a, b) = (session(ops, "alice"), session(ops, "bob"));
        assert_eq!(p.person(&a), p.person(&b));
        assert!(!p.other_person(&b, &p.person(&a), &[]));
        // Unresolved sessions too.
        let (a, b) = (
            c("arn:aws:sts::123456789012:assumed-role/Ops/alice"),
            c("arn:aws:sts::123456789012:assumed-role/Ops/bob"),
        );
        assert!(!p.other_person(&b, &p.person(&a), &[]));
        // Another principal is another person.
        let alice = c("arn:aws:iam::123456789012:user/alice");
        assert!(p.other_person(&b, &p.person(&alice), &[]));
    }

    #[test]
    fn person_bound_roles_count_each_session_name_but_never_approve_their_own_requests() {
        let p = AccessPolicy::from_json(ROLES).unwrap();
        let bound = "arn:aws:iam::123456789012:role/Bound";
        let (x, y) = (
            session(bound, "x@example.com"),
            session(bound, "y@example.com"),
        );
        assert_ne!(p.person(&x), p.person(&y));
        // Two approvals by two people of a person-bound role count twice; one person once.
        let alice = p.person(&c("arn:aws:iam::123456789012:user/alice"));
        assert!(p.other_person(&y, &alice, &[p.person(&x)]));
        assert!(!p.other_person(&x, &alice, &[p.person(&x)]));
        // Unresolved (path unknown): not person-bound.
        let raw = c("arn:aws:sts::123456789012:assumed-role/Bound/x@example.com");
        assert!(!p.session_names_are_people(&raw));
        // IAM Identity Center roles are person-bound, but a role holding both requester and
        // approver never approves its own request, whichever session asks.
        let sso = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Sec_0123";
        let sso = sso.replace("eu-west-1/", "");
        let (s1, s2) = (session(&sso, "alice"), session(&sso, "bob"));
        assert!(p.session_names_are_people(&s1));
        assert_ne!(p.person(&s1), p.person(&s2));
        assert!(p.has(&s1, Role::Requester) && p.has(&s2, Role::Approver));
        assert!(!p.other_person(&s2, &p.person(&s1), &[]));
        // One Identity Center user through two permission sets (two roles) is one person:
        // alice asks as Ops and may not approve as Lead, nor count twice as an approver.
        let lead = sso.replace("AWSReservedSSO_Sec_0123", "AWSReservedSSO_Lead_4567");
        let (ops_alice, lead_alice) = (session(&sso, "alice"), session(&lead, "Alice"));
        assert!(p.session_names_are_people(&lead_alice));
        assert!(!p.other_person(&lead_alice, &p.person(&ops_alice), &[]));
        assert!(!p.other_person(&lead_alice, &alice, &[p.person(&ops_alice)]));
        assert!(p.other_person(&session(&lead, "bob"), &p.person(&ops_alice), &[]));
        // An SSO-looking name outside the reserved path is not Identity Center.
        let fake = session(
            "arn:aws:iam::123456789012:role/AWSReservedSSO_Sec_0123",
            "bob",
        );
        assert!(!p.session_names_are_people(&fake));
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
            r#"{"principals": [], "person_bound_roles": ["arn:aws:iam::1:user/u"]}"#,
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
