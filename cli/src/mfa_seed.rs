//! `rootwarden account mfa-seed`: vault the TOTP seed of the virtual MFA device an operator
//! just enrolled for the root user of an account being taken over, then complete the
//! takeover's `mfa` wait. The seed is read from stdin (prompted for without echo on a
//! terminal), never from arguments or the environment, and never printed.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::Context as _;
use rootwarden::vault::mfa_seed::vault_mfa_seed;
use rootwarden::vault::MfaSeedDeps;
use rootwarden::AccountId;
use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::context::{Actor, Context};

#[derive(clap::Args)]
pub struct MfaSeedArgs {
    #[arg(long)]
    account: AccountId,
    /// Replace a current MFA seed (otherwise refused).
    #[arg(long)]
    replace: bool,
}

/// The seed: one line from stdin, or typed without echo on a terminal.
fn read_seed() -> anyhow::Result<SecretString> {
    let line = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("MFA TOTP seed (base32, as the console shows it): ")
            .map(Zeroizing::new)
            .context("reading from the terminal")?
    } else {
        let mut all = Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut all)
            .context("reading stdin")?;
        Zeroizing::new(all.lines().next().unwrap_or_default().to_owned())
    };
    let seed = line.trim();
    if seed.is_empty() {
        anyhow::bail!("no MFA seed on stdin");
    }
    Ok(SecretString::from(seed.to_owned()))
}

pub async fn run(ctx: &Context, args: MfaSeedArgs) -> anyhow::Result<ExitCode> {
    let seed = read_seed()?;
    let deps = ctx.rotation(Actor::Caller).await?;
    let deps = MfaSeedDeps::new(
        deps.registry,
        deps.vault,
        deps.waits,
        deps.clock,
        deps.actor,
    );
    let done = vault_mfa_seed(&deps, &args.account, seed, args.replace).await?;
    if ctx.json() {
        ctx.print_json(&done)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: MFA seed version {} {}{}",
        done.account_id,
        done.version,
        if done.written {
            "vaulted as current"
        } else {
            "was already vaulted by this takeover"
        },
        done.replaced
            .map(|v| format!(" (replaced version {v})"))
            .unwrap_or_default()
    );
    if done.completed_waits.is_empty() {
        println!("no takeover was waiting for an MFA device");
    }
    for execution in &done.completed_waits {
        println!("completed the takeover's MFA wait ({execution})");
    }
    Ok(ExitCode::SUCCESS)
}
