//! Category and priority, from sender, subject and body text.

use std::cell::OnceCell;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    PasswordReset,
    PasswordChanged,
    VerificationCode,
    Mfa,
    Security,
    Billing,
    /// AWS confirms an account's closure (a closing release waits for it).
    AccountClosed,
    /// AWS tells the previous root address that the root email changed.
    RootEmailChanged,
    /// AWS Organizations: an invitation to join an organization, or a change of membership.
    Organization,
    Account,
    SupportCase,
    ServiceNotice,
    Marketing,
    Unknown,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::PasswordReset => "password-reset",
            Category::PasswordChanged => "password-changed",
            Category::VerificationCode => "verification-code",
            Category::Mfa => "mfa",
            Category::Security => "security",
            Category::Billing => "billing",
            Category::AccountClosed => "account-closed",
            Category::RootEmailChanged => "root-email-changed",
            Category::Organization => "organization",
            Category::Account => "account",
            Category::SupportCase => "support-case",
            Category::ServiceNotice => "service-notice",
            Category::Marketing => "marketing",
            Category::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Critical,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }
}

const SECURITY: &[&str] = &[
    "abuse report",
    "abuse case",
    "abuse notice",
    "compromised",
    "exposed",
    "suspicious",
    "unauthorized",
    "unusual activity",
    "unusual sign-in",
    "irregular activity",
    "security alert",
    "security notification",
    "fraudulent",
    "phishing",
    "malicious",
    "leaked",
];
const PASSWORD_CHANGED: &[&str] = &[
    "password has been changed",
    "password was changed",
    "password changed",
    "password has been updated",
    "password was updated",
    "password updated",
    "password change confirmation",
];
const PASSWORD_RESET: &[&str] = &[
    "password reset",
    "reset your password",
    "password assistance",
    "reset password",
    "forgot your password",
    "password recovery",
    "recover your password",
];
const VERIFICATION: &[&str] = &[
    "verification code",
    "verify your email",
    "email verification",
    "email address verification",
    "verification request",
    "confirm your email",
    "one-time password",
    "one-time code",
    "confirmation code",
    "security code",
    // Root mail is often localized: German, French, Spanish, Japanese.
    "überprüfung",
    "bestätigungscode",
    "verifizierungscode",
    "code de vérification",
    "código de verificación",
    "確認コード",
    "検証コード",
    "認証コード",
    "your code",
];
const MFA: &[&str] = &[
    "mfa",
    "multi-factor",
    "multi factor",
    "two-factor",
    "2fa",
    "authenticator",
    "security key",
    "passkey",
];
const SUPPORT: &[&str] = &["case id", "[case", "support case", "aws support"];
const ACCOUNT_CLOSED: &[&str] = &[
    "account closure confirmation",
    "account has been closed",
    "account closed",
    "account is closed",
];
const ROOT_EMAIL_CHANGED: &[&str] = &[
    "root user email",
    "root user was changed",
    "email address for your aws account",
    "email address has been changed",
    "email address was changed",
];
const ORGANIZATION: &[&str] = &[
    "invitation to join",
    "invited to join",
    "organization invitation",
    "organizations invitation",
    "join an aws organization",
    "joined another organization",
    "joined an aws organization",
    "left the organization",
    "removed from the organization",
];
const ACCOUNT: &[&str] = &[
    "account closure",
    "closing your",
    "suspended",
    "suspension",
    "reinstated",
    "reactivated",
    "alternate contact",
    "contact information",
    "email address change",
    "account name",
    "account has been",
    "account is now",
    "account was",
];
const BILLING: &[&str] = &[
    "invoice",
    "billing",
    "statement",
    "payment",
    "past due",
    "overdue",
    "free tier",
    "budget",
    "cost",
    "charges",
    "receipt",
    "refund",
    "credit memo",
    "spend",
];
const BILLING_URGENT: &[&str] = &[
    "payment failed",
    "failed payment",
    "payment was declined",
    "payment declined",
    "unable to process your payment",
    "unable to charge",
    "past due",
    "overdue",
    "payment was unsuccessful",
    "unpaid",
    "declined",
];
const NOTICE: &[&str] = &[
    "aws health",
    "health event",
    "deprecat",
    "end of support",
    "end of standard support",
    "end of life",
    "maintenance",
    "retire",
    "action required",
    "action may be required",
    "scheduled",
    "upgrade",
    "notification",
    "migrate",
    "important update",
    "change to",
    "changes to",
];
const MARKETING: &[&str] = &[
    "re:invent",
    "webinar",
    "summit",
    "newsletter",
    "register now",
    "new on aws",
    "what's new",
    "save the date",
    "training",
    "certification",
    "join us",
    "you're invited",
    "exclusive",
    "event",
    "offer",
];

