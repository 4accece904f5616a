//! `rootwarden account takeover` and `account takeover-status`: start the takeover workflow
//! and show where it is. The starter is the caller as STS reports it, never a flag.

use std::process::ExitCode;

use rootwarden::registry::AccountMode;
use rootwarden::takeover::{self, StartRequest};
use rootwarden::AccountId;

use crate::context::{Actor, Context};

pub async fn start(
    ctx: &Context,
    account: AccountId,
    mode: AccountMode,
    reason: String,
    ticket: String,
    code_timeout_seconds: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let state_machine = ctx.config()?.takeover_state_machine()?.to_owned();
    let deps = ctx.takeover(Actor::Caller).await?;
    let started = takeover::start(
        &deps,
        &state_machine,
        &StartRequest {
            account_id: account,
            mode,
            reason,
            ticket,
            code_timeout_seconds,
        },
    )
    .await?;
    if ctx.json() {
        ctx.print_json(&started)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "takeover of {} ({}) started: execution {}\n  follow it with: rootwarden account takeover-status --account {}",
        started.account_id, started.mode, started.execution, started.account_id
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn status(ctx: &Context, account: &AccountId) -> anyhow::Result<ExitCode> {
    let deps = ctx.takeover(Actor::Reader).await?;
    let st = takeover::status(&deps, account).await?;
    if ctx.json() {
        ctx.print_json(&st)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("account:    {} ({}, {})", st.account_id, st.status, st.mode);
    println!("root email: {}", st.root_email);
    if let Some(e) = &st.execution {
        println!(
            "execution:  {e} ({})",
            st.execution_state.as_deref().unwrap_or("unknown")
        );
    }
    println!(
        "step:       {}",
        st.step.as_deref().unwrap_or("none (takeover complete)")
    );
    if st.resends > 0 {
        println!("codes resent: {}", st.resends);
    }
    if let Some(e) = &st.stopped {
        println!("stopped:    {e} (start the takeover again to resume)");
    }
    for w in &st.waiting_for {
        println!("waiting for: {} (until {})", w.what, w.deadline);
    }
    Ok(ExitCode::SUCCESS)
}
