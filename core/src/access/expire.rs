//! The automatic check-in: every check-out past its end is expired (lock released, audited),
//! and an approval not used in time expires when its check-out is attempted. When something is
//! due is [`super::expiry`]'s rule.

use serde::Serialize;

use super::attempt::entry;
use super::expiry::may_expire;
use super::ledger::{locks, transition};
use super::ports::AccessPorts;
use super::record::AccessRequest;
use crate::LambdaError;

/// Ends a request that is due to expire: a check-out that reached its end (lock released) or an
/// approval that lapsed. Not due: `Conflict`, not audited.
pub(super) async fn expire_one<P: AccessPorts>(
    ports: &P,
    actor: &str,
    id: &str,
) -> Result<AccessRequest, LambdaError> {
    transition(ports, id, |r| async move {
        let account = r.account_id.clone();
        let (m, why) = may_expire(ports.policy(), r, actor, ports.clock().now())?;
        let record = entry(actor, &account, "access.expired", &m.request).reason(why.reason());
        Ok((m.request, record, m.lock))
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
pub async fn expire_due<P: AccessPorts>(
    ports: &P,
    actor: &str,
) -> Result<ExpiryReport, LambdaError> {
    let now = ports.clock().now();
    let mut report = ExpiryReport::default();
    for lock in locks(ports).await? {
        report.active += 1;
        if !lock.ended(now) {
            continue;
        }
        match expire_one(ports, actor, &lock.request_id).await {
            Ok(r) => report.expired.push(r.id),
            Err(e) => report.failed.push((lock.request_id, e.to_string())),
        }
    }
    Ok(report)
}
