//! The fleet store on S3: manifests, page results and summaries of fleet-wide jobs, in the
//! fleet bucket (SSE-KMS under the data key; every object is written with `aws:kms`).

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
pub use rootwarden_core::fleet::*;

use crate::sdk::{s3_client, sdk_error};
use crate::{ErrorType, LambdaError};

#[derive(Clone)]
pub struct S3FleetStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3FleetStore {
    pub fn new(sdk: &aws_types::SdkConfig, bucket: impl Into<String>) -> Self {
        Self {
            client: s3_client(sdk),
            bucket: bucket.into(),
        }
    }
}

impl FleetStore for S3FleetStore {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), LambdaError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| sdk_error("s3:PutObject", &e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, LambdaError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error("s3:GetObject", &e))?;
        let body = out.body.collect().await.map_err(|e| {
            LambdaError::new(
                ErrorType::TransientAwsError,
                format!("reading s3://{}/{key}: {e}", self.bucket),
            )
        })?;
        Ok(body.into_bytes().to_vec())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, LambdaError> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| sdk_error("s3:ListObjectsV2", &e))?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            token = out.next_continuation_token().map(str::to_owned);
            if token.is_none() || out.is_truncated() != Some(true) {
                break;
            }
        }
        Ok(keys)
    }
}