/// The body's phrases, one group per check, in [`BODY`]'s order.
const CASE_ID_PHRASE: &[&str] = &["case id"];
const BODY_SECURITY: &[&str] = &[
    "abuse report",
    "your aws account may be compromised",
    "access key is exposed",
    "exposed access key",
    "unauthorized activity",
];
const BODY_PASSWORD_CHANGED: &[&str] = &[
    "your password has been changed",
    "your aws password was changed",
    "your password was changed",
];
const BODY_PASSWORD_RESET: &[&str] = &["reset your password", "resetpassword", "password reset"];
const BODY_VERIFICATION: &[&str] = &["verification code", "one-time password"];
const BODY_SUPPORT: &[&str] = &["case id", "support case"];

/// Phrase groups found together: one pass of one automaton over a text tells which groups occur
/// in it, exactly as `needles.iter().any(|n| text.contains(n))` per group would.
struct Phrases {
    ac: aho_corasick::AhoCorasick,
    /// Per pattern: the groups (bits) it belongs to.
    groups: Vec<u32>,
}

/// Every distinct phrase of `groups`, with the bit set of the groups (by index) it belongs to.
fn needles_by_group<'a>(groups: &[&[&'a str]]) -> (Vec<&'a str>, Vec<u32>) {
    let mut needles: Vec<&'a str> = Vec::new();
    let mut bits: Vec<u32> = Vec::new();
    for (g, words) in groups.iter().enumerate() {
        for w in *words {
            match needles.iter().position(|n| n == w) {
                Some(i) => bits[i] |= 1 << g,
                None => {
                    needles.push(w);
                    bits.push(1 << g);
                }
            }
        }
    }
    (needles, bits)
}

impl Phrases {
    fn new(groups: &[&[&str]]) -> Self {
        let (needles, bits) = needles_by_group(groups);
        Self {
            // A DFA: the fastest per byte for an overlapping search over a few dozen phrases.
            ac: aho_corasick::AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(&needles)
                .unwrap_or_else(|_| unreachable!()),
            groups: bits,
        }
    }

    /// Bit `g` set: some phrase of group `g` occurs in `hay`.
    fn find(&self, hay: &str) -> u32 {
        let mut found = 0;
        for m in self.ac.find_overlapping_iter(hay) {
            found |= self.groups[m.pattern().as_usize()];
        }
        found
    }
}

/// Subject phrases: [`RULES`]'s groups in order, then [`BILLING_URGENT`].
static SUBJECT: LazyLock<Phrases> = LazyLock::new(|| {
    let mut groups: Vec<&[&str]> = RULES.iter().map(|(words, _)| *words).collect();
    groups.push(BILLING_URGENT);
    Phrases::new(&groups)
});
const SUBJECT_BILLING_URGENT: u32 = 1 << RULES.len();
const SUBJECT_MARKETING: u32 = 1 << (RULES.len() - 1);

/// Body phrases, bit by bit. All ASCII and lower-case, matched ASCII case-insensitively
/// ([`Body`] says why that is the same as matching the lower-cased head).
static BODY: LazyLock<CandidatePhrases> = LazyLock::new(|| {
    CandidatePhrases::new(&[
        CASE_ID_PHRASE,
        BODY_SECURITY,
        BODY_PASSWORD_CHANGED,
        BODY_PASSWORD_RESET,
        BODY_VERIFICATION,
        BODY_SUPPORT,
        MARKETING,
        BILLING_URGENT,
    ])
});

/// ASCII phrase groups found ASCII case-insensitively, with a SIMD prefilter: a leftmost-first
/// search finds each position where some phrase starts (restarting one byte after each), and
/// every phrase is then compared there, so phrases that overlap or share a start are all seen.
struct CandidatePhrases {
    ac: aho_corasick::AhoCorasick,
    needles: Vec<&'static str>,
    groups: Vec<u32>,
}

