//! The account record's item mapping and the registry operations onboarding, rotation, the sweep and enforcement use.

use super::DynamoAccountRegistry;
use crate::sdk::sdk_error;
use crate::{AccountId, ErrorType, LambdaError, RootEmail};
use aws_sdk_dynamodb::types::{AttributeValue, Put, Update};
use chrono::{DateTime, Utc};
use rootwarden_core::registry::*;
use std::collections::HashMap;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn parse_time(v: Option<&AttributeValue>) -> Option<DateTime<Utc>> {
    v.and_then(|v| v.as_s().ok())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.to_utc())
}

/// The account record's DynamoDB item.
pub trait AccountItem: Sized {
    fn to_item(&self) -> HashMap<String, AttributeValue>;
    fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Self, LambdaError>;
}

impl AccountItem for Account {
    fn to_item(&self) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::from([
            ("account_id".to_owned(), s(self.account_id.as_str())),
            ("root_email".to_owned(), s(self.root_email.as_str())),
            ("status".to_owned(), s(self.status.as_str())),
            ("mode".to_owned(), s(self.mode.as_str())),
            (
                "max_age_days".to_owned(),
                AttributeValue::N(self.max_age_days.to_string()),
            ),
            (
                "contacts".to_owned(),
                AttributeValue::L(self.contacts.iter().map(|c| s(c.clone())).collect()),
            ),
            ("onboarded_at".to_owned(), s(stamp(self.onboarded_at))),
        ]);
        if let Some(n) = &self.name {
            item.insert("name".into(), s(n.clone()));
        }
        if let Some(t) = self.last_rotated_at {
            item.insert("last_rotated_at".into(), s(stamp(t)));
        }
        if let Some(t) = self.rotation_due {
            item.insert("rotation_due".into(), s(stamp(t)));
            if self.status == AccountStatus::Active && self.mode == AccountMode::Vaulted {
                item.insert("due_shard".into(), s(DUE_SHARD));
            }
        }
        if let Some(r) = self.rotation_reason {
            item.insert("rotation_reason".into(), s(r.as_str()));
        }
        if let Some(e) = &self.rotation_execution {
            item.insert("rotation_execution".into(), s(e.clone()));
        }
        if let Some(p) = &self.posture {
            item.insert("posture".into(), s(p.to_string()));
        }
        if let Some(t) = self.posture_checked_at {
            item.insert("posture_checked_at".into(), s(stamp(t)));
        }
        if let Some(t) = self.recovery_until {
            item.insert("recovery_until".into(), s(stamp(t)));
        }
        item
    }

    fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Self, LambdaError> {
        let bad = |what: &str| {
            LambdaError::new(
                ErrorType::InternalError,
                format!("registry item has no valid {what}"),
            )
        };
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let account_id = text("account_id")
            .and_then(|v| AccountId::parse(&v).ok())
            .ok_or_else(|| bad("account_id"))?;
        let root_email = text("root_email")
            .and_then(|v| RootEmail::parse(&v).ok())
            .ok_or_else(|| bad("root_email"))?;
        let contacts = match item.get("contacts") {
            Some(AttributeValue::L(l)) => l.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
            Some(AttributeValue::Ss(l)) => l.clone(),
            _ => Vec::new(),
        };
        Ok(Self {
            account_id,
            root_email,
            name: text("name"),
            // Items written before onboarding existed (mail-only registrations) count as
            // active vaulted accounts with the default age.
            status: text("status")
                .map(|v| AccountStatus::parse(&v).ok_or_else(|| bad("status")))
                .transpose()?
                .unwrap_or(AccountStatus::Active),
            mode: text("mode")
                .map(|v| AccountMode::parse(&v).ok_or_else(|| bad("mode")))
                .transpose()?
                .unwrap_or(AccountMode::Vaulted),
            max_age_days: item
                .get("max_age_days")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(90),
            contacts,
            onboarded_at: parse_time(item.get("onboarded_at")).unwrap_or_default(),
            last_rotated_at: parse_time(item.get("last_rotated_at")),
            rotation_due: parse_time(item.get("rotation_due")),
            rotation_reason: text("rotation_reason").and_then(|r| RotationReason::parse(&r)),
            rotation_execution: text("rotation_execution"),
            posture: text("posture").and_then(|p| serde_json::from_str(&p).ok()),
            posture_checked_at: parse_time(item.get("posture_checked_at")),
            recovery_until: parse_time(item.get("recovery_until")),
        })
    }
}

