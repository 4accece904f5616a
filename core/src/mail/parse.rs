//! MIME parsing into the facts the pipeline needs. Never fails: a message mail-parser cannot
//! read becomes a `ParsedMail` with `parse_error` set and the raw text (lossy) as its body, so it
//! still reaches a ticket.

use mail_parser::{MessageParser, MimeHeaders};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bodies longer than this are cut before classification (classification reads the start).
const MAX_TEXT: usize = 512 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
}

/// The first (topmost) instance of each header SES stamps on stored mail. Only the topmost is
/// trusted: anything below it came from the sender and may be forged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthHeaders {
    pub spam_verdict: Option<String>,
    pub virus_verdict: Option<String>,
    pub authentication_results: Option<String>,
    pub received_spf: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ParsedMail {
    pub subject: String,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub to_cc: Vec<String>,
    /// The addresses of the message's To header, lower-case: the header AWS's DKIM signature
    /// covers (Cc it does not). Empty unless the message has exactly one To header: a second
    /// one added above the signed one is what a forger would do.
    pub to: Vec<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub list_unsubscribe: bool,
    /// Decoded text of every text body; HTML-only bodies converted to text.
    pub text: String,
    /// Decoded HTML bodies (only to find links the text conversion drops; never stored).
    pub html: String,
    pub attachments: Vec<Attachment>,
    pub auth: AuthHeaders,
    pub parse_error: bool,
    pub size: usize,
}

/// Whether the non-ASCII character starting at byte `i` of `s` is white space
/// ([`char::is_whitespace`]), and its length.
fn non_ascii_space_at(s: &str, i: usize) -> (bool, usize) {
    s.get(i..)
        .and_then(|rest| rest.chars().next())
        .map_or((false, 1), |c| (c.is_whitespace(), c.len_utf8()))
}

/// ASCII white space as [`char::is_whitespace`] has it (vertical tab included).
#[inline(always)]
fn is_ascii_space(b: u8) -> bool {
    b == b' ' || (b'\t'..=b'\r').contains(&b)
}

/// `s.split_whitespace()`, without decoding every character: the pipeline collapses white space
/// in headers and the summary of every message. ASCII bytes are classified as they are, only
/// other characters decoded.
pub(super) fn words(s: &str) -> impl Iterator<Item = &str> {
    let bytes = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while let Some(&b) = bytes.get(i) {
            if b < 0x80 {
                if !is_ascii_space(b) {
                    break;
                }
                i += 1;
            } else {
                let (space, len) = non_ascii_space_at(s, i);
                if !space {
                    break;
                }
                i += len;
            }
        }
        if i >= bytes.len() {
            return None;
        }
        let start = i;
        while let Some(&b) = bytes.get(i) {
            if b < 0x80 {
                if is_ascii_space(b) {
                    break;
                }
                i += 1;
            } else {
                let (space, len) = non_ascii_space_at(s, i);
                if space {
                    break;
                }
                i += len;
            }
        }
        s.get(start..i)
    })
}

/// The byte offset of `text`'s `n`th character (0-based), or its length when it has no more than
/// `n`: `text.char_indices().nth(n)`'s index (or the length), without decoding the characters.
pub(super) fn char_offset(text: &str, n: usize) -> usize {
    if text.len() <= n {
        return text.len();
    }
    let mut seen = 0;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        // Not a UTF-8 continuation byte: a character starts here.
        if (b as i8) >= -0x40 {
            if seen == n {
                return i;
            }
            seen += 1;
        }
    }
    text.len()
}

/// `s`'s words joined by single spaces.
pub(super) fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in words(s) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

