//! `RecordingNotifier`: the twin of `Notifications` (webhook for every notice, e-mail to the
//! account's contacts for priority high and above). It records what it would have delivered.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rootwarden_core::mail::Priority;
use rootwarden_core::notify::{Notice, Notifier};
use rootwarden_core::tickets::Ticket;
use rootwarden_core::LambdaError;

use crate::{lock, unavailable};

/// One delivered notice.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub event: &'static str,
    pub ticket: Ticket,
    /// Whom the e-mail went to: empty when no e-mail was due (priority below high, or no
    /// contacts).
    pub emailed: Vec<String>,
}

#[derive(Clone, Default)]
pub struct RecordingNotifier {
    delivered: Arc<Mutex<Vec<Delivered>>>,
    fail: Arc<AtomicBool>,
}

impl RecordingNotifier {
    /// Makes every later notification fail, as a webhook or SES outage would.
    pub fn fail(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }

    pub fn delivered(&self) -> Vec<Delivered> {
        lock(&self.delivered).clone()
    }
}

impl Notifier for RecordingNotifier {
    async fn notify(&self, notice: &Notice<'_>, contacts: &[String]) -> Result<(), LambdaError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(unavailable("webhook"));
        }
        let emailed = if notice.ticket.priority >= Priority::High {
            contacts.to_vec()
        } else {
            Vec::new()
        };
        lock(&self.delivered).push(Delivered {
            event: notice.event,
            ticket: notice.ticket.clone(),
            emailed,
        });
        Ok(())
    }
}
