//! `rootwarden rotation`: start, follow and decide root password rotations; sweep the due ones.

use std::process::ExitCode;

use rootwarden::rotation::{self, sweep::SweepReport};
use rootwarden::AccountId;
use serde_json::json;

use crate::context::{Actor, Context};
use crate::duration;

#[derive(clap::Subcommand)]
pub enum RotationCommand {
    /// Start a root password rotation now.
    Start {
        #[arg(long)]
        account: AccountId,
        /// Override the apply timeout, e.g. 15m, 24h (at most 30d).
        #[arg(long, value_parser = duration::seconds)]
        apply_timeout: Option<u64>,
    },
    /// Show the vault stages and the account's rotations (never a secret).
    Status {
        #[arg(long)]
        account: AccountId,
    },
    /// Confirm the pending root password was applied: the rotation makes it current.
    Confirm {
        #[arg(long)]
        account: AccountId,
    },
    /// Reject the pending rotation: pending is discarded, current stays.
    Reject {
        #[arg(long)]
        account: AccountId,
        #[arg(long)]
        reason: String,
    },
    /// Start a rotation for every account that is due now (what the scheduled job does).
    /// Exit 1 if any due account could not be started.
    Sweep,
}

pub async fn run(ctx: &Context, cmd: RotationCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RotationCommand::Start {
            account,
            apply_timeout,
        } => {
            let deps = ctx.rotation(Actor::Caller).await?;
            let arn = ctx.config()?.rotation_state_machine()?;
            let name = rotation::start(&deps, arn, &account, apply_timeout).await?;
            if ctx.json() {
                ctx.print_json(&json!({"account_id": account, "execution": name}))?;
            } else {
                println!("started rotation {name} for {account}");
            }
        }
        RotationCommand::Status { account } => {
            let deps = ctx.rotation(Actor::Reader).await?;
            let status = rotation::status(&deps, &account).await?;
            if ctx.json() {
                ctx.print_json(&status)?;
            } else {
                print_status(&status);
            }
        }
        RotationCommand::Confirm { account } => {
            let deps = ctx.rotation(Actor::Caller).await?;
            let r = rotation::confirm(&deps, &account).await?;
            if ctx.json() {
                ctx.print_json(&r)?;
            } else {
                println!(
                    "confirmed rotation {}: pending v{} becomes current",
                    r.execution, r.pending_version
                );
            }
        }
        RotationCommand::Reject { account, reason } => {
            let deps = ctx.rotation(Actor::Caller).await?;
            let r = rotation::reject(&deps, &account, &reason).await?;
            if ctx.json() {
                ctx.print_json(&r)?;
            } else {
                println!(
                    "rejected rotation {}: pending v{} will be discarded, current {} stays",
                    r.execution,
                    r.pending_version,
                    version(r.current_version)
                );
            }
        }
        RotationCommand::Sweep => return sweep(ctx).await,
    }
    Ok(ExitCode::SUCCESS)
}

/// `v<n>`, or `none` when no version is (a takeover's first password is pending).
fn version(v: Option<u32>) -> String {
    v.map(|v| format!("v{v}")).unwrap_or_else(|| "none".into())
}

fn print_status(status: &rotation::Status) {
    match &status.vault {
        Some(h) => println!(
            "vault: current {}{}{}",
            version(h.current),
            h.previous
                .map(|p| format!(", previous v{p}"))
                .unwrap_or_default(),
            h.pending
                .map(|p| format!(", pending v{p}"))
                .unwrap_or_default()
        ),
        None => println!("vault: nothing vaulted"),
    }
    println!(
        "next due: {}",
        status.rotation_due.as_deref().unwrap_or("-")
    );
    if status.rotations.is_empty() {
        println!("no rotations yet");
    }
    for r in &status.rotations {
        let stage = match status.execution_status.get(&r.execution) {
            Some(s) if s != "RUNNING" => format!(
                "{} (execution {s}: decide with rotation confirm|reject)",
                r.stage.as_str()
            ),
            _ => r.stage.as_str().to_owned(),
        };
        println!(
            "{:<15} {}  pending v{} (current was {}){}  ticket {}  started {}{}",
            stage,
            r.execution,
            r.pending_version,
            version(r.current_version),
            r.completed_version
                .map(|v| format!(", now current v{v}"))
                .unwrap_or_default(),
            r.ticket_id,
            r.started_at,
            r.outcome
                .as_deref()
                .map(|o| format!("  ({o})"))
                .unwrap_or_default()
        );
    }
}

/// `rotation sweep`: the scheduled sweep, run now: one execution per due account, with the
/// same deterministic names (a sweep that overlaps the scheduled one starts nothing twice).
async fn sweep(ctx: &Context) -> anyhow::Result<ExitCode> {
    let deps = ctx.rotation(Actor::Caller).await?;
    let config = ctx.config()?;
    let arn = config.rotation_state_machine()?;
    let report: SweepReport = {
        let _progress = ctx.progress("starting a rotation for every due account");
        rotation::sweep::sweep(
            &deps.registry,
            &deps.sfn,
            arn,
            chrono::Utc::now(),
            config.sweep_concurrency,
        )
        .await?
    };
    let code = if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    if ctx.json() {
        ctx.print_json(&report)?;
        return Ok(code);
    }
    println!(
        "{} due: {} started ({} restarted), {} already started, {} superseded, {} failed",
        report.due,
        report.started,
        report.restarted,
        report.already_started,
        report.superseded,
        report.failed.len()
    );
    for (account, error) in &report.failed {
        println!("  {account} failed: {error}");
    }
    Ok(code)
}
