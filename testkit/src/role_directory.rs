//! `MemoryRoleDirectory`: the twin of `IamRoleDirectory` (`iam:GetRole` by name).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rootwarden_core::access::identity::{RoleDirectory, RoleRecord};
use rootwarden_core::LambdaError;

use crate::lock;

#[derive(Clone, Default)]
pub struct MemoryRoleDirectory {
    roles: Arc<Mutex<HashMap<String, RoleRecord>>>,
}

impl MemoryRoleDirectory {
    /// Creates (or re-creates, with a new id) the role named by the last segment of `arn`.
    pub fn put(&self, arn: &str, role_id: &str) {
        let name = arn.rsplit('/').next().unwrap_or(arn).to_owned();
        lock(&self.roles).insert(
            name,
            RoleRecord {
                arn: arn.to_owned(),
                role_id: role_id.to_owned(),
            },
        );
    }

    pub fn delete(&self, name: &str) {
        lock(&self.roles).remove(name);
    }
}

impl RoleDirectory for MemoryRoleDirectory {
    async fn role(&self, name: &str) -> Result<Option<RoleRecord>, LambdaError> {
        Ok(lock(&self.roles).get(name).cloned())
    }
}
