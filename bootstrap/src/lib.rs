//! What every Root Warden Lambda does before and around its handler, so that each
//! `functions/*/src/main.rs` is a few lines:
//!
//! ```ignore
//! let lambda = rootwarden_bootstrap::start(env!("CARGO_PKG_NAME")).await?;
//! let deps = Deps::new(&lambda.config, &lambda.sdk, ...);
//! rootwarden_bootstrap::run(|event| my_function::handle(&deps, event)).await
//! ```
//!
//! - [`start`]: JSON telemetry with Lambda's log level ([`telemetry`]), `Config::from_env()`
//!   (fails fast; the error names the variable and is logged), the SDK configuration loaded
//!   once from the environment Lambda sets ([`sdk`]), and the actor name audit records carry.
//! - [`run`]: the runtime loop; a handler's `LambdaError` reaches Lambda as its `errorType`
//!   (the vocabulary the state machines' `Retry`/`Catch` match) and message.
//! - [`invocation_span`]: the span whose fields every log line of an invocation carries.
//! - [`payload_or_default`]: the empty payload (`null` or `{}`) of a scheduled or manual invoke.

pub mod sdk;
pub mod telemetry;

use std::future::Future;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use rootwarden_core::{Config, ErrorType, LambdaError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

pub use telemetry::invocation_span;

/// What [`start`] prepared.
pub struct Lambda {
    pub config: Config,
    /// Loaded once per process; build every client from it.
    pub sdk: aws_types::SdkConfig,
    /// Who acts, in audit records: `lambda:<function name>`.
    pub actor: String,
}

/// Telemetry, configuration (fails fast, logged), SDK configuration and actor.
pub async fn start(service: &str) -> Result<Lambda, lambda_runtime::Error> {
    telemetry::init(service);
    let config = Config::from_env().inspect_err(|e| config_error(e))?;
    let sdk = sdk::load_lambda_sdk_config()
        .await
        .inspect_err(|e| config_error(e))?;
    Ok(Lambda {
        config,
        sdk,
        actor: actor(std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok(), service),
    })
}

/// Logs a configuration error (which names its variable) before the process fails with it.
pub fn config_error(e: &dyn std::fmt::Display) {
    tracing::error!(error = %e, "configuration");
}

/// `lambda:<function name>`, or `lambda:<service>` outside Lambda.
pub fn actor(function_name: Option<String>, service: &str) -> String {
    format!("lambda:{}", function_name.as_deref().unwrap_or(service))
}

/// Runs the handler for every invocation until the runtime stops.
pub async fn run<H, Fut, T>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(LambdaEvent<Value>) -> Fut,
    Fut: Future<Output = Result<T, LambdaError>>,
    T: Serialize,
{
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        rootwarden_aws::audit::new_invocation();
        // Boxed: a handler's future is deep, and its layout need not be the runtime loop's.
        Box::pin(handler(event)).await.map_err(diagnostic)
    }))
    .await
}

/// A handler's error as Lambda reports it: `errorType` from the fixed vocabulary.
pub fn diagnostic(e: LambdaError) -> Diagnostic {
    Diagnostic {
        error_type: e.error_type.as_str().to_owned(),
        error_message: e.message,
    }
}

/// The payload as `T`; `null` and `{}` (a scheduled or manual invoke with no input) are
/// `T::default()`. Anything else that does not parse is a `ValidationError` naming what.
pub fn payload_or_default<T: DeserializeOwned + Default>(
    payload: Value,
    what: &str,
) -> Result<T, LambdaError> {
    if is_empty(&payload) {
        return Ok(T::default());
    }
    serde_json::from_value(payload)
        .map_err(|e| LambdaError::new(ErrorType::ValidationError, format!("invalid {what}: {e}")))
}

/// `null` or `{}`.
pub fn is_empty(payload: &Value) -> bool {
    payload.is_null() || payload.as_object().is_some_and(|o| o.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Input {
        account_id: Option<String>,
    }

    #[test]
    fn diagnostic_carries_the_vocabulary_name() {
        let d = diagnostic(LambdaError::new(ErrorType::Conflict, "lost the race"));
        assert_eq!(d.error_type, "Conflict");
        assert_eq!(d.error_message, "lost the race");
    }

    #[test]
    fn empty_payloads_are_the_default_and_bad_ones_are_named() {
        assert_eq!(
            payload_or_default::<Input>(Value::Null, "x").unwrap(),
            Input::default()
        );
        assert_eq!(
            payload_or_default::<Input>(serde_json::json!({}), "x").unwrap(),
            Input::default()
        );
        assert_eq!(
            payload_or_default::<Input>(serde_json::json!({"account_id": "1"}), "x")
                .unwrap()
                .account_id
                .as_deref(),
            Some("1")
        );
        let e = payload_or_default::<Input>(serde_json::json!({"acount": 1}), "sweep input")
            .unwrap_err();
        assert_eq!(e.error_type, ErrorType::ValidationError);
        assert!(
            e.message.starts_with("invalid sweep input"),
            "{}",
            e.message
        );
        let e = payload_or_default::<Input>(serde_json::json!([1]), "x").unwrap_err();
        assert_eq!(e.error_type, ErrorType::ValidationError);
    }

    #[test]
    fn the_actor_is_the_function_name() {
        assert_eq!(
            actor(Some("rw-rotation".into()), "rotation"),
            "lambda:rw-rotation"
        );
        assert_eq!(actor(None, "rotation"), "lambda:rotation");
    }
}
