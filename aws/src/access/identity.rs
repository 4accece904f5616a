//! `IamRoleDirectory`: role paths from IAM.

use crate::sdk::sdk_error;
use crate::LambdaError;
pub use rootwarden_core::access::identity::*;

/// `iam:GetRole`.
#[derive(Clone)]
pub struct IamRoleDirectory(pub aws_sdk_iam::Client);

impl RoleDirectory for IamRoleDirectory {
    async fn role(&self, name: &str) -> Result<Option<RoleRecord>, LambdaError> {
        match self.0.get_role().role_name(name).send().await {
            Ok(out) => Ok(out.role().map(|r| RoleRecord {
                arn: r.arn().to_owned(),
                role_id: r.role_id().to_owned(),
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(sdk_error("iam:GetRole", &e)),
        }
    }
}
