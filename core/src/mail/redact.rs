//! Credentials carried by mail (password-reset links, verification codes) are cut out of
//! everything a ticket stores or sends, replaced by a marker naming the kind, and handed back to
//! the caller as secrets for the vault. Quarantined mail also gets its links defanged.
//!
//! Redaction cuts out everything shaped like a credential; the vault keeps far less
//! ([`vaultable`]): only AWS's own (authenticated) mail, only reset links on AWS's own sign-in
//! host, and at most one secret of each kind per message.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::boundary::WordRegex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    PasswordResetLink,
    VerificationCode,
}

impl SecretKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::PasswordResetLink => "password-reset-link",
            SecretKind::VerificationCode => "verification-code",
        }
    }
    pub fn marker(self) -> String {
        format!("[redacted: {}]", self.as_str())
    }
}

/// A credential found in a message. The value is only ever exposed to the vault.
#[derive(Clone)]
pub struct FoundSecret {
    pub kind: SecretKind,
    pub value: SecretString,
}

impl std::fmt::Debug for FoundSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FoundSecret({})", self.kind.as_str())
    }
}

static URL: LazyLock<WordRegex> =
    LazyLock::new(|| WordRegex::new(r#"(?i)\b(?:https?://|www\.)[^\s<>"'()\[\]{}]+"#, false));
static CODE: LazyLock<WordRegex> = LazyLock::new(|| {
    WordRegex::new(
        r"(?i)(?:verification|security|confirmation|one[- ]time|authentication|access)\s+(?:code|passcode|password|pin)|\botp\b|\bcode\s+is|\byour\s+code|\bpasscode|bestätigungscode|verifizierungscode|code de vérification|código de verificación|確認コード|検証コード|認証コード",
        false,
    )
});
/// What every [`CODE`] match contains, ASCII case aside: `code` (code, passcode and the German
/// and French labels), `word` (password), `pin`, `otp`, `digo` (código), `コード`. None of their
/// letters has a non-ASCII case-insensitive twin (unlike `k` and `s`: `K`, `ſ`), so a text with
/// none of them has no label and [`CODE`] need not read it.
static CODE_HINT: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
    aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(["code", "word", "pin", "otp", "digo", "コード"])
        .unwrap_or_else(|_| unreachable!())
});
static CODE_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:\d{6}|\d{3}[- ]\d{3}|\d{4,8}|[A-Z0-9]{6})\b")
        .unwrap_or_else(|_| unreachable!())
});

fn is_reset_link(url: &str, reset_context: bool) -> bool {
    let u = url.to_ascii_lowercase();
    let named = [
        "resetpassword",
        "reset-password",
        "password-reset",
        "password_reset",
        "passwordreset",
        "forgotpassword",
        "forgot-password",
        "recoverpassword",
        "password/reset",
    ]
    .iter()
    .any(|k| u.contains(k));
    let tokened = ["token=", "code=", "key=", "otp=", "ticket="]
        .iter()
        .any(|k| u.contains(k));
    named || (tokened && (reset_context || u.contains("reset") || u.contains("recover")))
}

/// AWS's own sign-in host, the only host a vaulted root password-reset link may point at.
/// AWS's reset mail links to `https://signin.aws.amazon.com/resetpassword?token=…&type=ROOT_USER`
/// (the corpus in `tests/fixtures/mail`).
pub const AWS_SIGNIN_HOSTS: &[&str] = &["signin.aws.amazon.com"];

/// The path of AWS's root password-reset page on that host.
const AWS_RESET_PATH: &str = "/resetpassword";

/// Secrets of one kind one message may vault. AWS's reset mail carries one link and its
/// verification mail one code; a second is a duplicate or planted, and a check-out must never show
/// an operator a page of links to choose from. The first one in the message is kept.
pub const MAX_VAULTED_PER_KIND: usize = 1;

/// Whether `link` is a root password-reset link on AWS's own sign-in host: `https`, the exact
/// host (no lookalike, no suffix, no trailing dot), the default port, no user-info (so
/// `https://signin.aws.amazon.com@evil.example/…` is `evil.example`), AWS's reset path. Parsed
/// with the WHATWG URL parser browsers use, so the host checked is the host a click opens.
pub fn is_genuine_reset_link(link: &str) -> bool {
    let Ok(u) = url::Url::parse(link) else {
        return false;
    };
    u.scheme() == "https"
        && u.username().is_empty()
        && u.password().is_none()
        && u.port().is_none()
        && matches!(u.host(), Some(url::Host::Domain(h)) if AWS_SIGNIN_HOSTS.contains(&h))
        && u.path().eq_ignore_ascii_case(AWS_RESET_PATH)
}

