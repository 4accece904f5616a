//! `DynamoAccountRegistry` as the core's `RotationSchedule` port: the rotation schedule on the
//! account item and the sparse `rotation-due-index`. Every write is a conditional `UpdateItem`.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use rootwarden_core::registry::schedule::{DuePage, RotationSchedule};
use rootwarden_core::registry::{stamp, Account, RotationReason};

use super::DynamoAccountRegistry;
use crate::sdk::sdk_error;
use crate::{AccountId, ErrorType, LambdaError};

/// The index query's `LastEvaluatedKey` (string attributes only) as an opaque cursor.
fn encode(key: &HashMap<String, AttributeValue>) -> Result<String, LambdaError> {
    let mut plain = BTreeMap::new();
    for (k, v) in key {
        let v = v.as_s().map_err(|_| {
            LambdaError::new(
                ErrorType::InternalError,
                format!("due-index key attribute {k} is not a string"),
            )
        })?;
        plain.insert(k.clone(), v.clone());
    }
    serde_json::to_string(&plain)
        .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))
}

fn decode(cursor: &str) -> Result<HashMap<String, AttributeValue>, LambdaError> {
    let plain: BTreeMap<String, String> = serde_json::from_str(cursor).map_err(|e| {
        LambdaError::new(
            ErrorType::ValidationError,
            format!("bad due-page cursor: {e}"),
        )
    })?;
    Ok(plain
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

impl RotationSchedule for DynamoAccountRegistry {
    async fn account(&self, account: &AccountId) -> Result<Option<Account>, LambdaError> {
        self.get(account).await
    }

    async fn due_page(
        &self,
        now: DateTime<Utc>,
        after: Option<String>,
        limit: u32,
    ) -> Result<DuePage, LambdaError> {
        let start = after.as_deref().map(decode).transpose()?;
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        let (due, next) = DynamoAccountRegistry::due_page(self, now, start, limit).await?;
        Ok(DuePage {
            due,
            next: next.as_ref().map(encode).transpose()?,
        })
    }

    async fn move_due(
        &self,
        account: &AccountId,
        old: &str,
        new: DateTime<Utc>,
    ) -> Result<bool, LambdaError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("account_id", AttributeValue::S(account.to_string()))
            .update_expression("SET rotation_due = :new REMOVE rotation_execution")
            .condition_expression("rotation_due = :old")
            .expression_attribute_values(":new", AttributeValue::S(stamp(new)))
            .expression_attribute_values(":old", AttributeValue::S(old.to_owned()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error("dynamodb:UpdateItem", &e)),
        }
    }

    async fn mark_started(
        &self,
        account: &AccountId,
        due: &str,
        execution: &str,
    ) -> Result<bool, LambdaError> {
        DynamoAccountRegistry::mark_started(self, account, due, execution).await
    }

    async fn reschedule(
        &self,
        account: &AccountId,
        execution: &str,
        next_due: DateTime<Utc>,
        reason: RotationReason,
        rotated_at: Option<DateTime<Utc>>,
    ) -> Result<(), LambdaError> {
        DynamoAccountRegistry::reschedule(self, account, execution, next_due, reason, rotated_at)
            .await
    }
}
