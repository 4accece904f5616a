//! `rootwarden account`: onboarding, the registry, recovery and enforcement.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use rootwarden::onboarding::{self, OnboardRequest, OnboardSecrets};
use rootwarden::registry::{Account, AccountMode};
use rootwarden::vault::{CredentialKind, Head, Vault};
use rootwarden::{AccountId, RootEmail};
use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::context::{Actor, Context};
use crate::duration;

#[derive(Clone, Copy, ValueEnum)]
pub enum Mode {
    Vaulted,
    CredentialLess,
}

#[derive(Subcommand)]
pub enum AccountCommand {
    /// Register an account and vault its current root credentials. The root password (line 1)
    /// and, optionally, the MFA TOTP seed (line 2) are read from stdin, never from arguments or
    /// the environment; on a terminal they are prompted for without echo.
    Onboard {
        #[arg(long)]
        account: AccountId,
        #[arg(long)]
        root_email: RootEmail,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_enum, default_value = "vaulted")]
        mode: Mode,
        /// Rotate the root password when it is this old, in whole days (e.g. 90d).
        #[arg(long, value_parser = duration::days, default_value = "90d")]
        max_age: u32,
        /// Comma-separated e-mail contacts for high-priority tickets.
        #[arg(long, value_delimiter = ',')]
        contacts: Vec<String>,
    },
    /// List registered accounts (no secrets).
    List,
    /// Show one account: registry state, vaulted versions and stages, posture (no secrets).
    Show {
        #[arg(long)]
        account: AccountId,
    },
    /// Allow root password recovery (sts:AssumeRoot with IAMCreateRootUserPassword, then
    /// CreateLoginProfile). Then use "Forgot password" on the root sign-in page: the reset mail
    /// arrives through inbound mail and its link is vaulted. Opens a 24-hour window in which
    /// enforcement leaves a credential-less account's new password alone.
    Recover {
        #[arg(long)]
        account: AccountId,
        #[arg(long)]
        reason: String,
    },
    /// Run root-credential enforcement now (what the daily job does), for one account or all.
    Enforce {
        #[arg(long)]
        account: Option<AccountId>,
    },
    /// Vault the TOTP seed (stdin, no echo) of the MFA device enrolled for the root user of an
    /// account being taken over; completes the takeover's wait for it.
    MfaSeed(crate::mfa_seed::MfaSeedArgs),
    /// Take custody of an account: start the takeover workflow (docs/takeover.md). Its root
    /// email becomes a Root Warden address; vaulted mode then needs an operator for "Forgot
    /// password", the password's apply and the MFA enrolment (`takeover-status` says when).
    Takeover {
        #[arg(long)]
        account: AccountId,
        #[arg(long, value_enum)]
        mode: Mode,
        #[arg(long)]
        reason: String,
        /// The change ticket this takeover is done under.
        #[arg(long)]
        ticket: String,
        /// How long to wait for AWS's one-time code before asking for a new one (e.g. 15m;
        /// default 15 minutes, at least 10s).
        #[arg(long, value_parser = crate::duration::seconds)]
        code_timeout: Option<u64>,
    },
    /// Where a takeover is: its step, what it waits for and until when (no secrets).
    TakeoverStatus {
        #[arg(long)]
        account: AccountId,
    },
}

/// One line typed without echo, prompted for on the terminal (through `rpassword`, which
/// restores the terminal however the read ends).
fn prompt_secret(prompt: &str) -> anyhow::Result<Zeroizing<String>> {
    rpassword::prompt_password(prompt)
        .map(Zeroizing::new)
        .context("reading from the terminal")
}

