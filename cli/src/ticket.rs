//! `rootwarden ticket`: the tickets made from inbound root mail and from the workflows.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use rootwarden::tickets::{Ticket, TicketStore};
use rootwarden::AccountId;

use crate::context::Context;

#[derive(Subcommand)]
pub enum TicketCommand {
    /// List tickets, most recent first (never shows a secret: tickets hold none).
    List {
        /// Only this account's tickets.
        #[arg(long)]
        account: Option<AccountId>,
    },
    /// Show one ticket in full (JSON in both outputs).
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

pub async fn run(ctx: &Context, cmd: TicketCommand) -> anyhow::Result<ExitCode> {
    let store = ctx.tickets().await?;
    match cmd {
        TicketCommand::List { account } => {
            let tickets = store
                .list(account.as_ref())
                .await
                .context("reading tickets")?;
            if ctx.json() {
                ctx.print_json(&tickets)?;
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
                ctx.print_json(&t)?;
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!("no ticket {id}");
                Ok(ExitCode::from(1))
            }
        },
    }
}
