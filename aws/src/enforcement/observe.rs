//! Observing a root user: `sts:AssumeRoot` sessions scoped to an AWS managed task policy, and
//! the four IAM reads that make up a [`Posture`].

use aws_sdk_sts::types::PolicyDescriptorType;

use super::Deps;
use crate::enforcement::{Posture, RootAccessKey, RootCertificate};
use crate::sdk::sdk_error;
use crate::{AccountId, ErrorType, LambdaError};

/// Root sessions are as short as AWS allows (900 s is its maximum).
pub const ROOT_SESSION_SECONDS: i32 = 900;

/// The AWS managed task policies a root session is scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskPolicy {
    AuditRootUserCredentials,
    DeleteRootUserCredentials,
    CreateRootUserPassword,
}

impl TaskPolicy {
    pub fn name(self) -> &'static str {
        match self {
            TaskPolicy::AuditRootUserCredentials => "IAMAuditRootUserCredentials",
            TaskPolicy::DeleteRootUserCredentials => "IAMDeleteRootUserCredentials",
            TaskPolicy::CreateRootUserPassword => "IAMCreateRootUserPassword",
        }
    }
    pub fn arn(self) -> String {
        format!("arn:aws:iam::aws:policy/root-task/{}", self.name())
    }
}

impl Deps {
    /// An IAM client acting as `account`'s root user, scoped to `policy`, for 15 minutes.
    pub async fn root_iam(
        &self,
        account: &AccountId,
        policy: TaskPolicy,
    ) -> Result<aws_sdk_iam::Client, LambdaError> {
        let out = self
            .sts
            .assume_root()
            .target_principal(account.as_str())
            .task_policy_arn(PolicyDescriptorType::builder().arn(policy.arn()).build())
            .duration_seconds(ROOT_SESSION_SECONDS)
            .send()
            .await
            .map_err(|e| {
                let mut err = sdk_error("sts:AssumeRoot", &e);
                err.message = format!("{} ({} in {account})", err.message, policy.name());
                err
            })?;
        let c = out.credentials().ok_or_else(|| {
            LambdaError::new(
                ErrorType::AwsError,
                "sts:AssumeRoot returned no credentials",
            )
        })?;
        let expiry = std::time::SystemTime::try_from(*c.expiration()).ok();
        let credentials = aws_sdk_iam::config::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            expiry,
            "AssumeRoot",
        );
        let conf = aws_sdk_iam::config::Builder::from(&self.sdk)
            .credentials_provider(credentials)
            .build();
        Ok(aws_sdk_iam::Client::from_conf(conf))
    }
}

/// Reads the root user's credentials (any session whose policy allows the four reads).
pub async fn read_posture(iam: &aws_sdk_iam::Client) -> Result<Posture, LambdaError> {
    let access_keys = iam
        .list_access_keys()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| sdk_error("iam:ListAccessKeys", &e))?
        .into_iter()
        .map(|k| RootAccessKey {
            id: k.access_key_id().unwrap_or_default().to_owned(),
            status: k
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            created: k.create_date().map(|d| d.to_string()),
        })
        .collect();
    let signing_certificates = iam
        .list_signing_certificates()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| sdk_error("iam:ListSigningCertificates", &e))?
        .into_iter()
        .map(|c| RootCertificate {
            id: c.certificate_id().to_owned(),
            status: c.status().as_str().to_owned(),
        })
        .collect();
    let mfa_devices = iam
        .list_mfa_devices()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| sdk_error("iam:ListMFADevices", &e))?
        .into_iter()
        .map(|d| d.serial_number().to_owned())
        .collect();
    let login_profile = match iam.get_login_profile().send().await {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_no_such_entity_exception()) =>
        {
            false
        }
        Err(e) => return Err(sdk_error("iam:GetLoginProfile", &e)),
    };
    Ok(Posture {
        access_keys,
        signing_certificates,
        mfa_devices,
        login_profile,
    })
}
