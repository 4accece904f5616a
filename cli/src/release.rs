//! `rootwarden release`: giving up custody of an account (`docs/release.md`). Opening,
//! approving and denying a release are access requests with reason `release`, through the
//! access function's URL (SigV4, like `rootwarden access`): the function checks both people as
//! AWS authenticates them, and the approval by someone other than the requester starts the
//! exit's workflow. Following, cancelling, relaying the customer's code and the certificate
//! act on the release itself ([`crate::release_custody`]).

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use rootwarden::access::release::RELEASE_REASON;
use rootwarden::access::AccessRequest;
use rootwarden::AccountId;
use serde_json::{json, Value};

use crate::context::Context;
use crate::duration;
use crate::release_custody::{self, CertificateCommand};
use crate::signed_http::SignedClient;

/// What every release request names.
#[derive(clap::Args)]
pub struct Ask {
    #[arg(long)]
    account: AccountId,
    /// The access reason (from the access policy); a release request needs `release`.
    #[arg(long, default_value = RELEASE_REASON)]
    reason: String,
    /// The change or incident ticket that justifies it.
    #[arg(long)]
    ticket: String,
    /// How long the approval is meant for, e.g. 4h (default: the reason's maximum). A release
    /// is never checked out.
    #[arg(long, value_parser = duration::minutes)]
    duration: Option<u32>,
}

/// The customer who receives the account.
#[derive(clap::Args)]
pub struct CustomerArgs {
    /// The primary contact's phone, E.164 (+ and 7 to 15 digits).
    #[arg(long)]
    customer_phone: String,
    /// The name on the primary and alternate contacts (default: the account's name); at most 50
    /// printable characters.
    #[arg(long)]
    customer_name: Option<String>,
}

#[derive(Subcommand)]
pub enum ReleaseCommand {
    /// Ask to close the account (organizations:CloseAccount). Needs another person's approval
    /// (`release approve`); refused unless the account is active. After closure the vault is
    /// sealed, and crypto-shredded after AWS's 90-day reinstatement window.
    Close {
        #[command(flatten)]
        ask: Ask,
    },
    /// Ask to hand the account back to the customer: root email changed to theirs (they relay
    /// AWS's code with `release otp`), contacts set, our root credentials removed, vault shredded.
    /// Needs another person's approval; refused unless the account is active.
    Handback {
        #[command(flatten)]
        ask: Ask,
        /// The customer's address: the account's new root email.
        #[arg(long)]
        customer_email: String,
        #[command(flatten)]
        customer: CustomerArgs,
    },
    /// Ask to transfer the account to the customer's organization (they invite it; the release
    /// accepts), after the same hand-over as a hand-back. Needs another person's approval;
    /// refused unless the account is active, in our organization 7 days or more, and not
    /// enrolled in Control Tower.
    Transfer {
        #[command(flatten)]
        ask: Ask,
        /// The customer's organization (o-...): the only inviter accepted.
        #[arg(long)]
        customer_org: String,
        /// The account's new root email (required unless --keep-email).
        #[arg(long, conflicts_with = "keep_email")]
        customer_email: Option<String>,
        /// Keep our root address (recorded; no email change).
        #[arg(long)]
        keep_email: bool,
        #[command(flatten)]
        customer: CustomerArgs,
    },
    /// Approve someone else's release request: its workflow starts now. Refused for your own
    /// request (any session of the same person). If the start failed, approving it again
    /// starts it (never twice).
    Approve {
        #[arg(long)]
        request: String,
    },
    /// Deny a release request (an approver other than the requester, or an admin), before its
    /// workflow began.
    Deny {
        #[arg(long)]
        request: String,
        #[arg(long, default_value = "denied")]
        note: String,
    },
    /// Where the account's release is: exit, step, execution, what it waits for, whether it
    /// can still be cancelled.
    Status {
        #[arg(long)]
        account: AccountId,
    },
    /// Cancel the account's release and restore custody. Refused after the point of no return
    /// (closure requested, root email accepted, contacts handed over with --keep-email).
    Cancel {
        #[arg(long)]
        account: AccountId,
    },
    /// Relay the verification code AWS mailed to the customer (read from stdin, never shown);
    /// completes the hand-over's wait for it. Refused when no release of the account waits for
    /// a code or the code is not AWS's shape.
    Otp {
        #[arg(long)]
        account: AccountId,
    },
    /// The handover certificate: get it, get the public key, verify it offline.
    #[command(subcommand)]
    Certificate(CertificateCommand),
}

async fn call(client: &SignedClient, body: Value) -> anyhow::Result<Value> {
    client.post(&body).await?.ok()
}

fn request_of(v: &Value) -> anyhow::Result<AccessRequest> {
    serde_json::from_value(v.clone()).context("the access function answered an unexpected shape")
}

fn summary(r: &AccessRequest) -> String {
    format!(
        "{}  {}  account {}  {}  ticket {}  requester {}",
        r.id,
        r.status.as_str(),
        r.account_id,
        r.release
            .as_ref()
            .map_or("no release terms", |t| t.exit.as_str()),
        r.ticket,
        r.requester,
    )
}

/// The request body of `release close|handback|transfer`.
fn ask_body(ask: &Ask, release: Value) -> Value {
    json!({"action": "request", "account_id": ask.account.as_str(), "reason": ask.reason,
           "ticket": ask.ticket, "duration_minutes": ask.duration, "release": release})
}

