//! Regexes with Unicode word boundaries (`\b`), searched at the speed of ASCII ones.
//!
//! A Unicode `\b` stops the regex crate's DFAs at the first non-ASCII byte of a haystack, and
//! the search falls back to the bounded backtracker or the PikeVM: ten times slower, over the
//! whole rest of the text, on every mail that is not pure ASCII. [`WordRegex`] searches with a
//! *fast* twin of the pattern whose `\b` are ASCII (`(?-u:\b)`), checks each match it finds where
//! the two kinds of boundary can disagree, and asks the exact (Unicode) pattern only there. The
//! matches are exactly those of the exact pattern, in the same order.
//!
//! Why that is exact. The patterns keep one rule: every `\b` sits next to a token that only
//! matches ASCII word characters (`\bcase`, `otp\b`, `\b(?:https?://|www\.)`), except a final
//! `\b` after Unicode digits (`(\d{12})\b`), which the fast twin drops (`trailing`) and the check
//! tests itself. With an ASCII word character `a` on the inside, a Unicode boundary (the outside
//! character is no Unicode word character) implies an ASCII one (it is then no ASCII word
//! character either), so every match path the exact pattern accepts the fast one accepts too:
//! nothing the exact pattern finds starts before the fast match. The two boundaries disagree only
//! when the outside character is a non-ASCII word character (`é`, `の`); when neither end of the
//! fast match has one next to an ASCII word character inside the match, the fast match's path
//! meets every `\b` of the exact pattern and it is the exact pattern's leftmost-first match too.
//! Otherwise the exact pattern searches on from the fast match's start, where nothing earlier can
//! match.

use std::sync::LazyLock;

use regex::{Captures, Match, Regex};

/// A Unicode word character (`\w`), as the regex crate's `\b` sees it.
static WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\A\w").unwrap_or_else(|_| unreachable!()));

fn is_word(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        let mut buf = [0u8; 4];
        WORD.is_match(c.encode_utf8(&mut buf))
    }
}

fn is_ascii_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A word character the ASCII `\b` takes for a non-word one.
fn is_unicode_only_word(c: Option<char>) -> bool {
    c.is_some_and(|c| !c.is_ascii() && is_word(c))
}

fn char_before(hay: &str, i: usize) -> Option<char> {
    hay.get(..i).and_then(|s| s.chars().next_back())
}

fn char_at(hay: &str, i: usize) -> Option<char> {
    hay.get(i..).and_then(|s| s.chars().next())
}

/// Whether a Unicode `\b` holds at `i`.
fn unicode_boundary(hay: &str, i: usize) -> bool {
    char_before(hay, i).is_some_and(is_word) != char_at(hay, i).is_some_and(is_word)
}

/// A regex with Unicode `\b`, searched with an ASCII-`\b` twin (see the module docs for the
/// rule its pattern keeps). Never matches the empty string.
pub(crate) struct WordRegex {
    fast: Regex,
    exact: Regex,
    /// The pattern ends in a `\b` after a token that may match non-ASCII characters: the fast twin
    /// drops it and each match is checked for it.
    trailing: bool,
}

impl WordRegex {
    /// `pattern` with Unicode `\b`; `trailing`: it ends in a `\b` after Unicode digits or the
    /// like, to be dropped from the fast twin and checked.
    pub(crate) fn new(pattern: &str, trailing: bool) -> Self {
        let fast = match pattern.strip_suffix(r"\b") {
            Some(p) if trailing => p,
            _ => pattern,
        };
        let fast = fast.replace(r"\b", r"(?-u:\b)");
        Self {
            fast: Regex::new(&fast).unwrap_or_else(|_| unreachable!()),
            exact: Regex::new(pattern).unwrap_or_else(|_| unreachable!()),
            trailing,
        }
    }

    /// Whether the fast match `start..end` is the exact pattern's match too.
    fn exact_here(&self, hay: &str, start: usize, end: usize) -> bool {
        let lead = char_at(hay, start).is_some_and(is_ascii_word)
            && is_unicode_only_word(char_before(hay, start));
        let trail = if self.trailing {
            !unicode_boundary(hay, end)
        } else {
            char_before(hay, end).is_some_and(is_ascii_word)
                && is_unicode_only_word(char_at(hay, end))
        };
        !lead && !trail
    }

