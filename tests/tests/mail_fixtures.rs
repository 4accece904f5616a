//! The AWS root-mail corpus (tests/fixtures/mail, every category, quarantine cases, encodings,
//! attachments, replies) against its hand-written oracle (expected.json): category, quarantine
//! and reasons, account resolution, redaction, attachments, thread keys; and no secret anywhere in
//! what a ticket would store.

use std::collections::BTreeSet;

use rootwarden::mail::{self, Context};
use rootwarden_tests::repo_root;
use secrecy::ExposeSecret;
use serde_json::Value;

fn names(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn corpus_matches_its_oracle() {
    let dir = repo_root().join("tests/fixtures/mail");
    let expected: serde_json::Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    assert!(expected.len() >= 30);
    let mut failures = Vec::new();
    for (file, want) in &expected {
        let raw = std::fs::read(dir.join(file)).unwrap();
        let rcpt = want["envelope_recipient"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let a = mail::analyze(
            &raw,
            &Context {
                recipients: vec![rcpt],
                ..Context::default()
            },
        );
        let d = &a.decision;
        let json = serde_json::to_value(d).unwrap();
        let mut pairs = vec![
            (
                "category",
                json["category"].clone(),
                want["category"].clone(),
            ),
            (
                "quarantined",
                json["quarantined"].clone(),
                want["quarantined"].clone(),
            ),
            (
                "account_id",
                json["account_id"].clone(),
                want["account_id"].clone(),
            ),
            (
                "attachments",
                Value::from(d.attachments.len()),
                want["attachments"].clone(),
            ),
        ];
        if let Some(case) = want.get("support_case_id") {
            pairs.push((
                "support_case_id",
                json["thread"]["support_case_id"].clone(),
                case.clone(),
            ));
        }
        if let Some(abuse) = want.get("abuse_report_id") {
            pairs.push((
                "abuse_report_id",
                json["thread"]["abuse_report_id"].clone(),
                abuse.clone(),
            ));
        }
        for (what, got, exp) in pairs {
            if got != exp {
                failures.push(format!("{file}: {what}: got {got}, expected {exp}"));
            }
        }
        let reasons = names(&json["quarantine_reasons"]);
        if reasons != names(&want["quarantine_reasons"]) {
            failures.push(format!(
                "{file}: quarantine_reasons: got {reasons:?}, expected {}",
                want["quarantine_reasons"]
            ));
        }
        let red = names(&json["redactions"]);
        if red != names(&want["redactions"]) {
            failures.push(format!(
                "{file}: redactions: got {red:?}, expected {}",
                want["redactions"]
            ));
        }
        if let Some(parent) = want.get("thread").and_then(|t| t.get("in_reply_to")) {
            let p = parent.as_str().unwrap_or_default().trim_matches(['<', '>']);
            if !d.in_reply_to.iter().any(|i| i == p) {
                failures.push(format!("{file}: in_reply_to {:?} lacks {p}", d.in_reply_to));
            }
        }
        // No secret survives into anything a ticket stores or sends.
        let stored = json.to_string();
        for secret in names(&want["secrets"]) {
            if stored.contains(&secret) {
                failures.push(format!(
                    "{file}: secret {secret:.12}… appears in the decision"
                ));
            }
        }
        // Every secret found goes to the vault (not for quarantined mail, whose links are the phish).
        for s in &a.secrets {
            assert!(
                !stored.contains(s.value.expose_secret()),
                "{file}: found secret leaked"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