impl CandidatePhrases {
    fn new(groups: &[&[&'static str]]) -> Self {
        let (needles, bits) = needles_by_group(groups);
        Self {
            ac: aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(aho_corasick::MatchKind::LeftmostFirst)
                .build(&needles)
                .unwrap_or_else(|_| unreachable!()),
            needles,
            groups: bits,
        }
    }

    fn find(&self, hay: &str) -> u32 {
        let bytes = hay.as_bytes();
        let mut found = 0;
        let mut at = 0;
        while let Some(m) = self
            .ac
            .find(aho_corasick::Input::new(hay).range(at..hay.len()))
        {
            let start = m.start();
            let rest = &bytes[start..];
            for (n, g) in self.needles.iter().zip(&self.groups) {
                if rest
                    .get(..n.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(n.as_bytes()))
                {
                    found |= g;
                }
            }
            at = start + 1;
        }
        found
    }
}

const B_CASE_ID: u32 = 1;
const B_SECURITY: u32 = 1 << 1;
const B_PASSWORD_CHANGED: u32 = 1 << 2;
const B_PASSWORD_RESET: u32 = 1 << 3;
const B_VERIFICATION: u32 = 1 << 4;
const B_SUPPORT: u32 = 1 << 5;
const B_MARKETING: u32 = 1 << 6;
const B_BILLING_URGENT: u32 = 1 << 7;

/// A message body as classification reads it: the phrases found in its first 20,000 characters,
/// lower-cased, worked out once and only when asked.
///
/// Lower-casing only matters to the ASCII phrases through ASCII letters, except for the two
/// characters whose lower case holds an ASCII letter: KELVIN SIGN (`k`) and `İ` (`i̇`). A head
/// without them is matched as it is, ASCII case-insensitively, without a lower-cased copy.
pub(crate) struct Body<'a> {
    text: &'a str,
    phrases: OnceCell<u32>,
}

impl<'a> Body<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            text,
            phrases: OnceCell::new(),
        }
    }

    fn has(&self, group: u32) -> bool {
        let found = self.phrases.get_or_init(|| {
            let head = &self.text[..super::parse::char_offset(self.text, HEAD_CHARS)];
            if head.contains(LOWER_CASE_TO_ASCII) {
                BODY.find(&head.to_lowercase())
            } else {
                BODY.find(head)
            }
        });
        found & group != 0
    }
}

/// Decides the category. Subject and sender decide first; the body only when they say nothing.
pub fn classify(from: &str, subject: &str, text: &str, list_unsubscribe: bool) -> Category {
    classify_body(from, subject, &Body::new(text), list_unsubscribe)
}

pub(crate) fn classify_body(
    from: &str,
    subject: &str,
    body: &Body<'_>,
    list_unsubscribe: bool,
) -> Category {
    let f = from.to_ascii_lowercase();

    // Sender-specific signals.
    if f.starts_with("abuse") || f.contains("ec2-abuse") || f.contains("trustandsafety") {
        return Category::Security;
    }
    let s = subject.to_lowercase();
    let in_subject = SUBJECT.find(&s);
    // Order matters: a "password changed" notice is not a reset; a case about billing is a case.
    if let Some((_, c)) = RULES
        .iter()
        .enumerate()
        .find(|(g, _)| in_subject & (1 << g) != 0)
        .map(|(_, r)| r)
    {
        return *c;
    }
    if f.contains("marketing") || (list_unsubscribe && in_subject & SUBJECT_MARKETING != 0) {
        return Category::Marketing;
    }
    if f.contains("billing") || f.contains("budgets") {
        return Category::Billing;
    }
    if f.contains("health") {
        return Category::ServiceNotice;
    }
    if f.contains("support") && (s.contains("case") || body.has(B_CASE_ID)) {
        return Category::SupportCase;
    }
    // The subject said nothing: strong body phrases only.
    let body_rules = [
        (B_SECURITY, Category::Security),
        (B_PASSWORD_CHANGED, Category::PasswordChanged),
        (B_PASSWORD_RESET, Category::PasswordReset),
        (B_VERIFICATION, Category::VerificationCode),
        (B_SUPPORT, Category::SupportCase),
    ];
    if let Some((_, c)) = body_rules.iter().find(|(g, _)| body.has(*g)) {
        return *c;
    }
    if list_unsubscribe && body.has(B_MARKETING) {
        return Category::Marketing;
    }
    Category::Unknown
}

