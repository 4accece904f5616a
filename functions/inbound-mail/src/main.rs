use std::sync::Arc;

use rootwarden::audit::DynamoAuditLog;
use rootwarden::inbound::S3RawMailStore;
use rootwarden::notify::{self, Notifications, SesNotifier, WebhookNotifier};
use rootwarden::registry::DynamoAccountRegistry;
use rootwarden::tickets::DynamoTicketStore;
use rootwarden::vault::KmsTransientStore;
use rootwarden::workflows::DynamoWorkflowWaits;
use rootwarden::SystemClock;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = rootwarden_bootstrap::start(env!("CARGO_PKG_NAME")).await?;
    let (config, sdk) = (&lambda.config, &lambda.sdk);
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let audit = DynamoAuditLog::new(ddb.clone(), &config.audit_table, Arc::new(SystemClock));
    let webhook = match &config.webhook {
        Some((url, secret_arn)) => {
            let secrets = aws_sdk_secretsmanager::Client::new(sdk);
            Some(WebhookNotifier::new(
                url,
                notify::webhook_secret(&secrets, secret_arn).await?,
            )?)
        }
        None => None,
    };
    let email = (config.notify_from.as_ref())
        .map(|from| SesNotifier::new(aws_sdk_sesv2::Client::new(sdk), from));
    let (kms, sfn) = (aws_sdk_kms::Client::new(sdk), aws_sdk_sfn::Client::new(sdk));
    let s3 = rootwarden::sdk::s3_client(sdk);
    let deps = inbound_mail_lambda::Deps {
        waits: DynamoWorkflowWaits::new(ddb.clone(), sfn, &config.workflows_table),
        notifier: Notifications { webhook, email },
        mail: S3RawMailStore::new(s3, &config.mail_bucket, &config.mail_prefix),
        tickets: DynamoTicketStore::new(ddb.clone(), &config.tickets_table, audit)
            .with_vault_table(&config.vault_table),
        vault: KmsTransientStore::new(ddb.clone(), kms, &config.vault_table, &config.vault_key),
        registry: DynamoAccountRegistry::new(ddb, &config.accounts_table),
        max_bytes: config.mail_max_bytes,
    };
    rootwarden_bootstrap::run(|event| inbound_mail_lambda::handle(&deps, event)).await
}
