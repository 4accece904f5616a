//! The back-off of a release's polls: `poll_seconds * 2^polls`, capped at an hour, and how many
//! polls each wait allows before the release stops resumable (`StillPending`).

/// No wait between polls is longer.
pub const MAX_WAIT_SECONDS: u64 = 3600;

/// What a release polls for, with its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// `DescribeAccount` until `SUSPENDED` (AWS says up to a few days: 48 polls reach ~46 h
    /// at the default interval).
    Closure,
    /// `GetPrimaryEmail` until it is the customer's.
    Email,
    /// `DescribeAccount` until the account left our organization.
    Departure,
}

impl Wait {
    pub fn max_polls(self) -> u32 {
        match self {
            Wait::Closure => 48,
            Wait::Email | Wait::Departure => 24,
        }
    }
}

/// The pause after poll number `polls` (0-based) came back not done.
pub fn wait_seconds(poll_seconds: u64, polls: u32) -> u64 {
    let factor = 1u64.checked_shl(polls.min(63)).unwrap_or(u64::MAX);
    poll_seconds.saturating_mul(factor).min(MAX_WAIT_SECONDS)
}

/// Polls for an invitation allowed within `timeout_seconds`: the smallest count whose waits add
/// up to the timeout (at least one).
pub fn invitation_polls(poll_seconds: u64, timeout_seconds: u64) -> u32 {
    let mut total = 0u64;
    let mut n = 0u32;
    while total < timeout_seconds && n < 100_000 {
        total = total.saturating_add(wait_seconds(poll_seconds.max(1), n));
        n += 1;
    }
    n.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_an_hour() {
        assert_eq!(wait_seconds(60, 0), 60);
        assert_eq!(wait_seconds(60, 1), 120);
        assert_eq!(wait_seconds(60, 5), 1920);
        assert_eq!(wait_seconds(60, 6), 3600);
        assert_eq!(wait_seconds(60, 500), 3600);
        assert_eq!(wait_seconds(u64::MAX, 3), 3600);
    }

    #[test]
    fn invitation_bound_covers_the_timeout() {
        // 60+120+240+480+960+1920 = 3780 ≥ 3600.
        assert_eq!(invitation_polls(60, 3600), 6);
        // 14 days at the default: 6 polls reach 3780 s, then an hour each (335 more).
        assert_eq!(invitation_polls(60, 14 * 86_400), 6 + 335);
        assert_eq!(invitation_polls(60, 1), 1);
    }
}