impl DynamoAccountRegistry {
    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The conditional `Put` that registers a new account (for the onboarding transaction).
    pub fn put_new(&self, account: &Account) -> Result<Put, LambdaError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(account.to_item()))
            .condition_expression("attribute_not_exists(account_id)")
            .build()
            .map_err(|e| LambdaError::new(ErrorType::InternalError, format!("building Put: {e}")))
    }

    pub async fn get(&self, account: &AccountId) -> Result<Option<Account>, LambdaError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("account_id", s(account.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:GetItem", &e))?;
        out.item().map(Account::from_item).transpose()
    }

    /// Every registered account, ordered by id (a paginated Scan: an operator listing and the
    /// daily enforcement job, not the rotation sweep).
    pub async fn list(&self) -> Result<Vec<Account>, LambdaError> {
        let mut accounts = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("dynamodb:Scan", &e))?;
            for item in out.items() {
                accounts.push(Account::from_item(item)?);
            }
            start = out.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        accounts.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        Ok(accounts)
    }

    /// One page of accounts whose rotation is due at `now`, oldest due first, from the sparse
    /// due-date index (no scan). Returns the page and the key to continue from.
    pub async fn due_page(
        &self,
        now: DateTime<Utc>,
        start: Option<HashMap<String, AttributeValue>>,
        limit: i32,
    ) -> Result<(Vec<DueAccount>, Option<HashMap<String, AttributeValue>>), LambdaError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(ROTATION_DUE_INDEX)
            .key_condition_expression("due_shard = :d AND rotation_due <= :now")
            .expression_attribute_values(":d", s(DUE_SHARD))
            .expression_attribute_values(":now", s(stamp(now)))
            .set_exclusive_start_key(start)
            .limit(limit)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:Query", &e))?;
        let mut due = Vec::new();
        for item in out.items() {
            let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
            let (Some(Ok(account_id)), Some(when)) = (
                text("account_id").map(|a| AccountId::parse(&a)),
                text("rotation_due"),
            ) else {
                continue;
            };
            due.push(DueAccount {
                account_id,
                due: when,
                reason: text("rotation_reason")
                    .and_then(|r| RotationReason::parse(&r))
                    .unwrap_or(RotationReason::MaxAge),
                execution: text("rotation_execution"),
            });
        }
        Ok((due, out.last_evaluated_key().cloned()))
    }

    /// Records that rotation `execution` was started for the due date `due`. Conditional on the
    /// due date being unchanged, so a sweep racing a check-out or a finished rotation loses.
    /// Returns false when the condition failed.
    pub async fn mark_started(
        &self,
        account: &AccountId,
        due: &str,
        execution: &str,
    ) -> Result<bool, LambdaError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("account_id", s(account.as_str()))
            .update_expression("SET rotation_execution = :e")
            .condition_expression("rotation_due = :due")
            .expression_attribute_values(":e", s(execution))
            .expression_attribute_values(":due", s(due))
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

    /// Sets the next due date after a rotation ended (completed: `now + max age`, reason
    /// max-age; abandoned: a retry date). Only the execution that owns the schedule may move
    /// it; an unowned schedule (an on-demand rotation) is moved too. Idempotent.
    pub async fn reschedule(
        &self,
        account: &AccountId,
        execution: &str,
        next_due: DateTime<Utc>,
        reason: RotationReason,
        rotated_at: Option<DateTime<Utc>>,
    ) -> Result<(), LambdaError> {
        let mut update =
            String::from("SET rotation_due = :due, rotation_reason = :r REMOVE rotation_execution");
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("account_id", s(account.as_str()))
            .expression_attribute_values(":due", s(stamp(next_due)))
            .expression_attribute_values(":r", s(reason.as_str()))
            .expression_attribute_values(":e", s(execution))
            .condition_expression(
                "attribute_exists(account_id) AND (attribute_not_exists(rotation_execution) OR rotation_execution = :e)",
            );
        if let Some(t) = rotated_at {
            update = update.replace("SET rotation_due", "SET last_rotated_at = :t, rotation_due");
            req = req.expression_attribute_values(":t", s(stamp(t)));
        }
        let out = req.update_expression(update).send().await;
        match out {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                // Another execution owns the schedule now (a newer sweep or check-out):
                // leave its due date alone.
                tracing::info!(account = %account, "schedule owned by another rotation; left as is");
                Ok(())
            }
            Err(e) => Err(sdk_error("dynamodb:UpdateItem", &e)),
        }
    }

    /// Marks an account for rotation now (after a check-out): the due date becomes `now` unless
    /// it is already earlier. Idempotent. Only an active vaulted account is marked; the standing
    /// found is returned either way (one read more only when the condition failed).
    pub async fn mark_for_rotation(
        &self,
        account: &AccountId,
        now: DateTime<Utc>,
        reason: RotationReason,
    ) -> Result<(AccountStatus, AccountMode), LambdaError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("account_id", s(account.as_str()))
            .update_expression("SET rotation_due = :now, rotation_reason = :r, due_shard = :d REMOVE rotation_execution")
            .condition_expression(
                "#st = :active AND #m = :vaulted AND (attribute_not_exists(rotation_due) OR rotation_due > :now)",
            )
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#m", "mode")
            .expression_attribute_values(":now", s(stamp(now)))
            .expression_attribute_values(":r", s(reason.as_str()))
            .expression_attribute_values(":d", s(DUE_SHARD))
            .expression_attribute_values(":active", s(AccountStatus::Active.as_str()))
            .expression_attribute_values(":vaulted", s(AccountMode::Vaulted.as_str()))
            .send()
            .await;
        match out {
            Ok(_) => Ok((AccountStatus::Active, AccountMode::Vaulted)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                match self.get(account).await? {
                    None => Err(LambdaError::new(
                        ErrorType::NotFound,
                        format!("account {account} is not registered"),
                    )),
                    // Already due earlier, or not a vaulted active account: nothing to mark.
                    Some(a) => Ok((a.status, a.mode)),
                }
            }
            Err(e) => Err(sdk_error("dynamodb:UpdateItem", &e)),
        }
    }

    /// The conditional `Update` that records the enforcement job's view of the root
    /// credentials, for the transaction that writes it with its audit record.
    pub fn posture_update(
        &self,
        account: &AccountId,
        posture: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> Result<Update, LambdaError> {
        Update::builder()
            .table_name(&self.table)
            .key("account_id", s(account.as_str()))
            .update_expression("SET posture = :p, posture_checked_at = :t")
            .condition_expression("attribute_exists(account_id)")
            .expression_attribute_values(":p", s(posture.to_string()))
            .expression_attribute_values(":t", s(stamp(at)))
            .build()
            .map_err(|e| {
                LambdaError::new(
                    ErrorType::InternalError,
                    format!("building the posture Update: {e}"),
                )
            })
    }
}

