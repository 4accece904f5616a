//! Seeding a table at estate scale (benches and tests): BatchWriteItem, 25 items per call,
//! several calls at once, unprocessed items sent again until every item landed.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::stream::{self, TryStreamExt};

/// One DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// DynamoDB's limit of items per BatchWriteItem.
const PER_CALL: usize = 25;

/// Puts every item of `items` into `table`, `concurrency` BatchWriteItem calls at once.
pub async fn batch_put(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    items: impl IntoIterator<Item = Item>,
    concurrency: usize,
) -> anyhow::Result<()> {
    let requests = items
        .into_iter()
        .map(|item| {
            Ok(WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build()?)
                .build())
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let batches: Vec<Vec<WriteRequest>> = requests.chunks(PER_CALL).map(<[_]>::to_vec).collect();
    stream::iter(batches.into_iter().map(Ok))
        .try_for_each_concurrent(concurrency.max(1), |batch| async move {
            let mut pending = batch;
            while !pending.is_empty() {
                let out = ddb
                    .batch_write_item()
                    .request_items(table, pending)
                    .send()
                    .await?;
                pending = out
                    .unprocessed_items()
                    .and_then(|u| u.get(table).cloned())
                    .unwrap_or_default();
            }
            anyhow::Ok(())
        })
        .await
}
