//! `S3RawMailStore`: raw messages where SES's S3 action stored them.

use crate::sdk::sdk_error;
use crate::{ErrorType, LambdaError};
use aws_sdk_s3::Client as S3;
pub use rootwarden_core::inbound::*;
use std::time::Duration;

#[derive(Clone)]
pub struct S3RawMailStore {
    client: S3,
    bucket: String,
    prefix: String,
    /// Pauses between GetObject attempts while the object is not there yet.
    pub retry_delays: Vec<Duration>,
}

impl S3RawMailStore {
    pub fn new(client: S3, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        let retry_delays = [100, 200, 400, 800, 1600]
            .into_iter()
            .map(Duration::from_millis)
            .collect();
        Self {
            client,
            bucket: bucket.into(),
            prefix: prefix.into(),
            retry_delays,
        }
    }
}

impl RawMailStore for S3RawMailStore {
    fn object_key(&self, d: &Delivery) -> Result<String, LambdaError> {
        match &d.object {
            None => Ok(format!("{}{}", self.prefix, d.ses_message_id)),
            Some((bucket, key)) if *bucket == self.bucket && !key.is_empty() => Ok(key.clone()),
            Some((bucket, _)) => Err(LambdaError::new(
                ErrorType::ValidationError,
                format!(
                    "event names bucket {bucket:?}; this function reads {:?}",
                    self.bucket
                ),
            )),
        }
    }

    async fn load(&self, key: &str, max_bytes: u64) -> Result<RawMail, LambdaError> {
        let mut delays = self.retry_delays.iter();
        let out = loop {
            match self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => break out,
                Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => {
                    match delays.next() {
                        Some(d) => tokio::time::sleep(*d).await,
                        None => {
                            return Err(LambdaError::new(
                                ErrorType::TransientAwsError,
                                format!("raw message {} is not in s3://{}/ yet", key, self.bucket),
                            ))
                        }
                    }
                }
                Err(e) => return Err(sdk_error("s3:GetObject", &e)),
            }
        };
        // Too large: the body is dropped unread (the connection closes), the size is enough.
        let size = out.content_length.unwrap_or(0).max(0) as u64;
        if size > max_bytes {
            return Ok(RawMail::Oversized(size));
        }
        let body = out.body.collect().await.map_err(|e| {
            LambdaError::new(
                ErrorType::TransientAwsError,
                format!("reading s3://{}/{}: {e}", self.bucket, key),
            )
        })?;
        let bytes = body.into_bytes().to_vec();
        if bytes.len() as u64 > max_bytes {
            return Ok(RawMail::Oversized(bytes.len() as u64));
        }
        Ok(RawMail::Body(bytes))
    }

    fn location(&self, id: &str) -> String {
        format!("s3://{}/{}", self.bucket, id)
    }
}
