//! `StsIamRootCredentials`: root sessions through `sts:AssumeRoot` with an AWS managed task
//! policy, and the IAM calls a session makes on the root user (`IamRootSession`): the four reads
//! that make up a [`Posture`], the deletions, and `CreateLoginProfile`.

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_sts::types::PolicyDescriptorType;

use crate::enforcement::{
    Posture, Removal, RootAccessKey, RootCertificate, RootCredentials, RootSession, TaskPolicy,
    ROOT_SESSION_SECONDS,
};
use crate::sdk::sdk_error;
use crate::{AccountId, ErrorType, LambdaError};

/// Opens root sessions: an STS client (the caller's role) and the base configuration of the
/// IAM clients built for each session (region, endpoint, retry, HTTP client; only the
/// credentials differ).
#[derive(Clone)]
pub struct StsIamRootCredentials {
    pub sts: aws_sdk_sts::Client,
    pub sdk: aws_types::SdkConfig,
}

impl StsIamRootCredentials {
    pub fn new(sdk: &aws_types::SdkConfig) -> Self {
        Self {
            sts: aws_sdk_sts::Client::new(sdk),
            sdk: sdk.clone(),
        }
    }

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

impl RootCredentials for StsIamRootCredentials {
    type Session = IamRootSession;

    async fn open(
        &self,
        account: &AccountId,
        policy: TaskPolicy,
    ) -> Result<IamRootSession, LambdaError> {
        Ok(IamRootSession(self.root_iam(account, policy).await?))
    }
}

/// An IAM client acting as one account's root user.
#[derive(Clone)]
pub struct IamRootSession(pub aws_sdk_iam::Client);

impl RootSession for IamRootSession {
    async fn posture(&self) -> Result<Posture, LambdaError> {
        read_posture(&self.0).await
    }

    async fn remove(&self, removal: &Removal) -> Result<(), LambdaError> {
        remove(&self.0, removal).await
    }

    async fn create_login_profile(&self) -> Result<bool, LambdaError> {
        match self.0.create_login_profile().send().await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("EntityAlreadyExists") => Ok(false),
            Err(e) => Err(sdk_error("iam:CreateLoginProfile", &e)),
        }
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

/// Removes one root credential. Deleting what is already gone (an earlier, interrupted run)
/// counts as done.
async fn remove(iam: &aws_sdk_iam::Client, r: &Removal) -> Result<(), LambdaError> {
    fn gone<E: ProvideErrorMetadata>(
        e: &aws_smithy_runtime_api::client::result::SdkError<
            E,
            aws_smithy_runtime_api::http::Response,
        >,
    ) -> bool {
        e.code() == Some("NoSuchEntity")
    }
    match r {
        Removal::AccessKey(id) => match iam.delete_access_key().access_key_id(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(sdk_error("iam:DeleteAccessKey", &e)),
        },
        Removal::SigningCertificate(id) => {
            match iam
                .delete_signing_certificate()
                .certificate_id(id)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if gone(&e) => Ok(()),
                Err(e) => Err(sdk_error("iam:DeleteSigningCertificate", &e)),
            }
        }
        Removal::MfaDevice(serial) => {
            match iam
                .deactivate_mfa_device()
                .serial_number(serial)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if gone(&e) => {}
                Err(e) => return Err(sdk_error("iam:DeactivateMFADevice", &e)),
            }
            if r.deletes_virtual_mfa() {
                match iam
                    .delete_virtual_mfa_device()
                    .serial_number(serial)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if gone(&e) => {}
                    Err(e) => return Err(sdk_error("iam:DeleteVirtualMFADevice", &e)),
                }
            }
            Ok(())
        }
        Removal::LoginProfile => match iam.delete_login_profile().send().await {
            Ok(_) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(sdk_error("iam:DeleteLoginProfile", &e)),
        },
    }
}
