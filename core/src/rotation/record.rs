//! A rotation as the workflows table records it: one per state-machine execution.

use serde::Serialize;

use crate::AccountId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RotationStage {
    AwaitingApply,
    Completed,
    Abandoned,
}

impl RotationStage {
    pub fn as_str(self) -> &'static str {
        match self {
            RotationStage::AwaitingApply => "awaiting-apply",
            RotationStage::Completed => "completed",
            RotationStage::Abandoned => "abandoned",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            RotationStage::AwaitingApply,
            RotationStage::Completed,
            RotationStage::Abandoned,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// A rotation as operators see it. Holds no secret (the task token is a capability to complete
/// the step, so it is kept out of `Serialize` output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationRecord {
    pub account_id: AccountId,
    pub execution: String,
    pub execution_arn: String,
    pub trigger: String,
    pub stage: RotationStage,
    pub pending_version: u32,
    /// The current version when it was prepared; `None` when none was (a takeover's first
    /// password).
    pub current_version: Option<u32>,
    pub completed_version: Option<u32>,
    /// The account's maximum password age when it was prepared (it is set at onboarding and
    /// never changes), so the finish sets the next due date without reading the registry;
    /// `None` on records written before it was kept.
    pub max_age_days: Option<u32>,
    pub ticket_id: String,
    #[serde(skip)]
    pub task_token: Option<String>,
    pub apply_deadline: Option<String>,
    pub started_at: String,
    pub updated_at: String,
    pub outcome: Option<String>,
}
