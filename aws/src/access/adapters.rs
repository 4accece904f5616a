//! The registry, ticket and rotation adapters as access sees them: `AccessAccounts` on
//! `DynamoAccountRegistry`, `AccessTickets` on `DynamoTicketStore`, `RotationLookup` on
//! `DynamoRotationStore`.

use chrono::{DateTime, Utc};
use rootwarden_core::access::{AccessAccounts, AccessTickets, RotationLookup};

use crate::registry::{AccountMode, AccountStatus, DynamoAccountRegistry, RotationReason};
use crate::rotation::{DynamoRotationStore, RotationRecord, RotationStage};
use crate::tickets::{DynamoTicketStore, Ticket, TicketError, TicketStore};
use crate::{AccountId, LambdaError};

impl AccessAccounts for DynamoAccountRegistry {
    async fn standing(
        &self,
        account: &AccountId,
    ) -> Result<Option<(AccountStatus, AccountMode)>, LambdaError> {
        Ok(self.get(account).await?.map(|a| (a.status, a.mode)))
    }

    async fn mark_for_rotation(
        &self,
        account: &AccountId,
        now: DateTime<Utc>,
        reason: RotationReason,
    ) -> Result<(AccountStatus, AccountMode), LambdaError> {
        DynamoAccountRegistry::mark_for_rotation(self, account, now, reason).await
    }
}

impl AccessTickets for DynamoTicketStore {
    async fn ticket(&self, id: &str) -> Result<Option<Ticket>, TicketError> {
        TicketStore::get(self, id).await
    }

    async fn open_task(
        &self,
        ticket: &Ticket,
        actor: &str,
        correlation_id: &str,
    ) -> Result<Ticket, TicketError> {
        DynamoTicketStore::open_task(self, ticket, actor, correlation_id).await
    }
}

impl RotationLookup for DynamoRotationStore {
    async fn awaiting_apply(
        &self,
        account: &AccountId,
    ) -> Result<Option<RotationRecord>, LambdaError> {
        Ok(self
            .list(account)
            .await?
            .into_iter()
            .find(|r| r.stage == RotationStage::AwaitingApply))
    }
}
