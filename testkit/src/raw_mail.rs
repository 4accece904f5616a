//! `MemoryRawMailStore`: the twin of `S3RawMailStore` (raw messages where SES's S3 action put
//! them, under one bucket and prefix).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rootwarden_core::inbound::{Delivery, RawMail, RawMailStore};
use rootwarden_core::{ErrorType, LambdaError};

use crate::{lock, unavailable};

#[derive(Clone)]
pub struct MemoryRawMailStore {
    bucket: String,
    prefix: String,
    objects: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    fail: Arc<AtomicBool>,
}

impl Default for MemoryRawMailStore {
    fn default() -> Self {
        Self::new("rootwarden-mail", "inbound/")
    }
}

impl MemoryRawMailStore {
    pub fn new(bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            prefix: prefix.into(),
            objects: Arc::default(),
            fail: Arc::default(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Stores `raw` where SES stores delivery `ses_message_id` (prefix + id).
    pub fn deliver(&self, ses_message_id: &str, raw: &[u8]) {
        let key = format!("{}{ses_message_id}", self.prefix);
        self.put_object(&key, raw);
    }

    /// Stores `raw` under an exact object key.
    pub fn put_object(&self, key: &str, raw: &[u8]) {
        lock(&self.objects).insert(key.to_owned(), raw.to_vec());
    }

    /// Makes every later read fail, as an S3 outage would.
    pub fn fail_reads(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), LambdaError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(unavailable("s3"));
        }
        Ok(())
    }

    fn missing(&self, key: &str) -> LambdaError {
        LambdaError::new(
            ErrorType::TransientAwsError,
            format!("raw message {key} is not in s3://{}/ yet", self.bucket),
        )
    }
}

impl RawMailStore for MemoryRawMailStore {
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
        self.check()?;
        let raw = lock(&self.objects)
            .get(key)
            .cloned()
            .ok_or_else(|| self.missing(key))?;
        Ok(if raw.len() as u64 > max_bytes {
            RawMail::Oversized(raw.len() as u64)
        } else {
            RawMail::Body(raw)
        })
    }

    fn location(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}
