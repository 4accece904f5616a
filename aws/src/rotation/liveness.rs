//! Whether a rotation still runs: Step Functions' answer (`DescribeExecution`). The rules that
//! decide from it are the core's (`rootwarden_core::rotation::liveness`), re-exported here.

pub use rootwarden_core::rotation::liveness::*;

use crate::LambdaError;

/// Asks Step Functions (`DescribeExecution`) about execution `arn`.
pub async fn execution_state(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
) -> Result<ExecutionState, LambdaError> {
    match sfn.describe_execution().execution_arn(arn).send().await {
        Ok(out) => Ok(match out.status() {
            aws_sdk_sfn::types::ExecutionStatus::Running => ExecutionState::Running,
            other => ExecutionState::Ended(other.as_str().to_owned()),
        }),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_execution_does_not_exist() || se.is_invalid_arn()) =>
        {
            Ok(ExecutionState::Missing)
        }
        Err(e) => Err(crate::sdk::sdk_error("states:DescribeExecution", &e)),
    }
}