fn clip(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

fn ids(value: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match value {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

pub fn parse(raw: &[u8]) -> ParsedMail {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return ParsedMail {
            subject: String::new(),
            text: clip(String::from_utf8_lossy(raw).into_owned(), MAX_TEXT),
            parse_error: true,
            size: raw.len(),
            ..ParsedMail::default()
        };
    };
    let mut auth = AuthHeaders::default();
    let mut to_headers = 0usize;
    for (name, value) in msg.headers_raw() {
        if name.eq_ignore_ascii_case("to") {
            to_headers += 1;
            continue;
        }
        let slot = if name.eq_ignore_ascii_case("x-ses-spam-verdict") {
            &mut auth.spam_verdict
        } else if name.eq_ignore_ascii_case("x-ses-virus-verdict") {
            &mut auth.virus_verdict
        } else if name.eq_ignore_ascii_case("authentication-results") {
            &mut auth.authentication_results
        } else if name.eq_ignore_ascii_case("received-spf") {
            &mut auth.received_spf
        } else {
            continue;
        };
        if slot.is_none() {
            *slot = Some(collapse(value));
        }
    }
    let from = msg.from().and_then(|a| a.first());
    let mut to_cc: Vec<String> = msg
        .to()
        .into_iter()
        .chain(msg.cc())
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address().map(|s| s.trim().to_ascii_lowercase()))
        .collect();
    to_cc.dedup();
    let to: Vec<String> = if to_headers == 1 {
        msg.to()
            .into_iter()
            .flat_map(|a| a.iter())
            .filter_map(|a| a.address().map(|s| s.trim().to_ascii_lowercase()))
            .collect()
    } else {
        Vec::new()
    };

    let mut text = String::new();
    for i in 0..msg.text_body_count().max(msg.html_body_count()) {
        if let Some(t) = msg.body_text(i) {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&t);
        }
        if text.len() > MAX_TEXT {
            break;
        }
    }
    // Real HTML parts only: a text part listed as an HTML body too (RFC 8621) would be converted
    // to HTML just to have its links found again, and they are in `text` already.
    let mut html = String::new();
    for i in 0..msg.html_body_count() {
        let part = u32::try_from(i).ok().and_then(|i| msg.html_part(i));
        let Some(part) = part.filter(|p| p.is_text_html()) else {
            continue;
        };
        if let Some(h) = part.text_contents() {
            html.push_str(h);
        }
        if html.len() > MAX_TEXT {
            break;
        }
    }
    let attachments = msg
        .attachments()
        .map(|part| {
            let ct = part
                .content_type()
                .map(|c| match c.subtype() {
                    Some(sub) => format!("{}/{}", c.ctype(), sub),
                    None => c.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".to_owned())
                .to_ascii_lowercase();
            let contents = part.contents();
            Attachment {
                name: part
                    .attachment_name()
                    .map(collapse)
                    .unwrap_or_else(|| "(unnamed)".to_owned()),
                content_type: ct,
                size: contents.len() as u64,
                sha256: hex::encode(Sha256::digest(contents)),
            }
        })
        .collect();
    ParsedMail {
        subject: msg.subject().map(collapse).unwrap_or_default(),
        from: from
            .and_then(|a| a.address())
            .map(|s| s.trim().to_ascii_lowercase()),
        from_name: from.and_then(|a| a.name()).map(collapse),
        to_cc,
        to,
        message_id: msg
            .message_id()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
        in_reply_to: ids(msg.in_reply_to()),
        references: ids(msg.references()),
        list_unsubscribe: !msg.list_unsubscribe().is_empty(),
        text: clip(text, MAX_TEXT),
        html: clip(html, MAX_TEXT),
        attachments,
        auth,
        parse_error: false,
        size: raw.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn words_are_split_whitespace(
            s in "([ \t\n\r\u{b}\u{c}\u{1c}\u{85}\u{a0}\u{2003}\u{2028}\u{3000}\u{feff}\u{200b}]|[a-zé€😀]|\\PC){0,40}"
        ) {
            let want: Vec<&str> = s.split_whitespace().collect();
            prop_assert_eq!(words(&s).collect::<Vec<_>>(), want.clone());
            prop_assert_eq!(collapse(&s), want.join(" "));
        }

        #[test]
        fn char_offset_is_char_indices_nth(s in "(\\PC|[é€😀\\n ]){0,40}", n in 0usize..45) {
            prop_assert_eq!(
                char_offset(&s, n),
                s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
            );
        }
    }
}
