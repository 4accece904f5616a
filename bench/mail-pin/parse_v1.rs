//! MIME parsing into the facts the pipeline needs. Never fails: a message mail-parser cannot
//! read becomes a `ParsedMail` with `parse_error` set and the raw text (lossy) as its body, so it
//! still reaches a ticket.

use mail_parser::MessageParser;
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

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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

fn ids(value: Option<mail_parser::TextList<'_>>) -> Vec<String> {
    value
        .map(|l| l.iter().map(str::to_owned).collect())
        .unwrap_or_default()
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
    for h in msg.headers() {
        let value = String::from_utf8_lossy(h.raw_value());
        let slot = match h.raw_name().to_ascii_lowercase().as_str() {
            "x-ses-spam-verdict" => &mut auth.spam_verdict,
            "x-ses-virus-verdict" => &mut auth.virus_verdict,
            "authentication-results" => &mut auth.authentication_results,
            "received-spf" => &mut auth.received_spf,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(collapse(&value));
        }
    }
    let from = msg.from().and_then(|a| a.first());
    let mut to_cc: Vec<String> = msg
        .to()
        .into_iter()
        .chain(msg.cc())
        .flat_map(|a| a.mailboxes())
        .filter_map(|a| a.address().map(|s| s.trim().to_ascii_lowercase()))
        .collect();
    to_cc.dedup();

    let mut text = String::new();
    for t in msg.text_bodies() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&t);
        if text.len() > MAX_TEXT {
            break;
        }
    }
    // Real HTML parts only: a text part listed as an HTML body too (RFC 8621) would be converted
    // to HTML just to have its links found again, and they are in `text` already.
    let mut html = String::new();
    for part in msg.html_body() {
        if !matches!(part.kind(), mail_parser::PartKind::Html) {
            continue;
        }
        if let Some(h) = part.text() {
            html.push_str(&h);
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
            let contents = part.decoded();
            Attachment {
                name: part
                    .attachment_name()
                    .map(collapse)
                    .unwrap_or_else(|| "(unnamed)".to_owned()),
                content_type: ct,
                size: contents.len() as u64,
                sha256: hex::encode(Sha256::digest(&contents)),
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
        message_id: msg
            .message_id()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
        in_reply_to: ids(msg.in_reply_to()),
        references: ids(msg.references()),
        list_unsubscribe: msg.headers().contains("List-Unsubscribe"),
        text: clip(text, MAX_TEXT),
        html: clip(html, MAX_TEXT),
        attachments,
        auth,
        parse_error: false,
        size: raw.len(),
    }
}
