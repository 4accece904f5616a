//! Enforcement over a Step Functions Distributed Map (`infra/statemachines/enforcement.asl.json`):
//! [`plan`] puts every registered account into a manifest of pages, each child workflow runs
//! [`enforce_page`] on its page until no account is left to try again, and [`summarize`] merges
//! every page's result into one summary. An account whose attempt failed with a retryable error
//! (`ErrorType::is_retryable`) is tried again on its own, in its page's next attempt, at most
//! [`MAX_ATTEMPTS`] times; the others in its page are not enforced again.

use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use super::plan::AccountOutcome;
use super::ports::EnforcementPorts;
use super::report::{AccountReport, EnforcementReport};
use super::run::enforce_or_fail;
use crate::fleet::{
    backoff_seconds, get_json, paginate, to_body, FleetStore, ManifestLocation, Page, Planned,
    RunKeys, MAX_ATTEMPTS, PAGE_SIZE,
};
use crate::registry::posture::PostureRegistry;
use crate::{AccountId, ErrorType, LambdaError};

/// The job's name in the fleet store's keys.
pub const JOB: &str = "enforcement";

/// How many failed account ids the summary step returns to the state machine (all of them are
/// in the summary object).
pub const FAILED_IDS_RETURNED: usize = 20;

/// Every registered account (the whole registry, page after page) into the run's manifest.
pub async fn plan<P: EnforcementPorts, S: FleetStore>(
    ports: &P,
    store: &S,
    run: &str,
) -> Result<Planned, LambdaError> {
    let keys = RunKeys::new(JOB, run)?;
    let ids: Vec<String> = ports
        .registry()
        .all_accounts()
        .await?
        .into_iter()
        .map(|a| a.account_id.to_string())
        .collect();
    let items = ids.len();
    let pages = paginate(run, ids);
    store.put(&keys.manifest(), to_body(&pages)?).await?;
    tracing::info!(run, items, pages = pages.len(), "enforcement planned");
    Ok(Planned {
        run: run.to_owned(),
        manifest: ManifestLocation {
            bucket: store.bucket().to_owned(),
            key: keys.manifest(),
        },
        pages: pages.len(),
        items,
    })
}

/// One page's result, carried from attempt to attempt and written when the page is done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageResult {
    pub attempts: u32,
    /// Every account of the page that concluded (compliant ones only counted).
    pub report: EnforcementReport,
    /// Accounts that needed more than one attempt.
    pub retried: Vec<String>,
}

/// A child workflow's state: the manifest item at first, then what the last attempt left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageStep {
    pub run: String,
    pub page: usize,
    /// The accounts this attempt enforces: the page's, then those to try again.
    pub items: Vec<String>,
    #[serde(default)]
    pub attempt: u32,
    #[serde(default)]
    pub result: PageResult,
    #[serde(default)]
    pub retry_needed: bool,
    #[serde(default)]
    pub wait_seconds: u64,
}

impl From<Page> for PageStep {
    fn from(p: Page) -> Self {
        Self {
            run: p.run,
            page: p.page,
            items: p.items,
            attempt: 0,
            result: PageResult::default(),
            retry_needed: false,
            wait_seconds: 0,
        }
    }
}

/// What one attempt returns to the child workflow: try again (the next step), or done (the
/// page's result is stored; the child's output stays a few bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PageOutcome {
    Again(PageStep),
    Done { page: usize, retry_needed: bool },
}

async fn enforce_id<P: EnforcementPorts>(ports: &P, id: &AccountId, run: &str) -> AccountReport {
    match ports.registry().find_account(id).await {
        Ok(Some(account)) => enforce_or_fail(ports, &account, run).await,
        // Deregistered since the plan: nothing to enforce.
        Ok(None) => AccountReport::skipped(id),
        Err(e) => AccountReport::failed(id, e),
    }
}

fn retryable(r: &AccountReport) -> bool {
    r.verdict == AccountOutcome::Failed && r.error_type.is_some_and(ErrorType::is_retryable)
}

