//! Rotation records (workflows table), with their item mapping.
//!
//! Item: pk `rotation#<account>`, sk `<execution name>`; `account_id`, `execution`,
//! `execution_arn`, `trigger`, `stage` (`awaiting-apply | completed | abandoned`),
//! `pending_version`, `current_version` (when it started; absent if none was), `completed_version`,
//! `max_age_days` (the account's, when it was prepared), `ticket_id`,
//! `task_token` (the await-apply step's token), `apply_deadline`, `started_at`, `updated_at`,
//! `outcome` (why it ended: confirmation source, rejection reason or timeout). Stage changes are
//! conditional: an ended rotation never changes again.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
pub use rootwarden_core::rotation::{RotationRecord, RotationStage};

use crate::sdk::sdk_error;
use crate::{AccountId, ErrorType, LambdaError};

#[derive(Clone)]
pub struct DynamoRotationStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn pk(account: &AccountId) -> String {
    format!("rotation#{account}")
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Result<RotationRecord, LambdaError> {
    let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    let num = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<u32>().ok())
    };
    let bad = |k: &str| {
        LambdaError::new(
            ErrorType::InternalError,
            format!("rotation record has no valid {k}"),
        )
    };
    Ok(RotationRecord {
        account_id: text("account_id")
            .and_then(|a| AccountId::parse(&a).ok())
            .ok_or_else(|| bad("account_id"))?,
        execution: text("execution").ok_or_else(|| bad("execution"))?,
        execution_arn: text("execution_arn").unwrap_or_default(),
        trigger: text("trigger").unwrap_or_default(),
        stage: text("stage")
            .and_then(|st| RotationStage::parse(&st))
            .ok_or_else(|| bad("stage"))?,
        pending_version: num("pending_version").ok_or_else(|| bad("pending_version"))?,
        // Absent when nothing was current (a takeover's first password).
        current_version: num("current_version"),
        completed_version: num("completed_version"),
        max_age_days: num("max_age_days"),
        ticket_id: text("ticket_id").unwrap_or_default(),
        task_token: text("task_token"),
        apply_deadline: text("apply_deadline"),
        started_at: text("started_at").unwrap_or_default(),
        updated_at: text("updated_at").unwrap_or_default(),
        outcome: text("outcome"),
    })
}

impl DynamoRotationStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates the record of a prepared rotation; an existing record is returned unchanged.
    pub async fn create(&self, r: &RotationRecord) -> Result<RotationRecord, LambdaError> {
        let mut item = HashMap::from([
            ("pk".to_owned(), s(pk(&r.account_id))),
            ("sk".to_owned(), s(&r.execution)),
            ("account_id".to_owned(), s(r.account_id.as_str())),
            ("execution".to_owned(), s(&r.execution)),
            ("execution_arn".to_owned(), s(&r.execution_arn)),
            ("trigger".to_owned(), s(&r.trigger)),
            ("stage".to_owned(), s(r.stage.as_str())),
            (
                "pending_version".to_owned(),
                AttributeValue::N(r.pending_version.to_string()),
            ),
            ("ticket_id".to_owned(), s(&r.ticket_id)),
            ("started_at".to_owned(), s(&r.started_at)),
            ("updated_at".to_owned(), s(&r.updated_at)),
        ]);
        if let Some(current) = r.current_version {
            item.insert(
                "current_version".to_owned(),
                AttributeValue::N(current.to_string()),
            );
        }
        if let Some(days) = r.max_age_days {
            item.insert(
                "max_age_days".to_owned(),
                AttributeValue::N(days.to_string()),
            );
        }
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match out {
            Ok(_) => Ok(r.clone()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                self.get(&r.account_id, &r.execution).await?.ok_or_else(|| {
                    LambdaError::new(ErrorType::Conflict, "rotation record vanished")
                })
            }
            Err(e) => Err(sdk_error("dynamodb:PutItem", &e)),
        }
    }

    pub async fn get(
        &self,
        account: &AccountId,
        execution: &str,
    ) -> Result<Option<RotationRecord>, LambdaError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk(account)))
            .key("sk", s(execution))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:GetItem", &e))?;
        out.item().map(from_item).transpose()
    }

    /// Every rotation of an account, newest first.
    pub async fn list(&self, account: &AccountId) -> Result<Vec<RotationRecord>, LambdaError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk(account)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("dynamodb:Query", &e))?;
            for item in out.items() {
                found.push(from_item(item)?);
            }
            start = out.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        found.sort_by(|a, b| b.started_at.cmp(&a.started_at));
        Ok(found)
    }

    /// Stores the await-apply step's task token while the rotation awaits its apply step.
    pub async fn set_token(
        &self,
        account: &AccountId,
        execution: &str,
        token: &str,
        deadline: &str,
        now: &str,
    ) -> Result<(), LambdaError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk(account)))
            .key("sk", s(execution))
            .update_expression("SET task_token = :t, apply_deadline = :d, updated_at = :now")
            .condition_expression("stage = :awaiting")
            .expression_attribute_values(":t", s(token))
            .expression_attribute_values(":d", s(deadline))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":awaiting", s(RotationStage::AwaitingApply.as_str()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Err(LambdaError::new(
                    ErrorType::Conflict,
                    format!("rotation {execution} is not awaiting its apply step"),
                ))
            }
            Err(e) => Err(sdk_error("dynamodb:UpdateItem", &e)),
        }
    }

    /// Ends a rotation. Idempotent: ending it again with the same stage succeeds; a rotation
    /// that ended the other way → `Conflict`.
    pub async fn end(
        &self,
        account: &AccountId,
        execution: &str,
        stage: RotationStage,
        completed_version: Option<u32>,
        outcome: &str,
        now: &str,
    ) -> Result<(), LambdaError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk(account)))
            .key("sk", s(execution))
            .condition_expression("stage = :awaiting OR stage = :stage")
            .expression_attribute_values(":awaiting", s(RotationStage::AwaitingApply.as_str()))
            .expression_attribute_values(":stage", s(stage.as_str()))
            .expression_attribute_values(":outcome", s(outcome))
            .expression_attribute_values(":now", s(now));
        let mut update =
            "SET stage = :stage, outcome = if_not_exists(outcome, :outcome), updated_at = :now REMOVE task_token"
                .to_owned();
        if let Some(v) = completed_version {
            update = update.replace(
                "SET stage = :stage,",
                "SET stage = :stage, completed_version = :v,",
            );
            req = req.expression_attribute_values(":v", AttributeValue::N(v.to_string()));
        }
        match req.update_expression(update).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Err(LambdaError::new(
                    ErrorType::Conflict,
                    format!("rotation {execution} already ended differently"),
                ))
            }
            Err(e) => Err(sdk_error("dynamodb:UpdateItem", &e)),
        }
    }
}
