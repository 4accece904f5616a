//! Reading the ledger, and writing a decided change until it commits: re-read, decide again
//! and retry when the request changed under us; a lock held by another request is a conflict.

use std::future::Future;

use super::checkout::LockMove;
use super::ports::{AccessLedger, AccessPorts, LedgerWrite, Written};
use super::record::{AccessRequest, Lock};
use crate::audit::{backoff, AuditEntry};
use crate::{AccountId, ErrorType, LambdaError};

/// How often a change is re-read and retried after a lost race.
pub(super) const ATTEMPTS: u32 = 8;

/// Loads a request.
pub async fn get<P: AccessPorts>(
    ports: &P,
    id: &str,
) -> Result<Option<AccessRequest>, LambdaError> {
    ports.ledger().get(id).await
}

/// Requests of one account (`None`: all), newest first.
pub async fn list<P: AccessPorts>(
    ports: &P,
    account: Option<&AccountId>,
) -> Result<Vec<AccessRequest>, LambdaError> {
    ports.ledger().list(account).await
}

/// Active check-out locks (the expiry job's view).
pub async fn locks<P: AccessPorts>(ports: &P) -> Result<Vec<Lock>, LambdaError> {
    ports.ledger().locks().await
}

/// Writes `request` (with `lock` and `record`) in one transaction.
pub(super) async fn commit<P: AccessPorts>(
    ports: &P,
    request: &AccessRequest,
    record: &AuditEntry,
    lock: LockMove,
) -> Result<Written, LambdaError> {
    ports
        .ledger()
        .write(&LedgerWrite {
            request,
            lock,
            record,
        })
        .await
}

/// Re-reads `id` and applies `change` until it commits. `change` validates the current state
/// and returns the new request, its audit record and its lock move; or an error (already
/// audited by `change`).
pub(super) async fn transition<P, F, Fut>(
    ports: &P,
    id: &str,
    change: F,
) -> Result<AccessRequest, LambdaError>
where
    P: AccessPorts,
    F: FnMut(AccessRequest) -> Fut,
    Fut: Future<Output = Result<(AccessRequest, AuditEntry, LockMove), LambdaError>>,
{
    let current = get(ports, id).await?.ok_or_else(|| not_found(id))?;
    transition_from(ports, current, change).await
}

/// [`transition`] starting from `current`, a snapshot the caller has just read (one read
/// fewer). The commit is conditional on the request's version, so a snapshot another writer has
/// overtaken loses like any concurrent writer: the request is re-read and `change` runs again.
pub(super) async fn transition_from<P, F, Fut>(
    ports: &P,
    current: AccessRequest,
    mut change: F,
) -> Result<AccessRequest, LambdaError>
where
    P: AccessPorts,
    F: FnMut(AccessRequest) -> Fut,
    Fut: Future<Output = Result<(AccessRequest, AuditEntry, LockMove), LambdaError>>,
{
    let id = current.id.clone();
    let mut snapshot = Some(current);
    for attempt in 0..ATTEMPTS {
        let current = match snapshot.take() {
            Some(snapshot) => snapshot,
            None => get(ports, &id).await?.ok_or_else(|| not_found(&id))?,
        };
        let (mut next, record, lock) = change(current).await?;
        match commit(ports, &next, &record, lock).await? {
            Written::Done => {
                next.version += 1;
                return Ok(next);
            }
            Written::Retry => backoff(attempt).await,
            Written::Locked => {
                return Err(LambdaError::new(
                    ErrorType::Conflict,
                    format!(
                        "account {} is checked out by another request",
                        next.account_id
                    ),
                ))
            }
        }
    }
    Err(LambdaError::new(
        ErrorType::Conflict,
        format!("access request {id} kept changing"),
    ))
}

pub(super) fn not_found(id: &str) -> LambdaError {
    LambdaError::new(
        ErrorType::NotFound,
        format!("access request {id} does not exist"),
    )
}
