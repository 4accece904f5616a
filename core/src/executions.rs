//! The `Executions` port: Step Functions as the use cases see it. Step Functions is the only
//! authority on whether a workflow runs; a task token is how a waiting step is finished.

use std::future::Future;

use crate::LambdaError;

/// What Step Functions says about an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionState {
    Running,
    /// Ended: `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`.
    Ended(String),
    /// No such execution (or not a valid execution ARN).
    Missing,
}

impl ExecutionState {
    pub fn is_running(&self) -> bool {
        matches!(self, ExecutionState::Running)
    }

    pub fn describe(&self) -> &str {
        match self {
            ExecutionState::Running => "RUNNING",
            ExecutionState::Ended(s) => s,
            ExecutionState::Missing => "not found",
        }
    }
}

/// What starting a named execution did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// A new execution, with its ARN.
    New { execution_arn: String },
    /// One of that name already existed (a retried start is not a second execution).
    AlreadyExists,
}

/// What sending a task's result did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskSent {
    Delivered,
    /// The task no longer waits (its execution ended, timed out, or the token is invalid).
    Gone,
}

/// Workflow executions (Step Functions).
pub trait Executions: Send + Sync {
    /// Whether execution `arn` runs (`DescribeExecution`).
    fn state(&self, arn: &str) -> impl Future<Output = Result<ExecutionState, LambdaError>> + Send;
    /// Starts execution `name` of `state_machine_arn` with `input` (JSON).
    fn start(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> impl Future<Output = Result<Started, LambdaError>> + Send;
    /// Finishes a waiting task successfully with `output` (JSON).
    fn succeed_task(
        &self,
        task_token: &str,
        output: &str,
    ) -> impl Future<Output = Result<TaskSent, LambdaError>> + Send;
    /// Fails a waiting task with `error` (the name the state machine's `Catch` matches) and
    /// `cause`.
    fn fail_task(
        &self,
        task_token: &str,
        error: &str,
        cause: &str,
    ) -> impl Future<Output = Result<TaskSent, LambdaError>> + Send;
}
