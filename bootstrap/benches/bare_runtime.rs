//! The cold-start reference of `make bench-coldstart` (bench/coldstart.py): a bare
//! `lambda_runtime` function (no telemetry, configuration or SDK) that echoes its payload.
//! Every Root Warden function's init is measured against this one's.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
