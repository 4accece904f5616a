//! `inbound-mail`: invoked asynchronously by an SES receipt rule after its S3 action stored the
//! raw message. Parses the SES event and runs the inbound use case for each record.
//!
//! Output: `{"processed": [{ses_message_id, ticket_id, outcome, category, priority, quarantined,
//! secrets_vaulted, oversized, workflows_completed, workflow_claims_refused}]}`.
//! Errors (`error_type`): `ValidationError` (not an SES receipt event), `TransientAwsError` /
//! `AuditWriteFailed` / `Conflict` (retried by Lambda's async retries, then the DLQ), `AwsError`.
//! Content problems are never errors: they become tickets.

use aws_lambda_events::event::ses::{SimpleEmailEvent, SimpleEmailVerdict};
use lambda_runtime::LambdaEvent;
use rootwarden::inbound::{self, Delivery, Processed, RawMailStore};
use rootwarden::mail::{SesVerdicts, Verdict};
use rootwarden::notify::Notifier;
use rootwarden::registry::AccountRegistry;
use rootwarden::tickets::TicketStore;
use rootwarden::vault::TransientStore;
use rootwarden::workflows::WorkflowWaits;
use rootwarden::{ErrorType, LambdaError};
use serde::Serialize;
use tracing::Instrument;

pub struct Deps<M, T, V, R, N, W> {
    pub waits: W,
    pub mail: M,
    pub tickets: T,
    pub vault: V,
    pub registry: R,
    pub notifier: N,
    pub max_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct Response {
    pub processed: Vec<Processed>,
}

fn verdict(v: &SimpleEmailVerdict) -> Verdict {
    v.status.as_deref().map(Verdict::parse).unwrap_or_default()
}

/// SES's S3-action notification, published to SNS (`{notificationType, mail, receipt}` as the
/// SNS message), unwrapped into the SES record shape.
fn unwrap_sns(payload: serde_json::Value) -> Result<serde_json::Value, LambdaError> {
    let Some(records) = payload.get("Records").and_then(|r| r.as_array()) else {
        return Ok(payload);
    };
    if !records.iter().any(|r| r.get("Sns").is_some()) {
        return Ok(payload);
    }
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let text = r["Sns"]["Message"].as_str().unwrap_or_default();
        let n: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            LambdaError::new(
                ErrorType::ValidationError,
                format!("SNS message is not an SES notification: {e}"),
            )
        })?;
        out.push(serde_json::json!({"eventSource": "aws:ses", "ses": {"mail": n["mail"], "receipt": n["receipt"]}}));
    }
    Ok(serde_json::json!({ "Records": out }))
}

/// SES receipt event (Lambda action, S3-action record, or S3-action notification via SNS) →
/// deliveries. Rejects anything else with a named error.
pub fn deliveries(payload: serde_json::Value) -> Result<Vec<Delivery>, LambdaError> {
    let event: SimpleEmailEvent = serde_json::from_value(unwrap_sns(payload)?).map_err(|e| {
        LambdaError::new(
            ErrorType::ValidationError,
            format!("not an SES receipt event: {e}"),
        )
    })?;
    if event.records.is_empty() {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            "SES event has no records",
        ));
    }
    event
        .records
        .into_iter()
        .map(|r| {
            let (mail, receipt) = (r.ses.mail, r.ses.receipt);
            let ses_message_id = mail
                .message_id
                .filter(|id| {
                    !id.is_empty()
                        && id
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                })
                .ok_or_else(|| {
                    LambdaError::new(
                        ErrorType::ValidationError,
                        "SES record has no usable mail.messageId",
                    )
                })?;
            Ok(Delivery {
                ses_message_id,
                recipients: receipt.recipients,
                verdicts: Some(SesVerdicts {
                    spam: verdict(&receipt.spam_verdict),
                    virus: verdict(&receipt.virus_verdict),
                    spf: verdict(&receipt.spf_verdict),
                    dkim: verdict(&receipt.dkim_verdict),
                    dmarc: verdict(&receipt.dmarc_verdict),
                }),
                subject: mail.common_headers.subject,
                from: mail.common_headers.from.into_iter().next(),
                received_at: receipt.timestamp,
                object: match (
                    receipt.action.type_.as_deref(),
                    receipt.action.bucket_name,
                    receipt.action.object_key,
                ) {
                    (Some("S3"), Some(bucket), Some(key)) => Some((bucket, key)),
                    _ => None,
                },
            })
        })
        .collect()
}

