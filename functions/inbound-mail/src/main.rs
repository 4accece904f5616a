use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use rootwarden::audit::DynamoAuditLog;
use rootwarden::inbound::S3RawMailStore;
use rootwarden::notify::{self, Notifications, SesNotifier, WebhookNotifier};
use rootwarden::registry::DynamoAccountRegistry;
use rootwarden::tickets::DynamoTicketStore;
use rootwarden::vault::KmsTransientStore;
use rootwarden::workflows::DynamoWorkflowWaits;
use rootwarden::{Config, SystemClock};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    rootwarden::telemetry::init(env!("CARGO_PKG_NAME"));
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "configuration"))?;
    let sdk = rootwarden::sdk::load_sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let s3 = rootwarden::sdk::s3_client(&sdk);
    let audit = DynamoAuditLog::new(ddb.clone(), &config.audit_table, Arc::new(SystemClock));
    let webhook = match &config.webhook {
        Some((url, secret_arn)) => {
            let secret =
                notify::webhook_secret(&aws_sdk_secretsmanager::Client::new(&sdk), secret_arn)
                    .await?;
            Some(WebhookNotifier::new(url, secret)?)
        }
        None => None,
    };
    let email = config
        .notify_from
        .as_ref()
        .map(|from| SesNotifier::new(aws_sdk_sesv2::Client::new(&sdk), from));
    let deps = inbound_mail::Deps {
        waits: DynamoWorkflowWaits::new(
            ddb.clone(),
            aws_sdk_sfn::Client::new(&sdk),
            &config.workflows_table,
        ),
        notifier: Notifications { webhook, email },
        mail: S3RawMailStore::new(s3, &config.mail_bucket, &config.mail_prefix),
        tickets: DynamoTicketStore::new(ddb.clone(), &config.tickets_table, audit),
        vault: KmsTransientStore::new(
            ddb.clone(),
            aws_sdk_kms::Client::new(&sdk),
            &config.vault_table,
            &config.vault_key,
        ),
        registry: DynamoAccountRegistry::new(ddb, &config.accounts_table),
        max_bytes: config.mail_max_bytes,
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            inbound_mail::handle(deps, event).await
        },
    ))
    .await
}
