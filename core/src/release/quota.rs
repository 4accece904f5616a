//! The closure quota (`CloseAccount`: 10 % of the organization's members, at least 10 and at
//! most 1,000, per rolling 30 days). AWS only says "exceeded"; what we can say is when our own
//! oldest closure in the window leaves it.

use chrono::{DateTime, Duration, Utc};

/// The quota's rolling window.
pub const WINDOW_DAYS: i64 = 30;

/// When a closure slot frees up: the oldest of `closures` inside the window ending `now`, plus
/// the window. `None` when none of ours is inside it (closures made outside Root Warden count
/// too, and AWS does not name them).
pub fn next_free(closures: &[DateTime<Utc>], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let window = Duration::days(WINDOW_DAYS);
    closures
        .iter()
        .filter(|c| **c > now - window && **c <= now)
        .min()
        .map(|oldest| *oldest + window)
}

/// The `CloseQuotaExceeded` message.
pub fn exceeded_message(account: &str, closures: &[DateTime<Utc>], now: DateTime<Utc>) -> String {
    match next_free(closures, now) {
        Some(at) => format!(
            "closing {account} is refused: the organization's closure quota for the last {WINDOW_DAYS} days is used up; \
             the next slot frees at {} (the oldest of the {} closures Root Warden made in the window, plus {WINDOW_DAYS} days)",
            crate::registry::stamp(at),
            closures.iter().filter(|c| **c > now - Duration::days(WINDOW_DAYS)).count()
        ),
        None => format!(
            "closing {account} is refused: the organization's closure quota for the last {WINDOW_DAYS} days is used up \
             by closures made outside Root Warden; try again within {WINDOW_DAYS} days"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn the_oldest_closure_in_the_window_decides() {
        let now = at("2026-12-01T00:00:00Z");
        let closures = [
            at("2026-10-01T00:00:00Z"), // outside the window
            at("2026-11-20T00:00:00Z"),
            at("2026-11-05T12:00:00Z"),
        ];
        assert_eq!(next_free(&closures, now), Some(at("2026-12-05T12:00:00Z")));
        assert_eq!(next_free(&closures[..1], now), None);
        let m = exceeded_message("111122223333", &closures, now);
        assert!(m.contains("2026-12-05T12:00:00Z"), "{m}");
    }
}
