use rootwarden::registry::DynamoAccountRegistry;
use rootwarden::SystemClock;
use rootwarden_bootstrap::config_error;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = rootwarden_bootstrap::start(env!("CARGO_PKG_NAME")).await?;
    let (config, sdk) = (&lambda.config, &lambda.sdk);
    let state_machine_arn = config
        .rotation_state_machine()
        .inspect_err(|e| config_error(e))?;
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let registry = DynamoAccountRegistry::new(ddb, &config.accounts_table);
    let sfn = aws_sdk_sfn::Client::new(sdk);
    let deps = rotation_scheduler_lambda::Deps {
        registry: &registry,
        sfn: &sfn,
        state_machine_arn,
        clock: &SystemClock,
        concurrency: config.sweep_concurrency,
    };
    rootwarden_bootstrap::run(|event| rotation_scheduler_lambda::handle(&deps, event)).await
}
