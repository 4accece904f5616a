use std::process::ExitCode;

use clap::Subcommand;
use rootwarden::rotation;
use rootwarden::AccountId;

use crate::account::deps;

#[derive(Subcommand)]
pub enum RotationCommand {
    /// Start a root password rotation now.
    Start {
        #[arg(long)]
        account: AccountId,
        /// Override the apply timeout (seconds, 1 to 2592000).
        #[arg(long)]
        apply_timeout_seconds: Option<u64>,
    },
    /// Show the vault stages and the account's rotations (never a secret).
    Status {
        #[arg(long)]
        account: AccountId,
        #[arg(long)]
        json: bool,
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
}

pub async fn run(cmd: RotationCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RotationCommand::Start {
            account,
            apply_timeout_seconds,
        } => {
            let (config, deps) = deps(None).await?;
            let arn = config.rotation_state_machine()?.to_owned();
            let name = rotation::start(&deps, &arn, &account, apply_timeout_seconds).await?;
            println!("started rotation {name} for {account}");
        }
        RotationCommand::Status { account, json } => {
            let (_, deps) = deps(Some("cli".into())).await?;
            let status = rotation::status(&deps, &account).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                match &status.vault {
                    Some(h) => println!(
                        "vault: current v{}{}{}",
                        h.current,
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
                        "{:<15} {}  pending v{} (current was v{}){}  ticket {}  started {}{}",
                        stage,
                        r.execution,
                        r.pending_version,
                        r.current_version,
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
        }
        RotationCommand::Confirm { account } => {
            let (_, deps) = deps(None).await?;
            let r = rotation::confirm(&deps, &account).await?;
            println!(
                "confirmed rotation {}: pending v{} becomes current",
                r.execution, r.pending_version
            );
        }
        RotationCommand::Reject { account, reason } => {
            let (_, deps) = deps(None).await?;
            let r = rotation::reject(&deps, &account, &reason).await?;
            println!(
                "rejected rotation {}: pending v{} will be discarded, current v{} stays",
                r.execution, r.pending_version, r.current_version
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
