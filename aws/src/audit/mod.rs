//! The audit log in DynamoDB ([`DynamoAuditLog`]) and its signed digests
//! ([`digest::DynamoDigestStore`], [`digest::KmsDigestSigner`]).

pub use rootwarden_core::audit::*;

pub mod digest;
mod dynamo;

pub use digest::{DynamoDigestStore, KmsDigestSigner};
pub use dynamo::{new_invocation, DynamoAuditLog};
