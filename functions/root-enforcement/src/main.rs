use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use rootwarden::enforcement::Deps;
use rootwarden::{Config, SystemClock};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    rootwarden::telemetry::init(env!("CARGO_PKG_NAME"));
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "configuration"))?;
    let sdk = rootwarden::sdk::load_sdk_config().await;
    let actor = std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .map(|f| format!("lambda:{f}"))
        .unwrap_or_else(|_| "lambda:root-enforcement".into());
    let deps = Deps::new(&config, &sdk, Arc::new(SystemClock), actor);
    let deps = &deps;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            root_enforcement::handle(deps, event).await
        },
    ))
    .await
}
