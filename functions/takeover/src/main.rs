use std::sync::Arc;

use rootwarden::takeover::Deps;
use rootwarden::SystemClock;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = rootwarden_bootstrap::start(env!("CARGO_PKG_NAME")).await?;
    // The takeover allocates root addresses: without the domain it cannot start.
    if let Err(e) = lambda.config.root_mail_domain() {
        tracing::error!(error_type = "ConfigError", error = %e, "configuration invalid");
        return Err(e.into());
    }
    let deps = Deps::new(
        &lambda.config,
        &lambda.sdk,
        Arc::new(SystemClock),
        lambda.actor,
    );
    rootwarden_bootstrap::run(|event| takeover_lambda::handle(&deps, event)).await
}
