//! Digest adapters: [`DynamoDigestStore`] and [`KmsDigestSigner`].

pub use rootwarden_core::audit::digest::*;

pub mod sign;
pub mod store;

pub use sign::KmsDigestSigner;
pub use store::{from_item, item_size, page_from_item, page_to_item, to_item, DynamoDigestStore};
