//! A core [`Plan`] as one `TransactWriteItems`: the head write guarded by the plan's
//! [`HeadCondition`]s, the new version guarded by `attribute_not_exists`, each [`StageMove`]
//! guarded by its `from` stage, and the audit record. Two writers for one account → exactly
//! one wins; the audit record is written with the change or the change does not happen.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use rootwarden_core::vault::credentials::{Head, VaultError};
use rootwarden_core::vault::stages::{HeadCondition, Plan, StageMove};
use std::collections::BTreeMap;

use super::items::{head_fields, head_item, n, s, version_item, version_key, HEAD_KEY};
use super::{unavailable, KmsVault};
use crate::audit::{AuditEntry, AuditError};
use crate::cancellation::{cancelled, Cancelled};
use crate::ErrorType;

fn build<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, VaultError> {
    r.map_err(|e| VaultError::Corrupt(format!("building a request: {e}")))
}

/// The expression of a head update: every attribute by `#name`, every value by `:name`.
#[derive(Default)]
struct Expression {
    names: BTreeMap<String, String>,
    values: BTreeMap<String, AttributeValue>,
}

impl Expression {
    fn name(&mut self, attr: &str) -> String {
        let alias = format!("#{attr}");
        self.names.insert(alias.clone(), attr.to_owned());
        alias
    }
    fn value(&mut self, placeholder: &str, v: AttributeValue) -> String {
        let p = format!(":{placeholder}");
        self.values.insert(p.clone(), v);
        p
    }
    /// `#attr = :if_attr`
    fn equals(&mut self, attr: &str, v: AttributeValue) -> String {
        let name = self.name(attr);
        let value = self.value(&format!("if_{attr}"), v);
        format!("{name} = {value}")
    }
}

/// The condition on the stored head, one clause per [`HeadCondition`].
fn condition(expr: &mut Expression, conditions: &[HeadCondition]) -> Result<String, VaultError> {
    let mut clauses = Vec::new();
    for c in conditions {
        clauses.push(match c {
            HeadCondition::Absent => {
                return Err(VaultError::Corrupt(
                    "a head update cannot require the head to be absent".into(),
                ))
            }
            HeadCondition::Current(v) => expr.equals("current", n(*v)),
            HeadCondition::Previous(v) => expr.equals("previous", n(*v)),
            HeadCondition::NextVersion(v) => expr.equals("next_version", n(*v)),
            HeadCondition::NoCurrent => format!("attribute_not_exists({})", expr.name("current")),
            HeadCondition::NoPending => format!("attribute_not_exists({})", expr.name("pending")),
            HeadCondition::Pending { version, execution } => format!(
                "{} AND {}",
                expr.equals("pending", n(*version)),
                expr.equals("pending_execution", s(execution))
            ),
        });
    }
    Ok(clauses.join(" AND "))
}

/// The update of the head from `before` to `after`: SET what changed, REMOVE what went away,
/// and `updated_at`.
fn head_update(
    table: &str,
    pk: &str,
    before: &Head,
    plan: &Plan,
    now: &str,
) -> Result<TransactWriteItem, VaultError> {
    let mut expr = Expression::default();
    let mut set = vec![format!("updated_at = {}", expr.value("now", s(now)))];
    let mut remove = Vec::new();
    for ((attr, old), (_, new)) in head_fields(before).into_iter().zip(head_fields(&plan.head)) {
        if old == new {
            continue;
        }
        let name = expr.name(attr);
        match new {
            Some(v) => set.push(format!("{name} = {}", expr.value(attr, v))),
            None => remove.push(name),
        }
    }
    let mut update = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        update.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    let condition = condition(&mut expr, &plan.conditions)?;
    let mut builder = Update::builder()
        .table_name(table)
        .key("pk", s(pk))
        .key("sk", s(HEAD_KEY))
        .update_expression(update)
        .set_expression_attribute_names(Some(expr.names.into_iter().collect()))
        .set_expression_attribute_values(Some(expr.values.into_iter().collect()));
    if !condition.is_empty() {
        builder = builder.condition_expression(condition);
    }
    Ok(TransactWriteItem::builder()
        .update(build(builder.build())?)
        .build())
}

