//! Category and priority, from sender, subject and body text.

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

fn any(hay: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| hay.contains(n))
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

/// Decides the category. Subject and sender decide first; the body only when they say nothing.
pub fn classify(from: &str, subject: &str, text: &str, list_unsubscribe: bool) -> Category {
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

/// Whether a billing message is about a failed or overdue payment.
/// The first 20,000 characters of the body, lower-cased: where body phrases are looked for.
fn body_head(text: &str) -> String {
    let end = text
        .char_indices()
        .nth(20_000)
        .map_or(text.len(), |(i, _)| i);
    text[..end].to_lowercase()
}

pub fn billing_urgent(subject: &str, text: &str) -> bool {
    let s = subject.to_lowercase();
    any(&s, BILLING_URGENT) || any(&body_head(text), BILLING_URGENT)
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
