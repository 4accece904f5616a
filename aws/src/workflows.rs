//! `DynamoWorkflowWaits`: workflow waits in the workflows table, completed through Step Functions.

use crate::mail::Category;
use crate::sdk::sdk_error;
use crate::{AccountId, ErrorType, LambdaError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
pub use rootwarden_core::workflows::*;
use std::collections::HashMap;

#[derive(Clone)]
pub struct DynamoWorkflowWaits {
    ddb: aws_sdk_dynamodb::Client,
    sfn: aws_sdk_sfn::Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn kind_from(k: &str) -> Option<Category> {
    WAITABLE.into_iter().find(|c| c.as_str() == k)
}

impl DynamoWorkflowWaits {
    pub fn new(
        ddb: aws_sdk_dynamodb::Client,
        sfn: aws_sdk_sfn::Client,
        table: impl Into<String>,
    ) -> Self {
        Self {
            ddb,
            sfn,
            table: table.into(),
        }
    }
}

impl WorkflowWaits for DynamoWorkflowWaits {
    async fn register(&self, w: &Wait) -> Result<(), LambdaError> {
        if !WAITABLE.contains(&w.kind) {
            return Err(LambdaError::new(
                ErrorType::ValidationError,
                format!("no workflow can wait for {} mail", w.kind.as_str()),
            ));
        }
        let item = HashMap::from([
            ("pk".to_owned(), s(format!("wait#{}", w.account))),
            (
                "sk".to_owned(),
                s(format!("{}#{}", w.kind.as_str(), w.execution)),
            ),
            ("task_token".to_owned(), s(w.task_token.clone())),
            ("execution".to_owned(), s(w.execution.clone())),
            ("kind".to_owned(), s(w.kind.as_str())),
            ("expires_at".to_owned(), s(w.expires_at.to_rfc3339())),
            ("registered_at".to_owned(), s(w.registered_at.to_rfc3339())),
            (
                "ttl".to_owned(),
                AttributeValue::N(w.expires_at.timestamp().to_string()),
            ),
        ]);
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:PutItem", &e))?;
        Ok(())
    }

    async fn waiting(
        &self,
        account: &AccountId,
        kind: Category,
        now: DateTime<Utc>,
    ) -> Result<Vec<Wait>, LambdaError> {
        if !WAITABLE.contains(&kind) {
            return Ok(Vec::new());
        }
        let out = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :k)")
            .expression_attribute_values(":pk", s(format!("wait#{account}")))
            .expression_attribute_values(":k", s(format!("{}#", kind.as_str())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:Query", &e))?;
        let mut waits = Vec::new();
        for item in out.items() {
            let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
            // A record without its registration time cannot be judged: it never completes by
            // mail (its workflow still times out or is confirmed by an operator).
            let (Some(token), Some(execution), Some(k), Some(exp), Some(reg)) = (
                text("task_token"),
                text("execution"),
                text("kind"),
                text("expires_at"),
                text("registered_at"),
            ) else {
                continue;
            };
            let (Some(kind), Ok(expires_at), Ok(registered_at)) = (
                kind_from(&k),
                DateTime::parse_from_rfc3339(&exp),
                DateTime::parse_from_rfc3339(&reg),
            ) else {
                continue;
            };
            let expires_at = expires_at.to_utc();
            if expires_at > now {
                waits.push(Wait {
                    account: account.clone(),
                    kind,
                    execution,
                    task_token: token,
                    expires_at,
                    registered_at: registered_at.to_utc(),
                    claimed_by: text("claimed_by"),
                });
            }
        }
        Ok(waits)
    }

    async fn remove(
        &self,
        account: &AccountId,
        kind: Category,
        execution: &str,
    ) -> Result<(), LambdaError> {
        self.ddb
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("wait#{account}")))
            .key("sk", s(format!("{}#{execution}", kind.as_str())))
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:DeleteItem", &e))?;
        Ok(())
    }

    async fn claim(&self, w: &Wait, ses_message_id: &str) -> Result<bool, LambdaError> {
        let out = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("wait#{}", w.account)))
            .key("sk", s(format!("{}#{}", w.kind.as_str(), w.execution)))
            .update_expression("SET claimed_by = :id")
            // The same wait (its token), not yet claimed by anyone else.
            .condition_expression(
                "task_token = :t AND (attribute_not_exists(claimed_by) OR claimed_by = :id)",
            )
            .expression_attribute_values(":id", s(ses_message_id))
            .expression_attribute_values(":t", s(w.task_token.clone()))
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

    async fn complete(&self, w: &Wait, output: &serde_json::Value) -> Result<(), LambdaError> {
        let sent = self
            .sfn
            .send_task_success()
            .task_token(&w.task_token)
            .output(output.to_string())
            .send()
            .await;
        if let Err(e) = sent {
            let gone = e.as_service_error().is_some_and(|se| {
                se.is_task_does_not_exist() || se.is_task_timed_out() || se.is_invalid_token()
            });
            if !gone {
                return Err(sdk_error("states:SendTaskSuccess", &e));
            }
            tracing::warn!(execution = %w.execution, "waiting task no longer exists; removing its record");
        }
        self.ddb
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("wait#{}", w.account)))
            .key("sk", s(format!("{}#{}", w.kind.as_str(), w.execution)))
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:DeleteItem", &e))?;
        Ok(())
    }
}
