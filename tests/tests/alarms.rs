//! Every scheduled function, every state machine and every dead-letter queue in
//! `infra/template.yaml` has an alarm to the alerts topic, and the newest digest's age has one
//! that fires when the digest job stops running. Read from the template itself: a new scheduled
//! function, state machine or queue without an alarm fails here.

use std::collections::BTreeSet;

use rootwarden_tests::repo_root;
use serde_norway::Value;

fn template() -> Value {
    let text = std::fs::read_to_string(repo_root().join("infra/template.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// The logical id a `Ref: X` or `Fn::GetAtt: [X, …]` names.
fn target(v: &Value) -> Option<String> {
    if let Some(r) = v.get("Ref") {
        return Some(s(r));
    }
    v.get("Fn::GetAtt")
        .and_then(|g| g.as_sequence())
        .and_then(|g| g.first())
        .map(s)
}

/// `(namespace, metric, resource named by the dimension)` of every metric an alarm watches,
/// directly or in its metric-math `Metrics`.
fn watched(props: &Value) -> Vec<(String, String, Option<String>)> {
    let one = |m: &Value| {
        let dim = m["Dimensions"]
            .as_sequence()
            .and_then(|d| d.first())
            .and_then(|d| target(&d["Value"]));
        (s(&m["Namespace"]), s(&m["MetricName"]), dim)
    };
    match props["Metrics"].as_sequence() {
        Some(metrics) => metrics
            .iter()
            .filter_map(|m| m.get("MetricStat"))
            .map(|st| one(&st["Metric"]))
            .collect(),
        None => vec![one(props)],
    }
}

struct Alarm {
    name: String,
    props: Value,
    metrics: Vec<(String, String, Option<String>)>,
}

fn alarms(t: &Value) -> Vec<Alarm> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| s(&r["Type"]) == "AWS::CloudWatch::Alarm")
        .map(|(name, r)| Alarm {
            name: s(name),
            props: r["Properties"].clone(),
            metrics: watched(&r["Properties"]),
        })
        .collect()
}

fn has_alarm(alarms: &[Alarm], namespace: &str, metric: &str, resource: &str) -> bool {
    alarms.iter().any(|a| {
        a.metrics
            .iter()
            .any(|(n, m, d)| n == namespace && m == metric && d.as_deref() == Some(resource))
    })
}

#[test]
fn every_alarm_is_described_and_notifies_the_alerts_topic() {
    let t = template();
    let all = alarms(&t);
    assert!(all.len() >= 8, "{}", all.len());
    for a in &all {
        assert!(
            s(&a.props["AlarmDescription"]).len() > 20,
            "{} has no description",
            a.name
        );
        let actions: Vec<Option<String>> = a.props["AlarmActions"]
            .as_sequence()
            .map(|v| v.iter().map(target).collect())
            .unwrap_or_default();
        assert_eq!(actions, vec![Some("AlertsTopic".into())], "{}", a.name);
    }
}

#[test]
fn every_scheduled_function_and_state_machine_and_dead_letter_queue_has_an_alarm() {
    let t = template();
    let resources = t["Resources"].as_mapping().unwrap();
    let kind = |id: &str| {
        resources
            .iter()
            .find(|(k, _)| s(k) == id)
            .map(|(_, r)| s(&r["Type"]))
            .unwrap_or_default()
    };
    let all = alarms(&t);
    let mut missing = BTreeSet::new();

    let scheduled: Vec<String> = resources
        .values()
        .filter(|r| s(&r["Type"]) == "AWS::Scheduler::Schedule")
        .filter_map(|r| target(&r["Properties"]["Target"]["Arn"]))
        .collect();
    assert!(scheduled.len() >= 4, "{scheduled:?}");
    for id in &scheduled {
        match kind(id).as_str() {
            "AWS::Serverless::Function" => {
                if !has_alarm(&all, "AWS/Lambda", "Errors", id) {
                    missing.insert(format!("{id}: Errors"));
                }
            }
            "AWS::Serverless::StateMachine" => {}
            other => panic!("{id} is scheduled but is a {other}"),
        }
    }
    let machines: Vec<String> = resources
        .iter()
        .filter(|(_, r)| s(&r["Type"]) == "AWS::Serverless::StateMachine")
        .map(|(k, _)| s(k))
        .collect();
    assert!(machines.len() >= 2, "{machines:?}");
    for id in &machines {
        for metric in [
            "ExecutionsFailed",
            "ExecutionsTimedOut",
            "ExecutionsAborted",
        ] {
            if !has_alarm(&all, "AWS/States", metric, id) {
                missing.insert(format!("{id}: {metric}"));
            }
        }
    }
    // A dead-letter queue: any queue a function's DeadLetterQueue or a queue's RedrivePolicy
    // names.
    let queues: Vec<String> = resources
        .iter()
        .filter(|(_, r)| s(&r["Type"]) == "AWS::SQS::Queue")
        .map(|(k, _)| s(k))
        .collect();
    let dlqs: Vec<&String> = queues
        .iter()
        .filter(|q| {
            resources.values().any(|r| {
                let p = &r["Properties"];
                [
                    p.get("DeadLetterQueue").and_then(|d| d.get("TargetArn")),
                    p.get("RedrivePolicy")
                        .and_then(|d| d.get("deadLetterTargetArn")),
                ]
                .into_iter()
                .flatten()
                .filter_map(target)
                .any(|t| &t == *q)
            })
        })
        .collect();
    assert!(!dlqs.is_empty());
    for q in dlqs {
        if !has_alarm(&all, "AWS/SQS", "ApproximateNumberOfMessagesVisible", q) {
            missing.insert(format!("{q}: ApproximateNumberOfMessagesVisible"));
        }
    }
    assert!(missing.is_empty(), "without an alarm: {missing:?}");
}

#[test]
fn a_digest_job_that_stops_running_raises_the_digest_age_alarm() {
    let t = template();
    let all = alarms(&t);
    let age = all
        .iter()
        .find(|a| {
            has_alarm(
                std::slice::from_ref(a),
                "AWS/States",
                "ExecutionsSucceeded",
                "AuditDigestStateMachine",
            )
        })
        .expect("an alarm on the audit-digest state machine's successful runs");
    // No run at all (no data) is a breach, not "insufficient data".
    assert_eq!(s(&age.props["TreatMissingData"]), "breaching");
    assert_eq!(s(&age.props["ComparisonOperator"]), "LessThanThreshold");
    // Successful executions (each writes a digest or fails) over two hourly periods: the
    // default ROOTWARDEN_DIGEST_MAX_AGE_SECONDS (2 h) the daily verifier also enforces.
    assert_eq!(age.props["Threshold"].as_u64(), Some(1));
    let periods = age.props["EvaluationPeriods"].as_u64().unwrap();
    let period = age.props["Period"].as_u64().unwrap();
    assert_eq!(periods * period, 7200);
    // The schedule starts that state machine.
    let schedule = &t["Resources"]["AuditDigestSchedule"]["Properties"]["Target"]["Arn"];
    assert_eq!(target(schedule).as_deref(), Some("AuditDigestStateMachine"));
}
