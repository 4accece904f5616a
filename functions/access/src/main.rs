#![recursion_limit = "256"]

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use rootwarden::access::identity::IamRoleDirectory;
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
    .inspect_err(|e| tracing::error!(error = %e, "configuration"))?
    .with_executions(aws_sdk_sfn::Client::new(&sdk));
    let roles = IamRoleDirectory(aws_sdk_iam::Client::new(&sdk));
    let (deps, roles) = (&deps, &roles);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            access::handle(deps, roles, event).await
        },
    ))
    .await
}
