//! `SfnExecutions`: the `Executions` port on Step Functions.

pub use rootwarden_core::executions::*;

use crate::sdk::sdk_error;
use crate::LambdaError;

#[derive(Clone)]
pub struct SfnExecutions {
    sfn: aws_sdk_sfn::Client,
}

impl SfnExecutions {
    pub fn new(sfn: aws_sdk_sfn::Client) -> Self {
        Self { sfn }
    }
}

impl Executions for SfnExecutions {
    async fn state(&self, arn: &str) -> Result<ExecutionState, LambdaError> {
        match self
            .sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
        {
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
            Err(e) => Err(sdk_error("states:DescribeExecution", &e)),
        }
    }

    async fn start(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> Result<Started, LambdaError> {
        let sent = (self.sfn.start_execution())
            .state_machine_arn(state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await;
        match sent {
            Ok(out) => Ok(Started::New {
                execution_arn: out.execution_arn().to_owned(),
            }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_execution_already_exists()) =>
            {
                Ok(Started::AlreadyExists)
            }
            Err(e) => Err(sdk_error("states:StartExecution", &e)),
        }
    }

    async fn succeed_task(&self, task_token: &str, output: &str) -> Result<TaskSent, LambdaError> {
        let sent = (self.sfn.send_task_success())
            .task_token(task_token)
            .output(output)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(TaskSent::Delivered),
            Err(e)
                if e.as_service_error().is_some_and(|se| {
                    se.is_task_does_not_exist() || se.is_task_timed_out() || se.is_invalid_token()
                }) =>
            {
                Ok(TaskSent::Gone)
            }
            Err(e) => Err(sdk_error("states:SendTaskSuccess", &e)),
        }
    }

    async fn fail_task(
        &self,
        task_token: &str,
        error: &str,
        cause: &str,
    ) -> Result<TaskSent, LambdaError> {
        let sent = (self.sfn.send_task_failure())
            .task_token(task_token)
            .error(error)
            .cause(cause)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(TaskSent::Delivered),
            Err(e)
                if e.as_service_error().is_some_and(|se| {
                    se.is_task_does_not_exist() || se.is_task_timed_out() || se.is_invalid_token()
                }) =>
            {
                Ok(TaskSent::Gone)
            }
            Err(e) => Err(sdk_error("states:SendTaskFailure", &e)),
        }
    }
}
