//! A release's progress, kept on the account's registry item (`release_*` attributes) next to
//! `status` `releasing` (then `closed` or `released`). Nothing in it is secret.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::registry::AccountStatus;
use crate::{AccountId, RootEmail};

/// How custody ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exit {
    /// `organizations:CloseAccount`: the credentials lead to a dead end; the vault is
    /// crypto-shredded after the 90-day reinstatement window.
    Close,
    /// Reverse assumption: the root email and the root user become the customer's.
    Handback,
    /// The account joins the customer's own organization (invitation + `AcceptHandshake`),
    /// after the same credential hand-over as a hand-back.
    Transfer,
}

impl Exit {
    pub const ALL: [Exit; 3] = [Exit::Close, Exit::Handback, Exit::Transfer];

    pub fn as_str(self) -> &'static str {
        match self {
            Exit::Close => "close",
            Exit::Handback => "handback",
            Exit::Transfer => "transfer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// The customer who receives the account (hand-back and transfer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// The new root email (a transfer that keeps our address has none).
    pub email: Option<RootEmail>,
    /// The primary contact's phone, E.164 (`+` and 7 to 15 digits).
    pub phone: String,
    /// Name on the primary and alternate contacts (default: the account's name).
    pub name: Option<String>,
}

/// The last step a release completed. Names are the audit actions' suffixes
/// (`release.<step>`) and what `release status` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseStep {
    /// Custody stopped: status `releasing`, rotation stopped, check-outs revoked.
    Begun,
    /// A transfer's preconditions hold.
    PreconditionsChecked,
    // Closure.
    CloseRequested,
    Closed,
    // Root email (hand-back, transfer without `keep_email`).
    EmailUpdateStarted,
    AwaitingCode,
    CodeResent,
    /// `AcceptPrimaryEmailUpdate` succeeded: the point of no return of a hand-back.
    EmailAccepted,
    EmailConfirmed,
    // Credential hand-over.
    ContactsUpdated,
    RootCredentialsRemoved,
    LoginProfileCreated,
    // Transfer.
    InvitationFound,
    HandshakeAccepted,
    Departed,
    // End of custody.
    Shredded,
    Certified,
    /// Cancelled before the point of no return: custody restored.
    Cancelled,
}

impl ReleaseStep {
    pub const ALL: [ReleaseStep; 18] = [
        ReleaseStep::Begun,
        ReleaseStep::PreconditionsChecked,
        ReleaseStep::CloseRequested,
        ReleaseStep::Closed,
        ReleaseStep::EmailUpdateStarted,
        ReleaseStep::AwaitingCode,
        ReleaseStep::CodeResent,
        ReleaseStep::EmailAccepted,
        ReleaseStep::EmailConfirmed,
        ReleaseStep::ContactsUpdated,
        ReleaseStep::RootCredentialsRemoved,
        ReleaseStep::LoginProfileCreated,
        ReleaseStep::InvitationFound,
        ReleaseStep::HandshakeAccepted,
        ReleaseStep::Departed,
        ReleaseStep::Shredded,
        ReleaseStep::Certified,
        ReleaseStep::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStep::Begun => "begun",
            ReleaseStep::PreconditionsChecked => "preconditions-checked",
            ReleaseStep::CloseRequested => "close-requested",
            ReleaseStep::Closed => "closed",
            ReleaseStep::EmailUpdateStarted => "email-update-started",
            ReleaseStep::AwaitingCode => "awaiting-code",
            ReleaseStep::CodeResent => "code-resent",
            ReleaseStep::EmailAccepted => "email-accepted",
            ReleaseStep::EmailConfirmed => "email-confirmed",
            ReleaseStep::ContactsUpdated => "contacts-updated",
            ReleaseStep::RootCredentialsRemoved => "root-credentials-removed",
            ReleaseStep::LoginProfileCreated => "login-profile-created",
            ReleaseStep::InvitationFound => "invitation-found",
            ReleaseStep::HandshakeAccepted => "handshake-accepted",
            ReleaseStep::Departed => "departed",
            ReleaseStep::Shredded => "shredded",
            ReleaseStep::Certified => "certified",
            ReleaseStep::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// Which execution owns a release, what was approved, and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    pub account_id: AccountId,
    pub exit: Exit,
    /// The owning execution (its name, `release-<account>-<request id>`) and ARN.
    pub execution: String,
    pub execution_arn: String,
    /// The access request that approved it (reason `release`), and who asked and approved,
    /// as AWS authenticated them to the access function.
    pub request_id: String,
    pub requested_by: String,
    pub approved_by: Vec<String>,
    pub reason: String,
    pub ticket: String,
    /// Hand-back and transfer.
    pub customer: Option<Customer>,
    /// Transfer: the customer's organization (`o-` and 10 to 32 lowercase letters or digits).
    pub customer_org: Option<String>,
    /// Transfer: the customer asked to keep our root address (recorded; no email change).
    pub keep_email: bool,
    /// None until `begin` ran.
    pub step: Option<ReleaseStep>,
    /// Status before the release began (a cancel restores it).
    pub previous_status: AccountStatus,
    /// Our root address before a hand-over changed it (retired afterwards).
    pub previous_email: Option<String>,
    /// Base interval of every poll (seconds; doubled per poll up to an hour), and how long to
    /// wait for the customer's invitation: from the approved start, kept for the polls.
    pub poll_seconds: u64,
    pub invitation_timeout_seconds: u64,
    /// Verification codes asked for again.
    pub resends: u32,
    /// Polls of the current wait (closure, email propagation, invitation, departure).
    pub polls: u32,
    /// Root credentials removed (`mfa:<serial>`, `login-profile`, `access-key:<id>`,
    /// `certificate:<id>`): the certificate names them.
    pub removed: Vec<String>,
    /// Who asked to cancel (the caller's ARN), if someone did.
    pub cancel_requested_by: Option<String>,
    /// The error that stopped the owning execution, if one did (a new execution resumes).
    pub stopped: Option<String>,
    /// When the point of no return was passed (cancel is refused after it).
    pub point_of_no_return_at: Option<DateTime<Utc>>,
    /// Closure: AWS reported the account `SUSPENDED`; the vault is shredded after
    /// `shred_after` (the 90-day reinstatement window).
    pub closed_at: Option<DateTime<Utc>>,
    pub shred_after: Option<DateTime<Utc>>,
    pub shredded_at: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The condition a release write holds on the registry item; DynamoDB conditions resolve
/// races.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The account is `status` (active, or closed for a reinstatement) and no release owned
    /// by another execution is recorded unless it ended (`previous`: the one read, if any).
    Begin {
        status: AccountStatus,
        previous: Option<String>,
    },
    /// The release is owned by `execution` and its last step is `step`.
    Step {
        execution: String,
        step: Option<ReleaseStep>,
    },
}

/// What a release request asks for, as approved (kept on the access request; `begin` copies
/// it into the [`Release`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseTerms {
    pub exit: Exit,
    /// Hand-back (required, with an email) and transfer (required; email optional with
    /// `keep_email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    /// Transfer only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_org: Option<String>,
    /// Transfer only: keep our root address (no email change; recorded).
    #[serde(default)]
    pub keep_email: bool,
}
