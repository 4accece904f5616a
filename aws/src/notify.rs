//! Notifiers: a signed webhook, SES mail, and both together; the webhook secret from Secrets Manager.

use crate::mail::Priority;
use crate::sdk::sdk_error;
use crate::{ErrorType, LambdaError};
pub use rootwarden_core::notify::*;
use secrecy::SecretString;
use std::time::Duration;

/// The webhook's HTTP client: hyper over rustls (aws-lc-rs, the platform's roots), the same
/// stack the AWS SDK's default client uses, so no second HTTP library is linked.
type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// How long one delivery attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Posts notices to one URL, retrying 5xx, 429 and network failures.
pub struct WebhookNotifier {
    /// Built on the first notice (loading the trust roots costs milliseconds a cold start
    /// without a notice need not pay); the error is kept to report on every attempt.
    client: std::sync::OnceLock<Result<HttpsClient, String>>,
    url: http::Uri,
    secret: SecretString,
    pub retry_delays: Vec<Duration>,
}

fn https_client() -> Result<HttpsClient, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("webhook trust roots: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector),
    )
}

impl WebhookNotifier {
    pub fn new(url: impl Into<String>, secret: SecretString) -> Result<Self, LambdaError> {
        let url: String = url.into();
        let url: http::Uri = url
            .parse()
            .map_err(|e| LambdaError::new(ErrorType::ConfigError, format!("webhook URL: {e}")))?;
        if !matches!(url.scheme_str(), Some("https" | "http")) || url.host().is_none() {
            return Err(LambdaError::new(
                ErrorType::ConfigError,
                "webhook URL: must be an http(s) URL with a host",
            ));
        }
        let retry_delays = [200, 1000, 3000]
            .into_iter()
            .map(Duration::from_millis)
            .collect();
        Ok(Self {
            client: std::sync::OnceLock::new(),
            url,
            secret,
            retry_delays,
        })
    }

    /// One attempt: the response status, or why there is none.
    async fn attempt(
        &self,
        notice: &Notice<'_>,
        delivery: &str,
        body: &bytes::Bytes,
    ) -> Result<http::StatusCode, String> {
        let client = self.client.get_or_init(https_client).as_ref()?;
        let ts = chrono::Utc::now().timestamp();
        let request = http::Request::post(self.url.clone())
            .header("Content-Type", "application/json")
            .header("X-RootWarden-Event", notice.event)
            .header("X-RootWarden-Delivery", delivery)
            .header("X-RootWarden-Timestamp", ts.to_string())
            .header("X-RootWarden-Signature", sign(&self.secret, ts, body))
            .body(http_body_util::Full::new(body.clone()))
            .map_err(|e| format!("request: {e}"))?;
        match tokio::time::timeout(ATTEMPT_TIMEOUT, client.request(request)).await {
            Ok(Ok(response)) => Ok(response.status()),
            // hyper's error names its kind, never the URL (whose path could carry a token).
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no response in {} s", ATTEMPT_TIMEOUT.as_secs())),
        }
    }

    async fn post(&self, notice: &Notice<'_>) -> Result<(), LambdaError> {
        let body = bytes::Bytes::from(
            serde_json::to_vec(notice)
                .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))?,
        );
        let delivery = format!("{}/{}", notice.ticket.id, notice.ticket.messages);
        let mut delays = self.retry_delays.iter();
        loop {
            let sent = self.attempt(notice, &delivery, &body).await;
            let retryable = match &sent {
                Ok(status) if status.is_success() => return Ok(()),
                Ok(status) => status.is_server_error() || status.as_u16() == 429,
                Err(_) => true,
            };
            let why = match sent {
                Ok(status) => format!("HTTP {}", status.as_u16()),
                Err(e) => e,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webhook_client_builds_over_the_platforms_roots() {
        assert!(https_client().is_ok());
    }

    #[test]
    fn a_webhook_url_must_be_http_or_https_with_a_host() {
        let secret = || SecretString::from("k");
        for bad in [
            "ftp://hooks.example/x",
            "not a url",
            "https://",
            "/relative",
        ] {
            let err = WebhookNotifier::new(bad, secret()).err().unwrap();
            assert_eq!(err.error_type, ErrorType::ConfigError, "{bad}");
        }
        for good in ["https://hooks.example/x?token=1", "http://127.0.0.1:9/x"] {
            assert!(WebhookNotifier::new(good, secret()).is_ok(), "{good}");
        }
    }
}
