//! Who a caller is, for dual control. AWS authenticates an ARN: an IAM user
//! (`arn:aws:iam::<acct>:user/<path>/<name>`) or an assumed-role session
//! (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`). STS drops the role's path from a
//! session ARN, so the caller's **principal** (the IAM entity behind the ARN: the user, or the
//! role with its path) is only exact once the role was looked up in IAM (the `access` function
//! does, checking the role's unique id against the session's); until then it is the path-less
//! role ARN and marked unresolved.
//!
//! A **person** is what dual control counts ([`super::AccessPolicy::person`]): an IAM user is a
//! person; the sessions of one role are one person (whoever may assume the role picks the session
//! name), unless the policy says the role's session names are bound to people.

use std::fmt;
use std::future::Future;

use crate::{ErrorType, LambdaError};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    arn: String,
    principal: String,
    session: Option<String>,
    resolved: bool,
}

impl Caller {
    /// From the ARN AWS reported. A session's role is path-less here (unresolved).
    pub fn from_arn(arn: &str) -> Self {
        match split_session(arn) {
            Some((role, session)) => Self {
                arn: arn.to_owned(),
                principal: role,
                session: Some(session),
                resolved: false,
            },
            None => Self {
                arn: arn.to_owned(),
                principal: arn.to_owned(),
                session: None,
                resolved: true,
            },
        }
    }

    /// The session's role as IAM reports it (`arn:aws:iam::<acct>:role/<path>/<name>`): its path
    /// is kept from now on. Only for a session whose role has that account and name.
    pub fn with_role(mut self, role_arn: &str) -> Result<Self, IdentityError> {
        let Some(session_role) = self.session.as_ref().map(|_| self.principal.clone()) else {
            return Err(IdentityError(format!("{} is not a role session", self.arn)));
        };
        let (Some(a), Some(b)) = (split_role(&session_role), split_role(role_arn)) else {
            return Err(IdentityError(format!("{role_arn} is not a role ARN")));
        };
        if a.0 != b.0 || a.2 != b.2 {
            return Err(IdentityError(format!(
                "role {role_arn} is not the role of session {}",
                self.arn
            )));
        }
        self.principal = role_arn.to_owned();
        self.resolved = true;
        Ok(self)
    }

    /// The ARN AWS authenticated (what audit records and requests show).
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The IAM user, or the session's role (path kept once resolved).
    pub fn principal(&self) -> &str {
        &self.principal
    }

    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// Whether [`Self::principal`] carries the role's real path.
    pub fn resolved(&self) -> bool {
        self.resolved
    }

    /// The role name of a session (`assumed-role/<name>/...`).
    pub fn role_name(&self) -> Option<&str> {
        self.session.as_ref()?;
        self.principal.rsplit('/').next()
    }
}

impl From<&str> for Caller {
    fn from(arn: &str) -> Self {
        Self::from_arn(arn)
    }
}

impl From<&String> for Caller {
    fn from(arn: &String) -> Self {
        Self::from_arn(arn)
    }
}

impl From<&Caller> for Caller {
    fn from(c: &Caller) -> Self {
        c.clone()
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("caller identity: {0}")]
pub struct IdentityError(pub String);

/// One person for dual control: a principal, plus the session name when the policy binds the
/// role's session names to people. Stored as `principal` or `principal#session`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Person(String);

impl Person {
    pub fn new(principal: &str, bound_session: Option<&str>) -> Self {
        match bound_session {
            Some(s) => Self(format!("{principal}#{s}")),
            None => Self(principal.to_owned()),
        }
    }

