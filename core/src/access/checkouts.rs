//! Checking out (the requester, once, exclusive per account, within the approval's lifetime),
//! checking in, and revoking. The decisions are [`super::checkout`]'s; every refusal is
//! audited.

use super::attempt::{entry, Attempt};
use super::checkout::{self as decide, LockMove, LockState};
use super::expire::expire_one;
use super::identity::Caller;
use super::ledger::{get, not_found, transition, transition_from};
use super::ports::{AccessAccounts, AccessLedger, AccessPorts};
use super::record::AccessRequest;
use super::refusal::Refusal;
use super::reveal::{apply_gate, decrypt, Revealed};
use super::{approval, TAKEOVER};
use crate::registry::{stamp, RotationReason};
use crate::{ErrorType, LambdaError};

/// The requester checks out: shows the secrets once, exclusive per account.
pub async fn checkout<P: AccessPorts>(
    ports: &P,
    caller: impl Into<Caller>,
    id: &str,
) -> Result<Revealed, LambdaError> {
    let who: Caller = caller.into();
    let (who, caller) = (&who, who.arn());
    let now = ports.clock().now();
    let r = get(ports, id).await?.ok_or_else(|| not_found(id))?;
    let account = r.account_id.clone();
    let attempt = Attempt {
        ports,
        caller,
        account: &account,
        action: "checkout",
        target: id,
    };
    if let Err(refusal) = decide::may_checkout(ports.policy(), who, &r, now) {
        if matches!(refusal, Refusal::ApprovalExpired { .. }) {
            let _ = expire_one(ports, caller, id).await;
        }
        return Err(attempt.refused(refusal).await);
    }
    let lock = ports.ledger().lock_of(&account).await?;
    match decide::lock_admits(&account, lock.as_ref(), now) {
        Ok(LockState::Free) => {}
        // A check-out that has ended but was not yet swept: expire it first.
        Ok(LockState::Stale(holder)) => {
            let _ = expire_one(ports, "access-expiry", holder).await;
        }
        Err(refusal) => return Err(attempt.refused(refusal).await),
    }
    let apply = approval::applies_pending(&r.reason);
    let awaiting = if apply {
        let gate = match apply_gate(ports, &account, now).await? {
            Ok(rot) => approval::rotation_fits(&r.reason, &rot).map(|()| rot),
            Err(why) => Err(why),
        };
        match gate {
            Ok(rot) => Some(rot),
            Err(why) if r.reason == TAKEOVER => {
                return Err(attempt.refused(Refusal::Takeover { why }).await)
            }
            Err(why) => return Err(attempt.refused(Refusal::RotationApply { why }).await),
        }
    } else {
        None
    };
    if r.reason == TAKEOVER {
        // Still being taken over: once active, its password is checked out like any other.
        let standing = ports.accounts().standing(&account).await?;
        if let Err(refusal) = approval::account_admits(&account, standing, &r.reason) {
            return Err(attempt.refused(refusal).await);
        }
    }
    // Decrypt first; nothing is shown unless the check-out (and its audit record) commits.
    let secrets = decrypt(ports, &account, awaiting.as_ref(), now).await?;
    if !apply {
        // Before anything is shown: every use of the password ends in a rotation, and only an
        // account still in our custody (active, vaulted: not being released since the approval)
        // is checked out. The mark answers both in one call.
        let standing = ports
            .accounts()
            .mark_for_rotation(&account, now, RotationReason::Checkout)
            .await?;
        if let Err(refusal) = approval::account_admits(&account, Some(standing), &r.reason) {
            return Err(attempt.refused(refusal).await);
        }
    }
    let totp_shown = secrets.totp.is_some();
    let reset = secrets.reset_links.len();
    let password_version = secrets.password_version;
    let pending_version = secrets.pending.as_ref().map(|(v, _)| *v);
    // From the request read above (the commit is conditional on its version).
    let request = transition_from(ports, r, |r| async move {
        let m = decide::check_out(r, caller, now)?;
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
                stamp(expires)
            ))
            .detail("password_version", password_version)
            .detail("totp_shown", totp_shown)
            .detail("reset_links_shown", reset);
        if let Some(p) = pending_version {
            record = record.detail("pending_version", p);
        }
        Ok((r, record, m.lock))
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
pub async fn checkin<P: AccessPorts>(
    ports: &P,
    caller: impl Into<Caller>,
    id: &str,
) -> Result<AccessRequest, LambdaError> {
    let who: Caller = caller.into();
    let (who, caller) = (&who, who.arn());
    transition(ports, id, |r| async move {
        let account = r.account_id.clone();
        let attempt = Attempt {
            ports,
            caller,
            account: &account,
            action: "checkin",
            target: id,
        };
        let m = match decide::may_checkin(ports.policy(), who, r, ports.clock().now()) {
            Ok(m) => m,
            Err(refusal) => return Err(attempt.refused(refusal).await),
        };
        let record = entry(caller, &account, "access.checked-in", &m.request);
        Ok((m.request, record, m.lock))
    })
    .await
}

/// An admin ends a request in any open state.
pub async fn revoke<P: AccessPorts>(
    ports: &P,
    caller: impl Into<Caller>,
    id: &str,
    note: &str,
) -> Result<AccessRequest, LambdaError> {
    let who: Caller = caller.into();
    let (who, caller) = (&who, who.arn());
    transition(ports, id, |r| async move {
        let account = r.account_id.clone();
        let attempt = Attempt {
            ports,
            caller,
            account: &account,
            action: "revoke",
            target: id,
        };
        let m = match decide::may_revoke(ports.policy(), who, r, note, ports.clock().now()) {
            Ok(m) => m,
            Err(refusal) => return Err(attempt.refused(refusal).await),
        };
        let record = entry(caller, &account, "access.revoked", &m.request).reason(note);
        Ok((m.request, record, m.lock))
    })
    .await
}
