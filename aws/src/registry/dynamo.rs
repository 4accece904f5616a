//! `DynamoAccountRegistry`: the accounts table.

use crate::sdk::sdk_error;
use crate::{AccountId, LambdaError, RootEmail};
use aws_sdk_dynamodb::types::AttributeValue;
use rootwarden_core::registry::*;

#[derive(Clone)]
pub struct DynamoAccountRegistry {
    pub(crate) client: aws_sdk_dynamodb::Client,
    pub(crate) table: String,
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
        // An unreadable status is the most cautious one: mail is still ticketed, marked.
        let status = item
            .get("status")
            .and_then(|v| v.as_s().ok())
            .and_then(|s| AccountStatus::parse(s))
            .unwrap_or(AccountStatus::Active);
        Ok(Some(RegisteredAccount {
            account_id,
            root_email: email.clone(),
            contacts,
            status,
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
