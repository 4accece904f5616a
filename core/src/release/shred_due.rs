//! The scheduled sweep over closed accounts: past the reinstatement window, the vault is
//! crypto-shredded (`release.shredded`); inside it, an account AWS reports `ACTIVE` again
//! (reinstated by AWS Support) comes back into custody (`release.reinstated`, rotation due now).

use serde::Serialize;

use super::finish::shred_record;
use super::flow::{entry, save, Owned};
use super::ports::{MemberStatus, Organizations, ReleasePorts, ReleaseStore, VaultShredder};
use super::record::{Expect, ReleaseStep};
use crate::registry::{AccountMode, AccountStatus, RotationReason};
use crate::{ErrorType, LambdaError};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShredReport {
    /// Accounts whose vault was shredded now.
    pub shredded: Vec<String>,
    /// Accounts reinstated: back in custody.
    pub reinstated: Vec<String>,
    /// Closed accounts still inside their window.
    pub waiting: usize,
    /// Accounts that failed (`account: error`); the next run tries again.
    pub failed: Vec<String>,
}

async fn one<P: ReleasePorts>(
    ports: &P,
    o: &Owned,
    report: &mut ShredReport,
) -> Result<(), LambdaError> {
    let r = &o.release;
    let account = &o.account.account_id;
    let now = ports.clock().now();
    if r.shredded_at.is_some() {
        return Ok(());
    }
    let due = r.shred_after.is_some_and(|s| s <= now);
    if due {
        let n = ports
            .shredder()
            .shred(
                account,
                &shred_record(ports, o, "reinstatement window over"),
            )
            .await?;
        let mut next = r.clone();
        next.step = Some(ReleaseStep::Shredded);
        next.shredded_at = Some(now);
        let record = entry(ports, &next, "shredded").detail("deleted", n);
        let acct = o.account.clone();
        save(ports, o, &acct, next, record).await?;
        report.shredded.push(account.to_string());
        return Ok(());
    }
    let member = ports.orgs().describe(account).await?;
    if member.is_some_and(|m| m.status == MemberStatus::Active) {
        let mut acct = o.account.clone();
        acct.status = AccountStatus::Active;
        if acct.mode == AccountMode::Vaulted {
            acct.rotation_due = Some(now);
            acct.rotation_reason = Some(RotationReason::Manual);
        }
        let mut next = r.clone();
        next.shred_after = None;
        next.updated_at = now;
        let record = entry(ports, &next, "reinstated").detail(
            "rotation_due",
            acct.rotation_due
                .map(crate::registry::stamp)
                .unwrap_or_default(),
        );
        let expect = Expect::Begin {
            status: AccountStatus::Closed,
            previous: Some(r.execution.clone()),
        };
        if !ports.store().save(&acct, &next, &expect, &record).await? {
            return Err(LambdaError::new(
                ErrorType::Conflict,
                format!("the registry item of {account} changed meanwhile"),
            ));
        }
        report.reinstated.push(account.to_string());
        return Ok(());
    }
    report.waiting += 1;
    Ok(())
}

/// Shreds what is due and reopens what was reinstated; one account's failure does not stop the
/// others (it is reported and tried again next run).
pub async fn shred_due<P: ReleasePorts>(ports: &P) -> Result<ShredReport, LambdaError> {
    let mut report = ShredReport::default();
    for (account, release) in ports.store().closed().await? {
        if account.status != AccountStatus::Closed {
            continue;
        }
        let id = account.account_id.clone();
        let o = Owned { account, release };
        if let Err(e) = one(ports, &o, &mut report).await {
            tracing::warn!(account = %id, error = %e, "shred-due failed for an account");
            report.failed.push(format!("{id}: {}", e.error_type));
        }
    }
    tracing::info!(
        shredded = report.shredded.len(),
        reinstated = report.reinstated.len(),
        waiting = report.waiting,
        failed = report.failed.len(),
        "shred-due run"
    );
    Ok(report)
}
