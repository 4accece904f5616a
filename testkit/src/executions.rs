//! `MemoryExecutions`: the twin of `SfnExecutions`. Executions are named per state machine; a
//! start of an existing name is `AlreadyExists`, except that, as on Step Functions, starting a
//! running execution again with the same input returns it (`New` with its ARN); a task token belongs to one execution and
//! waits until it is sent a result once (then it is gone), or its execution ends.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rootwarden_core::executions::{ExecutionState, Executions, Started, TaskSent};
use rootwarden_core::LambdaError;

use crate::{lock, unavailable};

/// One execution as the twin keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub arn: String,
    pub input: serde_json::Value,
    /// `RUNNING` until [`MemoryExecutions::end`] or a task result ends it.
    pub status: String,
}

/// What a waiting task was sent.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskResult {
    Success { output: serde_json::Value },
    Failure { error: String, cause: String },
}

#[derive(Default)]
struct State {
    executions: BTreeMap<String, Execution>,
    /// Waiting task token -> execution ARN.
    tokens: BTreeMap<String, String>,
    /// What each token was sent, in order.
    sent: Vec<(String, TaskResult)>,
}

#[derive(Clone, Default)]
pub struct MemoryExecutions {
    state: Arc<Mutex<State>>,
    down: Arc<AtomicBool>,
}

impl MemoryExecutions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Step Functions unavailable (true) or back (false).
    pub fn fail(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// The execution's step waits with `token` (what a `.waitForTaskToken` task hands out).
    pub fn wait_for_task(&self, execution_arn: &str, token: &str) {
        lock(&self.state)
            .tokens
            .insert(token.to_owned(), execution_arn.to_owned());
    }

    /// Ends an execution from outside (stopped from the console, failed, timed out).
    pub fn end(&self, execution_arn: &str, status: &str) {
        let mut s = lock(&self.state);
        if let Some(e) = s.executions.get_mut(execution_arn) {
            e.status = status.to_owned();
        }
        s.tokens.retain(|_, arn| arn != execution_arn);
    }

    pub fn executions(&self) -> Vec<Execution> {
        lock(&self.state).executions.values().cloned().collect()
    }

    pub fn sent(&self) -> Vec<(String, TaskResult)> {
        lock(&self.state).sent.clone()
    }

    fn check(&self, what: &str) -> Result<(), LambdaError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(unavailable(what));
        }
        Ok(())
    }

    fn send(&self, token: &str, result: TaskResult) -> TaskSent {
        let mut s = lock(&self.state);
        let Some(arn) = s.tokens.remove(token) else {
            return TaskSent::Gone;
        };
        if let Some(e) = s.executions.get_mut(&arn) {
            if matches!(result, TaskResult::Failure { .. }) {
                e.status = "FAILED".into();
            }
        }
        s.sent.push((token.to_owned(), result));
        TaskSent::Delivered
    }
}

impl Executions for MemoryExecutions {
    async fn state(&self, arn: &str) -> Result<ExecutionState, LambdaError> {
        self.check("states:DescribeExecution")?;
        Ok(match lock(&self.state).executions.get(arn) {
            Some(e) if e.status == "RUNNING" => ExecutionState::Running,
            Some(e) => ExecutionState::Ended(e.status.clone()),
            None => ExecutionState::Missing,
        })
    }

    async fn start(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> Result<Started, LambdaError> {
        self.check("states:StartExecution")?;
        let arn = format!(
            "{}:{name}",
            state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
        );
        let mut s = lock(&self.state);
        let input = serde_json::from_str(input).unwrap_or(serde_json::Value::Null);
        if let Some(e) = s.executions.get(&arn) {
            return Ok(if e.status == "RUNNING" && e.input == input {
                Started::New { execution_arn: arn }
            } else {
                Started::AlreadyExists
            });
        }
        s.executions.insert(
            arn.clone(),
            Execution {
                arn: arn.clone(),
                input,
                status: "RUNNING".into(),
            },
        );
        Ok(Started::New { execution_arn: arn })
    }

    async fn succeed_task(&self, task_token: &str, output: &str) -> Result<TaskSent, LambdaError> {
        self.check("states:SendTaskSuccess")?;
        let output = serde_json::from_str(output).unwrap_or(serde_json::Value::Null);
        Ok(self.send(task_token, TaskResult::Success { output }))
    }

    async fn fail_task(
        &self,
        task_token: &str,
        error: &str,
        cause: &str,
    ) -> Result<TaskSent, LambdaError> {
        self.check("states:SendTaskFailure")?;
        let result = TaskResult::Failure {
            error: error.to_owned(),
            cause: cause.to_owned(),
        };
        Ok(self.send(task_token, result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SM: &str = "arn:aws:states:us-east-1:111122223333:stateMachine:rotation";

    #[tokio::test]
    async fn a_name_starts_once_and_a_token_is_answered_once() {
        let x = MemoryExecutions::new();
        let Started::New { execution_arn } = x.start(SM, "r1", "{}").await.unwrap() else {
            panic!("not started");
        };
        assert!(execution_arn.ends_with(":execution:rotation:r1"));
        assert_eq!(
            x.start(SM, "r1", "{}").await.unwrap(),
            Started::New {
                execution_arn: execution_arn.clone()
            },
            "a running execution started again with its input"
        );
        assert_eq!(
            x.start(SM, "r1", r#"{"other": 1}"#).await.unwrap(),
            Started::AlreadyExists
        );
        assert!(x.state(&execution_arn).await.unwrap().is_running());
        x.wait_for_task(&execution_arn, "t");
        assert_eq!(
            x.succeed_task("t", "{}").await.unwrap(),
            TaskSent::Delivered
        );
        assert_eq!(x.succeed_task("t", "{}").await.unwrap(), TaskSent::Gone);
        x.end(&execution_arn, "ABORTED");
        assert_eq!(
            x.state(&execution_arn).await.unwrap(),
            ExecutionState::Ended("ABORTED".into())
        );
        assert_eq!(x.state("arn:nope").await.unwrap(), ExecutionState::Missing);
        x.fail(true);
        assert!(x.state(&execution_arn).await.is_err());
    }
}
