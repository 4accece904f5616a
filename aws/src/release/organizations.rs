//! `OrganizationsApi`: our organization as its management account sees it
//! (`organizations:DescribeAccount`, `organizations:CloseAccount`).
//!
//! `CloseAccount` is done when the account is closed or closing: AWS answers
//! `AccountAlreadyClosedException` for a `SUSPENDED` account, and a `ConflictException` while a
//! closure is pending (then `DescribeAccount` confirms `PENDING_CLOSURE`).
//! `ConstraintViolationException` `CLOSE_ACCOUNT_QUOTA_EXCEEDED` is
//! [`OrganizationsError::CloseQuotaExceeded`] (its message says when a slot frees, where AWS
//! says it).

use aws_sdk_organizations::error::ProvideErrorMetadata;
use aws_sdk_organizations::operation::close_account::CloseAccountError;
use aws_sdk_organizations::operation::describe_account::DescribeAccountError;
use aws_sdk_organizations::types::{
    AccountState, AccountStatus, ConstraintViolationExceptionReason,
};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use chrono::{DateTime, Utc};

use crate::release::{Member, MemberStatus, Organizations, OrganizationsError};
use crate::sdk::{classify_sdk_error, describe_sdk_error};
use crate::{AccountId, ErrorType};

#[derive(Clone)]
pub struct OrganizationsApi {
    client: aws_sdk_organizations::Client,
    partition: String,
}

impl OrganizationsApi {
    /// `partition`: our organization's (`aws`, `aws-cn`, `aws-us-gov`), see [`partition_of`].
    pub fn new(client: aws_sdk_organizations::Client, partition: impl Into<String>) -> Self {
        Self {
            client,
            partition: partition.into(),
        }
    }
}

/// The partition of an ARN (`arn:<partition>:…`), if it is one.
pub fn arn_partition(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    match (parts.next(), parts.next()) {
        (Some("arn"), Some(p))
            if !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '-') =>
        {
            Some(p)
        }
        _ => None,
    }
}

/// Our partition: from the first ARN given that names one (the caller's or a configured
/// resource's), else from the region (`cn-…` → `aws-cn`, `us-gov-…` → `aws-us-gov`, otherwise
/// `aws`).
pub fn partition_of<'a>(arns: impl IntoIterator<Item = &'a str>, region: Option<&str>) -> String {
    if let Some(p) = arns.into_iter().find_map(arn_partition) {
        return p.to_owned();
    }
    match region {
        Some(r) if r.starts_with("cn-") => "aws-cn".to_owned(),
        Some(r) if r.starts_with("us-gov-") => "aws-us-gov".to_owned(),
        _ => "aws".to_owned(),
    }
}

fn other<E: ProvideErrorMetadata + std::error::Error>(
    operation: &str,
    err: &SdkError<E, Response>,
) -> OrganizationsError {
    let text = describe_sdk_error(operation, err);
    if classify_sdk_error(err) == ErrorType::TransientAwsError
        || err.code() == Some("ConcurrentModificationException")
        || err.code() == Some("TooManyRequestsException")
    {
        OrganizationsError::Unavailable(text)
    } else {
        OrganizationsError::Refused(text)
    }
}

fn status_of(a: &aws_sdk_organizations::types::Account) -> Result<MemberStatus, String> {
    // `State` replaces `Status` (AWS deprecates the latter); either names the same lifecycle.
    if let Some(state) = a.state() {
        return match state {
            AccountState::Active => Ok(MemberStatus::Active),
            AccountState::PendingClosure => Ok(MemberStatus::PendingClosure),
            // CLOSED: after the 90-day post-closure period; still a closed account.
            AccountState::Suspended | AccountState::Closed => Ok(MemberStatus::Suspended),
            other => Err(format!("state {}", other.as_str())),
        };
    }
    match a.status() {
        Some(AccountStatus::Active) => Ok(MemberStatus::Active),
        Some(AccountStatus::PendingClosure) => Ok(MemberStatus::PendingClosure),
        Some(AccountStatus::Suspended) => Ok(MemberStatus::Suspended),
        other => Err(format!(
            "status {}",
            other.map(|s| s.as_str()).unwrap_or("missing")
        )),
    }
}

fn joined(a: &aws_sdk_organizations::types::Account) -> Option<DateTime<Utc>> {
    let t = a.joined_timestamp()?;
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

impl Organizations for OrganizationsApi {
    async fn describe(&self, account: &AccountId) -> Result<Option<Member>, OrganizationsError> {
        let out = match self
            .client
            .describe_account()
            .account_id(account.as_str())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(DescribeAccountError::AccountNotFoundException(_))
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(other("organizations:DescribeAccount", &e)),
        };
        let Some(a) = out.account() else {
            return Err(OrganizationsError::Refused(
                "organizations:DescribeAccount returned no account".into(),
            ));
        };
        let status = status_of(a).map_err(|what| {
            // PENDING_ACTIVATION: a new account that is not ready yet; it will be.
            OrganizationsError::Unavailable(format!(
                "organizations:DescribeAccount: account {account} has {what}"
            ))
        })?;
        let joined_at = joined(a).ok_or_else(|| {
            OrganizationsError::Refused(format!(
                "organizations:DescribeAccount: account {account} has no JoinedTimestamp"
            ))
        })?;
        Ok(Some(Member { status, joined_at }))
    }

    async fn close(&self, account: &AccountId) -> Result<(), OrganizationsError> {
        let err = match self
            .client
            .close_account()
            .account_id(account.as_str())
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        match err.as_service_error() {
            Some(CloseAccountError::AccountAlreadyClosedException(_)) => Ok(()),
            Some(CloseAccountError::ConstraintViolationException(c))
                if c.reason()
                    == Some(&ConstraintViolationExceptionReason::CloseAccountQuotaExceeded) =>
            {
                Err(OrganizationsError::CloseQuotaExceeded(
                    c.message().unwrap_or("no message").to_owned(),
                ))
            }
            Some(CloseAccountError::ConflictException(_)) => {
                // A closure already pending (or another change in flight): done if so.
                match self.describe(account).await? {
                    Some(Member {
                        status: MemberStatus::PendingClosure | MemberStatus::Suspended,
                        ..
                    }) => Ok(()),
                    _ => Err(OrganizationsError::Unavailable(describe_sdk_error(
                        "organizations:CloseAccount",
                        &err,
                    ))),
                }
            }
            _ => Err(other("organizations:CloseAccount", &err)),
        }
    }

    fn partition(&self) -> &str {
        &self.partition
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_comes_from_an_arn_first_then_the_region() {
        assert_eq!(
            partition_of(
                ["not an arn", "arn:aws-cn:sts::1:assumed-role/r/s"],
                Some("us-east-1")
            ),
            "aws-cn"
        );
        assert_eq!(partition_of([], Some("us-gov-west-1")), "aws-us-gov");
        assert_eq!(partition_of([], Some("cn-north-1")), "aws-cn");
        assert_eq!(partition_of([], Some("eu-west-1")), "aws");
        assert_eq!(partition_of([], None), "aws");
        assert_eq!(arn_partition("arn::iam::1:root"), None);
        assert_eq!(arn_partition("arn:AWS:iam::1:root"), None);
    }
}
