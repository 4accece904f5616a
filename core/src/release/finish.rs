//! The end of a release: the vault's crypto-shred (status `released`), the signed handover
//! certificate, the cancel (custody restored) and the stop (resumable).

use sha2::{Digest, Sha256};

use super::certificate::{assemble, signing_bytes, AuditHead, CertificateStatement, VERSION};
use super::flow::{
    self, advance, entry, owned, owned_in, read, remove_waits, restore, save, Owned,
};
use super::ports::{CertificateSigner, ReleasePorts, ReleaseStore, VaultShredder};
use super::record::{Exit, ReleaseStep};
use crate::audit::{AuditEntry, AuditLog, Outcome, Stream};
use crate::registry::{stamp, AccountStatus};
use crate::{AccountId, ErrorType, LambdaError};

/// The shredder's own record (appended before anything is deleted).
pub(crate) fn shred_record<P: ReleasePorts>(ports: &P, o: &Owned, why: &str) -> AuditEntry {
    entry(ports, &o.release, "vault-shredded").detail("why", why)
}

/// Crypto-shreds the vault (every sealed version, every transient secret) and ends custody:
/// status `released`; our old root address stays on the item, retired (mail to it is ticketed
/// as mail to a released account). Returns how many items this run deleted.
pub async fn shred<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<u32, LambdaError> {
    if let Ok(o) = owned_in(ports, account, execution, AccountStatus::Released).await {
        if o.reached(ReleaseStep::Shredded) {
            return Ok(0);
        }
    }
    let o = owned(ports, account, execution).await?;
    let ready = match o.release.exit {
        Exit::Handback => o.reached(ReleaseStep::LoginProfileCreated),
        Exit::Transfer => o.reached(ReleaseStep::Departed),
        Exit::Close => false,
    };
    if !ready {
        return Err(LambdaError::new(
            ErrorType::Conflict,
            format!(
                "the release of {account} is at {}: not ready to shred",
                o.release.step.map_or("none", |s| s.as_str())
            ),
        ));
    }
    let n = ports
        .shredder()
        .shred(account, &shred_record(ports, &o, "handed over"))
        .await?;
    let now = ports.clock().now();
    let mut acct = o.account.clone();
    acct.status = AccountStatus::Released;
    acct.rotation_due = None;
    acct.rotation_reason = None;
    let mut next = o.release.clone();
    next.step = Some(ReleaseStep::Shredded);
    next.shredded_at = Some(now);
    let record = entry(ports, &next, "shredded")
        .detail("deleted", n)
        .detail("retired_address", acct.root_email.as_str());
    save(ports, &o, &acct, next, record).await?;
    tracing::info!(account = %account, execution, deleted = n, "vault shredded: account released");
    Ok(n)
}

/// The head of the account's audit chain now.
async fn audit_head<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
) -> Result<AuditHead, LambdaError> {
    let stream = Stream::Account(account.clone()).key();
    let items = ports
        .audit()
        .read_stream(&stream)
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    let last = items
        .into_iter()
        .next_back()
        .ok_or_else(|| {
            LambdaError::new(
                ErrorType::InternalError,
                format!("audit chain {stream} is empty"),
            )
        })?
        .map_err(|m| {
            LambdaError::new(
                ErrorType::AuditTamperDetected,
                format!("audit chain {stream}: record {} is malformed", m.seq),
            )
        })?;
    Ok(AuditHead {
        stream,
        sequence: last.seq,
        hash: last.hash,
    })
}