/// Password (line 1) and optional MFA seed (line 2) from stdin.
fn read_secrets(mode: Mode) -> anyhow::Result<OnboardSecrets> {
    if matches!(mode, Mode::CredentialLess) {
        return Ok(OnboardSecrets {
            password: None,
            mfa_seed: None,
        });
    }
    let (first, second) = if std::io::stdin().is_terminal() {
        (
            prompt_secret("Current root password: ")?,
            prompt_secret("MFA TOTP seed (base32; empty for none): ")?,
        )
    } else {
        let mut all = Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut all)
            .context("reading stdin")?;
        let mut lines = all.lines();
        (
            Zeroizing::new(lines.next().unwrap_or_default().to_owned()),
            Zeroizing::new(lines.next().unwrap_or_default().to_owned()),
        )
    };
    let clean = |s: &str| s.trim_end_matches(['\r', '\n']).to_owned();
    let password = clean(&first);
    let seed = clean(&second);
    Ok(OnboardSecrets {
        password: (!password.is_empty()).then(|| SecretString::from(password)),
        mfa_seed: (!seed.trim().is_empty()).then(|| SecretString::from(seed)),
    })
}

fn head_text(h: &Option<Head>) -> String {
    match h {
        None => "-".into(),
        Some(h) => {
            let mut s = match h.current {
                Some(c) => format!("current v{c}"),
                None => "no current".to_owned(),
            };
            if let Some(p) = h.previous {
                s.push_str(&format!(", previous v{p}"));
            }
            if let Some(p) = h.pending {
                s.push_str(&format!(", pending v{p}"));
            }
            s
        }
    }
}

fn due_text(a: &Account) -> String {
    a.rotation_due
        .map(rootwarden::registry::stamp)
        .unwrap_or_else(|| "-".into())
}

pub async fn run(ctx: &Context, cmd: AccountCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AccountCommand::Onboard {
            account,
            root_email,
            name,
            mode,
            max_age,
            contacts,
        } => {
            let secrets = read_secrets(mode)?;
            let deps = ctx.rotation(Actor::Caller).await?;
            let req = OnboardRequest {
                account_id: account,
                root_email,
                name,
                mode: match mode {
                    Mode::Vaulted => AccountMode::Vaulted,
                    Mode::CredentialLess => AccountMode::CredentialLess,
                },
                max_age_days: max_age,
                contacts: contacts
                    .into_iter()
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty())
                    .collect(),
            };
            let done = onboarding::onboard(&deps, req, secrets).await?;
            if ctx.json() {
                ctx.print_json(&done)?;
                return Ok(ExitCode::SUCCESS);
            }
            let kinds: Vec<&str> = done.vaulted.iter().map(|k| k.as_str()).collect();
            println!(
                "onboarded {} ({}); vaulted: {}; next rotation due: {}",
                done.account.account_id,
                done.account.mode.as_str(),
                if kinds.is_empty() {
                    "nothing".to_owned()
                } else {
                    kinds.join(", ")
                },
                due_text(&done.account)
            );
            Ok(ExitCode::SUCCESS)
        }
        AccountCommand::List => list(ctx).await,
        AccountCommand::Show { account } => show(ctx, &account).await,
        AccountCommand::Recover { account, reason } => {
            let deps = ctx.enforcement().await?;
            let done = rootwarden::enforcement::recover(&deps, &account, &reason).await?;
            if ctx.json() {
                ctx.print_json(&done)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{}: root password recovery {} until {}; use \"Forgot password\" on the root \
                 sign-in page, the reset mail arrives through inbound mail",
                done.account_id,
                if done.created {
                    "enabled"
                } else {
                    "already possible (the root user has a password)"
                },
                done.recovery_until
            );
            Ok(ExitCode::SUCCESS)
        }
        AccountCommand::Enforce { account } => enforce(ctx, account.as_ref()).await,
        AccountCommand::MfaSeed(args) => crate::mfa_seed::run(ctx, args).await,
        AccountCommand::Takeover {
            account,
            mode,
            reason,
            ticket,
            code_timeout,
        } => {
            let mode = match mode {
                Mode::Vaulted => AccountMode::Vaulted,
                Mode::CredentialLess => AccountMode::CredentialLess,
            };
            crate::takeover::start(ctx, account, mode, reason, ticket, code_timeout).await
        }
        AccountCommand::TakeoverStatus { account } => crate::takeover::status(ctx, &account).await,
    }
}

