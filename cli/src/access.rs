//! `rootwarden access`: break-glass access to root credentials. The caller is whoever AWS says
//! the credentials belong to (STS GetCallerIdentity).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Subcommand;
use rootwarden::access::{self, AccessRequest, Deps, NewRequest};
use rootwarden::{AccountId, Config, SystemClock};
use secrecy::ExposeSecret;

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

async fn deps() -> anyhow::Result<(Deps, String)> {
    let config = Config::from_env()?;
    let sdk = rootwarden::aws::load_sdk_config().await;
    let caller = rootwarden::aws::caller_arn(&aws_sdk_sts::Client::new(&sdk))
        .await
        .context("identifying the caller (sts:GetCallerIdentity)")?;
    let deps = Deps::new(
        &config,
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_kms::Client::new(&sdk),
        Arc::new(SystemClock),
    )?
    .with_executions(aws_sdk_sfn::Client::new(&sdk));
    Ok((deps, caller))
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

pub async fn run(cmd: AccessCommand) -> anyhow::Result<ExitCode> {
    let (deps, caller) = deps().await?;
    match cmd {
        AccessCommand::Request {
            account,
            reason,
            ticket,
            duration,
        } => {
            let r = access::request(
                &deps,
                &caller,
                NewRequest {
                    account,
                    reason,
                    ticket,
                    duration_minutes: duration,
                },
            )
            .await?;
            println!("{}", r.id);
            eprintln!("{}", summary(&r));
            if let Some(t) = &r.review_ticket {
                eprintln!("self-service: approved now; review ticket {t}");
            } else {
                eprintln!(
                    "needs {} approval(s) by someone else: rootwarden access approve {}",
                    deps.policy.approvals_required, r.id
                );
            }
        }
        AccessCommand::Approve { request } => {
            let r = access::approve(&deps, &caller, &request).await?;
            println!("{}", summary(&r));
        }
        AccessCommand::Deny { request, reason } => {
            let r = access::deny(&deps, &caller, &request, &reason).await?;
            println!("{}", summary(&r));
        }
        AccessCommand::Checkout { request } => {
            let out = access::checkout(&deps, &caller, &request).await?;
            let r = &out.request;
            println!("{}", summary(r));
            println!(
                "root password (v{}):  {}",
                out.password_version,
                out.password.expose_secret()
            );
            if let Some((v, p)) = &out.pending {
                println!("pending password (v{v}) to set:  {}", p.expose_secret());
            }
            match &out.totp {
                Some(code) => println!(
                    "TOTP code:  {}  (valid {} s more)",
                    code.code.expose_secret(),
                    code.valid_for_seconds
                ),
                None => println!("TOTP code:  none (no MFA seed vaulted)"),
            }
            for link in &out.reset_links {
                println!("password reset link:  {}", link.expose_secret());
            }
            eprintln!(
                "shown once. Check in when done: rootwarden access checkin {}{}",
                r.id,
                if r.reason == access::ROTATION_APPLY {
                    ""
                } else {
                    "; the account rotates its root password next"
                }
            );
        }
        AccessCommand::Checkin { request } => {
            let r = access::checkin(&deps, &caller, &request).await?;
            println!("{}", summary(&r));
        }
        AccessCommand::Revoke { request, reason } => {
            let r = access::revoke(&deps, &caller, &request, &reason).await?;
            println!("{}", summary(&r));
        }
        AccessCommand::Expire => {
            let report = access::expire_due(&deps, &caller).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        AccessCommand::Show { request } => match access::get(&deps, &request).await? {
            Some(r) => println!("{}", serde_json::to_string_pretty(&r)?),
            None => anyhow::bail!("access request {request} does not exist"),
        },
        AccessCommand::List { account, json } => {
            let all = access::list(&deps, account.as_ref()).await?;
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
