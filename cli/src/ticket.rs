use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Subcommand;
use rootwarden::audit::DynamoAuditLog;
use rootwarden::tickets::{DynamoTicketStore, Ticket, TicketStore};
use rootwarden::{AccountId, Config, SystemClock};

#[derive(Subcommand)]
pub enum TicketCommand {
    /// List tickets, most recent first (never shows a secret: tickets hold none).
    List {
        /// Only this account's tickets.
        #[arg(long)]
        account: Option<AccountId>,
        #[arg(long)]
        json: bool,
    },
    /// Show one ticket in full.
    Show { id: String },
}

fn line(t: &Ticket, width: usize) -> String {
    let account = t
        .account_id
        .as_ref()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "unrouted".into());
    let flag = if t.quarantined { " QUARANTINED" } else { "" };
    format!(
        "{:<width$} {:<12} {:<17} {:<8} {:<8} {:>2}  {}{flag}",
        t.id,
        account,
        t.category.as_str(),
        t.priority.as_str(),
        t.status.as_str(),
        t.messages,
        t.subject
    )
}

pub async fn run(cmd: TicketCommand) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let sdk = rootwarden::sdk::load_sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let audit = DynamoAuditLog::new(ddb.clone(), config.audit_table, Arc::new(SystemClock));
    let store = DynamoTicketStore::new(ddb, config.tickets_table, audit);
    match cmd {
        TicketCommand::List { account, json } => {
            let tickets = store
                .list(account.as_ref())
                .await
                .context("reading tickets")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tickets)?);
            } else {
                let width = tickets
                    .iter()
                    .map(|t| t.id.len())
                    .max()
                    .unwrap_or(0)
                    .max(24);
                println!(
                    "{:<width$} {:<12} {:<17} {:<8} {:<8} {:>2}  subject",
                    "ticket", "account", "category", "priority", "status", "#"
                );
                for t in &tickets {
                    println!("{}", line(t, width));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TicketCommand::Show { id } => match store.get(&id).await.context("reading the ticket")? {
            Some(t) => {
                println!("{}", serde_json::to_string_pretty(&t)?);
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!("no ticket {id}");
                Ok(ExitCode::from(1))
            }
        },
    }
}
