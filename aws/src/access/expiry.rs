//! The automatic check-in: every check-out past its end is expired (lock released, audited),
//! and an approval not used in time expires when its check-out is attempted. When something is
//! due is the core's rule (`rootwarden_core::access::expiry`).

use rootwarden_core::access::expiry::may_expire;
use serde::Serialize;

use super::ledger::{lock_write, locks, transition};
use super::{entry, AccessRequest, Deps};
use crate::LambdaError;

/// Ends a request that is due to expire: a check-out that reached its end (lock released) or an
/// approval that lapsed. Not due: `Conflict`, not audited.
pub(super) async fn expire_one(
    deps: &Deps,
    actor: &str,
    id: &str,
) -> Result<AccessRequest, LambdaError> {
    transition(deps, id, |r| async move {
        let account = r.account_id.clone();
        let (m, why) = may_expire(&deps.policy, r, actor, deps.clock.now())?;
        let lock = lock_write(deps, &m)?;
        let record = entry(actor, &account, "access.expired", &m.request).reason(why.reason());
        Ok((m.request, record, lock))
    })
    .await
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ExpiryReport {
    pub active: usize,
    pub expired: Vec<String>,
    pub failed: Vec<(String, String)>,
}

/// The scheduled automatic check-in: every check-out past its end is expired.
pub async fn expire_due(deps: &Deps, actor: &str) -> Result<ExpiryReport, LambdaError> {
    let now = deps.clock.now();
    let mut report = ExpiryReport::default();
    for lock in locks(deps).await? {
        report.active += 1;
        if !lock.ended(now) {
            continue;
        }
        match expire_one(deps, actor, &lock.request_id).await {
            Ok(r) => report.expired.push(r.id),
            Err(e) => report.failed.push((lock.request_id, e.to_string())),
        }
    }
    Ok(report)
}
