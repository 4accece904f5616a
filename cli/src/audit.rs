use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use rootwarden::audit::{self, AuditEntry, AuditLog, DynamoAuditLog, Stream};
use rootwarden::{AccountId, Config, SystemClock};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chains and name the first bad record. Exit 1 if any chain is broken.
    Verify {
        /// Verify only this account's chain (default: every chain).
        #[arg(long)]
        account: Option<AccountId>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print an account's audit trail, oldest first.
    Log {
        #[command(flatten)]
        stream: StreamArg,
        #[arg(long)]
        json: bool,
    },
    /// Append an operator note to an account's trail (e.g. a call with the customer).
    Annotate {
        #[arg(long)]
        account: AccountId,
        /// The note. Never put a secret here: the trail is readable by auditors.
        #[arg(long)]
        reason: String,
        /// Ticket or change reference.
        #[arg(long, default_value = "")]
        ticket: String,
    },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct StreamArg {
    #[arg(long)]
    account: Option<AccountId>,
    /// The system-wide chain (events not tied to one account).
    #[arg(long)]
    system: bool,
}

impl StreamArg {
    fn stream(&self) -> Stream {
        match &self.account {
            Some(id) => Stream::Account(id.clone()),
            None => Stream::System,
        }
    }
}

async fn audit_log() -> anyhow::Result<(DynamoAuditLog, aws_config::SdkConfig)> {
    let config = Config::from_env()?;
    let sdk = rootwarden::aws::load_sdk_config().await;
    let log = DynamoAuditLog::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        config.audit_table,
        Arc::new(SystemClock),
    );
    Ok((log, sdk))
}

pub async fn run(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let (log, sdk) = audit_log().await?;
    match cmd {
        AuditCommand::Verify { account, json } => {
            let only = account.map(Stream::Account);
            let report = audit::verify(&log, only.as_ref())
                .await
                .context("reading the audit table")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for chain in &report.chains {
                    match &chain.fault {
                        None => println!(
                            "ok        {:<22} {:>6} records  head {}",
                            chain.stream,
                            chain.records,
                            &chain.head_hash[..16]
                        ),
                        Some(fault) => println!("TAMPERED  {:<22} {fault}", chain.stream),
                    }
                }
                if report.chains.is_empty() {
                    println!("no audit records");
                }
            }
            if let Some((stream, fault)) = report.first_fault() {
                eprintln!(
                    "audit verify: FAILED: {stream} record {}: {fault}",
                    fault.seq()
                );
                return Ok(ExitCode::from(1));
            }
            eprintln!(
                "audit verify: {} chains, {} records, all intact",
                report.chains.len(),
                report.records()
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Log { stream, json } => {
            let items = log
                .read_stream(&stream.stream().key())
                .await
                .context("reading the audit table")?;
            for item in items {
                match item {
                    Ok(r) if json => println!("{}", serde_json::to_string(&r)?),
                    Ok(r) => println!(
                        "{:>5}  {}  {:<8} {:<31} {:<40} {}",
                        r.seq, r.timestamp, r.outcome, r.action, r.actor, r.reason
                    ),
                    Err(m) => println!("{:>5}  UNREADABLE: {}", m.seq, m.reason),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Annotate {
            account,
            reason,
            ticket,
        } => {
            let actor = rootwarden::aws::caller_arn(&aws_sdk_sts::Client::new(&sdk)).await?;
            let entry = AuditEntry::new(Stream::Account(account.clone()), actor, "audit.annotate")
                .target(account.to_string())
                .reason(reason)
                .detail("ticket", ticket);
            let rec = log.append(&entry).await?;
            println!("recorded {} #{} ({})", rec.stream, rec.seq, &rec.hash[..16]);
            Ok(ExitCode::SUCCESS)
        }
    }
}