fn stage_update(
    table: &str,
    pk: &str,
    m: &StageMove,
    now: &str,
) -> Result<TransactWriteItem, VaultError> {
    let u = build(
        Update::builder()
            .table_name(table)
            .key("pk", s(pk))
            .key("sk", s(version_key(m.version)))
            .update_expression("SET stage = :to, stage_changed_at = :now")
            .condition_expression("stage = :from")
            .expression_attribute_values(":to", s(m.to.as_str()))
            .expression_attribute_values(":from", s(m.from.as_str()))
            .expression_attribute_values(":now", s(now))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().update(u).build())
}

fn put_new(table: &str, item: super::items::Item) -> Result<TransactWriteItem, VaultError> {
    let put = build(
        Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// The transaction items of `plan`, decided on `before` (`None`: nothing vaulted yet).
/// `ciphertext` is the encrypted secret of the version the plan creates, if it creates one.
pub(super) fn plan_items(
    table: &str,
    pk: &str,
    before: Option<&Head>,
    plan: &Plan,
    ciphertext: Option<Blob>,
    now: &str,
) -> Result<Vec<TransactWriteItem>, VaultError> {
    let mut items = Vec::with_capacity(2 + plan.moves.len());
    match before {
        None if plan.conditions == [HeadCondition::Absent] => {
            items.push(put_new(table, head_item(pk, &plan.head, now))?);
        }
        Some(before) => items.push(head_update(table, pk, before, plan, now)?),
        None => {
            return Err(VaultError::Corrupt(
                "a plan for an existing head was made without one".into(),
            ))
        }
    }
    match (&plan.create, ciphertext) {
        (Some(new), Some(blob)) => items.push(put_new(table, version_item(pk, new, blob, now))?),
        (None, None) => {}
        _ => {
            return Err(VaultError::Corrupt(
                "a new version needs exactly its ciphertext".into(),
            ))
        }
    }
    for m in &plan.moves {
        items.push(stage_update(table, pk, m, now)?);
    }
    Ok(items)
}

pub(super) enum TxOutcome {
    Done,
    /// One of the caller's own conditions failed (not the audit record's).
    Lost,
}

impl KmsVault {
    /// Runs `items` plus the audit record in one transaction. Retries when only the audit
    /// record lost its race (another record took the sequence number).
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        entry: &AuditEntry,
    ) -> Result<TxOutcome, VaultError> {
        let own = items.len();
        for attempt in 0..8 {
            let (record, put) = self.audit.prepare(entry).await?;
            let mut all = items.clone();
            all.push(TransactWriteItem::builder().put(put).build());
            match self
                .ddb
                .transact_write_items()
                .set_transact_items(Some(all))
                .send()
                .await
            {
                Ok(_) => {
                    self.audit.committed(&record);
                    return Ok(TxOutcome::Done);
                }
                Err(e) => match cancelled(&e) {
                    None => return Err(unavailable("dynamodb:TransactWriteItems", &e)),
                    Some(Cancelled::Invalid { item, code }) => {
                        return Err(VaultError::Unavailable {
                            message: format!(
                                "DynamoDB cancelled the vault transaction ({code} on item {item}); \
                                 nothing was written and a retry would fail the same way"
                            ),
                            error_type: ErrorType::AwsError,
                        })
                    }
                    Some(c) if c.any_condition_before(own) => return Ok(TxOutcome::Lost),
                    // The audit record lost its sequence number, or a concurrent
                    // transaction touched the same items: try again.
                    Some(_) => crate::audit::backoff(attempt).await,
                },
            }
        }
        Err(VaultError::Audit(AuditError::Contention {
            stream: entry.stream.key(),
            attempts: 8,
        }))
    }
}

#[cfg(test)]
mod tests;
