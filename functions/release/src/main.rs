use std::sync::Arc;

use rootwarden::release::Deps;
use rootwarden::SystemClock;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = rootwarden_bootstrap::start(env!("CARGO_PKG_NAME")).await?;
    // The release signs handover certificates: without the key it cannot finish one.
    if let Err(e) = lambda.config.certificate_key() {
        tracing::error!(error_type = "ConfigError", error = %e, "configuration invalid");
        return Err(e.into());
    }
    let deps = Deps::new(
        &lambda.config,
        &lambda.sdk,
        Arc::new(SystemClock),
        lambda.actor,
    );
    rootwarden_bootstrap::run(|event| release_lambda::handle(&deps, event)).await
}
