//! `DynamoReleaseStore`: the release's progress as `release_*` attributes of the account's
//! registry item (mapping in `release_item.rs`). A save is one `TransactWriteItems`: an `Update`
//! of the item, conditional on [`Expect`], that sets every attribute of the account and its
//! release and removes the known ones they no longer have (attributes other writers add, the
//! takeover's and the certificate, are left alone), and the audit record (conditional on its
//! chain position; a lost audit race re-prepares it and retries).
//!
//! Conditions: `Begin` — `status` is the one read and either no release is recorded
//! (`previous` None) or the recorded one is still `previous`'s; `Step` — the release is owned
//! by `execution` and its last step is `step` (absent for None).
//!
//! The registry has no index on releases (its GSIs are `root-email-index` and
//! `rotation-due-index`), so the closure quota (`closures_since`) and the shred sweep
//! (`closed`) scan the table with a filter: both run rarely (a closure, a daily schedule) over
//! a table of one item per account.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::release_item::{release_attributes, release_from_item, CERTIFICATE, RELEASE_ATTRIBUTES};
use crate::audit::{write_audited, AuditEntry, Audited, DynamoAuditLog};
use crate::registry::{stamp, Account, AccountItem, AccountStatus, DynamoAccountRegistry};
use crate::release::{Exit, Expect, Release, ReleaseStore};
use crate::sdk::sdk_error;
use crate::{AccountId, ErrorType, LambdaError};

/// The account record's attributes (`AccountItem`): one the account no longer has is removed.
const ACCOUNT_ATTRIBUTES: [&str; 15] = [
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
];

#[derive(Clone)]
pub struct DynamoReleaseStore {
    registry: DynamoAccountRegistry,
    audit: DynamoAuditLog,
}

impl DynamoReleaseStore {
    pub fn new(registry: DynamoAccountRegistry, audit: DynamoAuditLog) -> Self {
        Self { registry, audit }
    }

    fn client(&self) -> &aws_sdk_dynamodb::Client {
        self.registry.client()
    }

    fn table(&self) -> &str {
        self.registry.table()
    }

