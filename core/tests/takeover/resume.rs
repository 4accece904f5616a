//! A takeover stopped between any two steps, or killed at any port call inside one.

use rootwarden_core::enforcement::Posture;
use rootwarden_core::executions::Executions;
use rootwarden_core::registry::AccountStatus;
use rootwarden_core::takeover::TakeoverStore;

use super::helpers::*;

#[tokio::test]
async fn a_takeover_stopped_between_any_two_steps_is_resumed_by_a_new_execution() {
    let first = credential_less_steps(
        "takeover-a",
        "arn:aws:states:r:1:execution:takeover:takeover-a",
    );
    for stop_after in 1..first.len() {
        let ports = setup();
        ports
            .executions
            .start(SM.replace("999988887777", "1").as_str(), "x", "{}")
            .await
            .unwrap();
        for s in first.iter().take(stop_after) {
            run_delivering(&ports, s.clone()).await.unwrap();
        }
        // The first execution is gone (it is not RUNNING: Step Functions never heard of it).
        let second = credential_less_steps(
            "takeover-b",
            "arn:aws:states:r:1:execution:takeover:takeover-b",
        );
        for s in second {
            run_delivering(&ports, s).await.unwrap_or_else(|e| {
                panic!("resume after {stop_after} steps: {e}");
            });
        }
        let (acct, t) = ports.store.get(&account()).await.unwrap().unwrap();
        assert_eq!(acct.status, AccountStatus::Active, "after {stop_after}");
        assert_eq!(t.unwrap().execution, "takeover-b");
        assert_eq!(ports.email.email(&account()).unwrap(), acct.root_email);
        assert_eq!(ports.root.root(&account()), Posture::default());
    }
}

#[tokio::test]
async fn a_step_killed_at_any_port_call_converges_when_retried() {
    let arn = "arn:aws:states:r:1:execution:takeover:takeover-a";
    let steps = credential_less_steps("takeover-a", arn);
    for (i, _) in steps.iter().enumerate() {
        for kill in 1..=12 {
            let ports = setup();
            for s in steps.iter().take(i) {
                run_delivering(&ports, s.clone()).await.unwrap();
            }
            ports.kill_at(kill);
            let r = run_delivering(&ports, steps[i].clone()).await;
            let calls = ports.calls();
            ports.kill_at(0);
            if r.is_err() {
                // Killed (or a retryable error): the retry converges.
                run_delivering(&ports, steps[i].clone())
                    .await
                    .unwrap_or_else(|e| panic!("step {i} killed at {kill}: retry failed: {e}"));
            }
            for s in steps.iter().skip(i + 1) {
                run_delivering(&ports, s.clone()).await.unwrap();
            }
            let (acct, _) = ports.store.get(&account()).await.unwrap().unwrap();
            assert_eq!(acct.status, AccountStatus::Active, "step {i} kill {kill}");
            if kill > calls {
                break;
            }
        }
    }
}
