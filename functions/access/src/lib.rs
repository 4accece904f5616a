//! `access`: break-glass access over HTTPS. Behind a Lambda function URL with `AWS_IAM` auth,
//! so the caller is the SigV4-authenticated principal AWS puts in
//! `requestContext.authorizer.iam.userArn`, never anything in the body. The same function is
//! the scheduled automatic check-in (EventBridge Scheduler invokes it with `{}`).
//!
//! Function URL body (JSON), by `action`:
//! - `{"action": "request", "account_id", "reason", "ticket", "duration_minutes"?}`
//! - `{"action": "approve" | "checkout" | "checkin" | "show", "request_id"}`
//! - `{"action": "deny" | "revoke", "request_id", "note"}`
//!
//! Responses are JSON with an HTTP status: 200, or `{"error_type", "message"}` with 400
//! (`ValidationError`), 403 (`AccessDenied`), 404 (`NotFound`), 409 (`Conflict`), 503
//! (`AuditWriteFailed`, `TransientAwsError`: nothing was done, retry) or 500. A `checkout`
//! response holds the secrets, for the requester only; nothing of it is logged.
//!
//! Scheduled input `{}` or null: expires every check-out past its end. Output: the expiry
//! report; errors (`error_type`): `TransientAwsError`, `AwsError`, `AuditWriteFailed` (any
//! check-out that could not be expired, after trying all).

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use lambda_runtime::LambdaEvent;
use rootwarden::access::{self, Deps, NewRequest};
use rootwarden::{AccountId, ErrorType, LambdaError};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::Instrument;

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ApiRequest {
    Request {
        account_id: String,
        reason: String,
        ticket: String,
        #[serde(default)]
        duration_minutes: Option<u32>,
    },
    Approve {
        request_id: String,
    },
    Deny {
        request_id: String,
        note: String,
    },
    Checkout {
        request_id: String,
    },
    Checkin {
        request_id: String,
    },
    Revoke {
        request_id: String,
        note: String,
    },
    Show {
        request_id: String,
    },
}

fn validation(msg: impl Into<String>) -> LambdaError {
    LambdaError::new(ErrorType::ValidationError, msg)
}

/// The authenticated caller and the parsed body of a function URL request.
pub fn parse_url_request(event: Value) -> Result<(String, ApiRequest), LambdaError> {
    let req: LambdaFunctionUrlRequest = serde_json::from_value(event)
        .map_err(|e| validation(format!("not a function URL request: {e}")))?;
    let caller = req
        .request_context
        .authorizer
        .and_then(|a| a.iam)
        .and_then(|iam| iam.user_arn)
        .filter(|arn| arn.starts_with("arn:"))
        .ok_or_else(|| {
            LambdaError::new(
                ErrorType::AccessDenied,
                "no IAM-authenticated caller: the function URL must use AWS_IAM auth",
            )
        })?;
    let body = req.body.unwrap_or_default();
    let body = if req.is_base64_encoded {
        let bytes = aws_smithy_types::base64::decode(&body)
            .map_err(|e| validation(format!("body is not base64: {e}")))?;
        String::from_utf8(bytes).map_err(|_| validation("body is not UTF-8"))?
    } else {
        body
    };
    let api: ApiRequest =
        serde_json::from_str(&body).map_err(|e| validation(format!("bad request body: {e}")))?;
    Ok((caller, api))
}

pub fn status_of(e: ErrorType) -> u16 {
    match e {
        ErrorType::ValidationError => 400,
        ErrorType::AccessDenied => 403,
        ErrorType::NotFound => 404,
        ErrorType::Conflict => 409,
        ErrorType::AuditWriteFailed | ErrorType::TransientAwsError => 503,
        _ => 500,
    }
}

fn response(status: u16, body: Value) -> Value {
    json!({
        "statusCode": status,
        "headers": {"content-type": "application/json", "cache-control": "no-store"},
        "body": body.to_string(),
        "isBase64Encoded": false,
    })
}

