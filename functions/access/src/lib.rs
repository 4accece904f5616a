//! `access`: break-glass access over HTTPS. Behind a Lambda function URL with `AWS_IAM` auth,
//! so the caller is the SigV4-authenticated principal AWS puts in
//! `requestContext.authorizer.iam` (`userArn`, `userId`), never anything in the body. A session's
//! role is looked up in IAM (`iam:GetRole`, same role id) so policy patterns match its path.
//!
//! It answers function URL requests only: any other event (a schedule's `{}`, a hand-made
//! payload) fails with `ValidationError` before anything is read. The template lets nothing
//! invoke it except through its URL (`lambda:InvokedViaFunctionUrl`); the scheduled automatic
//! check-in is the separate `access-expiry` function.
//!
//! Function URL body (JSON), by `action`:
//! - `{"action": "request", "account_id", "reason", "ticket", "duration_minutes"?, "release"?}`;
//!   `release` (reason `release` only, and required with it): `{"exit": "close" | "handback" |
//!   "transfer", "customer"?: {"email"?, "phone", "name"?}, "customer_org"?, "keep_email"?}`
//! - `{"action": "approve" | "checkout" | "checkin" | "show", "request_id"}`
//! - `{"action": "deny" | "revoke", "request_id", "note"}`
//! - `{"action": "list", "account_id"?}`, `{"action": "expire"}` (anyone the policy names)
//!
//! A `request` answer carries `approvals_required` besides the request. The approval that makes
//! a release request `approved` starts its release execution; the answer names it
//! (`execution`). If the start fails the approval stands (the error says so): approving it again
//! starts it (one execution per request, whatever the retries).
//!
//! Responses are JSON with an HTTP status: 200, or `{"error_type", "message"}` with 400
//! (`ValidationError`), 403 (`AccessDenied`), 404 (`NotFound`), 409 (`Conflict`), 503
//! (`AuditWriteFailed`, `TransientAwsError`: nothing was done, retry) or 500. A `checkout`
//! response holds the secrets, for the requester only; nothing of it is logged.

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use lambda_runtime::LambdaEvent;
use rootwarden::access::identity::{self, RoleDirectory};
use rootwarden::access::release::{execution_name, Customer, Exit, ReleaseTerms};
use rootwarden::access::{self, Caller, Deps, NewRequest};
use rootwarden::{AccountId, ErrorType, LambdaError, RootEmail};
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
        #[serde(default)]
        release: Option<ReleaseBody>,
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
    List {
        #[serde(default)]
        account_id: Option<String>,
    },
    Expire {},
}

/// A release request's terms as sent: unknown fields refused (the core's types are lenient).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseBody {
    pub exit: Exit,
    #[serde(default)]
    pub customer: Option<CustomerBody>,
    #[serde(default)]
    pub customer_org: Option<String>,
    #[serde(default)]
    pub keep_email: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerBody {
    #[serde(default)]
    pub email: Option<RootEmail>,
    pub phone: String,
    #[serde(default)]
    pub name: Option<String>,
}

impl From<ReleaseBody> for ReleaseTerms {
    fn from(b: ReleaseBody) -> Self {
        ReleaseTerms {
            exit: b.exit,
            customer: b.customer.map(|c| Customer {
                email: c.email,
                phone: c.phone,
                name: c.name,
            }),
            customer_org: b.customer_org,
            keep_email: b.keep_email,
        }
    }
}

fn validation(msg: impl Into<String>) -> LambdaError {
    LambdaError::new(ErrorType::ValidationError, msg)
}

/// Whether the event is a function URL (HTTP) request at all. Anything else is not for this
/// function: it never acts on it.
pub fn is_url_request(event: &Value) -> bool {
    event
        .get("requestContext")
        .and_then(|c| c.get("http"))
        .and_then(|h| h.get("method"))
        .is_some_and(Value::is_string)
}

/// The authenticated caller (`userArn`, `userId`) and the parsed body of a function URL request.
pub fn parse_url_request(event: Value) -> Result<((String, String), ApiRequest), LambdaError> {
    let req: LambdaFunctionUrlRequest = serde_json::from_value(event)
        .map_err(|e| validation(format!("not a function URL request: {e}")))?;
    let caller = req
        .request_context
        .authorizer
        .and_then(|a| a.iam)
        .and_then(|iam| {
            let arn = iam.user_arn.filter(|arn| arn.starts_with("arn:"))?;
            Some((arn, iam.user_id.unwrap_or_default()))
        })
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

async fn dispatch(deps: &Deps, who: &Caller, api: ApiRequest) -> Result<Value, LambdaError> {
    let to_json = |r: &access::AccessRequest| serde_json::to_value(r).unwrap_or(Value::Null);
    let caller = who;
    let named = || {
        if deps.policy.roles_of(who).is_empty() {
            Err(LambdaError::new(ErrorType::AccessDenied, "not authorized"))
        } else {
            Ok(())
        }
    };
    Ok(match api {
        ApiRequest::Request {
            account_id,
            reason,
            ticket,
            duration_minutes,
            release,
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
                    release: release.map(ReleaseTerms::from),
                },
            )
            .await?;
            let mut v = to_json(&r);
            v["approvals_required"] = json!(deps.policy.approvals_required);
            v
        }
        ApiRequest::Approve { request_id } => {
            let r = access::approve(deps, caller, &request_id).await?;
            let mut v = to_json(&r);
            if r.release.is_some() && r.status == access::AccessStatus::Approved {
                v["execution"] = json!(execution_name(&r.account_id, &r.id));
            }
            v
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
            if r.requester != who.arn() {
                named()?;
            }
            to_json(&r)
        }
        ApiRequest::List { account_id } => {
            named()?;
            let account = account_id
                .map(|a| AccountId::parse(&a).map_err(|e| validation(e.to_string())))
                .transpose()?;
            serde_json::to_value(access::list(deps, account.as_ref()).await?)
                .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))?
        }
        ApiRequest::Expire {} => {
            named()?;
            serde_json::to_value(access::expire_due(deps, who.arn()).await?)
                .map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))?
        }
        ApiRequest::Checkout { request_id } => {
            let out = access::checkout(deps, caller, &request_id).await?;
            json!({
                "request": to_json(&out.request),
                "password_version": out.password_version,
                "password": out.password.as_ref().map(|p| p.expose_secret().to_owned()),
                "pending": out.pending.as_ref().map(|(v, p)| json!({"version": v, "password": p.expose_secret()})),
                "totp": out.totp.as_ref().map(|t| json!({"code": t.code.expose_secret(), "valid_for_seconds": t.valid_for_seconds})),
                "reset_links": out.reset_links.iter().map(|l| l.expose_secret().to_owned()).collect::<Vec<_>>(),
            })
        }
    })
}

