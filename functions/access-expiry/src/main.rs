use std::sync::Arc;

use rootwarden::access::Deps;
use rootwarden::SystemClock;
use rootwarden_bootstrap::config_error;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = rootwarden_bootstrap::start(env!("CARGO_PKG_NAME")).await?;
    let (ddb, kms) = (
        aws_sdk_dynamodb::Client::new(&lambda.sdk),
        aws_sdk_kms::Client::new(&lambda.sdk),
    );
    let deps = Deps::new(&lambda.config, ddb, kms, Arc::new(SystemClock))
        .inspect_err(|e| config_error(e))?;
    let actor = lambda.actor.as_str();
    rootwarden_bootstrap::run(|event| access_expiry_lambda::handle(&deps, actor, event)).await
}