async fn dispatch(deps: &Deps, caller: &str, api: ApiRequest) -> Result<Value, LambdaError> {
    let to_json = |r: &access::AccessRequest| serde_json::to_value(r).unwrap_or(Value::Null);
    Ok(match api {
        ApiRequest::Request {
            account_id,
            reason,
            ticket,
            duration_minutes,
        } => {
            let account = AccountId::parse(&account_id).map_err(|e| validation(e.to_string()))?;
            let r = access::request(
                deps,
                caller,
                NewRequest {
                    account,
                    reason,
                    ticket,
                    duration_minutes,
                },
            )
            .await?;
            to_json(&r)
        }
        ApiRequest::Approve { request_id } => {
            to_json(&access::approve(deps, caller, &request_id).await?)
        }
        ApiRequest::Deny { request_id, note } => {
            to_json(&access::deny(deps, caller, &request_id, &note).await?)
        }
        ApiRequest::Checkin { request_id } => {
            to_json(&access::checkin(deps, caller, &request_id).await?)
        }
        ApiRequest::Revoke { request_id, note } => {
            to_json(&access::revoke(deps, caller, &request_id, &note).await?)
        }
        ApiRequest::Show { request_id } => {
            let r = access::get(deps, &request_id).await?.ok_or_else(|| {
                LambdaError::new(
                    ErrorType::NotFound,
                    format!("access request {request_id} does not exist"),
                )
            })?;
            if r.requester != caller && deps.policy.roles_of(caller).is_empty() {
                return Err(LambdaError::new(ErrorType::AccessDenied, "not authorized"));
            }
            to_json(&r)
        }
        ApiRequest::Checkout { request_id } => {
            let out = access::checkout(deps, caller, &request_id).await?;
            json!({
                "request": to_json(&out.request),
                "password_version": out.password_version,
                "password": out.password.expose_secret(),
                "pending": out.pending.as_ref().map(|(v, p)| json!({"version": v, "password": p.expose_secret()})),
                "totp": out.totp.as_ref().map(|t| json!({"code": t.code.expose_secret(), "valid_for_seconds": t.valid_for_seconds})),
                "reset_links": out.reset_links.iter().map(|l| l.expose_secret().to_owned()).collect::<Vec<_>>(),
            })
        }
    })
}

/// A function URL request → an HTTP response (errors included: they are answers, not failures
/// of the function).
pub async fn handle_url(deps: &Deps, event: Value) -> Value {
    let (caller, api) = match parse_url_request(event) {
        Ok(x) => x,
        Err(e) => {
            return response(
                status_of(e.error_type),
                json!({"error_type": e.error_type, "message": e.message}),
            )
        }
    };
    match dispatch(deps, &caller, api).await {
        Ok(body) => response(200, body),
        Err(e) => response(
            status_of(e.error_type),
            json!({"error_type": e.error_type, "message": e.message}),
        ),
    }
}

/// The scheduled automatic check-in.
pub async fn expire(deps: &Deps, payload: &Value, actor: &str) -> Result<Value, LambdaError> {
    if !(payload.is_null() || payload.as_object().is_some_and(|o| o.is_empty())) {
        return Err(validation(
            "expected a function URL request, or {} from the schedule",
        ));
    }
    let report = access::expire_due(deps, actor).await?;
    if let Some((id, e)) = report.failed.first() {
        return Err(LambdaError::new(
            ErrorType::AwsError,
            format!(
                "{} check-outs could not be expired (first: {id}: {e})",
                report.failed.len()
            ),
        ));
    }
    serde_json::to_value(&report)
        .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))
}

/// `actor` names this function in the audit records of the scheduled expiry.
pub async fn handle(
    deps: &Deps,
    actor: &str,
    event: LambdaEvent<Value>,
) -> Result<Value, LambdaError> {
    let request_id = event.context.request_id.clone();
    let span = rootwarden::telemetry::invocation_span(&request_id, &request_id);
    async move {
        if event.payload.get("requestContext").is_some() {
            Ok(handle_url(deps, event.payload).await)
        } else {
            expire(deps, &event.payload, actor).await
        }
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_caller_comes_from_the_iam_request_context() {
        let (caller, api) = parse_url_request(fixture("url-request.json")).unwrap();
        assert_eq!(caller, "arn:aws:iam::111122223333:user/alice");
        assert!(matches!(api, ApiRequest::Request { ref reason, .. } if reason == "billing-issue"));
        let (_, api) = parse_url_request(fixture("url-checkout-base64.json")).unwrap();
        assert!(
            matches!(api, ApiRequest::Checkout { ref request_id } if request_id == "AR-20261124-0a1b2c3d4e")
        );
    }

    #[test]
    fn a_body_cannot_name_the_caller_and_no_iam_means_no_access() {
        let mut e = fixture("url-request.json");
        e["body"] = json!(
            r#"{"action":"approve","request_id":"AR-1","caller":"arn:aws:iam::111122223333:user/boss"}"#
        );
        assert_eq!(
            parse_url_request(e).unwrap_err().error_type,
            ErrorType::ValidationError
        );
        let mut e = fixture("url-request.json");
        e["requestContext"]["authorizer"] = Value::Null;
        assert_eq!(
            parse_url_request(e).unwrap_err().error_type,
            ErrorType::AccessDenied
        );
    }

    #[test]
    fn bad_bodies_are_named() {
        for body in [
            "",
            "{}",
            r#"{"action":"explode"}"#,
            r#"{"action":"approve"}"#,
        ] {
            let mut e = fixture("url-request.json");
            e["body"] = json!(body);
            assert_eq!(
                parse_url_request(e).unwrap_err().error_type,
                ErrorType::ValidationError,
                "{body}"
            );
        }
    }

    #[test]
    fn statuses() {
        assert_eq!(status_of(ErrorType::AccessDenied), 403);
        assert_eq!(status_of(ErrorType::Conflict), 409);
        assert_eq!(status_of(ErrorType::AuditWriteFailed), 503);
    }
}
