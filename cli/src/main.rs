//! `rootwarden`: the operator CLI. It drives the same use cases as the Lambdas, with the
//! caller's identity taken from AWS (STS), never from a flag.
//!
//! Exit codes: 0 success; 1 a check failed (e.g. an audit chain is broken); 2 usage,
//! configuration or AWS errors.
//!
//! Conventions every command follows: one [`context::Context`]; `--output text|json`
//! (global); an account is always `--account <ID>`; durations are written one way
//! ([`duration`]); fleet-wide commands show progress on stderr, only on a terminal.

mod access;
mod account;
mod audit;
mod context;
mod duration;
mod mail;
mod mfa_seed;
mod release;
mod release_custody;
mod rotation;
mod signed_http;
mod takeover;
mod ticket;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::context::{Context, Output};

#[derive(Parser)]
#[command(
    name = "rootwarden",
    version,
    about = "Operate Root Warden: root credentials of managed AWS accounts"
)]
struct Cli {
    /// Output: text for people, or json for scripts (one JSON document on stdout; nothing on
    /// stderr but errors).
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
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
    /// Root password rotation: start, status, confirm, reject, sweep.
    #[command(subcommand)]
    Rotation(rotation::RotationCommand),
    /// Giving up custody: close, hand back or transfer an account (dual control), follow,
    /// cancel, relay the customer's code, and the handover certificate.
    #[command(subcommand)]
    Release(release::ReleaseCommand),
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
    let ctx = Context::new(cli.output);
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
            Command::Access(cmd) => access::run(&ctx, cmd).await,
            Command::Account(cmd) => account::run(&ctx, cmd).await,
            Command::Rotation(cmd) => rotation::run(&ctx, cmd).await,
            Command::Release(cmd) => release::run(&ctx, cmd).await,
            Command::Audit(cmd) => audit::run(&ctx, cmd).await,
            Command::Mail(cmd) => mail::run(&ctx, cmd),
            Command::Ticket(cmd) => ticket::run(&ctx, cmd).await,
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every argument of every command, as (command path, argument).
    fn all_args() -> Vec<(String, clap::Arg)> {
        fn walk(path: String, cmd: &clap::Command, out: &mut Vec<(String, clap::Arg)>) {
            for arg in cmd.get_arguments() {
                out.push((path.clone(), arg.clone()));
            }
            for sub in cmd.get_subcommands() {
                walk(format!("{path} {}", sub.get_name()), sub, out);
            }
        }
        let mut out = Vec::new();
        walk("rootwarden".into(), &Cli::command(), &mut out);
        out
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn an_account_is_always_named_with_account() {
        let mut seen = 0;
        for (path, arg) in all_args() {
            let id = arg.get_id().as_str();
            if id.contains("account") {
                seen += 1;
                assert_eq!(
                    (id, arg.get_long(), arg.is_positional()),
                    ("account", Some("account"), false),
                    "{path}"
                );
            }
        }
        assert!(seen >= 10, "only {seen} account arguments found");
    }

    #[test]
    fn output_is_global_and_no_command_has_its_own_json_flag() {
        for (path, arg) in all_args() {
            assert_ne!(arg.get_long(), Some("json"), "{path}");
        }
        for args in [
            &["rootwarden", "--output", "json", "account", "list"][..],
            &["rootwarden", "account", "enforce", "--output", "json"],
            &["rootwarden", "audit", "log", "--system", "--output", "text"],
        ] {
            Cli::try_parse_from(args).unwrap();
        }
        let cli = Cli::try_parse_from(["rootwarden", "ticket", "list"]).unwrap();
        assert_eq!(cli.output, Output::Text);
        assert!(Cli::try_parse_from(["rootwarden", "--output", "yaml", "ticket", "list"]).is_err());
    }

    #[test]
    fn durations_are_written_one_way_on_every_flag() {
        for (args, ok) in [
            (&["access", "request", "--duration", "30m"][..], true),
            (&["access", "request", "--duration", "2h"], true),
            (&["access", "request", "--duration", "45"], false),
            (&["access", "request", "--duration", "90s"], false),
            (&["rotation", "start", "--apply-timeout", "15m"], true),
            (&["rotation", "start", "--apply-timeout", "600"], false),
            (&["account", "onboard", "--max-age", "90d"], true),
            (&["account", "onboard", "--max-age", "90"], false),
        ] {
            let mut argv = vec!["rootwarden"];
            argv.extend_from_slice(args);
            argv.extend_from_slice(match args[0] {
                "access" => &[
                    "--account",
                    "111122223333",
                    "--reason",
                    "r",
                    "--ticket",
                    "t",
                ][..],
                "rotation" => &["--account", "111122223333"],
                _ => &[
                    "--account",
                    "111122223333",
                    "--root-email",
                    "root@example.com",
                ],
            });
            assert_eq!(Cli::try_parse_from(&argv).is_ok(), ok, "{argv:?}");
        }
    }
}
