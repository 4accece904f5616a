//! Notifications for ticket changes: a signed webhook for every created/updated ticket, and an
//! SES e-mail to the account's contacts for priority high and above. Both carry only what the
//! ticket holds (no secret ever reaches a ticket).
//!
//! Webhook signature (Stripe-style, so receivers can reject replays): header
//! `X-RootWarden-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` with
//! `X-RootWarden-Timestamp: <unix seconds>`. `X-RootWarden-Delivery` (`<ticket>/<messages>`) is
//! stable across retries, for de-duplication.

use std::future::Future;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::Sha256;

use crate::tickets::Ticket;
use crate::LambdaError;

#[derive(Debug, Clone, Serialize)]
pub struct Notice<'a> {
    /// `ticket.created` or `ticket.updated`.
    pub event: &'static str,
    pub ticket: &'a Ticket,
}

pub trait Notifier: Send + Sync {
    /// Whether a notice about `ticket` would reach anyone (a channel is configured and this
    /// ticket is for it). When it would not, the caller skips the notice and marking it sent.
    fn delivers(&self, ticket: &Ticket, contacts: &[String]) -> bool {
        let _ = (ticket, contacts);
        true
    }
    /// Delivers the notice; `contacts` are the account's e-mail contacts from the registry.
    fn notify(
        &self,
        notice: &Notice<'_>,
        contacts: &[String],
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;
}

/// `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn sign(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_reference_hmac() {
        // HMAC-SHA256("key", "1700000000.{}"), computed independently with Python's hmac module.
        let sig = sign(&SecretString::from("key"), 1_700_000_000, b"{}");
        assert_eq!(
            sig,
            "v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }
}
