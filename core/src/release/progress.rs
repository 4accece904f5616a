//! How far a release got, as a rule: every exit's steps are a subsequence of one order, so
//! "has the release reached step X" is a comparison of ranks; and where each exit's point of no
//! return lies (cancel is allowed before it).

use super::record::{Exit, ReleaseStep};

/// The rank of `step` in the one order all exits follow; `None` for `Cancelled` (terminal,
/// off every path). The two code-wait steps share a rank (they alternate).
pub fn rank(step: ReleaseStep) -> Option<u8> {
    use ReleaseStep as S;
    Some(match step {
        S::Begun => 0,
        S::PreconditionsChecked => 1,
        S::CloseRequested => 2,
        S::Closed => 3,
        S::EmailUpdateStarted => 4,
        S::AwaitingCode | S::CodeResent => 5,
        S::EmailAccepted => 6,
        S::EmailConfirmed => 7,
        S::ContactsUpdated => 8,
        S::RootCredentialsRemoved => 9,
        S::LoginProfileCreated => 10,
        S::InvitationFound => 11,
        S::HandshakeAccepted => 12,
        S::Departed => 13,
        S::Shredded => 14,
        S::Certified => 15,
        S::Cancelled => return None,
    })
}

/// Whether a release whose last step is `current` has completed `target` (or a later step).
pub fn reached(current: Option<ReleaseStep>, target: ReleaseStep) -> bool {
    match (current.and_then(rank), rank(target)) {
        (Some(c), Some(t)) => c >= t,
        _ => false,
    }
}

/// The step whose start is the exit's point of no return: closure at `CloseAccount`, a hand-back
/// (and a transfer that changes the root email) at `AcceptPrimaryEmailUpdate`, a transfer that
/// keeps our root email at the contacts' change.
pub fn point_of_no_return(exit: Exit, keep_email: bool) -> ReleaseStep {
    match exit {
        Exit::Close => ReleaseStep::CloseRequested,
        Exit::Transfer if keep_email => ReleaseStep::ContactsUpdated,
        Exit::Handback | Exit::Transfer => ReleaseStep::EmailAccepted,
    }
}

/// The steps of an exit, in order (what `release status` and the docs list).
pub fn path(exit: Exit, keep_email: bool) -> Vec<ReleaseStep> {
    use ReleaseStep as S;
    let email = [
        S::EmailUpdateStarted,
        S::AwaitingCode,
        S::EmailAccepted,
        S::EmailConfirmed,
    ];
    let handover = [
        S::ContactsUpdated,
        S::RootCredentialsRemoved,
        S::LoginProfileCreated,
    ];
    let mut p = vec![S::Begun];
    match exit {
        Exit::Close => p.extend([S::CloseRequested, S::Closed]),
        Exit::Handback => {
            p.extend(email);
            p.extend(handover);
        }
        Exit::Transfer => {
            p.push(S::PreconditionsChecked);
            if !keep_email {
                p.extend(email);
            }
            p.extend(handover);
            p.extend([S::InvitationFound, S::HandshakeAccepted, S::Departed]);
        }
    }
    if exit != Exit::Close {
        p.extend([S::Shredded, S::Certified]);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_in_rank_order_and_holds_its_point_of_no_return() {
        for exit in Exit::ALL {
            for keep in [false, true] {
                let p = path(exit, keep);
                let ranks: Vec<u8> = p.iter().map(|s| rank(*s).unwrap()).collect();
                assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{exit:?} {ranks:?}");
                assert!(p.contains(&point_of_no_return(exit, keep)));
            }
        }
    }

    #[test]
    fn reached_compares_ranks_and_cancelled_reaches_nothing() {
        use ReleaseStep as S;
        assert!(reached(Some(S::EmailConfirmed), S::EmailAccepted));
        assert!(reached(Some(S::CodeResent), S::AwaitingCode));
        assert!(!reached(Some(S::AwaitingCode), S::EmailAccepted));
        assert!(!reached(None, S::Begun));
        assert!(!reached(Some(S::Cancelled), S::Begun));
        assert_eq!(point_of_no_return(Exit::Transfer, true), S::ContactsUpdated);
        assert_eq!(point_of_no_return(Exit::Transfer, false), S::EmailAccepted);
        assert_eq!(point_of_no_return(Exit::Close, false), S::CloseRequested);
    }
}
