use std::sync::Arc;

use rootwarden::enforcement::Deps;
use rootwarden::SystemClock;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = rootwarden_bootstrap::start(env!("CARGO_PKG_NAME")).await?;
    let deps = Deps::new(
        &lambda.config,
        &lambda.sdk,
        Arc::new(SystemClock),
        lambda.actor,
    );
    rootwarden_bootstrap::run(|event| root_enforcement_lambda::handle(&deps, event)).await
}
