//! The scheduled sweep on DynamoDB and Step Functions: the core's sweep
//! (`rootwarden_core::rotation::sweep`, re-exported here) with the AWS adapters.

pub use rootwarden_core::rotation::sweep::{execution_name, restart_due, SweepReport, PAGE_SIZE};

use chrono::{DateTime, Utc};

use crate::executions::SfnExecutions;
use crate::registry::DynamoAccountRegistry;
use crate::LambdaError;

/// Runs one sweep at `now`, starting at most `concurrency` executions at once.
pub async fn sweep(
    registry: &DynamoAccountRegistry,
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    now: DateTime<Utc>,
    concurrency: usize,
) -> Result<SweepReport, LambdaError> {
    let executions = SfnExecutions::new(sfn.clone());
    rootwarden_core::rotation::sweep::sweep(
        registry,
        &executions,
        state_machine_arn,
        now,
        concurrency,
    )
    .await
}
