//! `rootwarden mail`: offline tools for inbound root mail.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use rootwarden::mail;

use crate::context::Context;

#[derive(Subcommand)]
pub enum MailCommand {
    /// Decide what the pipeline would do with a raw message, offline (no AWS), as one JSON object.
    /// Secrets (reset links, codes) are reported by kind only, never by value.
    Inspect {
        /// Raw RFC 5322 message (.eml), as SES stores it in S3.
        file: PathBuf,
        /// Envelope recipient(s); without it the message's To/Cc stand in.
        #[arg(long)]
        recipient: Vec<String>,
    },
}

/// Needs no AWS: the context's configuration and SDK are never loaded. The decision is JSON in
/// both outputs.
pub fn run(ctx: &Context, cmd: MailCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        MailCommand::Inspect { file, recipient } => {
            let raw =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mail_ctx = mail::Context {
                recipients: recipient,
                ..mail::Context::default()
            };
            let analysis = mail::analyze(&raw, &mail_ctx);
            ctx.print_json(&analysis.decision)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
