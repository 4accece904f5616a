//! Notifiers: a signed webhook, SES mail, and both together; the webhook secret from Secrets Manager.

use crate::mail::Priority;
use crate::sdk::sdk_error;
use crate::{ErrorType, LambdaError};
pub use rootwarden_core::notify::*;
use secrecy::SecretString;
use std::time::Duration;

/// Posts notices to one URL, retrying 5xx, 429 and network failures.
pub struct WebhookNotifier {
    client: reqwest::Client,
    url: String,
    secret: SecretString,
    pub retry_delays: Vec<Duration>,
}

impl WebhookNotifier {
    pub fn new(url: impl Into<String>, secret: SecretString) -> Result<Self, LambdaError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| {
                LambdaError::new(ErrorType::ConfigError, format!("webhook client: {e}"))
            })?;
        let retry_delays = [200, 1000, 3000]
            .into_iter()
            .map(Duration::from_millis)
            .collect();
        Ok(Self {
            client,
            url: url.into(),
            secret,
            retry_delays,
        })
    }

    async fn post(&self, notice: &Notice<'_>) -> Result<(), LambdaError> {
        let body = serde_json::to_vec(notice)
            .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))?;
        let delivery = format!("{}/{}", notice.ticket.id, notice.ticket.messages);
        let mut delays = self.retry_delays.iter();
        loop {
            let ts = chrono::Utc::now().timestamp();
            let sent = self
                .client
                .post(&self.url)
                .header("Content-Type", "application/json")
                .header("X-RootWarden-Event", notice.event)
                .header("X-RootWarden-Delivery", &delivery)
                .header("X-RootWarden-Timestamp", ts.to_string())
                .header("X-RootWarden-Signature", sign(&self.secret, ts, &body))
                .body(body.clone())
                .send()
                .await;
            let retryable = match &sent {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => r.status().is_server_error() || r.status().as_u16() == 429,
                Err(_) => true,
            };
            let why = match sent {
                Ok(r) => format!("HTTP {}", r.status().as_u16()),
                Err(e) => format!("{}", e.without_url()),
            };
            match delays.next() {
                Some(d) if retryable => tokio::time::sleep(*d).await,
                _ => {
                    let kind = if retryable {
                        ErrorType::TransientAwsError
                    } else {
                        ErrorType::ValidationError
                    };
                    return Err(LambdaError::new(
                        kind,
                        format!("webhook delivery {delivery} failed: {why}"),
                    ));
                }
            }
        }
    }
}

/// E-mails the account's contacts through SES for priority high and above.
pub struct SesNotifier {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesNotifier {
    pub fn new(client: aws_sdk_sesv2::Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }

    async fn send(&self, notice: &Notice<'_>, contacts: &[String]) -> Result<(), LambdaError> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
        let t = notice.ticket;
        let account = t
            .account_id
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "unrouted".into());
        let priority = t.priority.as_str();
        let subject = format!(
            "[Root Warden] {priority} {} ticket {} for account {account}",
            t.category.as_str(),
            t.id
        );
        let mut text = format!(
            "Root mail for account {account} needs attention.\n\nTicket: {}\nCategory: {}\nPriority: {priority}\nSubject: {}\nFrom: {}\n\n{}\n",
            t.id,
            t.category.as_str(),
            t.subject,
            t.sender,
            t.summary
        );
        if t.quarantined {
            text.push_str("\nThis message was QUARANTINED (failed authentication checks). Do not act on anything it asks.\n");
        }
        let content = |s: String| Content::builder().data(s).charset("UTF-8").build();
        let subject = content(subject)
            .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))?;
        let body =
            content(text).map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))?;
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(contacts.to_vec()))
                    .build(),
            )
            .content(
                EmailContent::builder()
                    .simple(
                        Message::builder()
                            .subject(subject)
                            .body(Body::builder().text(body).build())
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(|e| sdk_error("ses:SendEmail", &e))?;
        Ok(())
    }
}

/// The configured channels; either may be absent.
pub struct Notifications {
    pub webhook: Option<WebhookNotifier>,
    pub email: Option<SesNotifier>,
}

impl Notifications {
    fn emails(&self, ticket: &crate::tickets::Ticket, contacts: &[String]) -> bool {
        self.email.is_some() && ticket.priority >= Priority::High && !contacts.is_empty()
    }
}

impl Notifier for Notifications {
    fn delivers(&self, ticket: &crate::tickets::Ticket, contacts: &[String]) -> bool {
        self.webhook.is_some() || self.emails(ticket, contacts)
    }

    async fn notify(&self, notice: &Notice<'_>, contacts: &[String]) -> Result<(), LambdaError> {
        if let Some(w) = &self.webhook {
            w.post(notice).await?;
        }
        if let Some(e) = &self.email {
            if self.emails(notice.ticket, contacts) {
                e.send(notice, contacts).await?;
            }
        }
        Ok(())
    }
}

/// Reads the webhook signing secret from Secrets Manager (once, at start-up).
pub async fn webhook_secret(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> Result<SecretString, LambdaError> {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| sdk_error("secretsmanager:GetSecretValue", &e))?;
    out.secret_string
        .filter(|s| !s.is_empty())
        .map(SecretString::from)
        .ok_or_else(|| LambdaError::new(ErrorType::ConfigError, "webhook signing secret is empty"))
}
