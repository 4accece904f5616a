//! The one context every command runs in: the output the operator chose, and the configuration,
//! the SDK configuration and the caller's identity, each loaded once and only when a command
//! first needs it (so `mail inspect` needs no AWS, and reading commands make no STS call).
//! The use cases' dependency bundles are built here, from those three.

use std::borrow::Cow;
use std::io::IsTerminal as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use aws_config::SdkConfig;
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use rootwarden::audit::DynamoAuditLog;
use rootwarden::tickets::DynamoTicketStore;
use rootwarden::{Config, SystemClock};
use serde::Serialize;

use crate::signed_http::SignedClient;

/// `--output`: text for people (the default), or JSON for scripts: one JSON document on stdout
/// (JSON Lines for `audit log`), no progress and no notes on stderr, only errors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    #[default]
    Text,
    Json,
}

/// Who a command acts as, in the audit trail.
#[derive(Clone, Copy)]
pub enum Actor {
    /// The caller, as STS identifies it: every command that changes something.
    Caller,
    /// Reading commands write nothing, so they skip the STS call.
    Reader,
}

/// The actor name of reading commands (never written: they write nothing).
const READER: &str = "cli";

pub struct Context {
    output: Output,
    config: OnceLock<Config>,
    sdk: OnceLock<SdkConfig>,
    caller: OnceLock<String>,
}

impl Context {
    pub fn new(output: Output) -> Self {
        Self {
            output,
            config: OnceLock::new(),
            sdk: OnceLock::new(),
            caller: OnceLock::new(),
        }
    }

    pub fn json(&self) -> bool {
        self.output == Output::Json
    }

    /// Root Warden's configuration, from the environment.
    pub fn config(&self) -> anyhow::Result<&Config> {
        if let Some(c) = self.config.get() {
            return Ok(c);
        }
        let c = Config::from_env()?;
        Ok(self.config.get_or_init(|| c))
    }

    /// The AWS SDK configuration (region, credentials, endpoint), from the default chain.
    pub async fn sdk(&self) -> &SdkConfig {
        if let Some(s) = self.sdk.get() {
            return s;
        }
        let s = rootwarden::sdk::load_sdk_config().await;
        self.sdk.get_or_init(|| s)
    }

    /// The caller's ARN, as STS says (never a flag).
    pub async fn caller(&self) -> anyhow::Result<&str> {
        if let Some(c) = self.caller.get() {
            return Ok(c);
        }
        let sts = aws_sdk_sts::Client::new(self.sdk().await);
        let arn = rootwarden::sdk::caller_arn(&sts)
            .await
            .context("identifying the caller (sts:GetCallerIdentity)")?;
        Ok(self.caller.get_or_init(|| arn))
    }

    async fn actor(&self, actor: Actor) -> anyhow::Result<String> {
        Ok(match actor {
            Actor::Caller => self.caller().await?.to_owned(),
            Actor::Reader => READER.to_owned(),
        })
    }

    /// What rotation and onboarding talk to.
    pub async fn rotation(&self, actor: Actor) -> anyhow::Result<rootwarden::rotation::Deps> {
        let config = self.config()?;
        let actor = self.actor(actor).await?;
        let clients = rootwarden::rotation::Clients::new(self.sdk().await);
        Ok(rootwarden::rotation::Deps::new(
            config,
            clients,
            Arc::new(SystemClock),
            actor,
        ))
    }

    /// What `account takeover` and `takeover-status` talk to.
    pub async fn takeover(&self, actor: Actor) -> anyhow::Result<rootwarden::takeover::Deps> {
        let config = self.config()?;
        let actor = self.actor(actor).await?;
        Ok(rootwarden::takeover::Deps::new(
            config,
            self.sdk().await,
            Arc::new(SystemClock),
            actor,
        ))
    }

    /// What `release status|cancel|otp|certificate` talk to.
    pub async fn release(&self, actor: Actor) -> anyhow::Result<rootwarden::release::Deps> {
        let config = self.config()?;
        let actor = self.actor(actor).await?;
        Ok(rootwarden::release::Deps::new(
            config,
            self.sdk().await,
            Arc::new(SystemClock),
            actor,
        ))
    }

    /// What enforcement and recovery talk to; they always act as the caller.
    pub async fn enforcement(&self) -> anyhow::Result<rootwarden::enforcement::Deps> {
        let config = self.config()?;
        let actor = self.caller().await?.to_owned();
        Ok(rootwarden::enforcement::Deps::new(
            config,
            self.sdk().await,
            Arc::new(SystemClock),
            actor,
        ))
    }

    pub async fn audit_log(&self) -> anyhow::Result<DynamoAuditLog> {
        let config = self.config()?;
        Ok(DynamoAuditLog::new(
            aws_sdk_dynamodb::Client::new(self.sdk().await),
            config.audit_table.clone(),
            Arc::new(SystemClock),
        ))
    }

    pub async fn tickets(&self) -> anyhow::Result<DynamoTicketStore> {
        let config = self.config()?;
        let audit = self.audit_log().await?;
        Ok(DynamoTicketStore::new(
            aws_sdk_dynamodb::Client::new(self.sdk().await),
            config.tickets_table.clone(),
            audit,
        ))
    }

    /// The access function's client, at `ROOTWARDEN_ACCESS_URL` (the stack output
    /// `AccessFunctionUrl`; local provisioning writes it into `.local/env`). It needs no other
    /// configuration: the policy is the function's.
    pub async fn access(&self) -> anyhow::Result<SignedClient> {
        let var = rootwarden::config::vars::ACCESS_URL;
        let url = std::env::var(var).with_context(|| {
            format!("{var} is not set: the access function URL (stack output AccessFunctionUrl)")
        })?;
        SignedClient::new(&url, self.sdk().await)
    }

    /// Prints `value` as one pretty JSON document on stdout.
    pub fn print_json<T: Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        println!("{}", serde_json::to_string_pretty(value)?);
        Ok(())
    }

    /// A spinner on stderr while a fleet-wide command runs, cleared when dropped. Hidden when
    /// stderr is not a terminal (pipes, tests) and with `--output json`.
    pub fn progress(&self, message: impl Into<Cow<'static, str>>) -> Progress {
        let visible = !self.json() && std::io::stderr().is_terminal();
        let bar = if visible {
            ProgressBar::new_spinner()
        } else {
            ProgressBar::hidden()
        };
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(message);
        if visible {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Progress(bar)
    }
}

/// A running command's progress; dropping it clears the line, so output that follows (or an
/// error) starts on a clean one.
pub struct Progress(ProgressBar);

impl Progress {
    #[cfg(test)]
    fn is_hidden(&self) -> bool {
        self.0.is_hidden()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_hidden_for_json_and_off_a_terminal() {
        assert!(Context::new(Output::Json).progress("x").is_hidden());
        if !std::io::stderr().is_terminal() {
            assert!(Context::new(Output::Text).progress("x").is_hidden());
        }
    }
}
