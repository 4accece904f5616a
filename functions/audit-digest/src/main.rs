use std::sync::Arc;

use rootwarden::audit::{DynamoAuditLog, DynamoDigestStore, KmsDigestSigner};
use rootwarden::SystemClock;
use rootwarden_bootstrap::config_error;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = rootwarden_bootstrap::start(env!("CARGO_PKG_NAME")).await?;
    let (config, sdk) = (&lambda.config, &lambda.sdk);
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let log = DynamoAuditLog::new(ddb, &config.audit_table, Arc::new(SystemClock));
    let store = DynamoDigestStore::new(log);
    // A missing key fails every invocation with ConfigError naming the variable.
    let signer = config
        .digest_key()
        .map(|key| KmsDigestSigner::new(aws_sdk_kms::Client::new(sdk), key))
        .inspect_err(|e| config_error(e));
    let deps = audit_digest_lambda::Deps {
        store: &store,
        signer: signer.as_ref(),
        clock: &SystemClock,
    };
    rootwarden_bootstrap::run(|event| audit_digest_lambda::handle(&deps, event)).await
}
