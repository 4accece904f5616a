use lambda_runtime::{service_fn, LambdaEvent};
use rootwarden::registry::DynamoAccountRegistry;
use rootwarden::{Config, SystemClock};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    rootwarden::telemetry::init(env!("CARGO_PKG_NAME"));
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "configuration"))?;
    let state_machine_arn = config
        .rotation_state_machine()
        .inspect_err(|e| tracing::error!(error = %e, "configuration"))?
        .to_owned();
    let sdk = rootwarden::sdk::load_sdk_config().await;
    let registry =
        DynamoAccountRegistry::new(aws_sdk_dynamodb::Client::new(&sdk), &config.accounts_table);
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let deps = rotation_scheduler::Deps {
        registry: &registry,
        sfn: &sfn,
        state_machine_arn: &state_machine_arn,
        clock: &SystemClock,
        concurrency: config.sweep_concurrency,
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            rotation_scheduler::handle(deps, event).await
        },
    ))
    .await
}
