//! What every `Notifier` promises that a test can observe without a receiver.

use chrono::Utc;
use rootwarden_core::mail::{Category, Priority};
use rootwarden_core::notify::{Notice, Notifier};
use rootwarden_core::tickets::Ticket;

use super::fixtures::{fresh, fresh_account};

/// Delivers notices of every priority, with and without contacts.
pub async fn notifier_contract<N: Notifier>(notifier: N) {
    let a = fresh_account();
    for (priority, contacts) in [
        (Priority::Low, vec![]),
        (Priority::High, vec!["ops@provider.example".to_owned()]),
        (Priority::Critical, vec![]),
    ] {
        let ticket = Ticket::task(
            fresh("T"),
            &a,
            Category::Security,
            priority,
            "contract",
            "notifier contract",
            Utc::now(),
        );
        notifier
            .notify(
                &Notice {
                    event: "ticket.created",
                    ticket: &ticket,
                },
                &contacts,
            )
            .await
            .unwrap();
    }
}
