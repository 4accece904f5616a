//! `DynamoTakeoverStore`: the takeover's progress as `takeover_*` attributes of the account's
//! registry item (accounts table). A save is one `TransactWriteItems`: an `Update` of the item
//! (conditional on [`Expect`]) that sets every attribute of the account and its takeover and
//! removes the known ones they no longer have (attributes other writers add are left alone),
//! and the audit record (conditional on its chain position; a lost audit race re-prepares it and
//! retries).
//!
//! Attributes: `takeover_execution`, `takeover_execution_arn`, `takeover_reason`,
//! `takeover_ticket`, `takeover_requested_by`, `takeover_step` (absent once active),
//! `takeover_resends` (N), `takeover_previous_email`, `takeover_stopped`, `takeover_started_at`,
//! `takeover_updated_at` (RFC 3339). Nothing secret.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use crate::audit::{write_audited, AuditEntry, Audited, DynamoAuditLog};
use crate::registry::{
    stamp, Account, AccountItem, AccountRegistry, AccountStatus, DynamoAccountRegistry,
};
use crate::sdk::sdk_error;
use crate::takeover::{Expect, Takeover, TakeoverStep, TakeoverStore};
use crate::{AccountId, ErrorType, LambdaError, RootEmail};

#[derive(Clone)]
pub struct DynamoTakeoverStore {
    registry: DynamoAccountRegistry,
    audit: DynamoAuditLog,
}

impl DynamoTakeoverStore {
    pub fn new(registry: DynamoAccountRegistry, audit: DynamoAuditLog) -> Self {
        Self { registry, audit }
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn time(v: Option<&AttributeValue>) -> Option<DateTime<Utc>> {
    v.and_then(|v| v.as_s().ok())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.to_utc())
}

/// The takeover's attributes.
pub fn takeover_attributes(t: &Takeover) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("takeover_execution".to_owned(), s(&t.execution)),
        ("takeover_execution_arn".to_owned(), s(&t.execution_arn)),
        ("takeover_reason".to_owned(), s(&t.reason)),
        ("takeover_ticket".to_owned(), s(&t.ticket)),
        ("takeover_requested_by".to_owned(), s(&t.requested_by)),
        (
            "takeover_resends".to_owned(),
            AttributeValue::N(t.resends.to_string()),
        ),
        ("takeover_started_at".to_owned(), s(stamp(t.started_at))),
        ("takeover_updated_at".to_owned(), s(stamp(t.updated_at))),
    ]);
    if let Some(step) = t.step {
        item.insert("takeover_step".into(), s(step.as_str()));
    }
    if let Some(p) = &t.previous_email {
        item.insert("takeover_previous_email".into(), s(p));
    }
    if let Some(e) = &t.stopped {
        item.insert("takeover_stopped".into(), s(e));
    }
    item
}

/// The takeover read back from an item (None: the item has no takeover).
pub fn takeover_from_item(
    item: &HashMap<String, AttributeValue>,
    account: &AccountId,
) -> Result<Option<Takeover>, LambdaError> {
    let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    let Some(execution) = text("takeover_execution") else {
        return Ok(None);
    };
    let bad = |what: &str| {
        LambdaError::new(
            ErrorType::InternalError,
            format!("registry item of {account} has no valid {what}"),
        )
    };
    let step = text("takeover_step")
        .map(|v| TakeoverStep::parse(&v).ok_or_else(|| bad("takeover_step")))
        .transpose()?;
    Ok(Some(Takeover {
        account_id: account.clone(),
        execution,
        execution_arn: text("takeover_execution_arn")
            .ok_or_else(|| bad("takeover_execution_arn"))?,
        reason: text("takeover_reason").unwrap_or_default(),
        ticket: text("takeover_ticket").unwrap_or_default(),
        requested_by: text("takeover_requested_by").unwrap_or_default(),
        step,
        resends: item
            .get("takeover_resends")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        previous_email: text("takeover_previous_email"),
        stopped: text("takeover_stopped"),
        started_at: time(item.get("takeover_started_at")).unwrap_or_default(),
        updated_at: time(item.get("takeover_updated_at")).unwrap_or_default(),
    }))
}