/// The secrets of one message the vault may keep, in message order: none unless the message is
/// AWS's own mail (`from_aws`: an AWS sending domain, authenticated, not quarantined), and of
/// links only [genuine](is_genuine_reset_link) ones; at most [`MAX_VAULTED_PER_KIND`] of each kind.
/// Everything else found is still redacted, never vaulted.
pub fn vaultable(found: &[FoundSecret], from_aws: bool) -> Vec<FoundSecret> {
    let mut kept: Vec<FoundSecret> = Vec::new();
    for f in found {
        let allowed = match f.kind {
            SecretKind::PasswordResetLink => {
                from_aws && is_genuine_reset_link(f.value.expose_secret())
            }
            // Every reader of a vaulted code is an AWS flow (a takeover's or a release's email
            // change) that takes the account's newest: a code from anyone else would only
            // stand in front of AWS's.
            SecretKind::VerificationCode => from_aws,
        };
        let room = kept.iter().filter(|k| k.kind == f.kind).count() < MAX_VAULTED_PER_KIND;
        if allowed && room {
            kept.push(f.clone());
        }
    }
    kept
}

/// Finds secrets in `text` and `html`. `reset_context`: the message is about a password reset, so
/// any tokenised link counts as a reset link. `code_context`: the message is about a code.
pub fn find(
    subject: &str,
    text: &str,
    html: &str,
    reset_context: bool,
    code_context: bool,
) -> Vec<FoundSecret> {
    let mut values: Vec<(SecretKind, String)> = Vec::new();
    // What `values` holds, for a constant-time "seen already?" (a hostile message may carry
    // tens of thousands of link-shaped strings).
    let mut seen: HashSet<String> = HashSet::new();
    for source in [text, html, subject] {
        for m in URL.find_iter(source) {
            let url = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?']);
            let url = url.replace("&amp;", "&");
            if is_reset_link(&url, reset_context) && seen.insert(url.clone()) {
                values.push((SecretKind::PasswordResetLink, url));
            }
        }
    }
    for source in [subject, text] {
        if !CODE_HINT.is_match(source) {
            continue;
        }
        for label in CODE.find_iter(source) {
            // The code follows its label closely (same sentence, or the next line).
            let window_end = (label.end() + 80).min(source.len());
            let mut end = window_end;
            while !source.is_char_boundary(end) {
                end -= 1;
            }
            let window = &source[label.end()..end];
            if let Some(code) = CODE_VALUE.find(window) {
                let v = code.as_str().to_owned();
                let looks_like_code = v.chars().any(|c| c.is_ascii_digit());
                if looks_like_code && seen.insert(v.clone()) {
                    values.push((SecretKind::VerificationCode, v));
                }
            }
        }
    }
    if code_context
        && !values
            .iter()
            .any(|(k, _)| *k == SecretKind::VerificationCode)
    {
        // A verification mail whose code stands alone on a line.
        for line in text.lines() {
            let t = line.trim();
            if (4..=8).contains(&t.len()) && t.chars().all(|c| c.is_ascii_digit()) {
                values.push((SecretKind::VerificationCode, t.to_owned()));
                break;
            }
        }
    }
    values
        .into_iter()
        .map(|(kind, v)| FoundSecret {
            kind,
            value: SecretString::from(v),
        })
        .collect()
}

/// Replaces every occurrence of each secret (and of its `&amp;` form) by its marker, in one
/// pass over `s` whatever the number of secrets. Occurrences that overlap (a code inside a
/// link, or running into one) become one marker, the longest secret's, so no character of any
/// secret is left behind.
pub fn redact(s: &str, secrets: &[FoundSecret]) -> String {
    let mut patterns: Vec<String> = Vec::new();
    let mut kinds: Vec<SecretKind> = Vec::new();
    for f in secrets {
        let v = f.value.expose_secret();
        if v.is_empty() {
            continue;
        }
        let amp = v.replace('&', "&amp;");
        if amp != v {
            patterns.push(amp);
            kinds.push(f.kind);
        }
        patterns.push(v.to_owned());
        kinds.push(f.kind);
    }
    if patterns.is_empty() {
        return s.to_owned();
    }
    if patterns.len() <= FEW_SECRETS {
        return cut_spans(s, &few_spans(s, &patterns), &kinds);
    }
    let Ok(ac) = aho_corasick::AhoCorasick::new(&patterns) else {
        return redact_one_by_one(s, secrets);
    };
    let matches = ac
        .find_overlapping_iter(s)
        .map(|m| (m.start(), m.end(), m.pattern().as_usize()));
    let spans = merged(matches, &patterns);
    cut_spans(s, &spans, &kinds)
}

