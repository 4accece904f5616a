//! Root password generation.
//!
//! Root Warden sets every member account's root password itself and vaults it; nobody types or
//! remembers these passwords, so they are long and random. This module produces them:
//!
//! - The alphabet is the union of four classes: `A-Z`, `a-z`, `0-9` and [`SYMBOLS`] (the symbols
//!   AWS accepts in a root password), 83 characters in all.
//! - Every character is drawn uniformly from that alphabet with [`OsRng`], the operating system's
//!   CSPRNG, through rand's [`Uniform`] distribution (rejection-based, so no modulo bias).
//! - A candidate is accepted only if it contains at least one character of each class and none of
//!   the forbidden terms (the account's root email, its local part, the account name), compared
//!   case-insensitively. Otherwise the whole candidate is discarded and drawn again, so the result
//!   is uniform over all acceptable passwords of the requested length. After
//!   [`MAX_ATTEMPTS`] rejected candidates, [`generate`] gives up with [`PasswordError::Exhausted`]
//!   instead of looping forever.
//!
//! The candidate buffer is zeroized when it is dropped; the accepted password is copied once,
//! into the returned [`SecretString`]. Nothing here logs, and no error message contains a
//! password or a forbidden term.

use rand::distributions::{Distribution, Uniform};
use rand::rngs::OsRng;
use secrecy::SecretString;
use zeroize::Zeroizing;

/// The symbols AWS allows in a root user password.
pub const SYMBOLS: &str = "!@#$%^&*()<>[]{}|_+-=";

/// The full alphabet: upper case, lower case, digits, then [`SYMBOLS`] (83 ASCII characters).
const ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*()<>[]{}|_+-=";

/// How many candidates [`generate`] draws before returning [`PasswordError::Exhausted`].
///
/// Without forbidden terms a 20-character candidate lacks some class about 8 % of the time, so
/// running out of attempts only happens when the forbidden terms rule out (nearly) everything,
/// e.g. every digit forbidden as a one-character term.
pub const MAX_ATTEMPTS: usize = 1000;

/// Why a password could not be produced. Messages never contain a password or a forbidden term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The requested length is outside [`PasswordPolicy::MIN_LENGTH`]`..=`[`PasswordPolicy::MAX_LENGTH`].
    #[error(
        "password length {length} is out of range: it must be between {min} and {max} characters",
        min = PasswordPolicy::MIN_LENGTH,
        max = PasswordPolicy::MAX_LENGTH
    )]
    InvalidLength {
        /// The rejected length.
        length: usize,
    },
    /// Every candidate in [`MAX_ATTEMPTS`] tries lacked a character class or contained a
    /// forbidden term; the forbidden terms exclude too much of the alphabet.
    #[error(
        "no acceptable password found in {attempts} attempts: the forbidden terms exclude too much of the alphabet"
    )]
    Exhausted {
        /// How many candidates were drawn and rejected.
        attempts: usize,
    },
}

/// The shape of a generated password: currently just its length, validated on construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PasswordPolicy {
    length: usize,
}

impl PasswordPolicy {
    /// The default length, 32 characters (about 204 bits of entropy).
    pub const DEFAULT_LENGTH: usize = 32;
    /// The shortest length accepted, 20 characters.
    pub const MIN_LENGTH: usize = 20;
    /// The longest length accepted, 128 characters (AWS's limit for root passwords).
    pub const MAX_LENGTH: usize = 128;

    /// A policy for passwords of `length` characters.
    ///
    /// # Errors
    ///
    /// [`PasswordError::InvalidLength`] unless `MIN_LENGTH <= length <= MAX_LENGTH`.
    pub fn new(length: usize) -> Result<Self, PasswordError> {
        if (Self::MIN_LENGTH..=Self::MAX_LENGTH).contains(&length) {
            Ok(Self { length })
        } else {
            Err(PasswordError::InvalidLength { length })
        }
    }

    /// The number of characters a generated password has.
    pub fn length(&self) -> usize {
        self.length
    }
}

impl Default for PasswordPolicy {
    /// [`PasswordPolicy::DEFAULT_LENGTH`] characters.
    fn default() -> Self {
        Self {
            length: Self::DEFAULT_LENGTH,
        }
    }
}