    /// The exact pattern's leftmost-first match starting at or after `at`.
    pub(crate) fn find_at<'h>(&self, hay: &'h str, at: usize) -> Option<Match<'h>> {
        let m = self.fast.find_at(hay, at)?;
        if self.exact_here(hay, m.start(), m.end()) {
            Some(m)
        } else {
            self.exact.find_at(hay, m.start())
        }
    }

    /// [`find_at`](Self::find_at), with capture groups.
    pub(crate) fn captures_at<'h>(&self, hay: &'h str, at: usize) -> Option<Captures<'h>> {
        let c = self.fast.captures_at(hay, at)?;
        let m = c.get(0)?;
        if self.exact_here(hay, m.start(), m.end()) {
            Some(c)
        } else {
            self.exact.captures_at(hay, m.start())
        }
    }

    /// The exact pattern's successive non-overlapping matches, as [`Regex::find_iter`].
    pub(crate) fn find_iter<'r, 'h>(&'r self, hay: &'h str) -> impl Iterator<Item = Match<'h>> + 'r
    where
        'h: 'r,
    {
        let mut at = 0;
        std::iter::from_fn(move || {
            let m = self.find_at(hay, at)?;
            at = next_start(hay, m.end(), m.is_empty());
            Some(m)
        })
    }

    /// The exact pattern's successive non-overlapping matches with their groups, as
    /// [`Regex::captures_iter`].
    pub(crate) fn captures_iter<'r, 'h>(
        &'r self,
        hay: &'h str,
    ) -> impl Iterator<Item = Captures<'h>> + 'r
    where
        'h: 'r,
    {
        let mut at = 0;
        std::iter::from_fn(move || {
            let c = self.captures_at(hay, at)?;
            let m = c.get(0)?;
            at = next_start(hay, m.end(), m.is_empty());
            Some(c)
        })
    }

    /// The exact (Unicode) regex, for replacing.
    pub(crate) fn exact(&self) -> &Regex {
        &self.exact
    }
}

/// Where the search after a match ending at `end` starts. The patterns never match the empty
/// string; should one, the search moves on a character so it cannot loop.
fn next_start(hay: &str, end: usize, empty: bool) -> usize {
    if empty {
        end + char_at(hay, end).map_or(1, char::len_utf8)
    } else {
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Fragments around which the two kinds of boundary disagree, or the patterns match.
    const PIECES: &[&str] = &[
        " ",
        "\n",
        "é",
        "ü",
        "の",
        "確認コード",
        "：",
        "-",
        "_",
        "a",
        "Z",
        "1",
        "0",
        "٣",
        "１",
        "x",
        ".",
        ":",
        "#",
        "otp",
        "OTP",
        "code",
        "is",
        "your",
        "passcode",
        "verification",
        "Bestätigungscode",
        "code de vérification",
        "https://",
        "HTTP://",
        "www.",
        "WWW.",
        "e.com",
        "/p",
        "case",
        "Case ID",
        "abuse",
        "report",
        "account",
        "AWS Account",
        "id",
        "123456",
        "1234",
        "12345678901",
        "123456789012",
        "1234-5678-9012",
        "AB12CD",
        "[",
        "(",
    ];

    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(PIECES), 0..24).prop_map(|v| v.concat())
    }

    fn same(w: &WordRegex, hay: &str) {
        let fast: Vec<_> = w.find_iter(hay).map(|m| m.range()).collect();
        let exact: Vec<_> = w.exact.find_iter(hay).map(|m| m.range()).collect();
        assert_eq!(fast, exact, "find_iter on {hay:?}");
        let fast: Vec<Vec<_>> = w
            .captures_iter(hay)
            .map(|c| c.iter().map(|g| g.map(|g| g.range())).collect())
            .collect();
        let exact: Vec<Vec<_>> = w
            .exact
            .captures_iter(hay)
            .map(|c| c.iter().map(|g| g.map(|g| g.range())).collect())
            .collect();
        assert_eq!(fast, exact, "captures_iter on {hay:?}");
    }

    fn all() -> Vec<&'static WordRegex> {
        let mut v = super::super::redact::word_regexes();
        v.extend(super::super::resolve::word_regexes());
        v
    }

    #[test]
    fn boundaries_next_to_non_ascii_words_match_as_the_unicode_pattern() {
        for hay in [
            "écode is 123456",
            "の code is 123456",
            "codeé is",
            "otpé 123456",
            "otp 123456 éotp 654321 otp",
            "確認コード：123456",
            "あなたのcode is 123456",
            "éhttps://evil.example/x https://ok.example/y",
            "übercase 12345678901 case 12345678902",
            "case 12345678901é case 12345678902",
            "case ١٢٣٤٥٦٧٨٩٠١ x",
            "account ١٢٣٤٥٦٧٨٩٠١٢ and account 123456789012",
            "abuse report 123456789012345678901 abuse report 12345678",
        ] {
            for w in all() {
                same(w, hay);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_fast_twin_finds_what_the_unicode_pattern_finds(hay in text()) {
            for w in all() {
                same(w, &hay);
            }
        }
    }
}