    /// A stored person.
    pub fn parse(text: &str) -> Self {
        Self(text.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The IAM user or role this person acts through.
    pub fn principal(&self) -> &str {
        self.split().0
    }

    /// The session name, for a person of a role whose session names are people.
    pub fn session(&self) -> Option<&str> {
        self.split().1
    }

    /// `principal#session`, cut at the last `#`. An IAM path may hold `#` but a session name
    /// never holds `#`, `/` or `:`, while every role ARN ends in `/name`: text after the last
    /// `#` with a `/` or `:` in it is still the principal's.
    fn split(&self) -> (&str, Option<&str>) {
        match self.0.rsplit_once('#') {
            Some((p, s)) if !s.is_empty() && !s.contains(['/', ':']) => (p, Some(s)),
            _ => (&self.0, None),
        }
    }

    /// Whether `self` and `other` are sessions of one person: the same session name (ASCII case
    /// aside) of roles whose session names are people. IAM Identity Center names every session
    /// of a user after that user, whichever permission set (role) it comes through, so alice as
    /// `AWSReservedSSO_Ops_…` and alice as `AWSReservedSSO_Lead_…` are one person; the same
    /// holds for person-bound roles whose sessions the identity provider names. Two people who
    /// share a session name across roles are kept from approving each other: the safe side.
    pub fn same_session_name(&self, other: &Person) -> bool {
        matches!((self.session(), other.session()), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
    }
}

impl fmt::Display for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A role as IAM reports it: its ARN (path kept) and unique id (`AROA...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    pub arn: String,
    pub role_id: String,
}

/// Port: looks a role up by name (role names are unique in an account, whatever their path).
pub trait RoleDirectory {
    fn role(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<RoleRecord>, LambdaError>> + Send;
}

/// The caller of an IAM-authenticated request: `user_arn` and `user_id` as AWS put them in the
/// request context (`userArn`, `userId` = `<role id>:<session>` for a session). A session's
/// role is looked up so that its path is kept; it must be the very role the session was issued
/// for (same unique id: a role deleted and re-created under another path is not it).
pub async fn resolve(
    directory: &impl RoleDirectory,
    user_arn: &str,
    user_id: &str,
) -> Result<Caller, LambdaError> {
    let denied = |m: String| LambdaError::new(ErrorType::AccessDenied, m);
    let caller = Caller::from_arn(user_arn);
    let Some(name) = caller.role_name().map(str::to_owned) else {
        return Ok(caller);
    };
    let role = directory
        .role(&name)
        .await?
        .ok_or_else(|| denied(format!("the role of session {user_arn} does not exist")))?;
    let expected = format!("{}:", role.role_id);
    if !user_id.starts_with(&expected) {
        return Err(denied(format!(
            "session {user_arn} was not issued for role {} (role id mismatch)",
            role.arn
        )));
    }
    caller
        .with_role(&role.arn)
        .map_err(|e| denied(e.to_string()))
}

/// `arn:<p>:sts::<acct>:assumed-role/<role>/<session>` → (`arn:<p>:iam::<acct>:role/<role>`,
/// session).
fn split_session(arn: &str) -> Option<(String, String)> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("sts::")?;
    let (account, resource) = rest.split_once(':')?;
    let resource = resource.strip_prefix("assumed-role/")?;
    let (role, session) = resource.split_once('/')?;
    if role.is_empty() || session.is_empty() || session.contains('/') {
        return None;
    }
    Some((
        format!("arn:{partition}:iam::{account}:role/{role}"),
        session.to_owned(),
    ))
}

/// `arn:<p>:iam::<acct>:role/<path/>name` → (`arn:<p>:iam::<acct>`, path, name).
pub(crate) fn split_role(arn: &str) -> Option<(&str, &str, &str)> {
    let i = arn.find(":role/")?;
    let (head, resource) = (&arn[..i], &arn[i + ":role/".len()..]);
    if !head.starts_with("arn:") || !head.contains(":iam::") {
        return None;
    }
    let (path, name) = match resource.rsplit_once('/') {
        Some((p, n)) => (p, n),
        None => ("", resource),
    };
    (!name.is_empty()).then_some((head, path, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Roles(Vec<RoleRecord>);

    impl RoleDirectory for Roles {
        async fn role(&self, name: &str) -> Result<Option<RoleRecord>, LambdaError> {
            Ok(self
                .0
                .iter()
                .find(|r| r.arn.rsplit('/').next() == Some(name))
                .cloned())
        }
    }

    #[tokio::test]
    async fn a_session_resolves_to_its_role_with_path_and_only_with_its_role_id() {
        let dir = Roles(vec![RoleRecord {
            arn: "arn:aws:iam::123456789012:role/a/Approver".into(),
            role_id: "AROAAPPROVER".into(),
        }]);
        let arn = "arn:aws:sts::123456789012:assumed-role/Approver/bob";
        let c = resolve(&dir, arn, "AROAAPPROVER:bob").await.unwrap();
        assert_eq!(c.principal(), "arn:aws:iam::123456789012:role/a/Approver");
        // A re-created role (another id) or an unknown role: refused.
        let e = resolve(&dir, arn, "AROAOTHER:bob").await.unwrap_err();
        assert_eq!(e.error_type, ErrorType::AccessDenied);
        let e = resolve(
            &dir,
            "arn:aws:sts::123456789012:assumed-role/Nope/bob",
            "AROAX:bob",
        )
        .await
        .unwrap_err();
        assert_eq!(e.error_type, ErrorType::AccessDenied);
        // Users need no look-up.
        let u = resolve(&dir, "arn:aws:iam::123456789012:user/alice", "AIDA")
            .await
            .unwrap();
        assert_eq!(u.principal(), "arn:aws:iam::123456789012:user/alice");
    }

    #[test]
    fn users_are_their_own_principal_and_sessions_name_their_role() {
        let u = Caller::from_arn("arn:aws:iam::123456789012:user/ops/alice");
        assert_eq!(u.principal(), "arn:aws:iam::123456789012:user/ops/alice");
        assert_eq!(u.session(), None);
        assert!(u.resolved());
        let s = Caller::from_arn("arn:aws:sts::123456789012:assumed-role/Approver/bob");
        assert_eq!(s.principal(), "arn:aws:iam::123456789012:role/Approver");
        assert_eq!(s.session(), Some("bob"));
        assert_eq!(s.role_name(), Some("Approver"));
        assert!(!s.resolved());
        let s = s
            .with_role("arn:aws:iam::123456789012:role/a/Approver")
            .unwrap();
        assert_eq!(s.principal(), "arn:aws:iam::123456789012:role/a/Approver");
        assert!(s.resolved());
        assert_eq!(
            s.arn(),
            "arn:aws:sts::123456789012:assumed-role/Approver/bob"
        );
    }

    #[test]
    fn a_role_of_another_name_or_account_does_not_resolve_a_session() {
        let s = Caller::from_arn("arn:aws:sts::123456789012:assumed-role/Approver/bob");
        for wrong in [
            "arn:aws:iam::123456789012:role/a/Approvers",
            "arn:aws:iam::999999999999:role/a/Approver",
            "arn:aws:iam::123456789012:user/Approver",
        ] {
            assert!(s.clone().with_role(wrong).is_err(), "{wrong}");
        }
        assert!(Caller::from_arn("arn:aws:iam::123456789012:user/u")
            .with_role("arn:aws:iam::123456789012:role/u")
            .is_err());
    }

    #[test]
    fn a_person_keeps_its_principal() {
        let p = Person::new("arn:aws:iam::1:role/x/R", Some("alice"));
        assert_eq!(p.as_str(), "arn:aws:iam::1:role/x/R#alice");
        assert_eq!(p.principal(), "arn:aws:iam::1:role/x/R");
        assert_eq!(Person::parse(p.as_str()), p);
        assert_eq!(
            Person::new("arn:aws:iam::1:user/u", None).principal(),
            "arn:aws:iam::1:user/u"
        );
        assert_eq!(p.session(), Some("alice"));
    }

    /// A `#` in an IAM path never passes for the start of a session name.
    #[test]
    fn a_hash_in_a_role_path_is_part_of_the_principal() {
        let role = "arn:aws:iam::1:role/p#q/R";
        let p = Person::new(role, None);
        assert_eq!((p.principal(), p.session()), (role, None));
        let s = Person::new(role, Some("alice"));
        assert_eq!((s.principal(), s.session()), (role, Some("alice")));
        assert!(s.same_session_name(&Person::new("arn:aws:iam::1:role/Other", Some("ALICE"))));
        assert!(!s.same_session_name(&p));
    }
}
