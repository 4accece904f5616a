//! `rootwarden audit`: verify the hash-chained trail, read it, annotate it.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use rootwarden::audit::{
    self, AuditEntry, AuditLog, DigestCheck, DynamoAuditLog, DynamoDigestStore, FullReport,
    KmsDigestSigner, Stream,
};
use rootwarden::AccountId;
use serde_json::json;

use crate::context::Context;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chains and name the first bad record; check the signed digests (KMS Verify,
    /// with ROOTWARDEN_DIGEST_KEY) and every chain against the newest one: records deleted
    /// after it (truncation) or rewritten (modification). Exit 1 on any fault.
    Verify {
        /// Verify only this account's chain (default: every chain).
        #[arg(long)]
        account: Option<AccountId>,
    },
    /// Print an account's audit trail, oldest first (`--output json`: one JSON record a line).
    Log {
        #[command(flatten)]
        stream: StreamArg,
    },
    /// Append an operator note to an account's trail (e.g. a call with the customer).
    Annotate {
        #[arg(long)]
        account: AccountId,
        /// The note. Never put a secret here: the trail is readable by auditors.
        #[arg(long)]
        reason: String,
        /// Ticket or change reference.
        #[arg(long, default_value = "")]
        ticket: String,
    },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct StreamArg {
    #[arg(long)]
    account: Option<AccountId>,
    /// The system-wide chain (events not tied to one account).
    #[arg(long)]
    system: bool,
}

impl StreamArg {
    fn stream(&self) -> Stream {
        match &self.account {
            Some(id) => Stream::Account(id.clone()),
            None => Stream::System,
        }
    }
}

/// `audit verify`: the record chains, then the signed digests (if a digest key is configured)
/// and every chain against the newest valid digest (truncation, modification).
async fn verify(
    ctx: &Context,
    log: DynamoAuditLog,
    account: Option<AccountId>,
) -> anyhow::Result<ExitCode> {
    let only = account.map(Stream::Account);
    let sdk = ctx.sdk().await;
    let signer = ctx
        .config()?
        .digest_key
        .as_deref()
        .map(|key| KmsDigestSigner::from_conf(sdk, key));
    let store = DynamoDigestStore::new(log.clone());
    let report = {
        let _progress = ctx.progress(match &only {
            Some(stream) => format!("verifying the {} chain and the digests", stream.key()),
            None => "verifying every audit chain and the digests".to_owned(),
        });
        audit::verify_with_digests(&log, &store, signer.as_ref(), only.as_ref())
            .await
            .context("verifying the audit table")?
    };
    if ctx.json() {
        ctx.print_json(&report)?;
    } else {
        print_report(&report);
    }
    let chain_fault = report
        .chains
        .iter()
        .find_map(|c| c.fault.as_ref().map(|f| (c.stream.as_str(), f)));
    if let Some((stream, fault)) = chain_fault {
        eprintln!(
            "audit verify: FAILED: {stream} record {}: {fault}",
            fault.seq()
        );
    }
    if let Some(fault) = report.digest_faults().first() {
        eprintln!("audit verify: FAILED: {fault}");
    }
    if !report.is_ok() {
        return Ok(ExitCode::from(1));
    }
    if ctx.json() {
        // The summary below is in the report.
        return Ok(ExitCode::SUCCESS);
    }
    let digests = match &report.digests {
        DigestCheck::Checked {
            digests,
            latest: Some(latest),
            ..
        } => format!(
            "{digests} digests verified (signatures checked with KMS), latest #{} at {}",
            latest.seq, latest.timestamp
        ),
        DigestCheck::Checked { digests, .. } => format!("{digests} digests verified"),
        DigestCheck::NoDigests if signer.is_none() => {
            "no digest yet and ROOTWARDEN_DIGEST_KEY not set: chains verified only".to_owned()
        }
        DigestCheck::NoDigests => "no digest yet: chains verified only".to_owned(),
        DigestCheck::NotConfigured { digests } => format!(
            "WARNING: {digests} digests exist but ROOTWARDEN_DIGEST_KEY is not set: digests NOT \
             checked (records deleted or rewritten after a digest would go unnoticed)"
        ),
    };
    eprintln!(
        "audit verify: {} chains, {} records, all intact; {digests}",
        report.chains.len(),
        report.records()
    );
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &FullReport) {
    for chain in &report.chains {
        match &chain.fault {
            None => println!(
                "ok        {:<22} {:>6} records  head {}",
                chain.stream,
                chain.records,
                &chain.head_hash[..16]
            ),
            Some(fault) => println!("TAMPERED  {:<22} {fault}", chain.stream),
        }
    }
    if report.chains.is_empty() {
        println!("no audit records");
    }
    match &report.digests {
        DigestCheck::NotConfigured { digests } => println!(
            "digests   NOT CHECKED: {digests} digests exist but ROOTWARDEN_DIGEST_KEY is not set"
        ),
        DigestCheck::NoDigests => println!("digests   none yet: chains verified only"),
        DigestCheck::Checked {
            digests,
            latest,
            faults,
        } => {
            match latest {
                Some(l) => println!(
                    "digests   {digests} digests, latest valid #{} at {} covers {} streams in {} pages  hash {}",
                    l.seq,
                    l.timestamp,
                    l.streams,
                    l.pages,
                    &l.digest_hash[..16.min(l.digest_hash.len())]
                ),
                None => println!("digests   {digests} digests, none valid"),
            }
            for fault in faults {
                println!("{:<9} {fault}", fault.label());
            }
        }
    }
}

pub async fn run(ctx: &Context, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let log = ctx.audit_log().await?;
    match cmd {
        AuditCommand::Verify { account } => verify(ctx, log, account).await,
        AuditCommand::Log { stream } => {
            let items = log
                .read_stream(&stream.stream().key())
                .await
                .context("reading the audit table")?;
            for item in items {
                match item {
                    Ok(r) if ctx.json() => println!("{}", serde_json::to_string(&r)?),
                    Ok(r) => println!(
                        "{:>5}  {}  {:<8} {:<31} {:<40} {}",
                        r.seq, r.timestamp, r.outcome, r.action, r.actor, r.reason
                    ),
                    Err(m) if ctx.json() => println!(
                        "{}",
                        json!({"stream": m.stream, "seq": m.seq, "unreadable": m.reason})
                    ),
                    Err(m) => println!("{:>5}  UNREADABLE: {}", m.seq, m.reason),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Annotate {
            account,
            reason,
            ticket,
        } => {
            let actor = ctx.caller().await?.to_owned();
            let entry = AuditEntry::new(Stream::Account(account.clone()), actor, "audit.annotate")
                .target(account.to_string())
                .reason(reason)
                .detail("ticket", ticket);
            let rec = log.append(&entry).await?;
            if ctx.json() {
                ctx.print_json(&rec)?;
            } else {
                println!("recorded {} #{} ({})", rec.stream, rec.seq, &rec.hash[..16]);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
