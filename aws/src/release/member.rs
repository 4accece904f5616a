//! `MemberAccountApi`: the account from inside, through the member role the template documents
//! (`arn:<partition>:iam::<account>:role/<ROOTWARDEN_RELEASE_MEMBER_ROLE>`, trusting our
//! management account): `sts:AssumeRole`, then `organizations:ListHandshakesForAccount` /
//! `organizations:AcceptHandshake` and `iam:GetRole` on `AWSControlTowerExecution`.
//!
//! Each call opens its own 15-minute session (a step makes one or two calls; nothing cached
//! outlives it). Refusals the customer or operator must resolve are
//! [`OrganizationsError::Precondition`]: `HandshakeConstraintViolationException` (too young,
//! not `ACTIVE`, …), `AccessDeniedException` on `AcceptHandshake` (Control Tower's guardrail
//! SCP denies leaving), a management account, a handshake no longer open.

use aws_sdk_organizations::error::ProvideErrorMetadata;
use aws_sdk_organizations::operation::accept_handshake::AcceptHandshakeError;
use aws_sdk_organizations::types::{ActionType, HandshakeFilter, HandshakePartyType};
use chrono::{DateTime, Utc};

use crate::release::{Invitation, MemberAccount, OrganizationsError};
use crate::sdk::{classify_sdk_error, describe_sdk_error, sdk_error};
use crate::{AccountId, ErrorType, LambdaError};

/// The role AWS Control Tower keeps in every enrolled account.
pub const CONTROL_TOWER_ROLE: &str = "AWSControlTowerExecution";
/// The member role sessions' name (CloudTrail in the member account shows it).
pub const SESSION_NAME: &str = "rootwarden-release";
const SESSION_SECONDS: i32 = 900;

#[derive(Clone)]
pub struct MemberAccountApi {
    sts: aws_sdk_sts::Client,
    sdk: aws_types::SdkConfig,
    partition: String,
    role: String,
}

/// A member account's SDK configuration: the member role's session.
struct MemberSession(aws_types::SdkConfig);

impl MemberAccountApi {
    /// `role`: the member role's name (`Config::release_member_role`).
    pub fn new(
        sdk: &aws_types::SdkConfig,
        partition: impl Into<String>,
        role: impl Into<String>,
    ) -> Self {
        Self {
            sts: aws_sdk_sts::Client::new(sdk),
            sdk: sdk.clone(),
            partition: partition.into(),
            role: role.into(),
        }
    }

    /// The member role's ARN in `account`.
    pub fn role_arn(&self, account: &AccountId) -> String {
        format!("arn:{}:iam::{account}:role/{}", self.partition, self.role)
    }

    async fn session(&self, account: &AccountId) -> Result<MemberSession, LambdaError> {
        let arn = self.role_arn(account);
        let out = self
            .sts
            .assume_role()
            .role_arn(&arn)
            .role_session_name(SESSION_NAME)
            .duration_seconds(SESSION_SECONDS)
            .send()
            .await
            .map_err(|e| {
                let mut err = sdk_error("sts:AssumeRole", &e);
                err.message = format!("{} (member role {arn})", err.message);
                err
            })?;
        let c = out.credentials().ok_or_else(|| {
            LambdaError::new(
                ErrorType::AwsError,
                "sts:AssumeRole returned no credentials",
            )
        })?;
        let expiry = std::time::SystemTime::try_from(*c.expiration()).ok();
        let credentials = aws_sdk_sts::config::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            expiry,
            "RootWardenReleaseMember",
        );
        Ok(MemberSession(
            self.sdk
                .to_builder()
                .credentials_provider(aws_types::sdk_config::SharedCredentialsProvider::new(
                    credentials,
                ))
                .build(),
        ))
    }
}

fn orgs_error(e: LambdaError) -> OrganizationsError {
    match e.error_type {
        ErrorType::TransientAwsError => OrganizationsError::Unavailable(e.message),
        _ => OrganizationsError::Refused(e.message),
    }
}

fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

fn invitation(h: &aws_sdk_organizations::types::Handshake) -> Option<Invitation> {
    let organization_id = h
        .parties()
        .iter()
        .find(|p| *p.r#type() == HandshakePartyType::Organization)
        .map(|p| p.id().to_owned())?;
    Some(Invitation {
        handshake_id: h.id()?.to_owned(),
        handshake_arn: h.arn().unwrap_or_default().to_owned(),
        organization_id,
        state: h.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        expires_at: time(h.expiration_timestamp()),
    })
}

impl MemberAccount for MemberAccountApi {
    async fn invitations(
        &self,
        account: &AccountId,
    ) -> Result<Vec<Invitation>, OrganizationsError> {
        let session = self.session(account).await.map_err(orgs_error)?;
        let orgs = aws_sdk_organizations::Client::new(&session.0);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = orgs
                .list_handshakes_for_account()
                .filter(
                    HandshakeFilter::builder()
                        .action_type(ActionType::InviteAccountToOrganization)
                        .build(),
                )
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    let text = describe_sdk_error("organizations:ListHandshakesForAccount", &e);
                    if classify_sdk_error(&e) == ErrorType::TransientAwsError {
                        OrganizationsError::Unavailable(text)
                    } else {
                        OrganizationsError::Refused(text)
                    }
                })?;
            out.extend(page.handshakes().iter().filter_map(invitation));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn accept(
        &self,
        account: &AccountId,
        handshake_id: &str,
    ) -> Result<(), OrganizationsError> {
        let session = self.session(account).await.map_err(orgs_error)?;
        let orgs = aws_sdk_organizations::Client::new(&session.0);
        let err = match orgs
            .accept_handshake()
            .handshake_id(handshake_id)
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let text = describe_sdk_error("organizations:AcceptHandshake", &err);
        let reason = match err.as_service_error() {
            Some(AcceptHandshakeError::HandshakeConstraintViolationException(c)) => {
                c.reason().map(|r| r.as_str().to_owned())
            }
            _ => None,
        };
        Err(match err.as_service_error() {
            Some(AcceptHandshakeError::HandshakeAlreadyInStateException(_)) => return Ok(()),
            Some(AcceptHandshakeError::HandshakeConstraintViolationException(_)) => {
                OrganizationsError::Precondition(match reason {
                    Some(r) => format!("{text} [{r}]"),
                    None => text,
                })
            }
            Some(AcceptHandshakeError::AccessDeniedException(_)) => OrganizationsError::Precondition(
                format!("{text}: a service control policy (AWS Control Tower's) may deny leaving; unenrol the account first"),
            ),
            Some(AcceptHandshakeError::InvalidHandshakeTransitionException(_))
            | Some(AcceptHandshakeError::HandshakeNotFoundException(_)) => {
                OrganizationsError::Precondition(format!(
                    "{text}: the invitation is no longer open; the customer must invite again"
                ))
            }
            _ if err.code() == Some("MasterCannotLeaveOrganizationException") => {
                OrganizationsError::Precondition(text)
            }
            _ if classify_sdk_error(&err) == ErrorType::TransientAwsError
                || err.code() == Some("ConcurrentModificationException") =>
            {
                OrganizationsError::Unavailable(text)
            }
            _ => OrganizationsError::Refused(text),
        })
    }

    async fn control_tower_enrolled(&self, account: &AccountId) -> Result<bool, LambdaError> {
        let session = self.session(account).await?;
        let iam = aws_sdk_iam::Client::new(&session.0);
        match iam.get_role().role_name(CONTROL_TOWER_ROLE).send().await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(false),
            Err(e) => Err(sdk_error("iam:GetRole", &e)),
        }
    }
}
