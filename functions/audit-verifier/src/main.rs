use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use rootwarden::audit::DynamoAuditLog;
use rootwarden::{Config, SystemClock};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    rootwarden::telemetry::init(env!("CARGO_PKG_NAME"));
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "configuration"))?;
    let sdk = rootwarden::aws::load_sdk_config().await;
    let log = DynamoAuditLog::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        config.audit_table,
        Arc::new(SystemClock),
    );
    let log = &log;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            audit_verifier::handle(log, event).await
        },
    ))
    .await
}
