//! Who may begin (or adopt) a release: the access request named by the execution, as the
//! access ledger holds it. It must be a `release` request for this account and exit, approved,
//! by at least one person other than its requester (dual control counts people,
//! `access::identity`), and the execution's name must be the one the access function gives it.

use super::record::{Exit, Release, ReleaseTerms};
use super::RELEASE_REASON;
use crate::access::{AccessRequest, AccessStatus};
use crate::AccountId;

/// The execution an approved release request starts: `release-<account>-<request id>`.
pub fn execution_name(account: &AccountId, request_id: &str) -> String {
    format!("release-{account}-{request_id}")
}

/// The request's terms when it approves a release of `account` by `exit`; otherwise why not.
pub fn may_begin<'a>(
    req: &'a AccessRequest,
    account: &AccountId,
    exit: Exit,
) -> Result<&'a ReleaseTerms, String> {
    if req.reason != RELEASE_REASON {
        return Err(format!(
            "request {} has reason {:?}, not {RELEASE_REASON:?}",
            req.id, req.reason
        ));
    }
    if &req.account_id != account {
        return Err(format!(
            "request {} is for account {}, not {account}",
            req.id, req.account_id
        ));
    }
    if req.status != AccessStatus::Approved {
        return Err(format!(
            "request {} is {}, not approved",
            req.id,
            req.status.as_str()
        ));
    }
    let Some(terms) = req.release.as_ref() else {
        return Err(format!("request {} carries no release terms", req.id));
    };
    if terms.exit != exit {
        return Err(format!(
            "request {} approves a {} release, not a {}",
            req.id,
            terms.exit.as_str(),
            exit.as_str()
        ));
    }
    if req.approvals.is_empty() || req.approvals.len() != req.approver_persons.len() {
        return Err(format!(
            "request {} has no approval by a recorded person",
            req.id
        ));
    }
    let requester = req.requester_person.as_deref();
    if requester.is_none() {
        return Err(format!(
            "request {} does not record its requester as a person",
            req.id
        ));
    }
    let other = req
        .approver_persons
        .iter()
        .zip(&req.approvals)
        .any(|(person, arn)| Some(person.as_str()) != requester && *arn != req.requester);
    if !other {
        return Err(format!(
            "request {} was approved only by its requester: a release needs another person",
            req.id
        ));
    }
    Ok(terms)
}

/// Whether a new approval may adopt the recorded (stopped) release: the same exit, and after
/// the point of no return the same terms (what was handed over cannot change).
pub fn may_adopt(recorded: &Release, terms: &ReleaseTerms) -> Result<(), String> {
    if recorded.exit != terms.exit {
        return Err(format!(
            "a {} release of {} is recorded (execution {}): cancel it, or approve a {} release",
            recorded.exit.as_str(),
            recorded.account_id,
            recorded.execution,
            recorded.exit.as_str()
        ));
    }
    let same = recorded.customer == terms.customer
        && recorded.customer_org == terms.customer_org
        && recorded.keep_email == terms.keep_email;
    if recorded.point_of_no_return_at.is_some() && !same {
        return Err(format!(
            "the release of {} passed its point of no return: its terms cannot change",
            recorded.account_id
        ));
    }
    Ok(())
}