/// Signs and stores the handover certificate (a retry returns the stored one). Returns its
/// JSON.
pub async fn certify<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<String, LambdaError> {
    let o = owned_in(ports, account, execution, AccountStatus::Released).await?;
    if !o.reached(ReleaseStep::Shredded) {
        return Err(flow::conflict(format!(
            "the vault of {account} is not shredded yet"
        )));
    }
    let stored = ports.store().certificate(account).await?;
    let cert = match stored {
        Some(c) => c,
        None => {
            let r = &o.release;
            let statement = CertificateStatement {
                version: VERSION,
                account_id: account.to_string(),
                exit: r.exit.as_str().to_owned(),
                new_root_email: r
                    .customer
                    .as_ref()
                    .and_then(|c| c.email.as_ref())
                    .filter(|_| !r.keep_email)
                    .map(|e| e.to_string()),
                removed: r.removed.clone(),
                customer_org: r.customer_org.clone(),
                released_at: stamp(r.shredded_at.unwrap_or(r.updated_at)),
                audit_head: audit_head(ports, account).await?,
                request_id: r.request_id.clone(),
                approved_by: r.approved_by.clone(),
            };
            let signature = ports.signer().sign(&signing_bytes(&statement)).await?;
            let cert = assemble(statement, &signature);
            ports.store().put_certificate(account, &cert).await?;
            cert
        }
    };
    if !o.reached(ReleaseStep::Certified) {
        let digest = hex::encode(Sha256::digest(cert.as_bytes()));
        let record = entry(ports, &o.release, "certified").detail("certificate_sha256", digest);
        advance(ports, &o, o.release.clone(), ReleaseStep::Certified, record).await?;
    }
    tracing::info!(account = %account, execution, "handover certificate issued");
    Ok(cert)
}

/// The `Catch` of `Cancelled`: custody restored (before the point of no return). Returns the
/// restored status.
pub async fn cancel_step<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<String, LambdaError> {
    let (acct, release) = read(ports, account).await?;
    if release.execution != execution {
        return Err(flow::conflict(format!(
            "the release of {account} belongs to execution {}",
            release.execution
        )));
    }
    restore(
        ports,
        &Owned {
            account: acct,
            release,
        },
    )
    .await
}

/// Longest `Cause` kept on the audit record.
const CAUSE_CHARS: usize = 500;
/// At most this much of the message is kept on the registry item (`release_stopped`).
const STOPPED_MESSAGE_CHARS: usize = 300;

/// `Error: message`, the message taken from a Lambda error's cause (`{"errorMessage": ...}`)
/// or the cause itself, bounded.
fn stopped_text(error: &str, cause: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(cause)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| cause.to_owned());
    let message: String = message.chars().take(STOPPED_MESSAGE_CHARS).collect();
    if message.is_empty() {
        error.to_owned()
    } else {
        format!("{error}: {message}")
    }
}

/// The `Catch` of everything else: records `stopped` (resumable by a new approval) and removes
/// the execution's waits. An execution that does not own the release records the stop only.
pub async fn fail<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
    error: &str,
    cause: &str,
) -> Result<String, LambdaError> {
    let error = crate::error::workflow_error_name(error);
    let cause: String = cause
        .chars()
        .filter(|c| !c.is_control())
        .take(CAUSE_CHARS)
        .collect();
    remove_waits(ports, account, execution).await?;
    match read(ports, account).await {
        Ok((acct, release)) if release.execution == execution => {
            // What stopped it, with AWS's or our message (never secret: error messages hold
            // none), so `release status` says why.
            let why = stopped_text(&error, &cause);
            if release.stopped.as_deref() == Some(why.as_str()) {
                return Ok(error);
            }
            let o = Owned {
                account: acct,
                release,
            };
            let mut next = o.release.clone();
            next.stopped = Some(why);
            let record = entry(ports, &next, "stopped")
                .outcome(Outcome::Failure)
                .detail("error", error.clone())
                .detail("cause", cause);
            let account_item = o.account.clone();
            save(ports, &o, &account_item, next, record).await?;
        }
        Ok(_)
        | Err(LambdaError {
            error_type: ErrorType::NotFound,
            ..
        }) => {
            let record = AuditEntry::new(
                Stream::Account(account.clone()),
                ports.actor(),
                "release.stopped",
            )
            .target(account.to_string())
            .outcome(Outcome::Failure)
            .reason("this execution does not own the release")
            .correlation_id(execution)
            .detail("error", error.clone())
            .detail("cause", cause);
            ports
                .audit()
                .append(&record)
                .await
                .map_err(|e| LambdaError::from_classified(&e))?;
        }
        Err(e) => return Err(e),
    }
    tracing::warn!(account = %account, execution, error = %error, "release stopped");
    Ok(error)
}
