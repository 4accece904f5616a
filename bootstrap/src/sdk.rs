//! The SDK configuration of a Lambda.
//!
//! On Lambda the region and the execution role's credentials are in the environment
//! (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), so the
//! providers read exactly those: the default chain's profile, SSO, web-identity, ECS and IMDS
//! providers are never built. Everything else (`AWS_ENDPOINT_URL`, which points every client at
//! the local emulator, retry and timeout settings) still comes from the environment as the SDK
//! reads it. The CLI keeps the default chain (`rootwarden_aws::sdk::load_sdk_config`).
//!
//! The HTTPS client is the SDK's default one (hyper 1, rustls with aws-lc, proxy settings from
//! the environment), shared by every client and built lazily: the SDK's own default builds a
//! TLS connector, parsing every native root certificate, each time a client is constructed
//! (`validate_base_client_config`), eight times for the release function. Here the connector is
//! built once, on the first request, and cached for its settings.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// Why the SDK configuration could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdkConfigError {
    #[error("missing environment variable AWS_REGION (Lambda sets it)")]
    MissingRegion,
}

/// Region and credentials from the environment only; fails fast without a region.
pub async fn load_lambda_sdk_config() -> Result<SdkConfig, SdkConfigError> {
    let region = region_from(|var| std::env::var(var).ok())?;
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .http_client(lazy_https_client())
        .load()
        .await)
}

/// The SDK's default HTTPS client, whose connectors (and TLS roots) are built on first use only.
pub fn lazy_https_client() -> SharedHttpClient {
    let client = Builder::new().build_with_connector_fn(|settings, components| {
        let mut conn =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    });
    SharedHttpClient::new(Lazy(client))
}

/// Delegates every connector to the inner client, but builds none when a client is
/// constructed (the trait's default `validate_base_client_config` does nothing).
#[derive(Debug)]
struct Lazy(SharedHttpClient);

impl HttpClient for Lazy {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// `AWS_REGION`, else `AWS_DEFAULT_REGION` (the SDK's own order), blank counting as unset.
fn region_from(get: impl Fn(&str) -> Option<String>) -> Result<Region, SdkConfigError> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .filter_map(get)
        .map(|r| r.trim().to_owned())
        .find(|r| !r.is_empty())
        .map(Region::new)
        .ok_or(SdkConfigError::MissingRegion)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_region_is_aws_region_then_the_default_region() {
        let both = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-2"),
        ];
        assert_eq!(region_from(lookup(&both)).unwrap().as_ref(), "eu-west-1");
        let fallback = [("AWS_REGION", " "), ("AWS_DEFAULT_REGION", "us-east-2")];
        assert_eq!(
            region_from(lookup(&fallback)).unwrap().as_ref(),
            "us-east-2"
        );
    }

    #[test]
    fn no_region_fails_naming_the_variable() {
        let err = region_from(lookup(&[("AWS_REGION", "")])).unwrap_err();
        assert_eq!(err, SdkConfigError::MissingRegion);
        assert!(err.to_string().contains("AWS_REGION"));
    }

    #[tokio::test]
    async fn the_lambda_configuration_has_region_credentials_and_behavior_version() {
        // Whatever the test process's environment holds, the providers are the environment ones.
        if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err() {
            assert_eq!(
                load_lambda_sdk_config().await.unwrap_err(),
                SdkConfigError::MissingRegion
            );
            return;
        }
        let sdk = load_lambda_sdk_config().await.unwrap();
        assert!(sdk.region().is_some());
        assert!(sdk.credentials_provider().is_some());
        assert!(sdk.behavior_version().is_some());
    }
}
