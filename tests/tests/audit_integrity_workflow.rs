//! The audit-integrity and audit-digest state machines on the emulator: Step Functions invokes
//! the real `audit-verifier` and `audit-digest` binaries through the function host, each step as
//! its own role, over a Distributed Map of parallel-Scan segments; `AuditTamperDetected` is
//! routed by the state machine's `Catch` exactly as in AWS.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use rootwarden::audit::{
    write_digest, AuditEntry, AuditLog, DynamoAuditLog, DynamoDigestStore, KmsDigestSigner, Stream,
};
use rootwarden::{AccountId, SystemClock};
use rootwarden_tests::{build_functions, Emulator};

async fn run(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
    name: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    run_with(sfn, arn, name, "{}").await
}

async fn run_with(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
    name: &str,
    input: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let exec = sfn
        .start_execution()
        .state_machine_arn(arn)
        .name(name)
        .input(input)
        .send()
        .await
        .unwrap();
    for _ in 0..600 {
        let d = sfn
            .describe_execution()
            .execution_arn(exec.execution_arn())
            .send()
            .await
            .unwrap();
        if d.status() != &ExecutionStatus::Running {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("execution {name} did not finish in 60 s");
}

#[tokio::test(flavor = "multi_thread")]
async fn state_machine_runs_the_rust_verifier_and_catches_tampering() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let conf = emu.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
    let sfn = aws_sdk_sfn::Client::new(&conf);
    let table = emu.env("ROOTWARDEN_AUDIT_TABLE");
    let log = DynamoAuditLog::new(ddb.clone(), &table, Arc::new(SystemClock));
    for id in ["111111111111", "222222222222"] {
        for i in 0..3 {
            let s = Stream::Account(AccountId::parse(id).unwrap());
            log.append(
                &AuditEntry::new(s, "arn:aws:iam::1:user/op", "audit.annotate")
                    .reason(format!("n{i}")),
            )
            .await
            .unwrap();
        }
    }
    // The verifier also checks the signed digests: the hourly job has written one.
    let signer = KmsDigestSigner::from_conf(
        &emu.role_config("AuditDigestFunction").await,
        emu.env("ROOTWARDEN_DIGEST_KEY"),
    );
    write_digest(&DynamoDigestStore::new(log.clone()), &signer, &SystemClock)
        .await
        .unwrap();
    let arn = emu.stack().resources["AuditIntegrityStateMachine"]
        .arn
        .clone()
        .unwrap();

    let ok = run(&sfn, &arn, "intact").await;
    assert_eq!(ok.status(), &ExecutionStatus::Succeeded, "{ok:?}");
    let out: serde_json::Value = serde_json::from_str(ok.output().unwrap()).unwrap();
    assert_eq!(
        (
            &out["chains"],
            &out["records"],
            &out["ok"],
            &out["digest_seq"]
        ),
        (
            &serde_json::json!(2),
            &serde_json::json!(6),
            &serde_json::json!(true),
            &serde_json::json!(1)
        ),
        "{out}"
    );

    ddb.delete_item()
        .table_name(&table)
        .key(
            "stream",
            aws_sdk_dynamodb::types::AttributeValue::S("account/222222222222".into()),
        )
        .key(
            "seq",
            aws_sdk_dynamodb::types::AttributeValue::N("2".into()),
        )
        .send()
        .await
        .unwrap();
    let bad = run(&sfn, &arn, "tampered").await;
    assert_eq!(bad.status(), &ExecutionStatus::Failed);
    assert_eq!(
        bad.error(),
        Some("AuditTamperDetected"),
        "the Catch on the handler's error_type routed it"
    );
    // The task failure in the history names the chain and record.
    let history = sfn
        .get_execution_history()
        .execution_arn(bad.execution_arn())
        .send()
        .await
        .unwrap();
    let cause = history
        .events()
        .iter()
        .filter_map(|e| e.task_failed_event_details().and_then(|d| d.cause()))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        cause.contains("account/222222222222: record 2 is missing (deleted)"),
        "{cause}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_invoke_runs_the_handler_and_reports_its_error_type() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let conf = emu.sdk_config().await;
    let lambda = aws_sdk_lambda::Client::new(&conf);
    let name = emu.stack().resources["AuditVerifierFunction"]
        .physical_id
        .clone()
        .unwrap();
    // An empty log with its first digest.
    let log = DynamoAuditLog::new(
        aws_sdk_dynamodb::Client::new(&conf),
        emu.env("ROOTWARDEN_AUDIT_TABLE"),
        Arc::new(SystemClock),
    );
    let signer = KmsDigestSigner::from_conf(
        &emu.role_config("AuditDigestFunction").await,
        emu.env("ROOTWARDEN_DIGEST_KEY"),
    );
    write_digest(&DynamoDigestStore::new(log), &signer, &SystemClock)
        .await
        .unwrap();

    let ok = lambda
        .invoke()
        .function_name(&name)
        .payload(aws_sdk_lambda::primitives::Blob::new("{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.function_error(), None);
    let body: serde_json::Value = serde_json::from_slice(ok.payload().unwrap().as_ref()).unwrap();
    assert_eq!(
        (
            &body["chains"],
            &body["records"],
            &body["ok"],
            &body["digests"]
        ),
        (
            &serde_json::json!(0),
            &serde_json::json!(0),
            &serde_json::json!(true),
            &serde_json::json!(1)
        ),
        "{body}"
    );

    // A bad event is rejected with a named error, as Lambda reports handler errors.
    let bad = lambda
        .invoke()
        .function_name(&name)
        .payload(aws_sdk_lambda::primitives::Blob::new(
            r#"{"account": "not-an-id"}"#,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.function_error(), Some("Unhandled"));
    let body: serde_json::Value = serde_json::from_slice(bad.payload().unwrap().as_ref()).unwrap();
    assert_eq!(body["errorType"], "ValidationError", "{body}");

    // moto's state dump still works once functions exist (patched in the launcher).
    let (status, _) = emu
        .test_endpoint("GET", "/moto-api/data.json", None)
        .unwrap();
    assert_eq!(status, 200);
}

/// The failed task's cause in an execution's history.
async fn failure_cause(sfn: &aws_sdk_sfn::Client, execution_arn: &str) -> String {
    let history = sfn
        .get_execution_history()
        .execution_arn(execution_arn)
        .send()
        .await
        .unwrap();
    history
        .events()
        .iter()
        .filter_map(|e| e.task_failed_event_details().and_then(|d| d.cause()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn digests_and_verification_run_segment_by_segment_on_distributed_maps() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let conf = emu.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
    let sfn = aws_sdk_sfn::Client::new(&conf);
    let table = emu.env("ROOTWARDEN_AUDIT_TABLE");
    let log = DynamoAuditLog::new(ddb.clone(), &table, Arc::new(SystemClock));
    let ids: Vec<String> = (0..40)
        .map(|i| format!("{:012}", 300_000_000_000u64 + i))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let s = Stream::Account(AccountId::parse(id).unwrap());
        for n in 0..(1 + i % 3) {
            log.append(
                &AuditEntry::new(s.clone(), "arn:aws:iam::1:user/op", "audit.annotate")
                    .reason(format!("n{n}")),
            )
            .await
            .unwrap();
        }
    }
    let records: u64 = (0..40).map(|i| 1 + i as u64 % 3).sum();
    let resource = |id: &str| emu.stack().resources[id].arn.clone().unwrap();
    let (digest_sm, integrity_sm) = (
        resource("AuditDigestStateMachine"),
        resource("AuditIntegrityStateMachine"),
    );

    // The hourly schedule's input, then one that asks for three segments.
    for (name, input, seq) in [("hourly", "{}", 1), ("three", r#"{"segments": 3}"#, 2)] {
        let run = run_with(&sfn, &digest_sm, name, input).await;
        assert_eq!(run.status(), &ExecutionStatus::Succeeded, "{run:?}");
        let out: serde_json::Value = serde_json::from_str(run.output().unwrap()).unwrap();
        assert_eq!(
            (&out["seq"], &out["streams"]),
            (&serde_json::json!(seq), &serde_json::json!(40)),
            "{out}"
        );
    }
    let ok = run_with(&sfn, &integrity_sm, "four", r#"{"segments": 4}"#).await;
    assert_eq!(ok.status(), &ExecutionStatus::Succeeded, "{ok:?}");
    let out: serde_json::Value = serde_json::from_str(ok.output().unwrap()).unwrap();
    assert_eq!(
        (
            &out["chains"],
            &out["records"],
            &out["digest_seq"],
            &out["segments"],
            &out["unverified"]
        ),
        (
            &serde_json::json!(40),
            &serde_json::json!(records),
            &serde_json::json!(2),
            &serde_json::json!(4),
            &serde_json::json!([])
        ),
        "{out}"
    );

    // A whole chain deleted (every record): no segment holds it, the digest still names it.
    let gone = Stream::Account(AccountId::parse(&ids[7]).unwrap()).key();
    for seq in 1..=2 {
        ddb.delete_item()
            .table_name(&table)
            .key(
                "stream",
                aws_sdk_dynamodb::types::AttributeValue::S(gone.clone()),
            )
            .key(
                "seq",
                aws_sdk_dynamodb::types::AttributeValue::N(seq.to_string()),
            )
            .send()
            .await
            .unwrap();
    }
    let bad = run_with(&sfn, &integrity_sm, "gone", r#"{"segments": 4}"#).await;
    assert_eq!(bad.status(), &ExecutionStatus::Failed);
    assert_eq!(bad.error(), Some("AuditTamperDetected"), "{bad:?}");
    let cause = failure_cause(&sfn, bad.execution_arn()).await;
    assert!(
        cause.contains("TRUNCATED: 1 of the 40 chains digest 2 names are gone"),
        "{cause}"
    );

    // The next hourly digest must not sign the table as it is now: that would launder the
    // deletion (the verifier measures against the newest digest). It signs nothing.
    let refused = run_with(&sfn, &digest_sm, "after-deletion", "{}").await;
    assert_eq!(refused.status(), &ExecutionStatus::Failed);
    assert_eq!(
        refused.error(),
        Some("AuditDigestNotWritten"),
        "{refused:?}"
    );
    let cause = failure_cause(&sfn, refused.execution_arn()).await;
    assert!(
        cause.contains("AuditTamperDetected") && cause.contains("1 chains digest 2 named are gone"),
        "{cause}"
    );
    let still = run_with(&sfn, &integrity_sm, "still-gone", "{}").await;
    assert_eq!(still.error(), Some("AuditTamperDetected"), "{still:?}");
}

/// The attacker holds `lambda:InvokeFunction` on the digest function (only the state machine
/// should) and hands the sign step pages that were never written: nothing is signed.
#[tokio::test(flavor = "multi_thread")]
async fn a_forged_sign_step_signs_nothing() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let conf = emu.sdk_config().await;
    let lambda = aws_sdk_lambda::Client::new(&conf);
    let name = emu.stack().resources["AuditDigestFunction"]
        .physical_id
        .clone()
        .unwrap();
    let invoke = |payload: serde_json::Value| {
        let (lambda, name) = (lambda.clone(), name.clone());
        async move {
            let out = lambda
                .invoke()
                .function_name(name)
                .payload(aws_sdk_lambda::primitives::Blob::new(payload.to_string()))
                .send()
                .await
                .unwrap();
            let body: serde_json::Value =
                serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
            (out.function_error().map(str::to_owned), body)
        }
    };
    let (err, planned) = invoke(serde_json::json!({"action": "plan", "request": {}})).await;
    assert_eq!(err, None, "{planned}");
    let forged = serde_json::json!({"action": "sign", "plan": planned["plan"], "pages": [
        {"segment": {"index": 0, "total": 1}, "streams": 1, "page_hashes": ["ab".repeat(32)]}
    ]});
    let (err, body) = invoke(forged).await;
    assert_eq!(err.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorType"], "AuditWriteFailed", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("is not stored under its hash"),
        "{body}"
    );
    let store = DynamoDigestStore::new(DynamoAuditLog::new(
        aws_sdk_dynamodb::Client::new(&conf),
        emu.env("ROOTWARDEN_AUDIT_TABLE"),
        Arc::new(SystemClock),
    ));
    use rootwarden::audit::DigestStore;
    assert!(
        store.digests().await.unwrap().is_empty(),
        "no digest was signed"
    );
}