async fn list(ctx: &Context) -> anyhow::Result<ExitCode> {
    let deps = ctx.rotation(Actor::Reader).await?;
    let accounts = deps.registry.list().await?;
    if ctx.json() {
        ctx.print_json(&accounts)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<12} {:<16} {:<8} {:<21} {:<30} name",
        "account", "mode", "status", "rotation due", "root email"
    );
    for a in &accounts {
        println!(
            "{:<12} {:<16} {:<8} {:<21} {:<30} {}",
            a.account_id,
            a.mode.as_str(),
            a.status.as_str(),
            due_text(a),
            a.root_email,
            a.name.as_deref().unwrap_or("")
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(ctx: &Context, account: &AccountId) -> anyhow::Result<ExitCode> {
    let deps = ctx.rotation(Actor::Reader).await?;
    let Some(a) = deps.registry.get(account).await? else {
        anyhow::bail!("account {account} is not registered");
    };
    let mut vault = serde_json::Map::new();
    let mut heads = Vec::new();
    for kind in CredentialKind::ALL {
        let head = deps.vault.head(account, kind).await?;
        let versions = deps.vault.versions(account, kind).await?;
        heads.push((kind, head.clone(), versions.len()));
        vault.insert(
            kind.as_str().into(),
            serde_json::json!({"head": head, "versions": versions}),
        );
    }
    if ctx.json() {
        ctx.print_json(&serde_json::json!({"account": a, "vault": vault}))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("account        {}", a.account_id);
    println!("root email     {}", a.root_email);
    println!("name           {}", a.name.as_deref().unwrap_or("-"));
    println!("mode, status   {}, {}", a.mode.as_str(), a.status.as_str());
    println!("max age        {} days", a.max_age_days);
    println!(
        "onboarded      {}",
        rootwarden::registry::stamp(a.onboarded_at)
    );
    println!(
        "last rotated   {}",
        a.last_rotated_at
            .map(rootwarden::registry::stamp)
            .unwrap_or_else(|| "-".into())
    );
    println!(
        "rotation due   {} ({})",
        due_text(&a),
        a.rotation_reason.map(|r| r.as_str()).unwrap_or("-")
    );
    for (kind, head, n) in heads {
        println!("{:<14} {} ({n} versions)", kind.as_str(), head_text(&head));
    }
    println!(
        "posture        {}",
        a.posture
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_else(|| "not checked yet".into())
    );
    println!("contacts       {}", a.contacts.join(", "));
    Ok(ExitCode::SUCCESS)
}

/// `account enforce`: what the daily job does, for one account or the whole fleet.
async fn enforce(ctx: &Context, account: Option<&AccountId>) -> anyhow::Result<ExitCode> {
    let deps = ctx.enforcement().await?;
    let run = format!(
        "enforcement-cli-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    let report = {
        let _progress = ctx.progress(match account {
            Some(a) => format!("enforcing root credentials of {a}"),
            None => "enforcing root credentials of every account".to_owned(),
        });
        rootwarden::enforcement::enforce(&deps, account, &run).await?
    };
    let code = if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    if ctx.json() {
        ctx.print_json(&report)?;
        return Ok(code);
    }
    println!(
        "checked {}: {} compliant, {} remediated, {} drift, {} failed ({} skipped)",
        report.checked,
        report.compliant,
        report.remediated,
        report.drift,
        report.failed,
        report.skipped
    );
    for a in &report.accounts {
        let verdict = serde_json::to_value(a.verdict)?;
        println!(
            "  {} {}{}{}{}",
            a.account_id,
            verdict.as_str().unwrap_or("?"),
            if a.removed.is_empty() {
                String::new()
            } else {
                format!("; removed {}", a.removed.join(", "))
            },
            if a.findings.is_empty() {
                String::new()
            } else {
                format!("; findings {}", a.findings.join(", "))
            },
            a.error
                .as_ref()
                .map(|e| format!("; {e}"))
                .unwrap_or_default()
        );
    }
    Ok(code)
}
