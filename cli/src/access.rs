//! `rootwarden access`: break-glass access to root credentials, through the access function's
//! URL with SigV4-signed requests (`signed_http`). The caller is whoever AWS authenticates the
//! signature as; the policy is the function's.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use rootwarden::access::{AccessRequest, ROTATION_APPLY, TAKEOVER};
use rootwarden::AccountId;
use serde_json::{json, Value};

use crate::context::Context;
use crate::duration;
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
        /// Whole minutes, e.g. 30m, 2h (default: the reason's maximum).
        #[arg(long, value_parser = duration::minutes)]
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
    },
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

/// Prints one request: its summary line, or (`--output json`) the function's answer.
fn print_request(ctx: &Context, answer: &Value) -> anyhow::Result<()> {
    if ctx.json() {
        return ctx.print_json(answer);
    }
    println!("{}", summary(&request_of(answer)?));
    Ok(())
}

/// Every command is a SigV4-signed call to the access function URL: the server decides who the
/// caller is (AWS's authentication) and what the policy allows.
pub async fn run(ctx: &Context, cmd: AccessCommand) -> anyhow::Result<ExitCode> {
    let client = ctx.access().await?;
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
            if ctx.json() {
                return ctx.print_json(&v).map(|()| ExitCode::SUCCESS);
            }
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
            print_request(ctx, &v)?;
        }
        AccessCommand::Deny { request, reason } => {
            let v = call(
                &client,
                json!({"action": "deny", "request_id": request, "note": reason}),
            )
            .await?;
            print_request(ctx, &v)?;
        }
        AccessCommand::Checkout { request } => checkout(ctx, &client, &request).await?,
        AccessCommand::Checkin { request } => {
            let v = call(&client, json!({"action": "checkin", "request_id": request})).await?;
            print_request(ctx, &v)?;
        }
        AccessCommand::Revoke { request, reason } => {
            let v = call(
                &client,
                json!({"action": "revoke", "request_id": request, "note": reason}),
            )
            .await?;
            print_request(ctx, &v)?;
        }
        AccessCommand::Expire => {
            let report = {
                let _progress = ctx.progress("checking in every check-out past its end");
                call(&client, json!({"action": "expire"})).await?
            };
            // The report is JSON in both outputs.
            ctx.print_json(&report)?;
        }
        AccessCommand::Show { request } => {
            let v = call(&client, json!({"action": "show", "request_id": request})).await?;
            // The whole request, as JSON in both outputs.
            ctx.print_json(&request_of(&v)?)?;
        }
        AccessCommand::List { account } => {
            let v = call(
                &client,
                json!({"action": "list", "account_id": account.as_ref().map(AccountId::as_str)}),
            )
            .await?;
            let all: Vec<AccessRequest> = serde_json::from_value(v)
                .context("the access function answered an unexpected shape")?;
            if ctx.json() {
                ctx.print_json(&all)?;
            } else {
                for r in &all {
                    println!("{}", summary(r));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `access checkout`: the secrets on stdout, once; the reminder to check in on stderr.
async fn checkout(ctx: &Context, client: &SignedClient, request: &str) -> anyhow::Result<()> {
    let out = call(client, json!({"action": "checkout", "request_id": request})).await?;
    let r = request_of(out.get("request").unwrap_or(&Value::Null))?;
    if ctx.json() {
        return ctx.print_json(&out);
    }
    println!("{}", summary(&r));
    match (
        out.get("password_version").and_then(Value::as_u64),
        out.get("password").and_then(Value::as_str),
    ) {
        (Some(v), Some(p)) => println!("root password (v{v}):  {p}"),
        // An account being taken over has none vaulted yet: the pending one is set by reset.
        _ => println!("root password:  none vaulted yet"),
    }
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
        if r.reason == ROTATION_APPLY || r.reason == TAKEOVER {
            ""
        } else {
            "; the account rotates its root password next"
        }
    );
    Ok(())
}