fn error_response(e: &LambdaError) -> Value {
    response(
        status_of(e.error_type),
        json!({"error_type": e.error_type, "message": e.message}),
    )
}

/// A function URL request → an HTTP response (errors included: they are answers, not failures
/// of the function).
pub async fn handle_url(deps: &Deps, roles: &impl RoleDirectory, event: Value) -> Value {
    let ((arn, user_id), api) = match parse_url_request(event) {
        Ok(x) => x,
        Err(e) => return error_response(&e),
    };
    let caller = match identity::resolve(roles, &arn, &user_id).await {
        Ok(c) => c,
        Err(e) => return error_response(&e),
    };
    match dispatch(deps, &caller, api).await {
        Ok(body) => response(200, body),
        Err(e) => response(
            status_of(e.error_type),
            json!({"error_type": e.error_type, "message": e.message}),
        ),
    }
}

/// Function URL requests only; any other event is refused (`ValidationError`), untouched.
pub async fn handle(
    deps: &Deps,
    roles: &impl RoleDirectory,
    event: LambdaEvent<Value>,
) -> Result<Value, LambdaError> {
    let request_id = event.context.request_id.clone();
    let span = rootwarden_bootstrap::telemetry::invocation_span(&request_id, &request_id);
    async move {
        if !is_url_request(&event.payload) {
            return Err(validation(
                "the access function answers function URL requests only (the scheduled \
                 check-in is the access-expiry function)",
            ));
        }
        Ok(handle_url(deps, roles, event.payload).await)
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
        let ((caller, _), api) = parse_url_request(fixture("url-request.json")).unwrap();
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
    fn only_function_url_events_are_requests() {
        assert!(is_url_request(&fixture("url-request.json")));
        assert!(is_url_request(&fixture("url-checkout-base64.json")));
        for other in [
            json!({}),
            Value::Null,
            json!({"requestContext": {"authorizer": {"iam": {"userArn": "arn:aws:iam::1:user/boss"}}}}),
            json!({"action": "approve", "request_id": "AR-1"}),
        ] {
            assert!(!is_url_request(&other), "{other}");
        }
    }

    #[test]
    fn a_release_request_carries_its_terms() {
        let (_, api) = parse_url_request(fixture("url-release-request.json")).unwrap();
        let ApiRequest::Request {
            reason, release, ..
        } = api
        else {
            panic!("not a request");
        };
        assert_eq!(reason, "release");
        let terms = ReleaseTerms::from(release.expect("terms"));
        assert_eq!(terms.exit, Exit::Transfer);
        assert_eq!(terms.customer_org.as_deref(), Some("o-abcdef1234"));
        let c = terms.customer.expect("customer");
        assert_eq!(
            (c.email.as_ref().map(|e| e.as_str()), c.phone.as_str()),
            (Some("owner@customer.example"), "+14155550100")
        );
        assert!(!terms.keep_email);
        // Without terms, a request parses as before.
        let (_, api) = parse_url_request(fixture("url-request.json")).unwrap();
        assert!(matches!(api, ApiRequest::Request { release: None, .. }));
    }

    #[test]
    fn release_terms_are_strict() {
        let request = |release: &str| {
            format!(
                r#"{{"action":"request","account_id":"314159265358","reason":"release","ticket":"INC-1","release":{release}}}"#
            )
        };
        for bad in [
            r#"{"exit":"sell"}"#,
            r#"{"exit":"close","approved_by":"arn:aws:iam::111122223333:user/boss"}"#,
            r#"{"exit":"handback","customer":{"email":"not an email","phone":"+14155550100"}}"#,
            r#"{"exit":"handback","customer":{"phone":"+14155550100","role":"admin"}}"#,
            r#"{"exit":"handback","customer":{"email":"a@b.example"}}"#,
            r#"{"exit":"transfer","keep_email":"yes"}"#,
            r#""close""#,
        ] {
            let mut e = fixture("url-request.json");
            e["body"] = json!(request(bad));
            assert_eq!(
                parse_url_request(e).unwrap_err().error_type,
                ErrorType::ValidationError,
                "{bad}"
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
