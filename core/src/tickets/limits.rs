//! What a ticket item may hold. Everything on a ticket that mail controls is bounded here, so no
//! message (a subject of any length, thousands of attachments) and no thread (hundreds of
//! replies) can push the item past DynamoDB's 400 KB item limit and fail the pipeline instead of
//! producing a ticket. What is cut:
//!
//! - subject, normalized subject: the first [`SUBJECT_CHARS`] characters (+ `…`);
//! - sender: the first [`SENDER_CHARS`]; each Message-ID: the first [`MESSAGE_ID_CHARS`];
//! - attachments: of one message its first [`ATTACHMENTS`]; on a thread the newest
//!   [`ATTACHMENTS`]; each name the first [`ATTACHMENT_NAME_CHARS`], each content type the first
//!   [`CONTENT_TYPE_CHARS`]; `attachments_total` counts every attachment ever received;
//! - message ids and raw locations of a thread: the newest [`MESSAGE_REFS`] each; `messages`
//!   counts every message. A dropped raw location is still in that message's audit record
//!   (`raw` detail) and its SES marker.
//!
//! With every field at its limit and every character escaped by JSON as `\uXXXX` (6 bytes), the
//! document stays under [`MAX_DOC_BYTES`] (tested below).

use super::Ticket;
use crate::mail::Attachment;

pub const SUBJECT_CHARS: usize = 998;
pub const SENDER_CHARS: usize = 320;
pub const MESSAGE_ID_CHARS: usize = 256;
pub const ATTACHMENTS: usize = 100;
pub const ATTACHMENT_NAME_CHARS: usize = 200;
pub const CONTENT_TYPE_CHARS: usize = 100;
pub const MESSAGE_REFS: usize = 50;
/// Well under DynamoDB's 400 KB item limit, leaving room for the item's other attributes.
pub const MAX_DOC_BYTES: usize = 350 * 1024;

/// The first `max` characters of `s` (cut on a character boundary), with `…` when cut.
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// One message's attachments as a ticket stores them: its first [`ATTACHMENTS`], clipped.
pub fn attachments(all: &[Attachment]) -> Vec<Attachment> {
    all.iter()
        .take(ATTACHMENTS)
        .map(|a| Attachment {
            name: clip(&a.name, ATTACHMENT_NAME_CHARS),
            content_type: clip(&a.content_type, CONTENT_TYPE_CHARS),
            size: a.size,
            sha256: clip(&a.sha256, 64),
        })
        .collect()
}

/// Keeps the newest `max` entries (the end of the list).
fn newest<T>(v: &mut Vec<T>, max: usize) {
    if v.len() > max {
        v.drain(..v.len() - max);
    }
}

/// Bounds every mail-controlled field of a ticket (idempotent).
pub fn fit(mut t: Ticket) -> Ticket {
    t.subject = clip(&t.subject, SUBJECT_CHARS);
    t.normalized_subject = clip(&t.normalized_subject, SUBJECT_CHARS);
    t.sender = clip(&t.sender, SENDER_CHARS);
    t.summary = clip(&t.summary, crate::mail::SUMMARY_CHARS + 1);
    newest(&mut t.attachments, ATTACHMENTS);
    t.attachments = attachments(&t.attachments);
    t.message_ids = t
        .message_ids
        .iter()
        .map(|m| clip(m, MESSAGE_ID_CHARS))
        .collect();
    newest(&mut t.message_ids, MESSAGE_REFS);
    newest(&mut t.raw_locations, MESSAGE_REFS);
    t.quarantine_reasons.sort();
    t.quarantine_reasons.dedup();
    t
}

/// Appends a message's attachments to a thread's, keeping the newest [`ATTACHMENTS`].
pub fn append_attachments(t: &mut Ticket, new: &[Attachment]) {
    t.attachments.extend(attachments(new));
    newest(&mut t.attachments, ATTACHMENTS);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{Category, Priority, QuarantineReason, SecretKind};
    use crate::tickets::TicketStatus;
    use chrono::Utc;

    /// Every character JSON escapes to 6 bytes.
    fn worst(n: usize) -> String {
        "\u{1}".repeat(n)
    }

    fn huge() -> Ticket {
        Ticket {
            id: "T20260101-0123456789ab".into(),
            account_id: None,
            category: Category::Unknown,
            priority: Priority::High,
            status: TicketStatus::Updated,
            subject: worst(100_000),
            sender: worst(10_000),
            first_seen: Utc::now(),
            last_seen: Utc::now(),
            message_ids: (0..1000).map(|_| worst(5_000)).collect(),
            summary: worst(50_000),
            attachments: (0..5000)
                .map(|i| Attachment {
                    name: worst(5_000),
                    content_type: worst(5_000),
                    size: i,
                    sha256: "f".repeat(64),
                })
                .collect(),
            raw_locations: (0..1000)
                .map(|i| format!("s3://a-bucket-name-of-63-characters/inbound/{i:0>60}"))
                .collect(),
            quarantined: true,
            quarantine_reasons: vec![QuarantineReason::Spam; 100],
            redactions: vec![SecretKind::PasswordResetLink, SecretKind::VerificationCode],
            support_case_id: Some("1".repeat(20)),
            abuse_report_id: Some("2".repeat(20)),
            normalized_subject: worst(100_000),
            messages: u32::MAX,
            attachments_total: u64::MAX,
            unregistered_account: None,
        }
    }

    #[test]
    fn the_worst_ticket_fits_one_dynamodb_item() {
        let t = fit(huge());
        let doc = serde_json::to_string(&t).unwrap();
        assert!(doc.len() < MAX_DOC_BYTES, "{} bytes", doc.len());
        assert_eq!(t.attachments.len(), ATTACHMENTS);
        assert_eq!(t.message_ids.len(), MESSAGE_REFS);
        assert_eq!(t.raw_locations.len(), MESSAGE_REFS);
        assert!(t.raw_locations[MESSAGE_REFS - 1].ends_with("999"));
        assert_eq!(fit(t.clone()), t, "idempotent");
    }

    #[test]
    fn clipping_respects_character_boundaries() {
        assert_eq!(clip("ääää", 2), "ää…");
        assert_eq!(clip("ab", 2), "ab");
        assert_eq!(clip("日本語テキスト", 3), "日本語…");
    }

    #[test]
    fn a_thread_keeps_the_newest_attachments() {
        let mut t = huge();
        t.attachments.clear();
        let batch = |tag: &str| -> Vec<Attachment> {
            (0..60)
                .map(|i| Attachment {
                    name: format!("{tag}{i}"),
                    content_type: "text/plain".into(),
                    size: 1,
                    sha256: String::new(),
                })
                .collect()
        };
        append_attachments(&mut t, &batch("old"));
        append_attachments(&mut t, &batch("new"));
        assert_eq!(t.attachments.len(), ATTACHMENTS);
        assert_eq!(t.attachments.last().unwrap().name, "new59");
        assert_eq!(t.attachments[0].name, "old20");
    }
}
