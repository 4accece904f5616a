//! The accounts registry in DynamoDB: [`DynamoAccountRegistry`] and the account item mapping.

pub use rootwarden_core::registry::*;

mod account_item;
mod dynamo;
mod rotation_schedule;

pub use account_item::AccountItem;
pub use dynamo::DynamoAccountRegistry;
mod posture_registry;
pub use posture_registry::DynamoPostureRegistry;
