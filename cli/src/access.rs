//! `rootwarden access`: break-glass access to root credentials, through the access function's
//! URL with SigV4-signed requests (`signed_http`). The caller is whoever AWS authenticates the
//! signature as; the policy is the function's.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use rootwarden::access::{AccessRequest, ROTATION_APPLY};
use rootwarden::AccountId;
use serde_json::{json, Value};

use crate::signed_http::SignedClient;

#[derive(Subcommand)]
pub enum AccessCommand {
    /// Ask for root access to an account: a reason from the policy and a ticket reference.
    Request {
        #[arg(long)]
        account: AccountId,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        ticket: String,
        /// e.g. 30m, 2h (default: the reason's maximum).
        #[arg(long, value_parser = parse_minutes)]
        duration: Option<u32>,
    },
    /// Approve someone else's request.
    Approve { request: String },
    /// Deny a request.
    Deny {
        request: String,
        #[arg(long, default_value = "denied")]
        reason: String,
    },
    /// Check out an approved request (requester only, once): shows the root password, the
    /// current TOTP code and any unexpired reset link; marks the account for rotation.
    Checkout { request: String },
    /// Check in a check-out.
    Checkin { request: String },
    /// End a request or check-out (admins).
    Revoke {
        request: String,
        #[arg(long)]
        reason: String,
    },
    /// Automatic check-in of check-outs past their end (what the scheduled job does).
    Expire,
    /// Show one request.
    Show { request: String },
    /// List requests (newest first).
    List {
        #[arg(long)]
        account: Option<AccountId>,
        #[arg(long)]
        json: bool,
    },
}

fn parse_minutes(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u32 = n
        .parse()
        .map_err(|_| format!("{s:?}: use e.g. 30m or 2h"))?;
    match unit {
        "" | "m" | "min" => Ok(n),
        "h" => n.checked_mul(60).ok_or_else(|| "too long".to_owned()),
        _ => Err(format!("{s:?}: use e.g. 30m or 2h")),
    }
}

/// The access function's URL from `ROOTWARDEN_ACCESS_URL` (the stack output `AccessFunctionUrl`;
/// local provisioning writes it into `.local/env`).
async fn client() -> anyhow::Result<SignedClient> {
    let var = rootwarden::config::vars::ACCESS_URL;
    let url = std::env::var(var).with_context(|| {
        format!("{var} is not set: the access function URL (stack output AccessFunctionUrl)")
    })?;
    SignedClient::new(&url).await
}

async fn call(client: &SignedClient, body: Value) -> anyhow::Result<Value> {
    client.post(&body).await?.ok()
}

fn request_of(v: &Value) -> anyhow::Result<AccessRequest> {
    serde_json::from_value(v.clone()).context("the access function answered an unexpected shape")
}

fn text<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn summary(r: &AccessRequest) -> String {
    format!(
        "{}  {}  account {}  {}  reason {}  ticket {}  {} min  requester {}{}",
        r.id,
        r.status.as_str(),
        r.account_id,
        r.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
        r.reason,
        r.ticket,
        r.duration_minutes,
        r.requester,
        r.expires_at
            .map(|e| format!("  until {}", e.format("%Y-%m-%dT%H:%M:%SZ")))
            .unwrap_or_default()
    )
}

/// Every command is a SigV4-signed call to the access function URL: the server decides who the
/// caller is (AWS's authentication) and what the policy allows.
pub async fn run(cmd: AccessCommand) -> anyhow::Result<ExitCode> {
    let client = client().await?;
    match cmd {
        AccessCommand::Request {
            account,
            reason,
            ticket,
            duration,
        } => {
            let v = call(
                &client,
                json!({"action": "request", "account_id": account.as_str(), "reason": reason,
                       "ticket": ticket, "duration_minutes": duration}),
            )
            .await?;
            let r = request_of(&v)?;
            println!("{}", r.id);
            eprintln!("{}", summary(&r));
            if let Some(t) = &r.review_ticket {
                eprintln!("self-service: approved now; review ticket {t}");
            } else {
                eprintln!(
                    "needs {} approval(s) by someone else: rootwarden access approve {}",
                    v.get("approvals_required")
                        .and_then(Value::as_u64)
                        .unwrap_or(1),
                    r.id
                );
            }
        }
        AccessCommand::Approve { request } => {
            let v = call(&client, json!({"action": "approve", "request_id": request})).await?;
            println!("{}", summary(&request_of(&v)?));
        }
        AccessCommand::Deny { request, reason } => {
            let v = call(
                &client,
                json!({"action": "deny", "request_id": request, "note": reason}),
            )
            .await?;
            println!("{}", summary(&request_of(&v)?));
        }
        AccessCommand::Checkout { request } => {
            let out = call(
                &client,
                json!({"action": "checkout", "request_id": request}),
            )
            .await?;
            let r = request_of(out.get("request").unwrap_or(&Value::Null))?;
            println!("{}", summary(&r));
            println!(
                "root password (v{}):  {}",
                out.get("password_version")
                    .and_then(Value::as_u64)
                    .unwrap_or_default(),
                text(&out, "password")
            );
            if let Some(p) = out.get("pending").filter(|p| !p.is_null()) {
                println!(
                    "pending password (v{}) to set:  {}",
                    p.get("version").and_then(Value::as_u64).unwrap_or_default(),
                    text(p, "password")
                );
            }
            match out.get("totp").filter(|t| !t.is_null()) {
                Some(t) => println!(
                    "TOTP code:  {}  (valid {} s more)",
                    text(t, "code"),
                    t.get("valid_for_seconds")
                        .and_then(Value::as_u64)
                        .unwrap_or_default()
                ),
                None => println!("TOTP code:  none (no MFA seed vaulted)"),
            }
            for link in out
                .get("reset_links")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                println!(
                    "password reset link:  {}",
                    link.as_str().unwrap_or_default()
                );
            }
            eprintln!(
                "shown once. Check in when done: rootwarden access checkin {}{}",
                r.id,
                if r.reason == ROTATION_APPLY {
                    ""
                } else {
                    "; the account rotates its root password next"
                }
            );
        }
        AccessCommand::Checkin { request } => {
            let v = call(&client, json!({"action": "checkin", "request_id": request})).await?;
            println!("{}", summary(&request_of(&v)?));
        }
        AccessCommand::Revoke { request, reason } => {
            let v = call(
                &client,
                json!({"action": "revoke", "request_id": request, "note": reason}),
            )
            .await?;
            println!("{}", summary(&request_of(&v)?));
        }
        AccessCommand::Expire => {
            let report = call(&client, json!({"action": "expire"})).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        AccessCommand::Show { request } => {
            let v = call(&client, json!({"action": "show", "request_id": request})).await?;
            println!("{}", serde_json::to_string_pretty(&request_of(&v)?)?);
        }
        AccessCommand::List { account, json } => {
            let v = call(
                &client,
                json!({"action": "list", "account_id": account.as_ref().map(AccountId::as_str)}),
            )
            .await?;
            let all: Vec<AccessRequest> = serde_json::from_value(v)
                .context("the access function answered an unexpected shape")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for r in &all {
                    println!("{}", summary(r));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_minutes;

    #[test]
    fn durations() {
        assert_eq!(parse_minutes("30m"), Ok(30));
        assert_eq!(parse_minutes("45"), Ok(45));
        assert_eq!(parse_minutes("2h"), Ok(120));
        assert!(parse_minutes("2d").is_err());
        assert!(parse_minutes("m").is_err());
    }
}
