//! Checking out (the requester, once, exclusive per account, within the approval's lifetime),
//! checking in, and revoking. The decisions are the core's (`rootwarden_core::access::checkout`);
//! every refusal is audited.

use rootwarden_core::access::checkout::{self as decide, LockState};
use rootwarden_core::access::{LockMove, Refusal};

use super::expiry::expire_one;
use super::ledger::{get, lock_of, lock_write, not_found, transition};
use super::reveal::{apply_gate, decrypt, Revealed};
use super::{entry, AccessRequest, Attempt, Caller, Deps};
use crate::registry::RotationReason;
use crate::{ErrorType, LambdaError};

/// The requester checks out: shows the secrets once, exclusive per account.
pub async fn checkout(
    deps: &Deps,
    caller: impl Into<Caller>,
    id: &str,
) -> Result<Revealed, LambdaError> {
    let who: Caller = caller.into();
    let (who, caller) = (&who, who.arn());
    let now = deps.clock.now();
    let r = get(deps, id).await?.ok_or_else(|| not_found(id))?;
    let account = r.account_id.clone();
    let attempt = Attempt {
        deps,
        caller,
        account: &account,
        action: "checkout",
        target: id,
    };
    if let Err(refusal) = decide::may_checkout(&deps.policy, who, &r, now) {
        if matches!(refusal, Refusal::ApprovalExpired { .. }) {
            let _ = expire_one(deps, caller, id).await;
        }
        return Err(attempt.refused(refusal).await);
    }
    let lock = lock_of(deps, &account).await?;
    match decide::lock_admits(&account, lock.as_ref(), now) {
        Ok(LockState::Free) => {}
        // A check-out that has ended but was not yet swept: expire it first.
        Ok(LockState::Stale(holder)) => {
            let _ = expire_one(deps, "access-expiry", holder).await;
        }
        Err(refusal) => return Err(attempt.refused(refusal).await),
    }
    let apply = r.reason == super::ROTATION_APPLY;
    let awaiting = if apply {
        match apply_gate(deps, &account, now).await? {
            Ok(rot) => Some(rot),
            Err(why) => return Err(attempt.refused(Refusal::RotationApply { why }).await),
        }
    } else {
        None
    };
    // Decrypt first; nothing is shown unless the check-out (and its audit record) commits.
    let secrets = decrypt(deps, &account, awaiting.as_ref(), now).await?;
    if !apply {
        // Before anything is shown: every use of the password ends in a rotation.
        deps.registry
            .mark_for_rotation(&account, now, RotationReason::Checkout)
            .await?;
    }
    let totp_shown = secrets.totp.is_some();
    let reset = secrets.reset_links.len();
    let password_version = secrets.password_version;
    let pending_version = secrets.pending.as_ref().map(|(v, _)| *v);
    let request = transition(deps, id, |r| async move {
        let m = decide::check_out(r, caller, now)?;
        let lock = lock_write(deps, &m)?;
        let expires = match m.lock {
            LockMove::Take { expires_at } => expires_at,
            LockMove::Keep | LockMove::Release => now,
        };
        let r = m.request;
        let mut record = entry(caller, &r.account_id, "access.checked-out", &r)
            .reason(format!(
                "{} ({}) until {}",
                r.reason,
                r.ticket,
                crate::registry::stamp(expires)
            ))
            .detail("password_version", password_version)
            .detail("totp_shown", totp_shown)
            .detail("reset_links_shown", reset);
        if let Some(p) = pending_version {
            record = record.detail("pending_version", p);
        }
        Ok((r, record, lock))
    })
    .await;
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            if e.error_type == ErrorType::Conflict {
                return Err(attempt.refuse(ErrorType::Conflict, e.message).await);
            }
            return Err(e);
        }
    };
    tracing::info!(request = %request.id, account = %account, reason = %request.reason, "root credentials checked out");
    Ok(secrets.shown(request))
}

/// The requester (or an admin) checks in.
pub async fn checkin(
    deps: &Deps,
    caller: impl Into<Caller>,
    id: &str,
) -> Result<AccessRequest, LambdaError> {
    let who: Caller = caller.into();
    let (who, caller) = (&who, who.arn());
    transition(deps, id, |r| async move {
        let account = r.account_id.clone();
        let attempt = Attempt {
            deps,
            caller,
            account: &account,
            action: "checkin",
            target: id,
        };
        let m = match decide::may_checkin(&deps.policy, who, r, deps.clock.now()) {
            Ok(m) => m,
            Err(refusal) => return Err(attempt.refused(refusal).await),
        };
        let lock = lock_write(deps, &m)?;
        let record = entry(caller, &account, "access.checked-in", &m.request);
        Ok((m.request, record, lock))
    })
    .await
}

/// An admin ends a request in any open state.
pub async fn revoke(
    deps: &Deps,
    caller: impl Into<Caller>,
    id: &str,
    note: &str,
) -> Result<AccessRequest, LambdaError> {
    let who: Caller = caller.into();
    let (who, caller) = (&who, who.arn());
    transition(deps, id, |r| async move {
        let account = r.account_id.clone();
        let attempt = Attempt {
            deps,
            caller,
            account: &account,
            action: "revoke",
            target: id,
        };
        let m = match decide::may_revoke(&deps.policy, who, r, note, deps.clock.now()) {
            Ok(m) => m,
            Err(refusal) => return Err(attempt.refused(refusal).await),
        };
        let lock = lock_write(deps, &m)?;
        let record = entry(caller, &account, "access.revoked", &m.request).reason(note);
        Ok((m.request, record, lock))
    })
    .await
}
