//! The accounts registry: every managed account, its root email, its credential mode and its
//! rotation schedule.
//!
//! Item (DynamoDB, pk `account_id`): `account_id`, `root_email` (lower-case; GSI
//! `root-email-index`), `name`, `status`, `mode`, `max_age_days`, `contacts` (string list),
//! `onboarded_at`, `last_rotated_at`; the rotation schedule `rotation_due` (RFC 3339 UTC) with
//! `due_shard` = `"due"` (GSI `rotation-due-index`, sparse: only active vaulted accounts carry
//! `due_shard`, so the sweep queries due accounts without a scan), `rotation_reason`, and
//! `rotation_execution` (the rotation started for the current due date); the latest root
//! credential `posture` (JSON) and `posture_checked_at`. Onboarding writes it; inbound mail reads
//! it. A registry mapping always wins over anything a message says.

mod accounts;

use std::future::Future;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::aws::sdk_error;
use crate::{AccountId, LambdaError, RootEmail};

pub use accounts::{
    first_due, stamp, Account, AccountMode, AccountStatus, DueAccount, RotationReason, DUE_SHARD,
    ROTATION_DUE_INDEX,
};

/// GSI on `root_email`.
pub const ROOT_EMAIL_INDEX: &str = "root-email-index";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredAccount {
    pub account_id: AccountId,
    pub root_email: RootEmail,
    pub contacts: Vec<String>,
}

pub trait AccountRegistry: Send + Sync {
    fn by_root_email(
        &self,
        email: &RootEmail,
    ) -> impl Future<Output = Result<Option<RegisteredAccount>, LambdaError>> + Send;
    /// Whether the registry knows the account: the only source of truth for its existence.
    fn is_registered(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<bool, LambdaError>> + Send;
}

#[derive(Clone)]
pub struct DynamoAccountRegistry {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoAccountRegistry {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl AccountRegistry for DynamoAccountRegistry {
    async fn by_root_email(
        &self,
        email: &RootEmail,
    ) -> Result<Option<RegisteredAccount>, LambdaError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(ROOT_EMAIL_INDEX)
            .key_condition_expression("root_email = :e")
            .expression_attribute_values(":e", AttributeValue::S(email.as_str().to_owned()))
            .limit(2)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:Query", &e))?;
        let Some(item) = out.items().first() else {
            return Ok(None);
        };
        let Some(AttributeValue::S(id)) = item.get("account_id") else {
            return Ok(None);
        };
        let Ok(account_id) = AccountId::parse(id) else {
            return Ok(None);
        };
        let contacts = match item.get("contacts") {
            Some(AttributeValue::L(l)) => l.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
            Some(AttributeValue::Ss(l)) => l.clone(),
            _ => Vec::new(),
        };
        Ok(Some(RegisteredAccount {
            account_id,
            root_email: email.clone(),
            contacts,
        }))
    }

    async fn is_registered(&self, account: &AccountId) -> Result<bool, LambdaError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("account_id", AttributeValue::S(account.as_str().to_owned()))
            .projection_expression("account_id")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb:GetItem", &e))?;
        Ok(out.item.is_some())
    }
}
