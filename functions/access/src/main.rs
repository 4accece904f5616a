use std::sync::Arc;

use rootwarden::access::identity::IamRoleDirectory;
use rootwarden::access::Deps;
use rootwarden::SystemClock;
use rootwarden_bootstrap::config_error;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = rootwarden_bootstrap::start(env!("CARGO_PKG_NAME")).await?;
    let sdk = &lambda.sdk;
    let (ddb, kms) = (
        aws_sdk_dynamodb::Client::new(sdk),
        aws_sdk_kms::Client::new(sdk),
    );
    let deps = Deps::new(&lambda.config, ddb, kms, Arc::new(SystemClock))
        .inspect_err(|e| config_error(e))?
        .with_executions(aws_sdk_sfn::Client::new(sdk));
    let roles = IamRoleDirectory(aws_sdk_iam::Client::new(sdk));
    rootwarden_bootstrap::run(|event| access_lambda::handle(&deps, &roles, event)).await
}
