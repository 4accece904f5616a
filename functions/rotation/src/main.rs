use std::sync::Arc;

use rootwarden::rotation::{Clients, Deps};
use rootwarden::SystemClock;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = rootwarden_bootstrap::start(env!("CARGO_PKG_NAME")).await?;
    let clients = Clients::new(&lambda.sdk);
    let deps = Deps::new(&lambda.config, clients, Arc::new(SystemClock), lambda.actor);
    rootwarden_bootstrap::run(|event| rotation_lambda::handle(&deps, event)).await
}