impl DynamoAccountRegistry {
    /// Opens (or extends) the password-recovery window of a registered account.
    pub async fn open_recovery(
        &self,
        account: &AccountId,
        until: DateTime<Utc>,
    ) -> Result<(), LambdaError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("account_id", s(account.as_str()))
            .update_expression("SET recovery_until = :u")
            .condition_expression("attribute_exists(account_id)")
            .expression_attribute_values(":u", s(stamp(until)))
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:UpdateItem", &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccountId, RootEmail};

    fn sample() -> Account {
        let t = DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
            .unwrap()
            .to_utc();
        Account {
            account_id: AccountId::parse("111122223333").unwrap(),
            root_email: RootEmail::parse("aws+111122223333@example.com").unwrap(),
            name: Some("Acme prod".into()),
            status: AccountStatus::Active,
            mode: AccountMode::Vaulted,
            max_age_days: 90,
            contacts: vec!["ops@example.com".into()],
            onboarded_at: t,
            last_rotated_at: None,
            rotation_due: Some(first_due(t, 90)),
            rotation_reason: Some(RotationReason::MaxAge),
            rotation_execution: None,
            posture: Some(serde_json::json!({"access_keys": 0})),
            posture_checked_at: Some(t),
            recovery_until: Some(t),
        }
    }

    #[test]
    fn item_round_trips() {
        let a = sample();
        assert_eq!(Account::from_item(&a.to_item()).unwrap(), a);
    }

    #[test]
    fn only_active_vaulted_accounts_enter_the_due_index() {
        let mut a = sample();
        assert_eq!(a.to_item()["due_shard"], s(DUE_SHARD));
        a.mode = AccountMode::CredentialLess;
        assert!(!a.to_item().contains_key("due_shard"));
        a.mode = AccountMode::Vaulted;
        a.status = AccountStatus::Released;
        assert!(!a.to_item().contains_key("due_shard"));
    }
}
