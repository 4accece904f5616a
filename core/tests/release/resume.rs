//! A release stopped between any two steps (its execution ended, the `fail` step recorded it)
//! is adopted by a new approved request's execution, which converges; and a step killed at any
//! port call converges when the state machine retries it.

use rootwarden_core::registry::AccountStatus;
use rootwarden_core::release::{Exit, ReleaseStep};
use serde_json::json;

use super::helpers::*;

async fn finished(p: &rootwarden_testkit::release::MemoryRelease, exit: Exit) {
    let (acct, r) = state(p).await;
    match exit {
        Exit::Close => {
            assert_eq!(acct.status, AccountStatus::Closed);
            assert_eq!(r.step, Some(ReleaseStep::Closed));
        }
        _ => {
            assert_eq!(acct.status, AccountStatus::Released);
            assert_eq!(r.step, Some(ReleaseStep::Certified));
            assert_eq!(p.vault.stored_versions(&account()).await, 0);
            assert!(p.root.root(&account()).mfa_devices.is_empty());
        }
    }
}

fn full_len(exit: Exit) -> usize {
    match exit {
        Exit::Close => 6,
        Exit::Handback => 13,
        Exit::Transfer => 20,
    }
}

#[tokio::test]
async fn a_release_stopped_after_any_step_is_resumed_by_a_new_approval() {
    for exit in Exit::ALL {
        for stop_after in 1..full_len(exit) {
            let p = setup().await;
            let first = approve(&p, "AR-first", terms(exit)).await;
            if asl(&p, &first, Some(stop_after)).await.is_ok() {
                break;
            }
            // The execution stopped (timeout, a Catch): the fail step recorded it.
            p.executions.end(&first.arn, "FAILED");
            run(
                &p,
                step(
                    "fail",
                    &first.name,
                    json!({"error": {"Error": "States.Timeout", "Cause": "timed out"}}),
                ),
            )
            .await
            .unwrap();
            if state(&p).await.0.status == AccountStatus::Releasing {
                let r = state(&p).await.1;
                assert_eq!(
                    r.stopped.as_deref(),
                    Some("States.Timeout: timed out"),
                    "{exit:?} after {stop_after}"
                );
            }
            let second = approve(&p, "AR-second", terms(exit)).await;
            asl(&p, &second, None)
                .await
                .unwrap_or_else(|e| panic!("{exit:?} resumed after {stop_after} steps: {e}"));
            finished(&p, exit).await;
            assert_eq!(state(&p).await.1.execution, second.name);
        }
    }
}

#[tokio::test]
async fn a_step_killed_at_any_port_call_converges_when_retried() {
    for exit in Exit::ALL {
        let mut kill = 1;
        loop {
            let p = setup().await;
            let e = approve(&p, "AR-kill", terms(exit)).await;
            p.kill_at(kill);
            asl(&p, &e, None)
                .await
                .unwrap_or_else(|err| panic!("{exit:?} killed at call {kill}: {err}"));
            let calls = p.calls();
            finished(&p, exit).await;
            if kill > calls {
                break;
            }
            kill += 1;
        }
    }
}

#[tokio::test]
async fn a_stopped_poll_is_still_pending_and_resumes() {
    let p = setup().await;
    let first = approve(&p, "AR-slow", terms(Exit::Handback)).await;
    asl(&p, &first, Some(6)).await.unwrap_err(); // through accept-email-update
                                                 // AWS takes its time: the email check gives up after its bound.
    p.email.set(
        &account(),
        &rootwarden_core::RootEmail::parse(OURS).unwrap(),
    );
    let mut err = None;
    for _ in 0..30 {
        if let Err(e) = run(&p, step("check-email", &first.name, json!({}))).await {
            err = Some(e);
            break;
        }
    }
    assert_eq!(
        err.unwrap().error_type,
        rootwarden_core::ErrorType::StillPending
    );
    p.executions.end(&first.arn, "FAILED");
    run(
        &p,
        step(
            "fail",
            &first.name,
            json!({"error": {"Error": "StillPending"}}),
        ),
    )
    .await
    .unwrap();
    p.email.set(
        &account(),
        &rootwarden_core::RootEmail::parse(CUSTOMER_EMAIL).unwrap(),
    );
    let second = approve(&p, "AR-slow-2", terms(Exit::Handback)).await;
    asl(&p, &second, None).await.unwrap();
    finished(&p, Exit::Handback).await;
}
