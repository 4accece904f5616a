//! `rootwarden`: the operator CLI. It drives the same use cases as the Lambdas, with the
//! caller's identity taken from AWS (STS), never from a flag.
//!
//! Exit codes: 0 success; 1 a check failed (e.g. an audit chain is broken); 2 usage,
//! configuration or AWS errors.

mod access;
mod account;
mod audit;
mod mail;
mod rotation;
mod signed_http;
mod ticket;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "rootwarden",
    version,
    about = "Operate Root Warden: root credentials of managed AWS accounts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Break-glass access: request, approve, check out, check in, revoke.
    #[command(subcommand)]
    Access(access::AccessCommand),
    /// Managed accounts: onboard, list, show.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Root password rotation: start, status, confirm, reject.
    #[command(subcommand)]
    Rotation(rotation::RotationCommand),
    /// The hash-chained audit trail: verify, read, annotate.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Inbound root mail.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// Tickets made from inbound root mail.
    #[command(subcommand)]
    Ticket(ticket::TicketCommand),
}

fn main() -> ExitCode {
    // Output piped into `head` and the like: end quietly on a closed pipe, as Unix tools do,
    // instead of panicking in println!.
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    rootwarden_bootstrap::telemetry::init_stderr("rootwarden-cli", "error");
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Access(cmd) => access::run(cmd).await,
            Command::Account(cmd) => account::run(cmd).await,
            Command::Rotation(cmd) => rotation::run(cmd).await,
            Command::Audit(cmd) => audit::run(cmd).await,
            Command::Mail(cmd) => mail::run(cmd),
            Command::Ticket(cmd) => ticket::run(cmd).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
