//! Which account a message is about, and the keys that thread it onto an existing ticket.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::boundary::WordRegex;

use crate::AccountId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountSource {
    Registry,
    SubAddress,
    Labelled,
}

static LABELLED: LazyLock<WordRegex> = LazyLock::new(|| {
    WordRegex::new(
        r"(?i)\b(?:aws\s+account(?:\s+(?:id|number|no\.?))?|account(?:\s+(?:id|number|no\.?))?|aws\s+id)\s*(?:[:#=]|is)?\s*\(?(\d{4}-\d{4}-\d{4}|\d{12})\b",
        true,
    )
});
/// AWS Support case ids are numeric (`[Case ID 17394856201]`, `created case 17394856201`).
static CASE_ID: LazyLock<WordRegex> = LazyLock::new(|| {
    WordRegex::new(
        r"(?i)\bcase\s*(?:id|number|#)?\s*[:#]?\s*(\d{10,20})\b",
        true,
    )
});
/// AWS abuse report ids are numeric too (`Abuse Report [20731104589]`, `AWS Abuse Case Number:
/// 20731104589`): the word after "abuse report" ("concerning", "regarding") is never an id.
static ABUSE_ID: LazyLock<WordRegex> = LazyLock::new(|| {
    WordRegex::new(
        r"(?i)\babuse\s+(?:report|case|notice)(?:\s+(?:id|number|no\.?))?\s*[:#]?\s*\[?(\d{8,20})\b",
        true,
    )
});
static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:(?:re|fw|fwd|aw|wg|sv|antw)\s*(?:\[\d+\])?\s*:|\[(?:external|ext|spam)\])\s*",
    )
    .unwrap_or_else(|_| unreachable!())
});

/// `anything+123456789012@domain` → the account id.
pub fn from_sub_address(recipient: &str) -> Option<AccountId> {
    let local = recipient.rsplit_once('@')?.0;
    let tag = local.split_once('+')?.1;
    AccountId::parse(tag).ok()
}

/// A 12-digit id labelled as an account in the subject, else the body.
pub fn labelled(subject: &str, text: &str) -> Option<AccountId> {
    for hay in [subject, text] {
        for cap in LABELLED.captures_iter(hay) {
            let digits: String = cap[1].chars().filter(char::is_ascii_digit).collect();
            if let Ok(id) = AccountId::parse(&digits) {
                return Some(id);
            }
        }
    }
    None
}

