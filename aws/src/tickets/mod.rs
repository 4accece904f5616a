//! Tickets in DynamoDB: [`DynamoTicketStore`] and the task changes written with them.

pub use rootwarden_core::tickets::*;

mod dynamo;
mod tasks;

pub use dynamo::DynamoTicketStore;
