//! Fleet-wide jobs on a Step Functions Distributed Map: the shapes and the storage port every
//! fleet job shares.
//!
//! A job's `plan` step writes a manifest, a JSON array of [`Page`]s (one item per child
//! workflow of the map), to the fleet store under `fleet/<job>/<run>/manifest.json`, and
//! returns only its location and counts, so the state payloads stay small whatever the estate.
//! Each child writes its page's result under `fleet/<job>/<run>/pages/<page>.json`; the
//! `summarize` step reads them all (a page without a result is a child that failed: its items
//! are reported failed) and writes `summary.json`.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::{ErrorType, LambdaError};

/// Items (accounts, chains) per child workflow.
pub const PAGE_SIZE: usize = 50;

/// How often one item is tried within its child before it is reported failed.
pub const MAX_ATTEMPTS: u32 = 3;

/// Seconds a child waits before its next attempt (`attempt` is the one that just ran).
pub fn backoff_seconds(attempt: u32) -> u64 {
    2u64.saturating_pow(attempt.min(6)).saturating_mul(2)
}

/// One manifest item: the page of items one child workflow processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    pub run: String,
    pub page: usize,
    pub items: Vec<String>,
}

/// Where the `plan` step put the manifest, as the Distributed Map's `ItemReader` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestLocation {
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "Key")]
    pub key: String,
}

/// The `plan` step's output: the manifest and its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    pub run: String,
    pub manifest: ManifestLocation,
    pub pages: usize,
    pub items: usize,
}

/// The items split into manifest pages of at most [`PAGE_SIZE`].
pub fn paginate(run: &str, items: Vec<String>) -> Vec<Page> {
    items
        .chunks(PAGE_SIZE)
        .enumerate()
        .map(|(page, chunk)| Page {
            run: run.to_owned(),
            page,
            items: chunk.to_vec(),
        })
        .collect()
}

/// A run's name (the execution name): it becomes part of object keys, so only what Step
/// Functions allows in a name and nothing that could climb out of a prefix.
pub fn validate_run(run: &str) -> Result<(), LambdaError> {
    let ok = !run.is_empty()
        && run.len() <= 80
        && run
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(LambdaError::new(
            ErrorType::ValidationError,
            "run must be 1 to 80 letters, digits, '-' or '_'",
        ))
    }
}

/// Object keys of one job's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunKeys {
    prefix: String,
}

impl RunKeys {
    /// `job` is a fixed name (`enforcement`); `run` must pass [`validate_run`].
    pub fn new(job: &str, run: &str) -> Result<Self, LambdaError> {
        validate_run(run)?;
        Ok(Self {
            prefix: format!("fleet/{job}/{run}/"),
        })
    }
    pub fn manifest(&self) -> String {
        format!("{}manifest.json", self.prefix)
    }
    pub fn pages_prefix(&self) -> String {
        format!("{}pages/", self.prefix)
    }
    pub fn page(&self, page: usize) -> String {
        format!("{}pages/{page:06}.json", self.prefix)
    }
    pub fn summary(&self) -> String {
        format!("{}summary.json", self.prefix)
    }
}

/// Where fleet jobs keep manifests, page results and summaries (adapter: S3, SSE-KMS).
pub trait FleetStore: Send + Sync {
    /// The bucket, as the map's `ItemReader` names it.
    fn bucket(&self) -> &str;
    fn put(&self, key: &str, body: Vec<u8>)
        -> impl Future<Output = Result<(), LambdaError>> + Send;
    fn get(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, LambdaError>> + Send;
    /// Every key under `prefix`.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, LambdaError>> + Send;
}

/// Serializes `value` for the store (infallible for the plain data written here).
pub fn to_body<T: Serialize>(value: &T) -> Result<Vec<u8>, LambdaError> {
    serde_json::to_vec(value)
        .map_err(|e| LambdaError::new(ErrorType::InternalError, format!("serializing: {e}")))
}

/// Reads and parses an object the job itself wrote.
pub async fn get_json<S: FleetStore, T: for<'de> Deserialize<'de>>(
    store: &S,
    key: &str,
) -> Result<T, LambdaError> {
    let body = store.get(key).await?;
    serde_json::from_slice(&body).map_err(|e| {
        LambdaError::new(
            ErrorType::InternalError,
            format!("{key} is not what this job writes: {e}"),
        )
    })
}

/// In-memory [`FleetStore`] for tests.
#[derive(Debug, Clone, Default)]
pub struct MemoryFleetStore {
    objects: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, Vec<u8>>>>,
}

impl MemoryFleetStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, Vec<u8>>> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Removes one object (a test's way to lose a page result).
    pub fn delete(&self, key: &str) {
        self.lock().remove(key);
    }
    pub fn keys(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }
}

impl FleetStore for MemoryFleetStore {
    fn bucket(&self) -> &str {
        "memory"
    }
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), LambdaError> {
        self.lock().insert(key.to_owned(), body);
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<Vec<u8>, LambdaError> {
        self.lock()
            .get(key)
            .cloned()
            .ok_or_else(|| LambdaError::new(ErrorType::NotFound, format!("no object {key}")))
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, LambdaError> {
        Ok(self
            .lock()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_every_item_once_in_order() {
        let items: Vec<String> = (0..123).map(|i| format!("{i:012}")).collect();
        let pages = paginate("r1", items.clone());
        assert_eq!(pages.len(), 3);
        assert_eq!(
            pages.iter().map(|p| p.items.len()).collect::<Vec<_>>(),
            [50, 50, 23]
        );
        let flat: Vec<String> = pages.into_iter().flat_map(|p| p.items).collect();
        assert_eq!(flat, items);
        assert!(paginate("r1", vec![]).is_empty());
    }

    #[test]
    fn run_names_cannot_leave_their_prefix() {
        for bad in ["", "../x", "a/b", "a b", &"x".repeat(81)] {
            assert_eq!(
                RunKeys::new("enforcement", bad).unwrap_err().error_type,
                ErrorType::ValidationError,
                "{bad}"
            );
        }
        let k = RunKeys::new("enforcement", "daily-2026_12_02").unwrap();
        assert_eq!(
            k.page(7),
            "fleet/enforcement/daily-2026_12_02/pages/000007.json"
        );
        assert!(k.page(7).starts_with(&k.pages_prefix()));
    }

    #[test]
    fn backoff_grows_and_is_bounded() {
        assert_eq!(
            (0..4).map(backoff_seconds).collect::<Vec<_>>(),
            [2, 4, 8, 16]
        );
        assert_eq!(backoff_seconds(u32::MAX), 128);
    }
}
