//! Credentials carried by mail (password-reset links, verification codes) are cut out of
//! everything a ticket stores or sends, replaced by a marker naming the kind, and handed back to
//! the caller as secrets for the vault. Quarantined mail also gets its links defanged.

use std::sync::LazyLock;

use regex::Regex;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

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
pub struct FoundSecret {
    pub kind: SecretKind,
    pub value: SecretString,
}

impl std::fmt::Debug for FoundSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FoundSecret({})", self.kind.as_str())
    }
}

static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:https?://|www\.)[^\s<>"'()\[\]{}]+"#).unwrap_or_else(|_| unreachable!())
});
static CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:verification|security|confirmation|one[- ]time|authentication|access)\s+(?:code|passcode|password|pin)|\botp\b|\bcode\s+is|\byour\s+code|\bpasscode|bestätigungscode|verifizierungscode|code de vérification|código de verificación|確認コード|検証コード|認証コード",
    )
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
    for source in [text, html, subject] {
        for m in URL.find_iter(source) {
            let url = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?']);
            let url = url.replace("&amp;", "&");
            if is_reset_link(&url, reset_context) && !values.iter().any(|(_, v)| *v == url) {
                values.push((SecretKind::PasswordResetLink, url));
            }
        }
    }
    for source in [subject, text] {
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
                if looks_like_code && !values.iter().any(|(_, x)| *x == v) {
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

/// Replaces every occurrence of each secret by its marker. Longest first, so a link containing a
/// code is replaced whole.
pub fn redact(s: &str, secrets: &[FoundSecret]) -> String {
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
    URL.replace_all(s, |c: &regex::Captures<'_>| {
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
    fn debug_never_shows_the_value() {
        let f = find("", "verification code: 123456", "", false, false);
        assert!(!format!("{f:?}").contains("123456"));
    }
}
