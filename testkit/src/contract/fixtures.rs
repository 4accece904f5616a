//! Fresh identifiers and mail for contracts and use-case tests.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use rootwarden_core::mail::{self, Context, SesVerdicts, Verdict};
use rootwarden_core::registry::{Account, AccountMode, AccountStatus};
use rootwarden_core::tickets::IncomingMessage;
use rootwarden_core::{AccountId, RootEmail};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A number no other call of this process (and, in practice, no earlier run) returned.
pub fn nonce() -> u64 {
    let micros = Utc::now().timestamp_micros().unsigned_abs();
    micros.wrapping_mul(1000) + COUNTER.fetch_add(1, Ordering::SeqCst) % 1000
}

/// A fresh 12-digit account id.
pub fn fresh_account() -> AccountId {
    let n = nonce() % 1_000_000_000_000;
    AccountId::parse(&format!("{n:012}")).unwrap_or_else(|_| unreachable!("12 digits"))
}

/// A fresh identifier with a readable prefix (SES ids, executions, Message-IDs).
pub fn fresh(prefix: &str) -> String {
    format!("{prefix}-{:x}", nonce())
}

/// The root address of `account` at the provider (sub-addressed).
pub fn root_email(account: &AccountId) -> RootEmail {
    RootEmail::parse(&format!("aws-root+{account}@provider.example"))
        .unwrap_or_else(|_| unreachable!("valid address"))
}

/// An active account as onboarding registers it (`root_email`'s address, 90-day rotation, no
/// name or contacts), onboarded now, never rotated or checked.
pub fn registered_account(account: AccountId, mode: AccountMode) -> Account {
    Account {
        root_email: root_email(&account),
        account_id: account,
        name: None,
        status: AccountStatus::Active,
        mode,
        max_age_days: 90,
        contacts: vec![],
        onboarded_at: Utc::now(),
        last_rotated_at: None,
        rotation_due: None,
        rotation_reason: None,
        rotation_execution: None,
        posture: None,
        posture_checked_at: None,
        recovery_until: None,
    }
}

/// SES's receipt verdicts, all PASS.
pub fn pass() -> SesVerdicts {
    SesVerdicts {
        spam: Verdict::Pass,
        virus: Verdict::Pass,
        spf: Verdict::Pass,
        dkim: Verdict::Pass,
        dmarc: Verdict::Pass,
    }
}

/// AWS mail to `account`'s root address as SES stores it: SPF, DKIM (amazon.com) and DMARC pass.
pub fn aws_mail(
    account: &AccountId,
    message_id: &str,
    subject: &str,
    extra_headers: &str,
    body: &str,
) -> Vec<u8> {
    format!(
        "Authentication-Results: amazonses.com; spf=pass; dkim=pass header.i=@amazon.com; dmarc=pass header.from=amazon.com;\r\n\
         X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\n\
         From: AWS <no-reply-aws@amazon.com>\r\nTo: {}\r\n\
         Subject: {subject}\r\nMessage-ID: <{message_id}>\r\n{extra_headers}\r\n{body}\r\n",
        root_email(account)
    )
    .into_bytes()
}

/// Mail claiming to be AWS's whose DKIM and DMARC fail: quarantined.
pub fn forged_mail(account: &AccountId, message_id: &str, subject: &str, extra: &str) -> Vec<u8> {
    format!(
        "Authentication-Results: amazonses.com; spf=fail; dkim=fail header.i=@amazon.com; \
         dmarc=fail header.from=amazon.com;\r\n\
         From: AWS Support <no-reply-aws@amazon.com>\r\nTo: {}\r\n\
         Subject: {subject}\r\nMessage-ID: <{message_id}>\r\n{extra}\r\n\
         Reset here: https://evil.example/resetpassword?token=x\r\n",
        root_email(account)
    )
    .into_bytes()
}

/// `raw` decided for `account` (as the registry would route it), received at `at`.
pub fn incoming(
    account: &AccountId,
    ses_message_id: &str,
    raw: &[u8],
    at: DateTime<Utc>,
) -> IncomingMessage {
    let ctx = Context {
        recipients: vec![root_email(account).as_str().to_owned()],
        ses: None,
        registry_account: Some(account.clone()),
        expected_by_workflow: false,
    };
    IncomingMessage {
        ses_message_id: ses_message_id.to_owned(),
        raw_location: format!("s3://mail/inbound/{ses_message_id}"),
        received_at: at,
        decision: mail::analyze(raw, &ctx).decision,
        unregistered_account: None,
        secrets: Vec::new(),
    }
}
