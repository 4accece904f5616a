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
    let log = DynamoAuditLog::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        config.audit_table.clone(),
        Arc::new(SystemClock),
    );
    let store = DynamoDigestStore::new(log.clone());
    // A missing key fails every invocation with ConfigError naming the variable.
    let signer = config
        .digest_key()
        .map(|key| KmsDigestSigner::new(aws_sdk_kms::Client::new(&sdk), key))
        .inspect_err(|e| tracing::error!(error = %e, "configuration"));
    let deps = audit_verifier::Deps {
        log: &log,
        store: &store,
        signer: signer.as_ref(),
        clock: &SystemClock,
        max_digest_age_seconds: config.digest_max_age_seconds,
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            audit_verifier::handle(deps, event).await
        },
    ))
    .await
}
