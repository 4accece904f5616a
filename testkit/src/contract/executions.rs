//! What every `Executions` promises: a named execution starts once, Step Functions says
//! whether it runs, a missing one is `Missing`, and a task's result is delivered once.

use std::future::Future;

use rootwarden_core::executions::{ExecutionState, Executions, Started, TaskSent};

use super::fixtures::fresh;

/// `state_machine_arn`: a state machine whose executions keep running (waiting) until a task
/// result or a stop ends them. `task_token(execution_arn)`: the token of the waiting task of
/// that execution, or `None` where the platform cannot hand one out (then only the unknown-
/// token promises are checked).
pub async fn executions_contract<X, F, Fut>(x: &X, state_machine_arn: &str, task_token: F)
where
    X: Executions,
    F: Fn(String) -> Fut,
    Fut: Future<Output = Option<String>>,
{
    let name = fresh("contract");
    let Started::New { execution_arn } = x.start(state_machine_arn, &name, "{}").await.unwrap()
    else {
        panic!("a fresh name starts a new execution");
    };
    assert!(
        execution_arn.ends_with(&format!(":{name}")),
        "{execution_arn}"
    );
    // A name starts once: again with the same input while it runs, it is that execution (as
    // Step Functions answers a retried start); with another input, it already exists.
    assert_eq!(
        x.start(state_machine_arn, &name, "{}").await.unwrap(),
        Started::New {
            execution_arn: execution_arn.clone()
        },
        "a retried start is the running execution"
    );
    assert_eq!(
        x.start(state_machine_arn, &name, r#"{"other": 1}"#)
            .await
            .unwrap(),
        Started::AlreadyExists,
        "a name starts once"
    );
    assert_eq!(
        x.state(&execution_arn).await.unwrap(),
        ExecutionState::Running
    );
    let missing = format!("{}-missing", execution_arn);
    assert_eq!(x.state(&missing).await.unwrap(), ExecutionState::Missing);
    assert_eq!(
        x.state("not-an-arn").await.unwrap(),
        ExecutionState::Missing
    );

    // A token nobody handed out is gone, for success and failure alike.
    let unknown = fresh("unknown-token");
    assert_eq!(
        x.succeed_task(&unknown, "{}").await.unwrap(),
        TaskSent::Gone
    );
    assert_eq!(
        x.fail_task(&unknown, "RotationRejected", "no")
            .await
            .unwrap(),
        TaskSent::Gone
    );

    let Some(token) = task_token(execution_arn.clone()).await else {
        return;
    };
    assert_eq!(
        x.fail_task(&token, "RotationRejected", "contract")
            .await
            .unwrap(),
        TaskSent::Delivered
    );
    assert_eq!(
        x.succeed_task(&token, "{}").await.unwrap(),
        TaskSent::Gone,
        "a task is answered once"
    );
    assert!(
        !x.state(&execution_arn).await.unwrap().is_running(),
        "failed task ends it"
    );
}
