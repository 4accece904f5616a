//! `MemoryAccountContacts`: the twin of `AccountContactsApi`: each account's primary contact
//! (name, phone) and its BILLING, OPERATIONS and SECURITY alternate contacts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rootwarden_core::release::{AccountContacts, Contact};
use rootwarden_core::{AccountId, ErrorType, LambdaError};

use crate::{lock, unavailable};

#[derive(Default)]
struct State {
    primary: BTreeMap<AccountId, Contact>,
    alternates: BTreeMap<AccountId, BTreeMap<&'static str, Contact>>,
    down: bool,
    /// `PutAlternateContact` refused for good (e.g. AccessDenied: trusted access off).
    alternates_denied: bool,
}

#[derive(Clone, Default)]
pub struct MemoryAccountContacts {
    state: Arc<Mutex<State>>,
}

impl MemoryAccountContacts {
    pub fn primary(&self, account: &AccountId) -> Option<Contact> {
        lock(&self.state).primary.get(account).cloned()
    }
    /// The alternate contact of `kind` (`BILLING`, `OPERATIONS`, `SECURITY`).
    pub fn alternate(&self, account: &AccountId, kind: &str) -> Option<Contact> {
        lock(&self.state)
            .alternates
            .get(account)
            .and_then(|m| m.get(kind).cloned())
    }
    pub fn set_primary(&self, account: &AccountId, contact: Contact) {
        lock(&self.state).primary.insert(account.clone(), contact);
    }
    pub fn fail(&self, down: bool) {
        lock(&self.state).down = down;
    }
    /// Makes `put_alternates` fail definitively (AccessDenied), the primary contact still works.
    pub fn deny_alternates(&self, denied: bool) {
        lock(&self.state).alternates_denied = denied;
    }
}

fn valid_phone(p: &str) -> bool {
    p.strip_prefix('+')
        .is_some_and(|d| (7..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

impl AccountContacts for MemoryAccountContacts {
    async fn put_primary(&self, account: &AccountId, contact: &Contact) -> Result<(), LambdaError> {
        let mut s = lock(&self.state);
        if s.down {
            return Err(unavailable("account"));
        }
        if !valid_phone(&contact.phone) {
            return Err(LambdaError::new(
                ErrorType::AwsError,
                "ValidationException: phone",
            ));
        }
        s.primary.insert(account.clone(), contact.clone());
        Ok(())
    }

    async fn put_alternates(
        &self,
        account: &AccountId,
        contact: &Contact,
    ) -> Result<(), LambdaError> {
        let mut s = lock(&self.state);
        if s.down {
            return Err(unavailable("account"));
        }
        if contact.email.is_none() {
            return Err(LambdaError::new(
                ErrorType::AwsError,
                "ValidationException: email",
            ));
        }
        if s.alternates_denied {
            return Err(LambdaError::new(
                ErrorType::AwsError,
                "AccessDeniedException: PutAlternateContact",
            ));
        }
        let m = s.alternates.entry(account.clone()).or_default();
        for kind in ["BILLING", "OPERATIONS", "SECURITY"] {
            m.insert(kind, contact.clone());
        }
        Ok(())
    }
}
