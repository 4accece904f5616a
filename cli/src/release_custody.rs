//! The release commands that act on the release itself, not through the access function:
//! `status`, `cancel`, `otp` and `certificate get|public-key` run the core's use cases
//! (`rootwarden::release::{status, cancel, relay_code, certificate}`) over the release's AWS
//! `Deps` as the caller; `certificate verify` is offline (`verify_certificate`, pure). The
//! customer's code is read from stdin (typed without echo on a terminal), never from arguments,
//! and never printed.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use rootwarden::release::{self, CertificateSigner, ReleasePorts};
use rootwarden::AccountId;
use secrecy::SecretString;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::context::{Actor, Context};

#[derive(Subcommand)]
pub enum CertificateCommand {
    /// The signed handover certificate of a released account (JSON). Refused while the release
    /// has not reached its end.
    Get {
        #[arg(long)]
        account: AccountId,
        /// Write it to this file (refused if it exists) instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The certificate key's public key (PEM, SubjectPublicKeyInfo) that verifies certificates.
    PublicKey {
        /// Write it to this file (refused if it exists) instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify a certificate offline against the public key (PEM or DER) and print what it
    /// certifies. Exit code 0 only when the signature is valid; 1 when it is not.
    Verify {
        /// The certificate (JSON), as `certificate get` wrote it.
        file: PathBuf,
        #[arg(long)]
        public_key: PathBuf,
    },
}

async fn deps(ctx: &Context, actor: Actor) -> anyhow::Result<release::Deps> {
    ctx.release(actor).await
}

/// Prints any answer: JSON, or one `key: value` line per field.
fn print(ctx: &Context, value: &impl serde::Serialize) -> anyhow::Result<ExitCode> {
    if ctx.json() {
        ctx.print_json(value)?;
        return Ok(ExitCode::SUCCESS);
    }
    match serde_json::to_value(value)? {
        Value::Object(fields) => {
            for (k, v) in fields {
                match v {
                    Value::Null => {}
                    Value::String(s) => println!("{k}: {s}"),
                    other => println!("{k}: {other}"),
                }
            }
        }
        other => println!("{other}"),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn status(ctx: &Context, account: &AccountId) -> anyhow::Result<ExitCode> {
    let deps = deps(ctx, Actor::Reader).await?;
    print(ctx, &release::status(&deps, account).await?)
}

pub async fn cancel(ctx: &Context, account: &AccountId) -> anyhow::Result<ExitCode> {
    let deps = deps(ctx, Actor::Caller).await?;
    print(ctx, &release::cancel(&deps, account).await?)
}

/// The customer's code: one line from stdin, or typed without echo on a terminal.
fn read_code() -> anyhow::Result<SecretString> {
    let line = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("verification code the customer received from AWS: ")
            .map(Zeroizing::new)
            .context("reading from the terminal")?
    } else {
        let mut all = Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut all)
            .context("reading stdin")?;
        Zeroizing::new(all.lines().next().unwrap_or_default().to_owned())
    };
    let code = line.trim();
    if code.is_empty() {
        anyhow::bail!("no verification code on stdin");
    }
    Ok(SecretString::from(code.to_owned()))
}

pub async fn otp(ctx: &Context, account: &AccountId) -> anyhow::Result<ExitCode> {
    let code = read_code()?;
    let deps = deps(ctx, Actor::Caller).await?;
    release::relay_code(&deps, account, &code).await?;
    if ctx.json() {
        ctx.print_json(&serde_json::json!({"account_id": account, "relayed": true}))?;
    } else {
        println!("{account}: code relayed to the release (not shown)");
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to a new file `path`, or stdout.
fn emit(out: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    match out {
        Some(path) => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .with_context(|| format!("creating {}", path.display()))?;
            f.write_all(bytes)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        None => std::io::stdout().write_all(bytes)?,
    }
    Ok(())
}

fn pem(der: &[u8]) -> String {
    let b64 = aws_smithy_types::base64::encode(der);
    let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END PUBLIC KEY-----\n");
    out
}

/// A public key file: PEM (`-----BEGIN PUBLIC KEY-----`) or DER.
fn public_key_der(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(bytes.to_vec());
    };
    let Some(body) = text
        .trim()
        .strip_prefix("-----BEGIN PUBLIC KEY-----")
        .and_then(|b| b.strip_suffix("-----END PUBLIC KEY-----"))
    else {
        return Ok(bytes.to_vec());
    };
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    aws_smithy_types::base64::decode(&b64).context("the public key's PEM is not base64")
}

pub async fn certificate(ctx: &Context, cmd: CertificateCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CertificateCommand::Get { account, out } => {
            let deps = deps(ctx, Actor::Reader).await?;
            let cert = release::certificate(&deps, &account).await?;
            emit(out.as_deref(), format!("{cert}\n").as_bytes())?;
        }
        CertificateCommand::PublicKey { out } => {
            let deps = deps(ctx, Actor::Reader).await?;
            let der = deps.signer().public_key().await?;
            emit(out.as_deref(), pem(&der).as_bytes())?;
        }
        CertificateCommand::Verify { file, public_key } => {
            let json = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let key = std::fs::read(&public_key)
                .with_context(|| format!("reading {}", public_key.display()))?;
            let der = public_key_der(&key)?;
            return match release::verify_certificate(&json, &der) {
                Ok(statement) => {
                    if !ctx.json() {
                        println!("VALID: signed by the certificate key; it certifies:");
                    }
                    print(ctx, &statement)
                }
                Err(e) => {
                    eprintln!("INVALID: {e}");
                    Ok(ExitCode::from(1))
                }
            };
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_key_reads_back_from_its_pem_or_der() {
        let der: Vec<u8> = (0u8..91).collect();
        let text = pem(&der);
        assert!(text.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(text.lines().all(|l| l.len() <= 64));
        assert_eq!(public_key_der(text.as_bytes()).unwrap(), der);
        assert_eq!(public_key_der(&der).unwrap(), der);
        assert!(
            public_key_der(b"-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----").is_err()
        );
    }
}