pub async fn handle<M, T, V, R, N, W>(
    deps: &Deps<M, T, V, R, N, W>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<Response, LambdaError>
where
    M: RawMailStore,
    T: TicketStore,
    V: TransientStore,
    R: AccountRegistry,
    N: Notifier,
    W: WorkflowWaits,
{
    let deliveries = deliveries(event.payload)?;
    let correlation = deliveries
        .first()
        .map(|d| d.ses_message_id.clone())
        .unwrap_or_default();
    let span =
        rootwarden_bootstrap::telemetry::invocation_span(&event.context.request_id, &correlation);
    let actor = event.context.invoked_function_arn.clone();
    async move {
        let use_case = inbound::Deps {
            mail: &deps.mail,
            tickets: &deps.tickets,
            vault: &deps.vault,
            registry: &deps.registry,
            notifier: &deps.notifier,
            waits: &deps.waits,
            actor: &actor,
            max_bytes: deps.max_bytes,
        };
        let mut processed = Vec::with_capacity(deliveries.len());
        for d in &deliveries {
            processed.push(inbound::process(&use_case, d).await.inspect_err(|e| {
                tracing::error!(ses_message_id = %d.ses_message_id, error_type = %e.error_type, error = %e.message, "inbound mail failed");
            })?);
        }
        Ok(Response { processed })
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn ses_lambda_event_becomes_a_delivery() {
        let d = deliveries(fixture("ses-lambda-event.json")).unwrap();
        assert_eq!(d.len(), 1);
        let d = &d[0];
        assert_eq!(d.ses_message_id, "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1");
        assert_eq!(d.recipients, vec!["acme-prod@root.provider.example"]);
        assert_eq!(
            d.subject.as_deref(),
            Some("Amazon Web Services Password Assistance")
        );
        let v = d.verdicts.unwrap();
        assert_eq!(
            (v.spam, v.virus, v.dkim, v.dmarc),
            (Verdict::Pass, Verdict::Pass, Verdict::Pass, Verdict::Pass)
        );
        assert_eq!(d.received_at.to_rfc3339(), "2026-11-24T09:30:02.028+00:00");
    }

    fn sns_wrapped(notification: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(format!(
            "{}/../../tests/fixtures/ses/{notification}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        serde_json::json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": text}}]})
    }

    #[test]
    fn s3_action_shapes_carry_the_object_they_name() {
        let shared = |f: &str| -> serde_json::Value {
            serde_json::from_str(
                &std::fs::read_to_string(format!(
                    "{}/../../tests/fixtures/ses/{f}",
                    env!("CARGO_MANIFEST_DIR")
                ))
                .unwrap(),
            )
            .unwrap()
        };
        let want = Some((
            "rootwarden-inbound-mail-123456789012-us-east-1".to_owned(),
            "inbound/q4r812rmjf6jst75o67cpynh31kwip41dch3gp42".to_owned(),
        ));
        let record = deliveries(shared("s3-action-event.json")).unwrap();
        assert_eq!(record[0].object, want);
        let via_sns = deliveries(sns_wrapped("s3-action-sns-notification.json")).unwrap();
        assert_eq!(via_sns[0].object, want);
        assert_eq!(via_sns[0].ses_message_id, record[0].ses_message_id);
        assert_eq!(via_sns[0].recipients, record[0].recipients);
        // The Lambda-action event names no object: the configured prefix applies.
        assert_eq!(
            deliveries(shared("lambda-event.json")).unwrap()[0].object,
            None
        );
        // Verdicts come through: the FAIL sample quarantines downstream.
        let fail = deliveries(shared("lambda-event-verdict-fail.json")).unwrap();
        let v = fail[0].verdicts.unwrap();
        assert_eq!((v.spam, v.dmarc), (Verdict::Fail, Verdict::Fail));
    }

    #[test]
    fn bad_events_are_validation_errors() {
        let mut no_id = fixture("ses-lambda-event.json");
        no_id["Records"][0]["ses"]["mail"]["messageId"] = serde_json::Value::Null;
        let mut traversal = fixture("ses-lambda-event.json");
        traversal["Records"][0]["ses"]["mail"]["messageId"] = "../../etc/passwd".into();
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"Records": []}),
            serde_json::json!([1, 2]),
            no_id,
            traversal,
            serde_json::json!({"Records": [{"Sns": {"Message": "not json"}}]}),
            serde_json::json!({"Records": [{"Sns": {"Message": "{\"mail\": 1}"}}]}),
        ] {
            let err = deliveries(bad).unwrap_err();
            assert_eq!(err.error_type, ErrorType::ValidationError, "{err}");
        }
    }
}