/// One attempt of one page: each account enforced independently (bounded concurrency); those
/// that failed with a retryable error go to the next attempt unless this was the last.
pub async fn enforce_page<P: EnforcementPorts, S: FleetStore>(
    ports: &P,
    store: &S,
    step: PageStep,
) -> Result<PageOutcome, LambdaError> {
    let keys = RunKeys::new(JOB, &step.run)?;
    let invalid = |m: String| LambdaError::new(ErrorType::ValidationError, m);
    if step.items.len() > PAGE_SIZE {
        return Err(invalid(format!(
            "a page holds at most {PAGE_SIZE} accounts, not {}",
            step.items.len()
        )));
    }
    if step.attempt >= MAX_ATTEMPTS {
        return Err(invalid(format!(
            "attempt {} is past the last ({MAX_ATTEMPTS} attempts)",
            step.attempt
        )));
    }
    let ids = step
        .items
        .iter()
        .map(|a| AccountId::parse(a).map_err(|e| invalid(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let run = step.run.as_str();
    let reports: Vec<AccountReport> = stream::iter(ids.iter())
        .map(|id| enforce_id(ports, id, run))
        .buffer_unordered(ports.concurrency().max(1))
        .collect()
        .await;

    let mut result = step.result;
    result.attempts = step.attempt + 1;
    result.report.run = step.run.clone();
    let last = result.attempts >= MAX_ATTEMPTS;
    let mut again = Vec::new();
    for r in reports {
        if !last && retryable(&r) {
            if !result.retried.contains(&r.account_id) {
                result.retried.push(r.account_id.clone());
            }
            again.push(r.account_id);
        } else {
            result.report.add(r);
        }
    }
    again.sort();
    result.retried.sort();
    result.report.sort();
    if !again.is_empty() {
        tracing::warn!(
            run,
            page = step.page,
            again = again.len(),
            attempt = result.attempts,
            "accounts to try again"
        );
        return Ok(PageOutcome::Again(PageStep {
            run: step.run.clone(),
            page: step.page,
            items: again,
            attempt: result.attempts,
            wait_seconds: backoff_seconds(step.attempt),
            retry_needed: true,
            result,
        }));
    }
    store.put(&keys.page(step.page), to_body(&result)?).await?;
    Ok(PageOutcome::Done {
        page: step.page,
        retry_needed: false,
    })
}

/// The run's one summary (stored as `summary.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetSummary {
    pub run: String,
    pub pages: usize,
    /// Pages whose child workflow wrote no result (it failed): their accounts count as failed.
    pub pages_missing: Vec<usize>,
    pub report: EnforcementReport,
    /// Accounts that needed more than one attempt (done or failed in the end).
    pub retried: Vec<String>,
}

/// What the summary step returns to the state machine: counts, where the summary is, and the
/// first failed account ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryOutput {
    pub run: String,
    pub summary: ManifestLocation,
    pub pages: usize,
    pub pages_missing: usize,
    pub checked: usize,
    pub compliant: usize,
    pub remediated: usize,
    pub drift: usize,
    pub skipped: usize,
    pub failed: usize,
    pub retried: usize,
    pub failed_accounts: Vec<String>,
}

/// Merges every page's result (a missing one: its accounts failed) into the run's summary.
pub async fn summarize<S: FleetStore>(store: &S, run: &str) -> Result<SummaryOutput, LambdaError> {
    let keys = RunKeys::new(JOB, run)?;
    let manifest: Vec<Page> = get_json(store, &keys.manifest()).await?;
    let present: std::collections::HashSet<String> = store
        .list(&keys.pages_prefix())
        .await?
        .into_iter()
        .collect();
    let mut summary = FleetSummary {
        run: run.to_owned(),
        pages: manifest.len(),
        report: EnforcementReport::new(run),
        ..FleetSummary::default()
    };
    for page in &manifest {
        let key = keys.page(page.page);
        if !present.contains(&key) {
            summary.pages_missing.push(page.page);
            for id in &page.items {
                let id = AccountId::parse(id).map_err(|e| {
                    LambdaError::new(ErrorType::InternalError, format!("manifest: {e}"))
                })?;
                summary.report.add(AccountReport::failed(
                    &id,
                    LambdaError::new(
                        ErrorType::AwsError,
                        format!("page {} was not processed: its child workflow failed (see the map run)", page.page),
                    ),
                ));
            }
            continue;
        }
        let result: PageResult = get_json(store, &key).await?;
        summary.report.merge(result.report);
        summary.retried.extend(result.retried);
    }
    summary.report.sort();
    summary.retried.sort();
    store.put(&keys.summary(), to_body(&summary)?).await?;
    let r = &summary.report;
    tracing::info!(
        run,
        checked = r.checked,
        remediated = r.remediated,
        drift = r.drift,
        failed = r.failed,
        retried = summary.retried.len(),
        pages_missing = summary.pages_missing.len(),
        "enforcement summarized"
    );
    Ok(SummaryOutput {
        run: run.to_owned(),
        summary: ManifestLocation {
            bucket: store.bucket().to_owned(),
            key: keys.summary(),
        },
        pages: summary.pages,
        pages_missing: summary.pages_missing.len(),
        checked: r.checked,
        compliant: r.compliant,
        remediated: r.remediated,
        drift: r.drift,
        skipped: r.skipped,
        failed: r.failed,
        retried: summary.retried.len(),
        failed_accounts: r
            .accounts
            .iter()
            .filter(|a| a.verdict == AccountOutcome::Failed)
            .take(FAILED_IDS_RETURNED)
            .map(|a| a.account_id.clone())
            .collect(),
    })
}
