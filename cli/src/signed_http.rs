//! A minimal SigV4-signed JSON client for the `access` function URL (AWS_IAM auth). Credentials
//! come from the SDK's default provider chain (environment, profile, SSO, instance role...);
//! the request is signed for service `lambda` in the SDK's region with `aws-sigv4` and sent with
//! reqwest (the HTTP stack the workspace already has). Who the caller is, and what the policy
//! allows, are the server's answer, never the operator's environment.

use std::time::SystemTime;

use anyhow::{bail, Context as _};
use aws_credential_types::provider::ProvideCredentials as _;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use serde_json::Value;
use zeroize::Zeroizing;

pub struct SignedClient {
    url: reqwest::Url,
    region: String,
    credentials: aws_credential_types::provider::SharedCredentialsProvider,
    http: reqwest::Client,
}

/// The server's answer: HTTP status and JSON body. The body may hold secrets (a check-out):
/// the raw text is zeroized once parsed.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// The access URL: HTTPS, or plain HTTP only to this machine (the local emulator). A check-out's
/// answer carries the root password: never in clear text over a network.
fn checked_url(url: &str) -> anyhow::Result<reqwest::Url> {
    let url = reqwest::Url::parse(url).with_context(|| format!("access URL {url:?}"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        _ if url.host().is_none() => bail!("access URL {url} names no host"),
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => bail!("access URL {url} must be https (plain http only to localhost)"),
        _ => bail!("access URL {url} must be an https URL"),
    }
}

impl SignedClient {
    pub fn new(url: &str, sdk: &aws_config::SdkConfig) -> anyhow::Result<Self> {
        let url = checked_url(url)?;
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .context("no AWS region configured (AWS_REGION)")?;
        let credentials = sdk
            .credentials_provider()
            .context("no AWS credentials provider configured")?;
        // No redirects: the signed request (and the answer with the password) goes to the
        // configured URL or nowhere.
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            url,
            region,
            credentials,
            http,
        })
    }

    /// POSTs `body` as JSON, signed.
    pub async fn post(&self, body: &Value) -> anyhow::Result<Answer> {
        let creds = self
            .credentials
            .provide_credentials()
            .await
            .context("loading AWS credentials")?;
        let identity: Identity = creds.into();
        let payload = body.to_string();
        let host = match self.url.port() {
            Some(p) => format!("{}:{p}", self.url.host_str().unwrap_or_default()),
            None => self.url.host_str().unwrap_or_default().to_owned(),
        };
        let headers = [
            ("host", host.as_str()),
            ("content-type", "application/json"),
        ];
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("lambda")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .context("signing parameters")?
            .into();
        let signable = SignableRequest::new(
            "POST",
            self.url.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(payload.as_bytes()),
        )
        .context("signable request")?;
        let (instructions, _) = sign(signable, &params)
            .context("signing the request")?
            .into_parts();
        let mut req = self
            .http
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("rootwarden-cli/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in instructions.headers() {
            req = req.header(name, value);
        }
        let resp = req
            .body(payload)
            .send()
            .await
            .with_context(|| format!("calling {}", self.url))?;
        let status = resp.status().as_u16();
        let text = Zeroizing::new(resp.text().await.context("reading the answer")?);
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.to_string()))
        };
        Ok(Answer { status, body })
    }
}

impl Answer {
    /// The body of a 200, else the server's named error (`error_type: message`; AWS's own
    /// function URL refusals carry `Message`).
    pub fn ok(self) -> anyhow::Result<Value> {
        if self.status == 200 {
            return Ok(self.body);
        }
        let field = |k: &str| self.body.get(k).and_then(Value::as_str).map(str::to_owned);
        let kind = field("error_type").unwrap_or_else(|| match self.status {
            403 => "AccessDenied".into(),
            s => format!("HTTP {s}"),
        });
        let message = field("message")
            .or_else(|| field("Message"))
            .unwrap_or_else(|| self.body.to_string());
        bail!("{kind}: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::checked_url;

    #[test]
    fn the_access_url_is_https_or_plain_http_to_this_machine_only() {
        for ok in [
            "https://abc.lambda-url.eu-west-1.on.aws/",
            "http://127.0.0.1:5123/",
            "http://localhost:5123/x",
            "http://[::1]:5123/",
        ] {
            assert!(checked_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://abc.lambda-url.eu-west-1.on.aws/",
            "http://10.0.0.5/",
            "http://localhost.evil.example/",
            "ftp://127.0.0.1/",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(checked_url(bad).is_err(), "{bad}");
        }
    }
}