/// The subject's phrase groups, in the order they decide (a "password changed" notice is not a
/// reset; a case about billing is a case).
const RULES: [(&[&str], Category); 13] = [
    (SECURITY, Category::Security),
    (PASSWORD_CHANGED, Category::PasswordChanged),
    (PASSWORD_RESET, Category::PasswordReset),
    (VERIFICATION, Category::VerificationCode),
    (SUPPORT, Category::SupportCase),
    (MFA, Category::Mfa),
    (ACCOUNT_CLOSED, Category::AccountClosed),
    (ROOT_EMAIL_CHANGED, Category::RootEmailChanged),
    (ORGANIZATION, Category::Organization),
    (ACCOUNT, Category::Account),
    (BILLING, Category::Billing),
    (NOTICE, Category::ServiceNotice),
    (MARKETING, Category::Marketing),
];

/// Characters of the body classification reads.
const HEAD_CHARS: usize = 20_000;

/// The non-ASCII characters whose lower case holds an ASCII letter.
const LOWER_CASE_TO_ASCII: [char; 2] = ['\u{130}', '\u{212a}'];

/// Whether a billing message is about a failed or overdue payment.
pub fn billing_urgent(subject: &str, text: &str) -> bool {
    billing_urgent_body(subject, &Body::new(text))
}

pub(crate) fn billing_urgent_body(subject: &str, body: &Body<'_>) -> bool {
    SUBJECT.find(&subject.to_lowercase()) & SUBJECT_BILLING_URGENT != 0
        || body.has(B_BILLING_URGENT)
}

