//! STAND-IN (helper "raws"): the approval helper writes the real `DynamoReleaseAccess`; this
//! only lets `release::Deps` compile on branch h-raws. Drop it at merge.

use rootwarden_core::access::AccessRequest;
use rootwarden_core::release::ReleaseAccess;

use crate::{AccountId, Config, ErrorType, LambdaError};

#[derive(Clone)]
pub struct DynamoReleaseAccess;

impl DynamoReleaseAccess {
    pub fn new(
        _client: aws_sdk_dynamodb::Client,
        _config: &Config,
        _actor: impl Into<String>,
    ) -> Self {
        Self
    }
}

fn missing() -> LambdaError {
    LambdaError::new(ErrorType::InternalError, "DynamoReleaseAccess stand-in")
}

impl ReleaseAccess for DynamoReleaseAccess {
    async fn request(&self, _id: &str) -> Result<Option<AccessRequest>, LambdaError> {
        Err(missing())
    }
    async fn revoke_open(
        &self,
        _account: &AccountId,
        _note: &str,
    ) -> Result<Vec<String>, LambdaError> {
        Err(missing())
    }
}
