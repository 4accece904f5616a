//! The takeover's progress, kept on the account's registry item (`takeover_*` attributes) next
//! to `status` `taking-over` and `root_email` (the allocated address).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::AccountId;

/// The last step a takeover completed. Activation clears it (the account is `active`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TakeoverStep {
    Allocated,
    EmailUpdateStarted,
    AwaitingCode,
    CodeResent,
    EmailUpdated,
    RecoveryEnabled,
    AwaitingResetLink,
    AwaitingMfa,
    MfaVerified,
    RootCredentialsDeleted,
    KeysDeleted,
}

impl TakeoverStep {
    pub const ALL: [TakeoverStep; 11] = [
        TakeoverStep::Allocated,
        TakeoverStep::EmailUpdateStarted,
        TakeoverStep::AwaitingCode,
        TakeoverStep::CodeResent,
        TakeoverStep::EmailUpdated,
        TakeoverStep::RecoveryEnabled,
        TakeoverStep::AwaitingResetLink,
        TakeoverStep::AwaitingMfa,
        TakeoverStep::MfaVerified,
        TakeoverStep::RootCredentialsDeleted,
        TakeoverStep::KeysDeleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TakeoverStep::Allocated => "allocated",
            TakeoverStep::EmailUpdateStarted => "email-update-started",
            TakeoverStep::AwaitingCode => "awaiting-code",
            TakeoverStep::CodeResent => "code-resent",
            TakeoverStep::EmailUpdated => "email-updated",
            TakeoverStep::RecoveryEnabled => "recovery-enabled",
            TakeoverStep::AwaitingResetLink => "awaiting-reset-link",
            TakeoverStep::AwaitingMfa => "awaiting-mfa",
            TakeoverStep::MfaVerified => "mfa-verified",
            TakeoverStep::RootCredentialsDeleted => "root-credentials-deleted",
            TakeoverStep::KeysDeleted => "keys-deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// Which execution owns a takeover and how far it got. Nothing in it is secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Takeover {
    pub account_id: AccountId,
    /// The execution that owns the takeover (its name) and its ARN.
    pub execution: String,
    pub execution_arn: String,
    pub reason: String,
    pub ticket: String,
    /// The starter's ARN as STS reported it to the CLI.
    pub requested_by: String,
    /// None once the account is active.
    pub step: Option<TakeoverStep>,
    /// Verification codes asked for again (bounded by [`MAX_RESENDS`](super::MAX_RESENDS)).
    pub resends: u32,
    /// The root address before the takeover changed it (None until AWS reported it).
    pub previous_email: Option<String>,
    /// The error that stopped the owning execution, if one did (a new start resumes).
    pub stopped: Option<String>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The condition a takeover write holds on the registry item; DynamoDB conditions resolve races.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The account is not registered.
    Unregistered,
    /// The account is `taking-over`, owned by `previous` (None: by no execution).
    Adopt { previous: Option<String> },
    /// The account is `taking-over`, owned by `execution`, last step `step`.
    Step {
        execution: String,
        step: Option<TakeoverStep>,
    },
}
