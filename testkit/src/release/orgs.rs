//! `MemoryOrganizations`: the twins of `OrganizationsApi` and `MemberAccountApi` in one (our
//! organization and the invitations its members receive share one state). `CloseAccount` moves
//! an `ACTIVE` member to `PENDING_CLOSURE` within the closure quota; the test moves it on to
//! `SUSPENDED` ([`MemoryOrganizations::finish_closure`]). Accepting an open handshake makes the
//! account leave our organization (unless [`MemoryOrganizations::hold_departure`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rootwarden_core::release::{
    Invitation, Member, MemberAccount, MemberStatus, Organizations, OrganizationsError,
};
use rootwarden_core::{AccountId, LambdaError};

use crate::{lock, unavailable};

#[derive(Default)]
struct State {
    members: BTreeMap<AccountId, Member>,
    invitations: BTreeMap<AccountId, Vec<Invitation>>,
    control_tower: BTreeSet<AccountId>,
    /// Closures left in the window (None: unlimited).
    quota_left: Option<u32>,
    closed: Vec<AccountId>,
    accepted: Vec<(AccountId, String)>,
    hold_departure: bool,
    down: bool,
}

#[derive(Clone)]
pub struct MemoryOrganizations {
    state: Arc<Mutex<State>>,
    partition: String,
}

impl Default for MemoryOrganizations {
    fn default() -> Self {
        Self {
            state: Arc::default(),
            partition: "aws".into(),
        }
    }
}

impl MemoryOrganizations {
    /// `account` is a member with `status`, joined at `joined_at`.
    pub fn add(&self, account: &AccountId, status: MemberStatus, joined_at: DateTime<Utc>) {
        lock(&self.state)
            .members
            .insert(account.clone(), Member { status, joined_at });
    }
    pub fn member(&self, account: &AccountId) -> Option<Member> {
        lock(&self.state).members.get(account).cloned()
    }
    pub fn set_status(&self, account: &AccountId, status: MemberStatus) {
        if let Some(m) = lock(&self.state).members.get_mut(account) {
            m.status = status;
        }
    }
    /// AWS finished the closure: `SUSPENDED`.
    pub fn finish_closure(&self, account: &AccountId) {
        self.set_status(account, MemberStatus::Suspended);
    }
    /// Closures allowed from now on.
    pub fn set_quota(&self, left: Option<u32>) {
        lock(&self.state).quota_left = left;
    }
    pub fn closed(&self) -> Vec<AccountId> {
        lock(&self.state).closed.clone()
    }
    pub fn enroll_control_tower(&self, account: &AccountId, enrolled: bool) {
        let mut s = lock(&self.state);
        if enrolled {
            s.control_tower.insert(account.clone());
        } else {
            s.control_tower.remove(account);
        }
    }
    /// An organization invites `account` (as `InviteAccountToOrganization` does).
    pub fn invite(&self, account: &AccountId, invitation: Invitation) {
        lock(&self.state)
            .invitations
            .entry(account.clone())
            .or_default()
            .push(invitation);
    }
    /// Handshakes accepted, in order.
    pub fn accepted(&self) -> Vec<(AccountId, String)> {
        lock(&self.state).accepted.clone()
    }
    /// Accepting a handshake leaves the account in our organization until [`Self::depart`].
    pub fn hold_departure(&self, hold: bool) {
        lock(&self.state).hold_departure = hold;
    }
    pub fn depart(&self, account: &AccountId) {
        lock(&self.state).members.remove(account);
    }
    pub fn fail(&self, down: bool) {
        lock(&self.state).down = down;
    }
    fn check(s: &State) -> Result<(), OrganizationsError> {
        if s.down {
            return Err(OrganizationsError::Unavailable("simulated".into()));
        }
        Ok(())
    }
}

impl Organizations for MemoryOrganizations {
    async fn describe(&self, account: &AccountId) -> Result<Option<Member>, OrganizationsError> {
        let s = lock(&self.state);
        Self::check(&s)?;
        Ok(s.members.get(account).cloned())
    }

    async fn close(&self, account: &AccountId) -> Result<(), OrganizationsError> {
        let mut s = lock(&self.state);
        Self::check(&s)?;
        let status = s
            .members
            .get(account)
            .map(|m| m.status)
            .ok_or_else(|| OrganizationsError::Refused(format!("{account} is not a member")))?;
        if status != MemberStatus::Active {
            return Ok(());
        }
        match s.quota_left {
            Some(0) => {
                return Err(OrganizationsError::CloseQuotaExceeded(
                    "CLOSE_ACCOUNT_QUOTA_EXCEEDED".into(),
                ))
            }
            Some(n) => s.quota_left = Some(n - 1),
            None => {}
        }
        if let Some(m) = s.members.get_mut(account) {
            m.status = MemberStatus::PendingClosure;
        }
        s.closed.push(account.clone());
        Ok(())
    }

    fn partition(&self) -> &str {
        &self.partition
    }
}

impl MemberAccount for MemoryOrganizations {
    async fn invitations(
        &self,
        account: &AccountId,
    ) -> Result<Vec<Invitation>, OrganizationsError> {
        let s = lock(&self.state);
        Self::check(&s)?;
        Ok(s.invitations.get(account).cloned().unwrap_or_default())
    }

    async fn accept(
        &self,
        account: &AccountId,
        handshake_id: &str,
    ) -> Result<(), OrganizationsError> {
        let mut s = lock(&self.state);
        Self::check(&s)?;
        let hold = s.hold_departure;
        let inv = s
            .invitations
            .get_mut(account)
            .and_then(|l| l.iter_mut().find(|i| i.handshake_id == handshake_id))
            .ok_or_else(|| OrganizationsError::Refused(format!("no handshake {handshake_id}")))?;
        match inv.state.as_str() {
            "ACCEPTED" => return Ok(()),
            "OPEN" => inv.state = "ACCEPTED".into(),
            other => {
                return Err(OrganizationsError::Precondition(format!(
                    "handshake {handshake_id} is {other}"
                )))
            }
        }
        s.accepted.push((account.clone(), handshake_id.to_owned()));
        if !hold {
            s.members.remove(account);
        }
        Ok(())
    }

    async fn control_tower_enrolled(&self, account: &AccountId) -> Result<bool, LambdaError> {
        let s = lock(&self.state);
        if s.down {
            return Err(unavailable("iam"));
        }
        Ok(s.control_tower.contains(account))
    }
}