/// `expected_by_workflow`: a workflow of ours was waiting for this password-changed / MFA mail.
pub fn priority(
    category: Category,
    billing_urgent: bool,
    quarantined: bool,
    expected_by_workflow: bool,
) -> Priority {
    let base = match category {
        Category::Security => Priority::Critical,
        Category::PasswordChanged | Category::Mfa if !expected_by_workflow => Priority::Critical,
        // Our root address lost the account: expected only while a release hands it over
        // (inbound lowers it for an account releasing or released).
        Category::RootEmailChanged => Priority::Critical,
        Category::PasswordReset
        | Category::AccountClosed
        | Category::Organization
        | Category::VerificationCode
        | Category::Account
        | Category::SupportCase => Priority::High,
        Category::Billing if billing_urgent => Priority::High,
        Category::Marketing => Priority::Low,
        _ => Priority::Normal,
    };
    if quarantined {
        base.max(Priority::High)
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The classification as it was before [`Phrases`] and [`Body`]: one `contains` per phrase on
    /// the lower-cased subject and body head. The oracle the fast version must agree with.
    mod reference {
        use super::super::*;

        fn any(hay: &str, needles: &[&str]) -> bool {
            needles.iter().any(|n| hay.contains(n))
        }

        // The phrase lists are the production ones (`super::super::*`): the oracle is the
        // matching, one `contains` per phrase.

        /// Decides the category. Subject and sender decide first; the body only when they say nothing.
        pub(super) fn classify(
            from: &str,
            subject: &str,
            text: &str,
            list_unsubscribe: bool,
        ) -> Category {
            let f = from.to_ascii_lowercase();
            let s = subject.to_lowercase();
            // The body's head, lower-cased only if sender and subject do not decide.
            let head = std::cell::OnceCell::new();
            let head = || head.get_or_init(|| body_head(text)).as_str();

            // Sender-specific signals.
            if f.starts_with("abuse") || f.contains("ec2-abuse") || f.contains("trustandsafety") {
                return Category::Security;
            }
            if let Some(c) = by_phrases(&s) {
                return c;
            }
            if f.contains("marketing") || (list_unsubscribe && any(&s, MARKETING)) {
                return Category::Marketing;
            }
            if f.contains("billing") || f.contains("budgets") {
                return Category::Billing;
            }
            if f.contains("health") {
                return Category::ServiceNotice;
            }
            if f.contains("support") && (s.contains("case") || head().contains("case id")) {
                return Category::SupportCase;
            }
            // The subject said nothing: strong body phrases only.
            if any(
                head(),
                &[
                    "abuse report",
                    "your aws account may be compromised",
                    "access key is exposed",
                    "exposed access key",
                    "unauthorized activity",
                ],
            ) {
                return Category::Security;
            }
            if any(
                head(),
                &[
                    "your password has been changed",
                    "your aws password was changed",
                    "your password was changed",
                ],
            ) {
                return Category::PasswordChanged;
            }
            if any(
                head(),
                &["reset your password", "resetpassword", "password reset"],
            ) {
                return Category::PasswordReset;
            }
            if any(head(), &["verification code", "one-time password"]) {
                return Category::VerificationCode;
            }
            if any(head(), &["case id", "support case"]) {
                return Category::SupportCase;
            }
            if list_unsubscribe && any(head(), MARKETING) {
                return Category::Marketing;
            }
            Category::Unknown
        }

        fn by_phrases(s: &str) -> Option<Category> {
            // Order matters: a "password changed" notice is not a reset; a case about billing is a case.
            let rules: [(&[&str], Category); 13] = [
                (SECURITY, Category::Security),
                (PASSWORD_CHANGED, Category::PasswordChanged),
                (PASSWORD_RESET, Category::PasswordReset),
                (VERIFICATION, Category::VerificationCode),
                (SUPPORT, Category::SupportCase),
                (MFA, Category::Mfa),
                (ACCOUNT_CLOSED, Category::AccountClosed),
                (ROOT_EMAIL_CHANGED, Category::RootEmailChanged),
                (ORGANIZATION, Category::Organization),
                (ACCOUNT, Category::Account),
                (BILLING, Category::Billing),
                (NOTICE, Category::ServiceNotice),
                (MARKETING, Category::Marketing),
            ];
            rules
                .iter()
                .find(|(words, _)| any(s, words))
                .map(|(_, c)| *c)
        }

        /// The first 20,000 characters of the body, lower-cased: where body phrases are looked for.
        fn body_head(text: &str) -> String {
            let end = text
                .char_indices()
                .nth(20_000)
                .map_or(text.len(), |(i, _)| i);
            text[..end].to_lowercase()
        }

        pub(super) fn billing_urgent(subject: &str, text: &str) -> bool {
            let s = subject.to_lowercase();
            any(&s, BILLING_URGENT) || any(&body_head(text), BILLING_URGENT)
        }
    }

    /// Every phrase, upper-cased pieces of them, and characters whose case mapping or width
    /// matters (`İ` lower-cases to two characters, `K` is the Kelvin sign).
    fn piece() -> impl Strategy<Value = String> {
        let mut all: Vec<&'static str> = Vec::new();
        for (words, _) in RULES {
            all.extend_from_slice(words);
        }
        for g in [
            BILLING_URGENT,
            CASE_ID_PHRASE,
            BODY_SECURITY,
            BODY_PASSWORD_CHANGED,
            BODY_PASSWORD_RESET,
            BODY_VERIFICATION,
            BODY_SUPPORT,
        ] {
            all.extend_from_slice(g);
        }
        all.extend_from_slice(&[
            " ",
            "\n",
            "İ",
            "\u{212a}",
            "access \u{212a}ey is exposed",
            "PAST DUE",
            "Past Due",
            "é",
            "ß",
            "の",
            "x",
            "case",
            "CASE ID",
            "Password ",
            "RESET",
        ]);
        (proptest::sample::select(all), any::<bool>()).prop_map(|(p, upper)| {
            if upper {
                p.to_uppercase()
            } else {
                p.to_owned()
            }
        })
    }

    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(piece(), 0..8).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn one_pass_classification_agrees_with_phrase_by_phrase(
            from in proptest::sample::select(vec![
                "", "no-reply@signin.aws", "aws-billing@amazon.com", "support@aws.example",
                "abuse@amazon.com", "aws-marketing@amazon.com", "health@aws.example",
            ]),
            subject in text(),
            body in text(),
            list_unsubscribe in any::<bool>(),
        ) {
            prop_assert_eq!(
                classify(from, &subject, &body, list_unsubscribe),
                reference::classify(from, &subject, &body, list_unsubscribe)
            );
            prop_assert_eq!(
                billing_urgent(&subject, &body),
                reference::billing_urgent(&subject, &body)
            );
        }
    }

    #[test]
    fn only_two_characters_lower_case_to_ascii_letters() {
        let to_ascii: Vec<char> = ('\u{80}'..=char::MAX)
            .filter(|c| c.to_lowercase().any(|l| l.is_ascii()))
            .collect();
        assert_eq!(to_ascii, LOWER_CASE_TO_ASCII);
        for n in BODY.needles.iter() {
            assert!(n.is_ascii() && *n == n.to_lowercase(), "{n}");
        }
    }

    #[test]
    fn body_phrases_overlapping_or_sharing_a_start_are_all_found() {
        let b = Body::new("PAYMENT FAILED: your password reset your password was changed");
        assert!(b.has(B_BILLING_URGENT) && b.has(B_PASSWORD_RESET));
        assert!(b.has(B_PASSWORD_CHANGED) && !b.has(B_SECURITY));
        let b = Body::new("case idcase id\u{212a}");
        assert!(b.has(B_CASE_ID) && b.has(B_SUPPORT));
        assert!(Body::new("access \u{212a}ey is exposed").has(B_SECURITY));
    }

    #[test]
    fn the_body_head_is_twenty_thousand_characters() {
        let text = format!("{}past due", "é".repeat(HEAD_CHARS - 8));
        assert!(billing_urgent("", &text));
        let text = format!("{}past due", "é".repeat(HEAD_CHARS - 7));
        assert!(!billing_urgent("", &text));
    }

    #[test]
    fn subjects_decide() {
        let cases = [
            (
                "no-reply@signin.aws",
                "Amazon Web Services Password Assistance",
                Category::PasswordReset,
            ),
            (
                "no-reply@signin.aws",
                "Your AWS password has been changed",
                Category::PasswordChanged,
            ),
            (
                "aws-verification@amazon.com",
                "AWS Email Verification",
                Category::VerificationCode,
            ),
            // The root email change's code (`StartPrimaryEmailUpdate`), to the new address.
            (
                "no-reply@verify.signin.aws",
                "AWS Email Verification",
                Category::VerificationCode,
            ),
            (
                "no-reply@verify.signin.aws",
                "Your verification code",
                Category::VerificationCode,
            ),
            (
                "no-reply-aws@amazon.com",
                "MFA device added to your root user",
                Category::Mfa,
            ),
            (
                "ec2-abuse@amazon.com",
                "Your EC2 instance",
                Category::Security,
            ),
            (
                "no-reply-aws@amazon.com",
                "Action Required: Your AWS Access Key is Exposed",
                Category::Security,
            ),
            (
                "aws-billing@amazon.com",
                "Amazon Web Services Invoice Available",
                Category::Billing,
            ),
            (
                "no-reply-aws@amazon.com",
                "Your AWS Account has been suspended",
                Category::Account,
            ),
            (
                "no-reply-aws@amazon.com",
                "You've been invited to join an AWS Organization",
                Category::Organization,
            ),
            (
                "no-reply-aws@amazon.com",
                "AWS Account Closure Confirmation",
                Category::AccountClosed,
            ),
            (
                "no-reply@signin.aws",
                "The email address for your AWS account root user was changed",
                Category::RootEmailChanged,
            ),
            (
                "no-reply-aws@amazon.com",
                "Your AWS Account has been reinstated",
                Category::Account,
            ),
            (
                "no-reply-aws@amazon.com",
                "[Case ID 12345678901] EC2 limit increase",
                Category::SupportCase,
            ),
            (
                "no-reply@health.aws",
                "[Action Required] Amazon RDS end of standard support",
                Category::ServiceNotice,
            ),
            (
                "aws-marketing-email-replies@amazon.com",
                "Register now for re:Invent",
                Category::Marketing,
            ),
            ("friend@example.org", "lunch?", Category::Unknown),
        ];
        for (from, subject, want) in cases {
            assert_eq!(classify(from, subject, "", false), want, "{subject}");
        }
    }

    #[test]
    fn priorities_follow_the_rules() {
        assert_eq!(
            priority(Category::Security, false, false, false),
            Priority::Critical
        );
        assert_eq!(
            priority(Category::PasswordChanged, false, false, false),
            Priority::Critical
        );
        assert_eq!(
            priority(Category::PasswordChanged, false, false, true),
            Priority::Normal
        );
        assert_eq!(
            priority(Category::Mfa, false, false, false),
            Priority::Critical
        );
        assert_eq!(
            priority(Category::Billing, true, false, false),
            Priority::High
        );
        assert_eq!(
            priority(Category::Billing, false, false, false),
            Priority::Normal
        );
        assert_eq!(
            priority(Category::Marketing, false, false, false),
            Priority::Low
        );
        assert_eq!(
            priority(Category::Marketing, false, true, false),
            Priority::High
        );
        assert_eq!(
            priority(Category::Unknown, false, false, false),
            Priority::Normal
        );
    }
}
