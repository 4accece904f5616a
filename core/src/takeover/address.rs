//! The root address scheme: `aws-<account id>-<tag>@<domain>`, `<tag>` 8 random characters
//! from `a-z2-7` (40 bits) drawn from a source the caller passes in (so tests can fix it). The
//! address cannot be guessed from the account id; it is at most 64 characters (AWS's limit).

use rand::Rng;

use crate::{AccountId, ErrorType, LambdaError, RootEmail};

/// The tag alphabet (RFC 4648 base32, lower case): unambiguous in mail clients.
pub const TAG_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
pub const TAG_LEN: usize = 8;
/// AWS's longest root email address.
pub const MAX_ADDRESS_LEN: usize = 64;

/// Draws a fresh tag from `rng`.
pub fn tag(rng: &mut impl Rng) -> String {
    (0..TAG_LEN)
        .map(|_| char::from(TAG_ALPHABET[rng.gen_range(0..TAG_ALPHABET.len())]))
        .collect()
}

/// The address for `account` with `tag` at `domain`. A domain that makes it invalid or longer
/// than 64 characters is a `ConfigError`; a malformed tag a `ValidationError`.
pub fn address(account: &AccountId, tag: &str, domain: &str) -> Result<RootEmail, LambdaError> {
    if tag.len() != TAG_LEN || !tag.bytes().all(|b| TAG_ALPHABET.contains(&b)) {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            "an address tag is 8 characters from a-z2-7",
        ));
    }
    let raw = format!("aws-{account}-{tag}@{}", domain.trim().to_ascii_lowercase());
    if raw.len() > MAX_ADDRESS_LEN {
        return Err(LambdaError::new(
            ErrorType::ConfigError,
            format!("root mail domain {domain:?} makes root addresses longer than 64 characters"),
        ));
    }
    RootEmail::parse(&raw).map_err(|e| {
        LambdaError::new(
            ErrorType::ConfigError,
            format!("root mail domain {domain:?} gives no valid address: {e}"),
        )
    })
}

/// Whether `email` is an address this scheme gave `account` at `domain` (a resumed takeover
/// keeps it).
pub fn is_scheme_address(email: &RootEmail, account: &AccountId, domain: &str) -> bool {
    let prefix = format!("aws-{account}-");
    email.domain().eq_ignore_ascii_case(domain.trim())
        && email
            .local_part()
            .strip_prefix(&prefix)
            .is_some_and(|t| address(account, t, domain).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn acct() -> AccountId {
        AccountId::parse("111122223333").unwrap()
    }

    #[test]
    fn addresses_follow_the_scheme() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let t = tag(&mut rng);
        assert_eq!(t.len(), 8);
        let a = address(&acct(), &t, "Root.Example.com").unwrap();
        assert_eq!(a.as_str(), format!("aws-111122223333-{t}@root.example.com"));
        assert!(is_scheme_address(&a, &acct(), "root.example.com"));
        let other = AccountId::parse("444455556666").unwrap();
        assert!(!is_scheme_address(&a, &other, "root.example.com"));
        assert!(!is_scheme_address(&a, &acct(), "elsewhere.example.com"));
        // Two draws differ (40 bits each).
        assert_ne!(tag(&mut rng), t);
    }

    #[test]
    fn bad_tags_and_long_domains_are_refused() {
        assert_eq!(
            address(&acct(), "ABCDEFGH", "x.io").unwrap_err().error_type,
            ErrorType::ValidationError
        );
        assert_eq!(
            address(&acct(), "abcd1fgh", "x.io").unwrap_err().error_type,
            ErrorType::ValidationError
        );
        let long = format!("{}.example.com", "d".repeat(40));
        assert_eq!(
            address(&acct(), "abcdefgh", &long).unwrap_err().error_type,
            ErrorType::ConfigError
        );
        assert_eq!(
            address(&acct(), "abcdefgh", "no domain")
                .unwrap_err()
                .error_type,
            ErrorType::ConfigError
        );
    }
}