fn customer(c: &CustomerArgs, email: Option<&str>) -> Value {
    json!({"email": email, "phone": c.customer_phone, "name": c.customer_name})
}

/// The body each opening command sends (the function validates the terms).
fn opening(cmd: &ReleaseCommand) -> Option<Value> {
    Some(match cmd {
        ReleaseCommand::Close { ask } => ask_body(ask, json!({"exit": "close"})),
        ReleaseCommand::Handback {
            ask,
            customer_email,
            customer: c,
        } => ask_body(
            ask,
            json!({"exit": "handback", "customer": customer(c, Some(customer_email))}),
        ),
        ReleaseCommand::Transfer {
            ask,
            customer_org,
            customer_email,
            keep_email,
            customer: c,
        } => ask_body(
            ask,
            json!({"exit": "transfer", "customer_org": customer_org, "keep_email": keep_email,
                   "customer": customer(c, customer_email.as_deref())}),
        ),
        _ => return None,
    })
}

pub async fn run(ctx: &Context, cmd: ReleaseCommand) -> anyhow::Result<ExitCode> {
    if let Some(body) = opening(&cmd) {
        let client = ctx.access().await?;
        let v = call(&client, body).await?;
        let r = request_of(&v)?;
        if ctx.json() {
            return ctx.print_json(&v).map(|()| ExitCode::SUCCESS);
        }
        println!("{}", r.id);
        eprintln!("{}", summary(&r));
        eprintln!(
            "needs {} approval(s) by someone else: rootwarden release approve --request {}",
            v.get("approvals_required")
                .and_then(Value::as_u64)
                .unwrap_or(1),
            r.id
        );
        return Ok(ExitCode::SUCCESS);
    }
    match cmd {
        ReleaseCommand::Approve { request } => {
            let client = ctx.access().await?;
            let v = call(&client, json!({"action": "approve", "request_id": request})).await?;
            if ctx.json() {
                return ctx.print_json(&v).map(|()| ExitCode::SUCCESS);
            }
            let r = request_of(&v)?;
            println!("{}", summary(&r));
            match v.get("execution").and_then(Value::as_str) {
                Some(e) => eprintln!(
                    "release started: execution {e}\n  follow it with: rootwarden release status --account {}",
                    r.account_id
                ),
                None => eprintln!("recorded your approval; more are needed before it starts"),
            }
        }
        ReleaseCommand::Deny { request, note } => {
            let client = ctx.access().await?;
            let v = call(
                &client,
                json!({"action": "deny", "request_id": request, "note": note}),
            )
            .await?;
            if ctx.json() {
                return ctx.print_json(&v).map(|()| ExitCode::SUCCESS);
            }
            println!("{}", summary(&request_of(&v)?));
        }
        ReleaseCommand::Status { account } => return release_custody::status(ctx, &account).await,
        ReleaseCommand::Cancel { account } => return release_custody::cancel(ctx, &account).await,
        ReleaseCommand::Otp { account } => return release_custody::otp(ctx, &account).await,
        ReleaseCommand::Certificate(cmd) => return release_custody::certificate(ctx, cmd).await,
        ReleaseCommand::Close { .. }
        | ReleaseCommand::Handback { .. }
        | ReleaseCommand::Transfer { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: ReleaseCommand,
    }

    fn body(args: &[&str]) -> Value {
        let mut argv = vec!["release"];
        argv.extend_from_slice(args);
        opening(&Cli::try_parse_from(argv).unwrap().cmd).expect("an opening command")
    }

    #[test]
    fn each_exit_sends_its_terms_with_reason_release() {
        let b = body(&["close", "--account", "111122223333", "--ticket", "INC-1"]);
        assert_eq!(
            (&b["action"], &b["reason"], &b["release"]),
            (
                &json!("request"),
                &json!("release"),
                &json!({"exit": "close"})
            )
        );
        let b = body(&[
            "handback",
            "--account",
            "111122223333",
            "--ticket",
            "INC-1",
            "--customer-email",
            "owner@customer.example",
            "--customer-phone",
            "+14155550100",
        ]);
        assert_eq!(
            b["release"],
            json!({"exit": "handback", "customer": {"email": "owner@customer.example",
                   "phone": "+14155550100", "name": null}})
        );
        let b = body(&[
            "transfer",
            "--account",
            "111122223333",
            "--ticket",
            "INC-1",
            "--customer-org",
            "o-abcdef1234",
            "--keep-email",
            "--customer-phone",
            "+14155550100",
            "--customer-name",
            "Customer Ltd",
        ]);
        assert_eq!(b["release"]["keep_email"], json!(true));
        assert_eq!(b["release"]["customer"]["email"], Value::Null);
        assert_eq!(b["release"]["customer"]["name"], json!("Customer Ltd"));
    }

    #[test]
    fn a_customer_email_and_keep_email_exclude_each_other() {
        assert!(Cli::try_parse_from([
            "release",
            "transfer",
            "--account",
            "111122223333",
            "--ticket",
            "INC-1",
            "--customer-org",
            "o-abcdef1234",
            "--keep-email",
            "--customer-email",
            "a@b.example",
            "--customer-phone",
            "+14155550100",
        ])
        .is_err());
        // No code on the command line: otp takes none.
        assert!(
            Cli::try_parse_from(["release", "otp", "--account", "111122223333", "ABC123"]).is_err()
        );
        assert!(Cli::try_parse_from([
            "release",
            "otp",
            "--account",
            "111122223333",
            "--code",
            "X"
        ])
        .is_err());
    }
}
