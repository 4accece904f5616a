use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use rootwarden::audit::{DynamoAuditLog, DynamoDigestStore, KmsDigestSigner};
use rootwarden::{Config, SystemClock};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    rootwarden::telemetry::init(env!("CARGO_PKG_NAME"));
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "configuration"))?;
    let sdk = rootwarden::sdk::load_sdk_config().await;
    let store = DynamoDigestStore::new(DynamoAuditLog::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        config.audit_table.clone(),
        Arc::new(SystemClock),
    ));
    // A missing key fails every invocation with ConfigError naming the variable.
    let signer = config
        .digest_key()
        .map(|key| KmsDigestSigner::new(aws_sdk_kms::Client::new(&sdk), key))
        .inspect_err(|e| tracing::error!(error = %e, "configuration"));
    let deps = audit_digest::Deps {
        store: &store,
        signer: signer.as_ref(),
        clock: &SystemClock,
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            audit_digest::handle(deps, event).await
        },
    ))
    .await
}
