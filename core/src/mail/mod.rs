//! Inbound root mail: the offline decision (parse → authenticate → classify → resolve →
//! redact) shared by the `inbound-mail` Lambda and `rootwarden mail inspect`. Pure and total:
//! any byte string yields a decision, never a panic.

mod boundary;
pub mod classify;
pub mod parse;
pub mod quarantine;
pub mod redact;
pub mod resolve;
pub mod workflow_trust;

use serde::Serialize;

pub use classify::{Category, Priority};
pub use parse::{Attachment, ParsedMail};
pub use quarantine::{QuarantineReason, SesVerdicts, Verdict};
pub use redact::{FoundSecret, SecretKind};
pub use resolve::{AccountSource, ThreadKeys};

use crate::AccountId;

/// Longest summary a ticket keeps.
pub const SUMMARY_CHARS: usize = 1000;

/// What the caller knows beyond the message bytes.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Envelope recipients (SES `receipt.recipients`); empty → the message's To/Cc stand in.
    pub recipients: Vec<String>,
    /// Verdicts from the SES event, when there is one.
    pub ses: Option<SesVerdicts>,
    /// The accounts registry's answer for the recipients, looked up by the caller.
    pub registry_account: Option<AccountId>,
    /// A workflow of ours was waiting for this kind of mail for this account.
    pub expected_by_workflow: bool,
}

/// The decision, as stored on a ticket and printed by `mail inspect`. Holds no secret.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub account_id: Option<AccountId>,
    pub account_source: Option<AccountSource>,
    pub category: Category,
    pub priority: Priority,
    pub quarantined: bool,
    pub quarantine_reasons: Vec<QuarantineReason>,
    pub subject: String,
    pub from: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub summary: String,
    pub attachments: Vec<Attachment>,
    pub redactions: Vec<SecretKind>,
    pub thread: ThreadKeys,
    pub auth: quarantine::AuthSummary,
    pub recipients: Vec<String>,
    pub parse_error: bool,
    /// The message's own To addresses (lower-case), whatever the envelope said
    /// ([`ParsedMail::to`]). AWS's DKIM signature covers To (not Cc), so a genuine AWS mail
    /// about another account, re-sent to one of our root addresses, still names its first
    /// recipient here. Not stored on tickets.
    #[serde(skip)]
    pub addressed_to: Vec<String>,
}

impl Decision {
    /// The message's own (signed) To names `root` (ASCII case aside).
    pub fn addressed_to(&self, root: &crate::RootEmail) -> bool {
        self.addressed_to
            .iter()
            .any(|a| a.trim().eq_ignore_ascii_case(root.as_str()))
    }
}

pub struct Analysis {
    pub decision: Decision,
    /// The credentials the vault may keep ([`redact::vaultable`]); for the vault only.
    pub secrets: Vec<FoundSecret>,
    /// Every credential found (and redacted), planted or not; never vaulted.
    pub found: Vec<FoundSecret>,
}

/// `text`'s words joined by single spaces, whole words only, stopping after the word that takes
/// it past `chars` characters: the same prefix (up to and past `chars`) as collapsing all of
/// `text`, without collapsing half a megabyte for a 1,000-character summary. Whole words keep
/// every link whole, so defanging the prefix defangs it as it would the whole text.
fn collapsed_prefix(text: &str, chars: usize) -> String {
    let mut out = String::new();
    let mut n = 0;
    for word in parse::words(text) {
        if n > chars {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
            n += 1;
        }
        out.push_str(word);
        n += word.chars().count();
    }
    out
}

pub fn analyze(raw: &[u8], ctx: &Context) -> Analysis {
    let parsed = parse::parse(raw);
    decide(&parsed, ctx)
}

pub fn decide(parsed: &ParsedMail, ctx: &Context) -> Analysis {
    let recipients: Vec<String> = if ctx.recipients.is_empty() {
        parsed.to_cc.clone()
    } else {
        ctx.recipients
            .iter()
            .map(|r| r.trim().to_ascii_lowercase())
            .collect()
    };
    let from_domain = parsed
        .from
        .as_deref()
        .and_then(|f| f.rsplit_once('@'))
        .map(|(_, d)| d);
    let (auth, reasons) = quarantine::evaluate(ctx.ses.as_ref(), &parsed.auth, from_domain);
    let quarantined = !reasons.is_empty();
    let from = parsed.from.clone().unwrap_or_default();
    let body = classify::Body::new(&parsed.text);
    let category = classify::classify_body(&from, &parsed.subject, &body, parsed.list_unsubscribe);
    let urgent =
        category == Category::Billing && classify::billing_urgent_body(&parsed.subject, &body);
    let priority = classify::priority(category, urgent, quarantined, ctx.expected_by_workflow);

    let reset_context = category == Category::PasswordReset;
    let code_context = matches!(
        category,
        Category::VerificationCode | Category::PasswordReset | Category::Mfa
    );
    let found = redact::find(
        &parsed.subject,
        &parsed.text,
        &parsed.html,
        reset_context,
        code_context,
    );
    // The vault keeps secrets only from AWS's own credential mail: the sender domains and DKIM
    // alignment a workflow wait demands, not every AWS domain (some relay sellers' mail).
    let from_aws =
        !quarantined && workflow_trust::aligned_aws_sender(from_domain, &auth.dkim_pass_domains);
    let secrets = redact::vaultable(&found, from_aws);
    let mut redactions: Vec<SecretKind> = found.iter().map(|s| s.kind).collect();
    redactions.sort();
    redactions.dedup();

    let subject = redact::redact(&parsed.subject, &found);
    let text = redact::redact(&parsed.text, &found);
    let resolved = resolve::resolve(ctx.registry_account.clone(), &recipients, &subject, &text);
    let thread = resolve::thread_keys(&subject, &text);
    let mut summary = collapsed_prefix(&text, SUMMARY_CHARS);
    if quarantined {
        summary = redact::defang(&summary);
    }
    let cut = parse::char_offset(&summary, SUMMARY_CHARS);
    if cut < summary.len() {
        summary.truncate(cut);
        summary.push('…');
    }
    let decision = Decision {
        account_id: resolved.as_ref().map(|r| r.0.clone()),
        account_source: resolved.map(|r| r.1),
        category,
        priority,
        quarantined,
        quarantine_reasons: reasons,
        subject: if quarantined {
            redact::defang(&subject)
        } else {
            subject
        },
        from: parsed.from.clone(),
        message_id: parsed.message_id.clone(),
        in_reply_to: parsed.in_reply_to.clone(),
        references: parsed.references.clone(),
        summary,
        attachments: parsed.attachments.clone(),
        redactions,
        thread,
        auth,
        recipients,
        parse_error: parsed.parse_error,
        addressed_to: parsed.to.clone(),
    };
    Analysis {
        decision,
        secrets,
        found,
    }
}
