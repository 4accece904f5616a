use std::sync::Arc;

use root_enforcement_lambda::Handler;
use rootwarden::enforcement::Deps;
use rootwarden::fleet::S3FleetStore;
use rootwarden::SystemClock;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = rootwarden_bootstrap::start(env!("CARGO_PKG_NAME")).await?;
    let handler = Handler {
        deps: Deps::new(
            &lambda.config,
            &lambda.sdk,
            Arc::new(SystemClock),
            lambda.actor,
        ),
        store: lambda
            .config
            .fleet_bucket
            .as_deref()
            .map(|b| S3FleetStore::new(&lambda.sdk, b)),
    };
    rootwarden_bootstrap::run(|event| root_enforcement_lambda::handle(&handler, event)).await
}
