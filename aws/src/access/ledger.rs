//! The workflows table as access reads and writes it: requests and locks, and the one
//! transaction that writes a decided change with its audit record.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use rootwarden_core::access::{LockMove, Move};

use super::store::{self, AccessRequest, Lock};
use super::{Deps, ATTEMPTS};
use crate::audit::{backoff, AuditEntry};
use crate::sdk::sdk_error;
use crate::{AccountId, ErrorType, LambdaError};

/// Loads a request.
pub async fn get(deps: &Deps, id: &str) -> Result<Option<AccessRequest>, LambdaError> {
    let out = deps
        .ddb
        .get_item()
        .table_name(&deps.table)
        .set_key(Some(store::request_key(id)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| sdk_error("dynamodb:GetItem", &e))?;
    out.item().map(store::request_from_item).transpose()
}

/// The check-out lock of one account, if any.
pub(super) async fn lock_of(deps: &Deps, account: &AccountId) -> Result<Option<Lock>, LambdaError> {
    let out = deps
        .ddb
        .get_item()
        .table_name(&deps.table)
        .set_key(Some(store::lock_key(account)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| sdk_error("dynamodb:GetItem", &e))?;
    Ok(out.item().and_then(store::lock_from_item))
}

/// Active check-out locks (the expiry job's view).
pub async fn locks(deps: &Deps) -> Result<Vec<Lock>, LambdaError> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = deps
            .ddb
            .query()
            .table_name(&deps.table)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", AttributeValue::S(store::LOCK_PARTITION.into()))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:Query", &e))?;
        out.extend(page.items().iter().filter_map(store::lock_from_item));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(out);
        }
    }
}

/// Requests of one account, newest first (a Query on the workflows table would need an index;
/// the list is for operators and small).
pub async fn list(
    deps: &Deps,
    account: Option<&AccountId>,
) -> Result<Vec<AccessRequest>, LambdaError> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = deps
            .ddb
            .scan()
            .table_name(&deps.table)
            .filter_expression("begins_with(pk, :p) AND sk = :s")
            .expression_attribute_values(":p", AttributeValue::S("access#".into()))
            .expression_attribute_values(":s", AttributeValue::S("request".into()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:Scan", &e))?;
        for item in page.items() {
            let r = store::request_from_item(item)?;
            if account.is_none_or(|a| *a == r.account_id) {
                out.push(r);
            }
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    Ok(out)
}

pub(super) enum Commit {
    Done,
    /// The request changed under us, or the audit chain moved: re-read and retry.
    Retry,
    /// The account's lock is held by another request.
    Locked,
}

/// The lock write a decided move needs, if any.
pub(super) fn lock_write(deps: &Deps, m: &Move) -> Result<Option<TransactWriteItem>, LambdaError> {
    let r = &m.request;
    match m.lock {
        LockMove::Keep => Ok(None),
        LockMove::Take { expires_at } => Ok(Some(store::lock_put(
            &deps.table,
            &r.account_id,
            &r.id,
            expires_at,
        )?)),
        LockMove::Release => Ok(Some(store::lock_delete(&deps.table, &r.account_id, &r.id)?)),
    }
}

/// Writes the request (+ optional lock change) with its audit record in one transaction.
pub(super) async fn commit(
    deps: &Deps,
    request: &AccessRequest,
    record: &AuditEntry,
    lock: Option<TransactWriteItem>,
) -> Result<Commit, LambdaError> {
    let (_, audit_put) = deps
        .audit
        .prepare(record)
        .await
        .map_err(|e| LambdaError::from_classified(&e))?;
    let mut items = vec![
        store::request_write(request, &deps.table)?,
        TransactWriteItem::builder().put(audit_put).build(),
    ];
    let has_lock = lock.is_some();
    items.extend(lock);
    match deps
        .ddb
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
    {
        Ok(_) => Ok(Commit::Done),
        Err(e) => {
            let reasons: Vec<String> = e
                .as_service_error()
                .and_then(|se| match se {
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
                        Some(c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_owned()).collect())
                    }
                    _ => None,
                })
                .unwrap_or_default();
            if reasons.is_empty() {
                let err = sdk_error("dynamodb:TransactWriteItems", &e);
                // The audit record is part of this transaction: it was not written, so nothing
                // was done. Report it as what it is for the caller (fail closed).
                return Err(if err.error_type == ErrorType::AwsError {
                    LambdaError::new(ErrorType::AuditWriteFailed, err.message)
                } else {
                    err
                });
            }
            let failed = |i: usize| {
                reasons
                    .get(i)
                    .is_some_and(|c| c == "ConditionalCheckFailed")
            };
            if has_lock && failed(2) {
                Ok(Commit::Locked)
            } else if failed(0) || failed(1) || reasons.iter().any(|c| c == "TransactionConflict") {
                Ok(Commit::Retry)
            } else {
                Err(LambdaError::new(
                    ErrorType::AuditWriteFailed,
                    format!("transaction cancelled: {}", reasons.join(", ")),
                ))
            }
        }
    }
}

/// Re-reads `id` and applies `change` until it commits. `change` validates the current state
/// and returns the new request, its audit record and an optional lock write; or an error
/// (already audited by `change`).
pub(super) async fn transition<F, Fut>(
    deps: &Deps,
    id: &str,
    mut change: F,
) -> Result<AccessRequest, LambdaError>
where
    F: FnMut(AccessRequest) -> Fut,
    Fut: std::future::Future<
        Output = Result<(AccessRequest, AuditEntry, Option<TransactWriteItem>), LambdaError>,
    >,
{
    for attempt in 0..ATTEMPTS {
        let current = get(deps, id).await?.ok_or_else(|| not_found(id))?;
        let (mut next, record, lock) = change(current).await?;
        match commit(deps, &next, &record, lock).await? {
            Commit::Done => {
                next.version += 1;
                return Ok(next);
            }
            Commit::Retry => backoff(attempt).await,
            Commit::Locked => {
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