/// Resolution order: registry (always wins), sub-address, labelled id.
pub fn resolve(
    registry: Option<AccountId>,
    recipients: &[String],
    subject: &str,
    text: &str,
) -> Option<(AccountId, AccountSource)> {
    if let Some(id) = registry {
        return Some((id, AccountSource::Registry));
    }
    if let Some(id) = recipients.iter().find_map(|r| from_sub_address(r)) {
        return Some((id, AccountSource::SubAddress));
    }
    labelled(subject, text).map(|id| (id, AccountSource::Labelled))
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ThreadKeys {
    pub support_case_id: Option<String>,
    pub abuse_report_id: Option<String>,
    pub normalized_subject: String,
}

/// Whether the match at `start` follows the word "abuse" ("Abuse Case Number: …" is an abuse
/// report, not a support case).
fn after_abuse(hay: &str, start: usize) -> bool {
    let before = hay.get(..start).unwrap_or_default().trim_end();
    before
        .len()
        .checked_sub(5)
        .and_then(|i| before.get(i..))
        .is_some_and(|w| w.eq_ignore_ascii_case("abuse"))
}

pub fn thread_keys(subject: &str, text: &str) -> ThreadKeys {
    let find = |re: &WordRegex, skip_abuse: bool| {
        [subject, text].iter().find_map(|h| {
            re.captures_iter(h)
                .find(|c| !(skip_abuse && c.get(0).is_some_and(|m| after_abuse(h, m.start()))))
                .map(|c| c[1].to_owned())
        })
    };
    ThreadKeys {
        support_case_id: find(&CASE_ID, true),
        abuse_report_id: find(&ABUSE_ID, false),
        normalized_subject: normalize_subject(subject),
    }
}

/// Strips reply/forward prefixes and tags, lower-cases, collapses white space.
/// Linear in the subject's length: each prefix is cut off the front by slicing, never by
/// copying what follows (a million "Re: " must not cost a million copies).
pub fn normalize_subject(subject: &str) -> String {
    let mut s = subject.trim();
    while let Some(m) = PREFIX.find(s) {
        if m.end() == 0 {
            break;
        }
        s = &s[m.end()..];
    }
    super::parse::collapse(s).to_lowercase()
}

#[cfg(test)]
pub(crate) fn word_regexes() -> Vec<&'static WordRegex> {
    vec![&*LABELLED, &*CASE_ID, &*ABUSE_ID]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_order() {
        let reg = AccountId::parse("999999999999").ok();
        let rcpt = vec!["aws-root+111122223333@provider.example".to_owned()];
        let body = "Account ID: 4444-5555-6666";
        assert_eq!(
            resolve(reg.clone(), &rcpt, "", body).map(|r| r.1),
            Some(AccountSource::Registry)
        );
        assert_eq!(
            resolve(None, &rcpt, "", body).map(|r| r.0.to_string()),
            Some("111122223333".into())
        );
        let plain = vec!["acme@provider.example".to_owned()];
        assert_eq!(
            resolve(None, &plain, "", body).map(|r| (r.0.to_string(), r.1)),
            Some(("444455556666".into(), AccountSource::Labelled))
        );
        assert_eq!(
            resolve(None, &plain, "", "Your order 123456789012 shipped"),
            None
        );
        assert_eq!(
            resolve(None, &plain, "", "AWS Account: 777788889999"),
            Some((
                AccountId::parse("777788889999").unwrap(),
                AccountSource::Labelled
            ))
        );
        assert_eq!(
            resolve(None, &plain, "", "for account 123456789012."),
            Some((
                AccountId::parse("123456789012").unwrap(),
                AccountSource::Labelled
            ))
        );
        assert_eq!(resolve(None, &["x+12@p.example".to_owned()], "", ""), None);
    }

    #[test]
    fn thread_keys_found() {
        let k = thread_keys("RE: [Case ID 12345678901] Limit increase", "");
        assert_eq!(k.support_case_id.as_deref(), Some("12345678901"));
        assert_eq!(k.normalized_subject, "[case id 12345678901] limit increase");
        let k = thread_keys(
            "Your EC2 Abuse Report [20731104589] [AWS ID 666677778888]",
            "",
        );
        assert_eq!(k.abuse_report_id.as_deref(), Some("20731104589"));
        let k = thread_keys(
            "Notice",
            "AWS Abuse Case Number: 20731104589\nAbuse Type: Port",
        );
        assert_eq!(k.abuse_report_id.as_deref(), Some("20731104589"));
        assert_eq!(k.support_case_id, None);
        let k = thread_keys("Case ID: 17394856201", "");
        assert_eq!(k.support_case_id.as_deref(), Some("17394856201"));
    }

    #[test]
    fn free_words_and_short_numbers_are_not_thread_ids() {
        for (subject, text) in [
            (
                "Abuse report concerning your website",
                "Abuse report regarding EC2",
            ),
            (
                "Abuse notice",
                "Abuse Report ID: 8f2a-91cc-4471 regarding EC2",
            ),
            ("Abuse case number: concerning-abc-123", ""),
            ("In case you missed it", "case closed. In case 42 we said"),
            ("Case #1234567", ""),
        ] {
            let k = thread_keys(subject, text);
            assert_eq!(k.abuse_report_id, None, "{subject} / {text}");
            assert_eq!(k.support_case_id, None, "{subject} / {text}");
        }
        assert_eq!(
            normalize_subject("Re: Fwd:  RE:  Your   Invoice"),
            "your invoice"
        );
        // Hostile: 200,000 prefixes (800 KB). Cut by copying the rest each time, this was
        // 80 GB of copying, past the Lambda's timeout: the mail never became a ticket.
        let hostile = format!("{}Invoice", "Re: ".repeat(200_000));
        assert_eq!(normalize_subject(&hostile), "invoice");
    }
}
