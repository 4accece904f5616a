//! Whether a rotation still runs: Step Functions' answer (`DescribeExecution`, through
//! `SfnExecutions`). The rules that decide from it are the core's
//! (`rootwarden_core::rotation::liveness`), re-exported here.

pub use rootwarden_core::rotation::liveness::*;

use crate::executions::{Executions, SfnExecutions};
use crate::LambdaError;

/// Asks Step Functions (`DescribeExecution`) about execution `arn`.
pub async fn execution_state(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
) -> Result<ExecutionState, LambdaError> {
    SfnExecutions::new(sfn.clone()).state(arn).await
}
