//! AWS SDK construction and error classification.
//!
//! Clients are built once per process from one [`SdkConfig`]. Locally, `AWS_ENDPOINT_URL`
//! points every client at the emulator; nothing in the code path differs from production.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::ErrorType;

/// Loads region, credentials and endpoint from the standard provider chain.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// Error codes AWS services use for throttling and server-side trouble.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "RequestThrottled",
    "SlowDown",
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "KMSInternalException",
    "DependencyTimeoutException",
    "TransactionInProgressException",
];

/// Maps an SDK error onto the vocabulary: transient (retry) or not.
pub fn classify_sdk_error<E: ProvideErrorMetadata>(err: &SdkError<E, Response>) -> ErrorType {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ErrorType::TransientAwsError
        }
        SdkError::ConstructionFailure(_) => ErrorType::InternalError,
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or_default();
            if TRANSIENT_CODES.contains(&code)
                || se.raw().status().as_u16() >= 500 && code.is_empty()
            {
                ErrorType::TransientAwsError
            } else {
                ErrorType::AwsError
            }
        }
        _ => ErrorType::AwsError,
    }
}

/// A short, secret-free description of an SDK error: operation, code and message.
pub fn describe_sdk_error<E: ProvideErrorMetadata + std::error::Error>(
    operation: &str,
    err: &SdkError<E, Response>,
) -> String {
    match err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            format!(
                "{operation} failed: {} ({})",
                e.code().unwrap_or("no error code"),
                e.message().unwrap_or("no message")
            )
        }
        SdkError::TimeoutError(_) => format!("{operation} timed out"),
        SdkError::DispatchFailure(_) => format!("{operation} could not reach the service"),
        other => format!("{operation} failed: {other}"),
    }
}

/// An SDK error as a handler error: classified, described, secret-free.
pub fn sdk_error<E: ProvideErrorMetadata + std::error::Error>(
    operation: &str,
    err: &SdkError<E, Response>,
) -> crate::LambdaError {
    crate::LambdaError::new(classify_sdk_error(err), describe_sdk_error(operation, err))
}

/// The caller's ARN as AWS sees it: the only trusted source of "who".
pub async fn caller_arn(sts: &aws_sdk_sts::Client) -> Result<String, crate::LambdaError> {
    let out = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| sdk_error("sts:GetCallerIdentity", &e))?;
    out.arn.ok_or_else(|| {
        crate::LambdaError::new(ErrorType::AwsError, "sts:GetCallerIdentity returned no ARN")
    })
}

/// S3 client: path-style addressing only against a custom endpoint (the local emulator).
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let local = sdk.endpoint_url().is_some();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(local)
            .build(),
    )
}
