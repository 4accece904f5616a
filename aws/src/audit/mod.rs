//! The audit log in DynamoDB ([`DynamoAuditLog`]) and its signed digests
//! ([`digest::DynamoDigestStore`], [`digest::KmsDigestSigner`]).

pub use rootwarden_core::audit::*;

mod audited_write;
pub mod digest;
mod dynamo;

pub use audited_write::{write_audited, Audited};
pub use digest::{DynamoDigestStore, KmsDigestSigner};
pub use dynamo::{new_invocation, DynamoAuditLog};