/// The terms a root password must never contain, for an account with root email `root_email`
/// and (optionally) name `name`: the email itself, its local part (before the last `@`), the local
/// part before the first `+` when the address is sub-addressed, and the name. Terms are trimmed;
/// empty and duplicate terms are left out. Case is kept; [`generate`] compares case-insensitively.
///
/// Every non-empty term is included, however short. Dropping terms under three characters would
/// make [`generate`] practically never fail, but the requirement is that a root password never
/// contains the account's root email or name, with no exception for short ones. The price is that
/// a one-character term (a name like "X", an address like `a@example.com`) removes that letter in
/// both cases from what a password may contain: generation still succeeds at any allowed length
/// with one such term, but several of them can make it return [`PasswordError::Exhausted`].
pub fn forbidden_terms(root_email: &str, name: Option<&str>) -> Vec<String> {
    let email = root_email.trim();
    let local = email.rfind('@').map(|at| &email[..at]);
    let base = local.and_then(|l| l.find('+').map(|plus| &l[..plus]));

    let mut terms: Vec<String> = Vec::with_capacity(4);
    for term in [Some(email), local, base, name.map(str::trim)]
        .into_iter()
        .flatten()
        .map(str::trim)
    {
        if !term.is_empty() && !terms.iter().any(|t| t == term) {
            terms.push(term.to_owned());
        }
    }
    terms
}

/// A fresh random password for `policy` that contains upper case, lower case, a digit and a
/// symbol, and none of the `forbidden` terms (case-insensitively; empty terms are ignored).
///
/// # Errors
///
/// [`PasswordError::Exhausted`] if [`MAX_ATTEMPTS`] candidates were all rejected.
///
/// # Panics
///
/// Never, short of the operating system's random number generator being unavailable, in which
/// case [`OsRng`] panics (there is nothing safe to fall back to).
pub fn generate(
    policy: &PasswordPolicy,
    forbidden: &[&str],
) -> Result<SecretString, PasswordError> {
    // Lower-cased with Unicode rules so a term like "K" (Kelvin sign) still forbids "k"; a term
    // whose lower-case form has non-ASCII bytes can never match an ASCII password.
    let forbidden: Vec<String> = forbidden
        .iter()
        .filter(|term| !term.is_empty())
        .map(|term| term.to_lowercase())
        .collect();

    let length = policy.length();
    // One buffer for every attempt, never grown past this capacity (so never reallocated, which
    // would leave an unzeroized copy behind) and zeroized, spare capacity included, on drop.
    let mut candidate: Zeroizing<String> = Zeroizing::new(String::with_capacity(length));
    let index = Uniform::from(0..ALPHABET.len());

    for _ in 0..MAX_ATTEMPTS {
        candidate.clear();
        candidate.extend(
            index
                .sample_iter(OsRng)
                .take(length)
                .map(|i| char::from(ALPHABET[i])),
        );

        let bytes = candidate.as_bytes();
        if has_all_classes(bytes)
            && !forbidden
                .iter()
                .any(|term| contains_ignore_ascii_case(bytes, term.as_bytes()))
        {
            // `Box<str>::from(&str)` allocates exactly the password's length and copies once;
            // going through `String` could reallocate (shrink) and strand an unzeroized copy.
            return Ok(SecretString::from(Box::<str>::from(candidate.as_str())));
        }
    }
    Err(PasswordError::Exhausted {
        attempts: MAX_ATTEMPTS,
    })
}

/// Whether `password` has at least one upper-case letter, lower-case letter, digit and symbol.
fn has_all_classes(password: &[u8]) -> bool {
    let (mut upper, mut lower, mut digit, mut symbol) = (false, false, false, false);
    for &c in password {
        upper |= c.is_ascii_uppercase();
        lower |= c.is_ascii_lowercase();
        digit |= c.is_ascii_digit();
        symbol |= SYMBOLS.as_bytes().contains(&c);
    }
    upper && lower && digit && symbol
}

