//! Validated domain newtypes. A value of one of these types is always valid; parse at the edge.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a raw value was rejected. Messages show at most a short prefix of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("invalid AWS account id {shown:?}: {reason}")]
    InvalidAccountId { shown: String, reason: &'static str },
    #[error("invalid root email {shown:?}: {reason}")]
    InvalidEmail { shown: String, reason: &'static str },
}

fn shown(raw: &str) -> String {
    raw.chars().take(40).collect()
}

/// A 12-digit AWS account id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let err = |reason| DomainError::InvalidAccountId {
            shown: shown(raw),
            reason,
        };
        if raw.len() != 12 {
            return Err(err("must be exactly 12 digits"));
        }
        if !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("must contain only digits 0-9"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AccountId {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for AccountId {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<AccountId> for String {
    fn from(a: AccountId) -> String {
        a.0
    }
}

/// The root user's email address of a managed account: a unique address the provider owns.
///
/// Stored lower-cased (mail routing here is case-insensitive). The local part may carry a
/// `+tag` sub-address; [`RootEmail::sub_address`] returns it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RootEmail(String);

impl RootEmail {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let err = |reason| DomainError::InvalidEmail {
            shown: shown(raw),
            reason,
        };
        let trimmed = raw.trim();
        if trimmed.len() > 254 {
            return Err(err("longer than 254 characters"));
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or_else(|| err("missing '@'"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(err("local part must be 1-64 characters"));
        }
        const LOCAL_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~.";
        if !local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c))
        {
            return Err(err(
                "local part has a character outside the RFC 5322 dot-atom set",
            ));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(err("local part has a misplaced '.'"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(err("domain must have at least two labels"));
        }
        for label in &labels {
            if label.is_empty() || label.len() > 63 {
                return Err(err("domain label must be 1-63 characters"));
            }
            if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(err("domain label may hold only letters, digits and '-'"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(err("domain label may not start or end with '-'"));
            }
        }
        Ok(Self(trimmed.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or_default()
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }

    /// The `tag` of `name+tag@domain`, if any.
    pub fn sub_address(&self) -> Option<&str> {
        self.local_part()
            .split_once('+')
            .map(|(_, tag)| tag)
            .filter(|t| !t.is_empty())
    }
}

impl fmt::Display for RootEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RootEmail {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for RootEmail {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<RootEmail> for String {
    fn from(e: RootEmail) -> String {
        e.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn account_id_accepts_twelve_digits_only() {
        assert_eq!(
            AccountId::parse("012345678901").unwrap().as_str(),
            "012345678901"
        );
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            "1234-5678-9012",
            " 123456789012",
        ] {
            assert!(AccountId::parse(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn account_id_serde_validates() {
        let ok: AccountId = serde_json::from_str("\"111122223333\"").unwrap();
        assert_eq!(ok.to_string(), "111122223333");
        assert!(serde_json::from_str::<AccountId>("\"11112222333x\"").is_err());
    }

    #[test]
    fn root_email_normalises_and_splits() {
        let e = RootEmail::parse(" AWS-Root+123456789012@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "aws-root+123456789012@example.com");
        assert_eq!(e.domain(), "example.com");
        assert_eq!(e.local_part(), "aws-root+123456789012");
        assert_eq!(e.sub_address(), Some("123456789012"));
        assert_eq!(
            RootEmail::parse("root@example.com").unwrap().sub_address(),
            None
        );
    }

    #[test]
    fn root_email_rejects_malformed() {
        for bad in [
            "",
            "no-at-sign",
            "@example.com",
            "a@localhost",
            "a..b@example.com",
            ".a@example.com",
            "a@-example.com",
            "a@exa_mple.com",
            "a b@example.com",
            "a@example..com",
        ] {
            assert!(RootEmail::parse(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn error_message_truncates_input() {
        let long = "x".repeat(5000);
        let msg = RootEmail::parse(&long).unwrap_err().to_string();
        assert!(msg.len() < 200, "{msg}");
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,300}") {
            let _ = AccountId::parse(&s);
            let _ = RootEmail::parse(&s);
        }

        #[test]
        fn valid_emails_round_trip(local in "[a-z0-9]{1,20}(\\+[0-9]{12})?", domain in "[a-z]{1,10}\\.[a-z]{2,6}") {
            let raw = format!("{local}@{domain}");
            let e = RootEmail::parse(&raw).unwrap();
            prop_assert_eq!(e.as_str(), raw.as_str());
            prop_assert_eq!(RootEmail::parse(e.as_str()).unwrap(), e);
        }
    }
}