/// Every attribute the account record or its takeover can have: one they no longer have is
/// removed by a save.
const KNOWN: [&str; 24] = [
    "root_email",
    "status",
    "mode",
    "max_age_days",
    "contacts",
    "onboarded_at",
    "name",
    "last_rotated_at",
    "rotation_due",
    "due_shard",
    "rotation_reason",
    "rotation_execution",
    "posture",
    "posture_checked_at",
    "recovery_until",
    "takeover_execution",
    "takeover_execution_arn",
    "takeover_reason",
    "takeover_ticket",
    "takeover_requested_by",
    "takeover_step",
    "takeover_resends",
    "takeover_previous_email",
    "takeover_stopped",
];

fn conditional_update(
    table: &str,
    mut item: HashMap<String, AttributeValue>,
    expect: &Expect,
) -> Result<Update, LambdaError> {
    let key = item
        .remove("account_id")
        .ok_or_else(|| LambdaError::new(ErrorType::InternalError, "an item without account_id"))?;
    let mut names: Vec<String> = item.keys().cloned().collect();
    names.sort();
    let mut b = Update::builder().table_name(table).key("account_id", key);
    let mut set = Vec::new();
    for (i, name) in names.iter().enumerate() {
        set.push(format!("#a{i} = :v{i}"));
        b = b
            .expression_attribute_names(format!("#a{i}"), name)
            .expression_attribute_values(format!(":v{i}"), item[name].clone());
    }
    let mut remove = Vec::new();
    for (i, name) in KNOWN.iter().filter(|k| !item.contains_key(**k)).enumerate() {
        remove.push(format!("#r{i}"));
        b = b.expression_attribute_names(format!("#r{i}"), *name);
    }
    let mut expression = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    b = b.update_expression(expression);
    let taking = s(AccountStatus::TakingOver.as_str());
    let b = match expect {
        Expect::Unregistered => b.condition_expression("attribute_not_exists(account_id)"),
        Expect::Adopt { previous: None } => b
            .condition_expression("#st = :taking AND attribute_not_exists(takeover_execution)")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":taking", taking),
        Expect::Adopt { previous: Some(p) } => b
            .condition_expression("#st = :taking AND takeover_execution = :prev")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":taking", taking)
            .expression_attribute_values(":prev", s(p)),
        Expect::Step { execution, step } => {
            let b = b
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":taking", taking)
                .expression_attribute_values(":e", s(execution));
            match step {
                Some(step) => b
                    .condition_expression(
                        "#st = :taking AND takeover_execution = :e AND takeover_step = :s",
                    )
                    .expression_attribute_values(":s", s(step.as_str())),
                None => b.condition_expression(
                    "#st = :taking AND takeover_execution = :e AND attribute_not_exists(takeover_step)",
                ),
            }
        }
    };
    b.build()
        .map_err(|e| LambdaError::new(ErrorType::InternalError, format!("building an Update: {e}")))
}

impl TakeoverStore for DynamoTakeoverStore {
    async fn get(
        &self,
        account: &AccountId,
    ) -> Result<Option<(Account, Option<Takeover>)>, LambdaError> {
        let out = self
            .registry
            .client()
            .get_item()
            .table_name(self.registry.table())
            .key("account_id", s(account.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:GetItem", &e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let acct = Account::from_item(&item)?;
        let takeover = takeover_from_item(&item, account)?;
        Ok(Some((acct, takeover)))
    }

    async fn address_owner(&self, address: &RootEmail) -> Result<Option<AccountId>, LambdaError> {
        Ok(self
            .registry
            .by_root_email(address)
            .await?
            .map(|r| r.account_id))
    }

    async fn save(
        &self,
        account: &Account,
        takeover: &Takeover,
        expect: &Expect,
        record: &AuditEntry,
    ) -> Result<bool, LambdaError> {
        let mut item = account.to_item();
        item.extend(takeover_attributes(takeover));
        let update = conditional_update(self.registry.table(), item, expect)?;
        let ddb = self.registry.client();
        let items = vec![TransactWriteItem::builder().update(update).build()];
        let written = write_audited(ddb, &self.audit, items, record, "the takeover").await?;
        Ok(written == Audited::Written)
    }
}
