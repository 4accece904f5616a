#![recursion_limit = "256"]

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use rootwarden::access::Deps;
use rootwarden::{Config, SystemClock};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    rootwarden::telemetry::init(env!("CARGO_PKG_NAME"));
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "configuration"))?;
    let sdk = rootwarden::sdk::load_sdk_config().await;
    let deps = Deps::new(
        &config,
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_kms::Client::new(&sdk),
        Arc::new(SystemClock),
    )
    .inspect_err(|e| tracing::error!(error = %e, "configuration"))?;
    let actor = std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .map(|f| format!("lambda:{f}"))
        .unwrap_or_else(|_| "lambda:access-expiry".into());
    let (deps, actor) = (&deps, actor.as_str());
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            access_expiry::handle(deps, actor, event).await
        },
    ))
    .await
}
