//! The correlation port: a workflow waiting for root mail (a rotation waiting for AWS's
//! "password changed" mail, a release waiting for a verification code) registers its Step
//! Functions task token here; authenticated, non-quarantined mail of that kind for that account
//! completes it.
//!
//! Record (DynamoDB, workflows table): pk `wait#<account>`, sk `<kind>#<execution>`;
//! `task_token`, `execution`, `kind`, `registered_at` and `expires_at` (RFC 3339; enforced in
//! code), `ttl` (epoch seconds, cleanup only), `claimed_by` (the SES delivery that earned it).
//! Which mail may complete a wait is decided by `mail::workflow_trust`. The delivery that earned
//! a wait claims it (a conditional write: one delivery wins) before it writes its ticket;
//! completion is `SendTaskSuccess` then delete, so a retry of that delivery completes again; a
//! token Step Functions no longer knows (timed out, already completed) just removes the record.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use crate::aws::sdk_error;
use crate::mail::Category;
use crate::{AccountId, ErrorType, LambdaError};

/// Mail kinds a workflow can wait for.
pub const WAITABLE: [Category; 3] = [
    Category::PasswordChanged,
    Category::VerificationCode,
    Category::PasswordReset,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    pub account: AccountId,
    pub kind: Category,
    pub execution: String,
    pub task_token: String,
    pub expires_at: DateTime<Utc>,
    /// When the wait was registered: mail received before it cannot be meant for it.
    pub registered_at: DateTime<Utc>,
    /// The SES delivery that claimed this wait (it passed every check), if one did.
    pub claimed_by: Option<String>,
}

pub trait WorkflowWaits: Send + Sync {
    fn register(&self, wait: &Wait) -> impl Future<Output = Result<(), LambdaError>> + Send;
    /// Unexpired waits for this account and kind.
    fn waiting(
        &self,
        account: &AccountId,
        kind: Category,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Wait>, LambdaError>> + Send;
    /// Removes a wait without completing it (its workflow moved on). Idempotent.
    fn remove(
        &self,
        account: &AccountId,
        kind: Category,
        execution: &str,
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;
    /// Records that the delivery `ses_message_id` earned this wait, unless another delivery
    /// claimed it first or it is gone. `true`: it is this delivery's (also on a retry).
    fn claim(
        &self,
        wait: &Wait,
        ses_message_id: &str,
    ) -> impl Future<Output = Result<bool, LambdaError>> + Send;
    /// Completes the waiting task with `output` and removes the record.
    fn complete(
        &self,
        wait: &Wait,
        output: &serde_json::Value,
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;
}

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