/// Whether `needle` (non-empty) occurs in `haystack`, ignoring ASCII case.
fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use secrecy::ExposeSecret;

    fn assert_valid(password: &str, length: usize, forbidden: &[&str]) {
        assert_eq!(password.len(), length);
        assert!(password.bytes().all(|c| ALPHABET.contains(&c)));
        assert!(has_all_classes(password.as_bytes()));
        let lower = password.to_lowercase();
        for term in forbidden.iter().filter(|t| !t.is_empty()) {
            assert!(!lower.contains(&term.to_lowercase()));
        }
    }

    #[test]
    fn alphabet_is_the_four_classes() {
        let expected: String = ('A'..='Z')
            .chain('a'..='z')
            .chain('0'..='9')
            .chain(SYMBOLS.chars())
            .collect();
        assert_eq!(ALPHABET, expected.as_bytes());
        assert_eq!(ALPHABET.len(), 83);
        let mut sorted = ALPHABET.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ALPHABET.len(), "alphabet has duplicates");
    }

    #[test]
    fn policy_length_bounds() {
        assert_eq!(PasswordPolicy::default().length(), 32);
        assert_eq!(
            PasswordPolicy::default(),
            PasswordPolicy::new(PasswordPolicy::DEFAULT_LENGTH).unwrap()
        );
        assert_eq!(PasswordPolicy::new(20).unwrap().length(), 20);
        assert_eq!(PasswordPolicy::new(128).unwrap().length(), 128);
        for bad in [0, 1, 19, 129, usize::MAX] {
            assert_eq!(
                PasswordPolicy::new(bad),
                Err(PasswordError::InvalidLength { length: bad })
            );
        }
    }

    #[test]
    fn length_error_names_the_range() {
        let message = PasswordPolicy::new(19).unwrap_err().to_string();
        assert_eq!(
            message,
            "password length 19 is out of range: it must be between 20 and 128 characters"
        );
    }

    #[test]
    fn generates_at_bounds_and_default() {
        for length in [20, 32, 128] {
            let policy = PasswordPolicy::new(length).unwrap();
            let password = generate(&policy, &[]).unwrap();
            assert_valid(password.expose_secret(), length, &[]);
        }
    }

    #[test]
    fn single_character_term_is_excluded_in_both_cases() {
        // Unfiltered, a 128-character password contains 'a' or 'A' about 95 % of the time, so
        // 50 passwords without one would not happen by chance if the filter were broken.
        let policy = PasswordPolicy::new(128).unwrap();
        for _ in 0..50 {
            let password = generate(&policy, &["A"]).unwrap();
            assert!(!password.expose_secret().contains(['a', 'A']));
        }
    }

    #[test]
    fn forbidden_terms_are_case_insensitive() {
        // "Xy" appears (in some case) in a random 128-character password about 7 % of the time.
        let policy = PasswordPolicy::new(128).unwrap();
        for _ in 0..200 {
            let password = generate(&policy, &["xY", ""]).unwrap();
            assert!(!password.expose_secret().to_lowercase().contains("xy"));
        }
    }

    #[test]
    fn impossible_constraints_exhaust() {
        let digits: Vec<String> = ('0'..='9').map(String::from).collect();
        let forbidden: Vec<&str> = digits.iter().map(String::as_str).collect();
        assert!(matches!(
            generate(&PasswordPolicy::default(), &forbidden),
            Err(PasswordError::Exhausted {
                attempts: MAX_ATTEMPTS
            })
        ));
    }

    #[test]
    fn exhausted_message_is_generic() {
        let message = PasswordError::Exhausted { attempts: 1000 }.to_string();
        assert!(message.contains("1000 attempts"));
    }

    #[test]
    fn empty_terms_are_ignored() {
        let password = generate(&PasswordPolicy::default(), &["", ""]).unwrap();
        assert_valid(password.expose_secret(), 32, &[]);
    }

    #[test]
    fn every_character_appears() {
        // 2,000 passwords of 32 characters: each character is expected ~770 times, so missing
        // one by chance has probability far below 1e-300. A generator that never emits some
        // character (an off-by-one in the range, a dropped symbol) fails this.
        let policy = PasswordPolicy::default();
        let mut counts = [0usize; 256];
        for _ in 0..2000 {
            let password = generate(&policy, &[]).unwrap();
            for c in password.expose_secret().bytes() {
                counts[usize::from(c)] += 1;
            }
        }
        for &c in ALPHABET {
            assert!(
                counts[usize::from(c)] > 0,
                "{:?} never generated",
                char::from(c)
            );
        }
        let total: usize = counts.iter().sum();
        let in_alphabet: usize = ALPHABET.iter().map(|&c| counts[usize::from(c)]).sum();
        assert_eq!(total, in_alphabet);
        // Rough uniformity: every character within ±25 % of the mean (~771; sd ~27).
        let mean = total as f64 / ALPHABET.len() as f64;
        for &c in ALPHABET {
            let n = counts[usize::from(c)] as f64;
            assert!(
                (n - mean).abs() < mean * 0.25,
                "{:?} appeared {n} times, mean {mean}",
                char::from(c)
            );
        }
    }

    #[test]
    fn forbidden_terms_from_email_and_name() {
        assert_eq!(
            forbidden_terms("  Ops+prod-42@Example.com ", Some(" Prod Payments ")),
            vec![
                "Ops+prod-42@Example.com",
                "Ops+prod-42",
                "Ops",
                "Prod Payments"
            ]
        );
        assert_eq!(
            forbidden_terms("ops@example.com", None),
            vec!["ops@example.com", "ops"]
        );
        // Duplicates and empty parts are dropped; short terms are kept.
        assert_eq!(
            forbidden_terms("ab@example.com", Some("ab")),
            vec!["ab@example.com", "ab"]
        );
        assert_eq!(
            forbidden_terms("+x@example.com", Some("")),
            vec!["+x@example.com", "+x"]
        );
        assert_eq!(forbidden_terms("not-an-email", None), vec!["not-an-email"]);
        assert!(forbidden_terms("  ", Some(" ")).is_empty());
    }

    #[test]
    fn generated_password_avoids_account_terms() {
        let terms = forbidden_terms("a+b@example.com", Some("Prod"));
        let forbidden: Vec<&str> = terms.iter().map(String::as_str).collect();
        let policy = PasswordPolicy::new(64).unwrap();
        for _ in 0..20 {
            let password = generate(&policy, &forbidden).unwrap();
            assert_valid(password.expose_secret(), 64, &forbidden);
        }
    }

    /// Forbidden terms: often one or two characters, which an unfiltered password would contain
    /// regularly (so the filter is really exercised), otherwise up to 12 like a real email part.
    fn forbidden_strategy() -> impl Strategy<Value = Vec<String>> {
        let term = prop_oneof![
            2 => "[a-zA-Z0-9@.+_-]{1,2}",
            1 => "[a-zA-Z0-9@.+_-]{3,12}",
        ];
        prop::collection::vec(term, 0..=4)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn generated_passwords_meet_the_policy(
            length in PasswordPolicy::MIN_LENGTH..=PasswordPolicy::MAX_LENGTH,
            terms in forbidden_strategy(),
        ) {
            let forbidden: Vec<&str> = terms.iter().map(String::as_str).collect();
            let policy = PasswordPolicy::new(length).unwrap();
            match generate(&policy, &forbidden) {
                Ok(password) => {
                    let password = password.expose_secret();
                    prop_assert_eq!(password.len(), length);
                    prop_assert!(password.bytes().all(|c| ALPHABET.contains(&c)));
                    prop_assert!(password.bytes().any(|c| c.is_ascii_uppercase()));
                    prop_assert!(password.bytes().any(|c| c.is_ascii_lowercase()));
                    prop_assert!(password.bytes().any(|c| c.is_ascii_digit()));
                    prop_assert!(password.chars().any(|c| SYMBOLS.contains(c)));
                    let lower = password.to_lowercase();
                    for term in &terms {
                        prop_assert!(!lower.contains(&term.to_lowercase()));
                    }
                }
                Err(PasswordError::Exhausted { .. }) => {
                    // Only plausible when single characters are forbidden: with terms of two or
                    // more characters a candidate is acceptable well over half the time.
                    prop_assert!(
                        terms.iter().filter(|t| t.len() == 1).count() >= 2,
                        "exhausted with terms {:?} at length {}", terms, length
                    );
                }
                Err(other) => prop_assert!(false, "unexpected error {other}"),
            }
        }

        #[test]
        fn lengths_outside_the_range_are_rejected(
            length in prop_oneof![0..PasswordPolicy::MIN_LENGTH, (PasswordPolicy::MAX_LENGTH + 1)..10_000],
        ) {
            prop_assert_eq!(
                PasswordPolicy::new(length),
                Err(PasswordError::InvalidLength { length })
            );
        }
    }
}