    /// Every item a filtered scan returns (all pages).
    async fn scan(
        &self,
        filter: &str,
        values: HashMap<String, AttributeValue>,
        names: HashMap<String, String>,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, LambdaError> {
        let mut out = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client()
                .scan()
                .table_name(self.table())
                .filter_expression(filter)
                .set_expression_attribute_values(Some(values.clone()))
                .set_expression_attribute_names((!names.is_empty()).then(|| names.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("dynamodb:Scan", &e))?;
            out.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// The item's `Update`: every attribute of `item` set, every known one it lacks removed, on
/// the condition `expect`.
pub fn conditional_update(
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
    let known = ACCOUNT_ATTRIBUTES.iter().chain(RELEASE_ATTRIBUTES.iter());
    for (i, name) in known.filter(|k| !item.contains_key(**k)).enumerate() {
        remove.push(format!("#r{i}"));
        b = b.expression_attribute_names(format!("#r{i}"), *name);
    }
    let mut expression = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    b = b
        .update_expression(expression)
        .expression_attribute_names("#st", "status")
        .expression_attribute_names("#ex", "release_execution");
    let b = match expect {
        Expect::Begin { status, previous } => {
            let b = b.expression_attribute_values(":status", s(status.as_str()));
            match previous {
                None => b.condition_expression("#st = :status AND attribute_not_exists(#ex)"),
                Some(p) => b
                    .condition_expression("#st = :status AND #ex = :prev")
                    .expression_attribute_values(":prev", s(p)),
            }
        }
        Expect::Step { execution, step } => {
            let b = b
                .expression_attribute_values(":e", s(execution))
                .expression_attribute_names("#step", "release_step");
            // `#st` is named for every condition; DynamoDB refuses unused names.
            match step {
                Some(step) => b
                    .condition_expression("attribute_exists(#st) AND #ex = :e AND #step = :s")
                    .expression_attribute_values(":s", s(step.as_str())),
                None => b.condition_expression(
                    "attribute_exists(#st) AND #ex = :e AND attribute_not_exists(#step)",
                ),
            }
        }
    };
    b.build()
        .map_err(|e| LambdaError::new(ErrorType::InternalError, format!("building an Update: {e}")))
}

impl ReleaseStore for DynamoReleaseStore {
    async fn get(
        &self,
        account: &AccountId,
    ) -> Result<Option<(Account, Option<Release>)>, LambdaError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key("account_id", s(account.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:GetItem", &e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let acct = Account::from_item(&item)?;
        let release = release_from_item(&item, account)?;
        Ok(Some((acct, release)))
    }

    async fn save(
        &self,
        account: &Account,
        release: &Release,
        expect: &Expect,
        record: &AuditEntry,
    ) -> Result<bool, LambdaError> {
        if release.account_id != account.account_id {
            return Err(LambdaError::new(
                ErrorType::InternalError,
                "a release saved on another account's item",
            ));
        }
        let mut item = account.to_item();
        item.extend(release_attributes(release));
        let update = conditional_update(self.table(), item, expect)?;
        let items = vec![TransactWriteItem::builder().update(update).build()];
        let written =
            write_audited(self.client(), &self.audit, items, record, "the release").await?;
        Ok(written == Audited::Written)
    }

    async fn closures_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, LambdaError> {
        // A closure's point of no return is its CloseAccount call: what AWS's quota counts.
        let items = self
            .scan(
                "release_exit = :close AND release_point_of_no_return_at >= :since",
                HashMap::from([
                    (":close".to_owned(), s(Exit::Close.as_str())),
                    (":since".to_owned(), s(stamp(since))),
                ]),
                HashMap::new(),
            )
            .await?;
        let mut out: Vec<DateTime<Utc>> = items
            .iter()
            .filter_map(|i| i.get("release_point_of_no_return_at"))
            .filter_map(|v| v.as_s().ok())
            .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.to_utc())
            .collect();
        out.sort();
        Ok(out)
    }

    async fn closed(&self) -> Result<Vec<(Account, Release)>, LambdaError> {
        let items = self
            .scan(
                "#st = :closed AND attribute_exists(release_execution) AND attribute_not_exists(release_shredded_at)",
                HashMap::from([(":closed".to_owned(), s(AccountStatus::Closed.as_str()))]),
                HashMap::from([("#st".to_owned(), "status".to_owned())]),
            )
            .await?;
        let mut out = Vec::new();
        for item in &items {
            let account = Account::from_item(item)?;
            if let Some(release) = release_from_item(item, &account.account_id)? {
                out.push((account, release));
            }
        }
        out.sort_by(|a, b| a.0.account_id.as_str().cmp(b.0.account_id.as_str()));
        Ok(out)
    }

    async fn certificate(&self, account: &AccountId) -> Result<Option<String>, LambdaError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key("account_id", s(account.as_str()))
            .projection_expression("#c")
            .expression_attribute_names("#c", CERTIFICATE)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:GetItem", &e))?;
        Ok(out
            .item
            .and_then(|i| i.get(CERTIFICATE).and_then(|v| v.as_s().ok()).cloned()))
    }

    async fn put_certificate(
        &self,
        account: &AccountId,
        certificate: &str,
    ) -> Result<(), LambdaError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("account_id", s(account.as_str()))
            .update_expression("SET #c = :c")
            .condition_expression(
                "attribute_exists(account_id) AND (attribute_not_exists(#c) OR #c = :c)",
            )
            .expression_attribute_names("#c", CERTIFICATE)
            .expression_attribute_values(":c", s(certificate))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                match self.get(account).await? {
                    None => Err(LambdaError::new(
                        ErrorType::NotFound,
                        format!("account {account} is not registered"),
                    )),
                    Some(_) => Err(LambdaError::new(
                        ErrorType::Conflict,
                        format!("account {account} already has a different handover certificate"),
                    )),
                }
            }
            Err(e) => Err(sdk_error("dynamodb:UpdateItem", &e)),
        }
    }
}
