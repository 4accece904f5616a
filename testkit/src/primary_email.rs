//! `MemoryPrimaryEmail`: the twin of `AccountApiPrimaryEmail` (AWS's account API). A start
//! "mails" a fresh six-digit code (kept here for the test to deliver, as SES and inbound mail
//! would); only the newest code of the newest update is accepted. Fault switches: an address
//! belonging to another AWS account (`ConflictException`), an unavailable API.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use rootwarden_core::takeover::{PrimaryEmail, PrimaryEmailError, UpdateStatus};
use rootwarden_core::{AccountId, RootEmail};
use secrecy::{ExposeSecret, SecretString};

use crate::lock;

#[derive(Default)]
struct State {
    emails: BTreeMap<AccountId, RootEmail>,
    /// The pending update: address and its newest code.
    pending: BTreeMap<AccountId, (RootEmail, String)>,
    /// Every code mailed, in order (address, code).
    mailed: Vec<(AccountId, RootEmail, String)>,
    taken: BTreeSet<String>,
    /// The latest update of each account: accepted or not.
    accepted: BTreeMap<AccountId, bool>,
    down: bool,
    counter: u32,
}

#[derive(Clone, Default)]
pub struct MemoryPrimaryEmail {
    state: Arc<Mutex<State>>,
}

impl MemoryPrimaryEmail {
    /// The account's primary email as AWS has it.
    pub fn set(&self, account: &AccountId, email: &RootEmail) {
        lock(&self.state)
            .emails
            .insert(account.clone(), email.clone());
    }
    pub fn email(&self, account: &AccountId) -> Option<RootEmail> {
        lock(&self.state).emails.get(account).cloned()
    }
    /// The newest code mailed for `account` (what AWS's verification mail carries).
    pub fn last_code(&self, account: &AccountId) -> Option<String> {
        lock(&self.state)
            .mailed
            .iter()
            .rev()
            .find(|(a, _, _)| a == account)
            .map(|(_, _, c)| c.clone())
    }
    /// How many codes were mailed for `account`.
    pub fn mailed(&self, account: &AccountId) -> usize {
        lock(&self.state)
            .mailed
            .iter()
            .filter(|(a, _, _)| a == account)
            .count()
    }
    /// Makes `address` belong to another AWS account (`ConflictException` on start).
    pub fn take(&self, address: &str) {
        lock(&self.state).taken.insert(address.to_ascii_lowercase());
    }
    /// Makes every call fail as unavailable (or work again).
    pub fn fail(&self, down: bool) {
        lock(&self.state).down = down;
    }

    fn check(s: &State) -> Result<(), PrimaryEmailError> {
        if s.down {
            return Err(PrimaryEmailError::Unavailable("simulated".into()));
        }
        Ok(())
    }
}

impl PrimaryEmail for MemoryPrimaryEmail {
    async fn get(&self, account: &AccountId) -> Result<RootEmail, PrimaryEmailError> {
        let s = lock(&self.state);
        Self::check(&s)?;
        s.emails
            .get(account)
            .cloned()
            .ok_or_else(|| PrimaryEmailError::Refused(format!("account {account} not found")))
    }

    async fn start_update(
        &self,
        account: &AccountId,
        address: &RootEmail,
    ) -> Result<(), PrimaryEmailError> {
        let mut s = lock(&self.state);
        Self::check(&s)?;
        if !s.emails.contains_key(account) {
            return Err(PrimaryEmailError::Refused(format!(
                "account {account} not found"
            )));
        }
        if s.taken.contains(address.as_str()) {
            return Err(PrimaryEmailError::Conflict(format!(
                "{address} is in use by another account"
            )));
        }
        s.counter += 1;
        let code = format!(
            "{:06}",
            (u64::from(s.counter) * 7_919 + 104_729) % 1_000_000
        );
        s.pending
            .insert(account.clone(), (address.clone(), code.clone()));
        s.accepted.insert(account.clone(), false);
        s.mailed.push((account.clone(), address.clone(), code));
        Ok(())
    }

    async fn accept_update(
        &self,
        account: &AccountId,
        address: &RootEmail,
        code: &SecretString,
    ) -> Result<(), PrimaryEmailError> {
        let mut s = lock(&self.state);
        Self::check(&s)?;
        match s.pending.get(account) {
            Some((a, c)) if a == address && c == code.expose_secret() => {
                s.pending.remove(account);
                s.emails.insert(account.clone(), address.clone());
                s.accepted.insert(account.clone(), true);
                Ok(())
            }
            Some(_) => Err(PrimaryEmailError::WrongCode("the code is not valid".into())),
            None => Err(PrimaryEmailError::WrongCode("no update is pending".into())),
        }
    }

    async fn update_status(
        &self,
        account: &AccountId,
    ) -> Result<Option<UpdateStatus>, PrimaryEmailError> {
        let s = lock(&self.state);
        Self::check(&s)?;
        Ok(s.accepted.get(account).map(|&done| {
            if done {
                UpdateStatus::Accepted
            } else {
                UpdateStatus::Pending
            }
        }))
    }
}