/// Up to this many secret forms, each is looked for on its own (a `memchr`-fast substring
/// search), sparing the automaton's construction on every message that carries one link or
/// code; past it, one automaton pass ([`redact`]).
const FEW_SECRETS: usize = 8;

/// Every occurrence of each pattern (overlapping ones too), merged into disjoint spans (start,
/// end, longest pattern), as [`redact`]'s automaton pass makes them.
fn few_spans(s: &str, patterns: &[String]) -> Vec<(usize, usize, usize)> {
    let mut found: Vec<(usize, usize, usize)> = Vec::new();
    for (p, pat) in patterns.iter().enumerate() {
        let mut from = 0;
        while let Some(i) = s.get(from..).and_then(|rest| rest.find(pat.as_str())) {
            let start = from + i;
            found.push((start, start + pat.len(), p));
            // The next occurrence may overlap this one: go on one character later.
            from = start + s[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    found.sort_unstable_by_key(|&(start, end, _)| (end, start));
    merged(found.into_iter(), patterns)
}

/// Occurrences `(start, end, pattern)`, in order of where they end (as an automaton reports
/// them), merged as they come into disjoint spans `(start, end, longest pattern)`. A new one
/// can only overlap the spans at the top of the stack, so nothing else is kept (a hostile
/// message can make millions of overlapping matches).
fn merged(
    matches: impl Iterator<Item = (usize, usize, usize)>,
    patterns: &[String],
) -> Vec<(usize, usize, usize)> {
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    for (mut start, mut end, mut p) in matches {
        while let Some(&(top_start, top_end, top_p)) = spans.last() {
            if top_end <= start {
                break;
            }
            spans.pop();
            start = start.min(top_start);
            end = end.max(top_end);
            if patterns[top_p].len() > patterns[p].len() {
                p = top_p;
            }
        }
        spans.push((start, end, p));
    }
    spans
}

/// `s` with each span replaced by its pattern's marker.
fn cut_spans(s: &str, spans: &[(usize, usize, usize)], kinds: &[SecretKind]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for &(start, end, p) in spans {
        out.push_str(&s[at..start]);
        out.push_str(&kinds[p].marker());
        at = end;
    }
    out.push_str(&s[at..]);
    out
}

/// The same, one secret after another (longest first): only if the automaton cannot be built.
fn redact_one_by_one(s: &str, secrets: &[FoundSecret]) -> String {
    let mut order: Vec<&FoundSecret> = secrets.iter().collect();
    order.sort_by_key(|f| std::cmp::Reverse(f.value.expose_secret().len()));
    let mut out = s.to_owned();
    for f in order {
        let v = f.value.expose_secret();
        if v.is_empty() {
            continue;
        }
        out = out.replace(v, &f.kind.marker());
        let amp = v.replace('&', "&amp;");
        if amp != v {
            out = out.replace(&amp, &f.kind.marker());
        }
    }
    out
}

/// `https://evil.example/x` → `hxxps://evil[.]example/x`: readable, not clickable.
pub fn defang(s: &str) -> String {
    URL.exact()
        .replace_all(s, |c: &regex::Captures<'_>| {
            let u = &c[0];
            let u = u.replacen("http", "hxxp", 1).replacen("HTTP", "hxxp", 1);
            match u.split_once("://") {
                Some((scheme, rest)) => {
                    let (host, path) = rest
                        .split_once('/')
                        .map(|(h, p)| (h, format!("/{p}")))
                        .unwrap_or((rest, String::new()));
                    format!("{scheme}://{}{path}", host.replace('.', "[.]"))
                }
                None => u.replace('.', "[.]"),
            }
        })
        .into_owned()
}

#[cfg(test)]
pub(crate) fn word_regexes() -> Vec<&'static WordRegex> {
    vec![&*URL, &*CODE]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(f: &[FoundSecret]) -> Vec<&'static str> {
        f.iter().map(|s| s.kind.as_str()).collect()
    }

    #[test]
    fn reset_link_and_code_are_found_and_replaced() {
        let text = "Use https://signin.aws.amazon.com/resetpassword?type=root&token=AbC123xyz to reset. Your verification code is: 483920.";
        let found = find("Password Assistance", text, "", true, false);
        assert_eq!(
            kinds(&found),
            vec!["password-reset-link", "verification-code"]
        );
        let red = redact(text, &found);
        assert!(
            !red.contains("AbC123xyz") && !red.contains("483920"),
            "{red}"
        );
        assert!(
            red.contains("[redacted: password-reset-link]")
                && red.contains("[redacted: verification-code]")
        );
    }

    #[test]
    fn html_only_links_are_found_and_html_escaped_ampersands_match() {
        let html = r#"<a href="https://signin.aws.amazon.com/resetpassword?type=root&amp;token=T0KEN">Reset</a>"#;
        let found = find("", "Reset", html, true, false);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].value.expose_secret(),
            "https://signin.aws.amazon.com/resetpassword?type=root&token=T0KEN"
        );
        assert_eq!(
            redact(html, &found),
            r#"<a href="[redacted: password-reset-link]">Reset</a>"#
        );
    }

    #[test]
    fn ordinary_links_and_numbers_are_left_alone() {
        let text = "See https://aws.amazon.com/billing/ for invoice 123456789. Call 555-1234.";
        assert!(find("Your invoice", text, "", false, false).is_empty());
    }

    #[test]
    fn lone_code_line_in_a_verification_mail() {
        let text = "Verify your email address\n\n  771204  \n\nThis code expires in 10 minutes.";
        let found = find("Email Address Verification Request", text, "", false, true);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].value.expose_secret(), "771204");
    }

    #[test]
    fn defang_makes_links_unclickable() {
        assert_eq!(
            defang("go to https://evil.example.com/login now"),
            "go to hxxps://evil[.]example[.]com/login now"
        );
    }

    #[test]
    fn only_links_on_aws_signin_host_are_genuine() {
        for good in [
            "https://signin.aws.amazon.com/resetpassword?token=AbC&type=ROOT_USER",
            "https://SIGNIN.AWS.AMAZON.COM/resetpassword?token=AbC",
            "https://signin.aws.amazon.com:443/resetpassword?token=AbC",
        ] {
            assert!(is_genuine_reset_link(good), "{good}");
        }
        for bad in [
            "https://signin.aws.amazon.com@evil.example/resetpassword?token=AbC",
            "https://user:pw@signin.aws.amazon.com/resetpassword?token=AbC",
            "https://signin.aws.amazon.com.evil.example/resetpassword?token=AbC",
            "https://signin.aws.amazon.com./resetpassword?token=AbC",
            "https://signin-aws.evil.example/resetpassword?token=AbC",
            "https://evil.example/signin.aws.amazon.com/resetpassword?token=AbC",
            "https://signin.aws.amazon.com:8443/resetpassword?token=AbC",
            "http://signin.aws.amazon.com/resetpassword?token=AbC",
            "https://signin.aws.amazon.com/oauth?redirect_uri=https://evil.example/reset&code=1",
            "https://sign\u{0456}n.aws.amazon.com/resetpassword?token=AbC",
            "https://xn--sgnin-2ve.aws.amazon.com/resetpassword?token=AbC",
            "www.signin.aws.amazon.com/resetpassword?token=AbC",
            "not a url",
        ] {
            assert!(!is_genuine_reset_link(bad), "{bad}");
        }
    }

    #[test]
    fn the_vault_keeps_one_genuine_link_and_one_code_from_aws_mail_only() {
        let text = "https://evil.example/resetpassword?token=Planted1 \
            https://signin.aws.amazon.com/resetpassword?token=First \
            https://signin.aws.amazon.com/resetpassword?token=Second \
            Your verification code is 123456. Your verification code is 654321.";
        let found = find("Password Assistance", text, "", true, true);
        assert_eq!(found.len(), 5);
        let kept = vaultable(&found, true);
        let values: Vec<&str> = kept.iter().map(|k| k.value.expose_secret()).collect();
        assert_eq!(
            values,
            vec![
                "https://signin.aws.amazon.com/resetpassword?token=First",
                "123456"
            ]
        );
        // Someone else's mail vaults nothing, however genuine its link looks: a code from it
        // would stand in front of AWS's for the flow that reads the account's newest.
        let kept = vaultable(&found, false);
        assert!(kept.is_empty(), "{:?}", kinds(&kept));
        // Everything found is still redacted.
        let red = redact(text, &found);
        for token in ["Planted1", "First", "Second", "123456", "654321"] {
            assert!(!red.contains(token), "{red}");
        }
    }

    fn secret(kind: SecretKind, v: &str) -> FoundSecret {
        FoundSecret {
            kind,
            value: SecretString::from(v.to_owned()),
        }
    }

    /// Secrets whose occurrences overlap (one running into the next) leave no character of
    /// either behind: one marker, the longest's kind, covers both.
    #[test]
    fn overlapping_secrets_are_redacted_as_one_span() {
        let found = [
            secret(SecretKind::VerificationCode, "12345678"),
            secret(
                SecretKind::PasswordResetLink,
                "5678https://x.example/resetpassword?token=T0ken",
            ),
        ];
        let text = "a 0012345678https://x.example/resetpassword?token=T0ken b 12345678 c";
        assert_eq!(
            redact(text, &found),
            "a 00[redacted: password-reset-link] b [redacted: verification-code] c"
        );
        // The `&amp;` form of a link is redacted like the link.
        let found = [secret(
            SecretKind::PasswordResetLink,
            "https://x.example/resetpassword?a=1&token=T",
        )];
        let html = "<a href=\"https://x.example/resetpassword?a=1&amp;token=T\">x</a>";
        assert_eq!(
            redact(html, &found),
            "<a href=\"[redacted: password-reset-link]\">x</a>"
        );
    }

    /// Hostile: 40,000 distinct reset-shaped links in one message. Found and redacted in a
    /// linear number of steps (before: a linear search per link and a pass over the whole text
    /// per link, past the Lambda's timeout, so the mail never became a ticket). Every one is
    /// still cut out.
    #[test]
    fn tens_of_thousands_of_links_are_all_redacted() {
        let text: String = (0..40_000)
            .map(|i| format!("https://www.example.com/resetpassword?token=T{i:05}z "))
            .collect();
        let found = find("hello", &text, "", false, false);
        assert_eq!(found.len(), 40_000);
        let red = redact(&text, &found);
        assert!(!red.contains("token="), "{}", &red[..200]);
        assert_eq!(
            red.matches("[redacted: password-reset-link]").count(),
            40_000
        );
    }

    /// Hostile: hundreds of secrets that are prefixes of one another, over a long run that
    /// holds them all at every position: millions of overlapping matches, merged as they come
    /// (kept, they were hundreds of megabytes). All of the run is cut out.
    #[test]
    fn millions_of_overlapping_matches_merge_into_one_span() {
        let found: Vec<FoundSecret> = (1..=300)
            .map(|j| secret(SecretKind::PasswordResetLink, &"ab".repeat(j)))
            .collect();
        let text = format!("x {} y", "ab".repeat(20_000));
        assert_eq!(redact(&text, &found), "x [redacted: password-reset-link] y");
    }

    proptest::proptest! {
        /// The few-secrets path and the automaton pass cut the same spans.
        #[test]
        fn few_secrets_are_cut_as_the_automaton_cuts_them(
            text in "[ab&;amp1-3]{0,60}",
            pats in proptest::collection::vec("[ab&1-3]{1,5}", 1..5),
        ) {
            let patterns: Vec<String> = pats;
            let few = few_spans(&text, &patterns);
            let ac = aho_corasick::AhoCorasick::new(&patterns).unwrap();
            let matches = ac
                .find_overlapping_iter(&text)
                .map(|m| (m.start(), m.end(), m.pattern().as_usize()));
            let spans = merged(matches, &patterns);
            let strip = |v: &[(usize, usize, usize)]| v.iter().map(|&(a, b, _)| (a, b)).collect::<Vec<_>>();
            proptest::prop_assert_eq!(strip(&few), strip(&spans));
        }
    }

    fn codes(subject: &str, text: &str) -> Vec<String> {
        find(subject, text, "", false, false)
            .iter()
            .map(|f| f.value.expose_secret().to_owned())
            .collect()
    }

    #[test]
    fn localized_code_phrases_are_found_next_to_any_script() {
        for text in [
            "確認コード：483920",
            "お客様の確認コードは 483920 です。",
            "Ihr Bestätigungscode lautet 483920.",
            "Ihr Verifizierungscode: 483920",
            "Votre code de vérification est 483920.",
            "Su código de verificación es 483920",
            "あなたの code is 483920",
            "Ваш code is 483920",
            "Código: your code 483920",
            "é otp 483920",
        ] {
            assert_eq!(codes("", text), vec!["483920"], "{text}");
        }
    }

    /// The labels' `\b` are Unicode word boundaries: a label glued to a word of another script
    /// is part of that word, as `\bcode` glued to an ASCII word is (`barcode is 123456`).
    #[test]
    fn a_label_glued_to_a_word_of_any_script_is_no_label() {
        for text in [
            "barcode is 483920",
            "あなたのcode is 483920",
            "Ihrcode is 483920",
            "Ärcode is 483920",
            "éotp 483920",
            "otpé 483920",
            "Вашcode is 483920",
        ] {
            assert!(codes("", text).is_empty(), "{text}");
        }
        // A non-word neighbour of any script is a boundary.
        for text in ["—code is 483920", "「code is 483920", "：otp：483920"] {
            assert_eq!(codes("", text), vec!["483920"], "{text}");
        }
    }

    /// The URL regex is case-insensitive: the fast search must not miss upper-case schemes.
    #[test]
    fn links_are_found_whatever_their_case_and_script_around() {
        for (text, want) in [
            (
                "HTTPS://SIGNIN.AWS.AMAZON.COM/RESETPASSWORD?TOKEN=AbC",
                "HTTPS://SIGNIN.AWS.AMAZON.COM/RESETPASSWORD?TOKEN=AbC",
            ),
            (
                "WWW.example.com/reset-password?t=1",
                "WWW.example.com/reset-password?t=1",
            ),
            (
                "ここ：https://e.example/password-reset?t=2 です",
                "https://e.example/password-reset?t=2",
            ),
            // Glued to a word: the link starts at the next boundary, `www.` after `://`.
            (
                "éhttps://www.e.example/password-reset",
                "www.e.example/password-reset",
            ),
        ] {
            let found = find("", text, "", false, false);
            let got: Vec<&str> = found.iter().map(|f| f.value.expose_secret()).collect();
            assert_eq!(got, vec![want], "{text}");
        }
    }

    /// [`CODE_HINT`] is sound: no letter of its words matches a non-ASCII character
    /// case-insensitively, and every label [`CODE`] finds holds one of them.
    #[test]
    fn the_code_hint_never_skips_a_label() {
        let letters = Regex::new("(?i)[codewrpintg]").unwrap();
        let non_ascii: String = ('\u{80}'..=char::MAX).collect();
        if let Some(m) = letters.find(&non_ascii) {
            panic!("{m:?} matches an ASCII letter of CODE_HINT case-insensitively");
        }
        // The check itself: `s` has the non-ASCII twin `ſ`.
        assert!(Regex::new("(?i)s").unwrap().is_match("ſ"));
        for label in [
            "VERIFICATION CODE",
            "Security PassCode",
            "ACCESS PASSWORD",
            "one time PIN",
            "OTP",
            "Code Is",
            "YOUR CODE",
            "PASSCODE",
            "BESTÄTIGUNGSCODE",
            "Verifizierungscode",
            "CODE DE VÉRIFICATION",
            "CÓDIGO DE VERIFICACIÓN",
            "確認コード",
            "検証コード",
            "認証コード",
            "Security Paſſword",
        ] {
            assert!(CODE.exact().is_match(label), "{label}");
            assert!(CODE_HINT.is_match(label), "{label}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
        #[test]
        fn a_text_with_a_label_always_passes_the_hint(
            s in "(?i)((verification|security|confirmation|one[- ]time|authentication|access)[ \n\u{a0}]{1,3}(code|passcode|password|pin)|otp|code +is|your +code|passcode|bestätigungscode|verifizierungscode|code de vérification|código de verificación|確認コード|検証コード|認証コード|[ a-zäöüé0-9:]){0,12}"
        ) {
            if CODE.exact().is_match(&s) {
                proptest::prop_assert!(CODE_HINT.is_match(&s), "{}", s);
            }
        }
    }

    #[test]
    fn debug_never_shows_the_value() {
        let f = find("", "verification code: 123456", "", false, false);
        assert!(!format!("{f:?}").contains("123456"));
    }
}
