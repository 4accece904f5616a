//! `DynamoAccessLedger`: the `AccessLedger` port on the workflows table (requests and locks,
//! item mapping in [`super::store`]). A decided change is one transaction: the request
//! (conditional on the version read), the lock move (taken only if free, released only if held
//! by this request) and the audit record (conditional on its chain position).

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use rootwarden_core::access::{AccessLedger, LedgerWrite, LockMove, Written};

use super::store::{self, AccessRequest, Lock};
use crate::audit::DynamoAuditLog;
use crate::cancellation::{cancelled, Cancelled};
use crate::sdk::sdk_error;
use crate::{AccountId, ErrorType, LambdaError};

#[derive(Clone)]
pub struct DynamoAccessLedger {
    ddb: aws_sdk_dynamodb::Client,
    table: String,
    audit: DynamoAuditLog,
}

impl DynamoAccessLedger {
    /// Requests and locks in `table` (the workflows table); audit records through `audit`.
    pub fn new(
        ddb: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        audit: DynamoAuditLog,
    ) -> Self {
        Self {
            ddb,
            table: table.into(),
            audit,
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The lock write a decided move needs, if any.
    fn lock_write(
        &self,
        change: &LedgerWrite<'_>,
    ) -> Result<Option<TransactWriteItem>, LambdaError> {
        let r = change.request;
        match change.lock {
            LockMove::Keep => Ok(None),
            LockMove::Take { expires_at } => Ok(Some(store::lock_put(
                &self.table,
                &r.account_id,
                &r.id,
                expires_at,
            )?)),
            LockMove::Release => Ok(Some(store::lock_delete(&self.table, &r.account_id, &r.id)?)),
        }
    }
}

impl AccessLedger for DynamoAccessLedger {
    async fn get(&self, id: &str) -> Result<Option<AccessRequest>, LambdaError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(store::request_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:GetItem", &e))?;
        out.item().map(store::request_from_item).transpose()
    }

    async fn lock_of(&self, account: &AccountId) -> Result<Option<Lock>, LambdaError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(store::lock_key(account)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:GetItem", &e))?;
        Ok(out.item().and_then(store::lock_from_item))
    }

    async fn locks(&self) -> Result<Vec<Lock>, LambdaError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .ddb
                .query()
                .table_name(&self.table)
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

    /// A Scan (a Query would need an index; the list is for operators and small).
    async fn list(&self, account: Option<&AccountId>) -> Result<Vec<AccessRequest>, LambdaError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .ddb
                .scan()
                .table_name(&self.table)
                // Consistent: a release revokes what this lists, right after it stopped
                // custody; a request approved a moment before must not be missed.
                .consistent_read(true)
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

    async fn write(&self, change: &LedgerWrite<'_>) -> Result<Written, LambdaError> {
        let lock = self.lock_write(change)?;
        let (record, audit_put) = self
            .audit
            .prepare(change.record)
            .await
            .map_err(|e| LambdaError::from_classified(&e))?;
        let mut items = vec![
            store::request_write(change.request, &self.table)?,
            TransactWriteItem::builder().put(audit_put).build(),
        ];
        let has_lock = lock.is_some();
        items.extend(lock);
        match self
            .ddb
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => {
                self.audit.committed(&record);
                Ok(Written::Done)
            }
            Err(e) => match cancelled(&e) {
                None => {
                    let err = sdk_error("dynamodb:TransactWriteItems", &e);
                    // The audit record is part of this transaction: it was not written, so
                    // nothing was done. Report it as what it is for the caller (fail closed).
                    Err(if err.error_type == ErrorType::AwsError {
                        LambdaError::new(ErrorType::AuditWriteFailed, err.message)
                    } else {
                        err
                    })
                }
                Some(Cancelled::Invalid { item, code }) => Err(LambdaError::new(
                    ErrorType::AuditWriteFailed,
                    format!("transaction cancelled: {code} on item {item}; nothing was written"),
                )),
                Some(c) if has_lock && c.condition_failed(2) => Ok(Written::Locked),
                // The request moved on, the audit position was taken, a conflicting
                // transaction ran, or throttling: re-read and retry.
                Some(_) => Ok(Written::Retry),
            },
        }
    }
}
