//! `AccountApiPrimaryEmail`: a member account's primary (root) email through AWS's account API
//! (`account:GetPrimaryEmail`, `StartPrimaryEmailUpdate`, `AcceptPrimaryEmailUpdate`,
//! `GetPrimaryEmailUpdateStatus`). The
//! one-time code goes to AWS only; it is in no error and no log.

use aws_sdk_account::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use secrecy::{ExposeSecret, SecretString};

use crate::sdk::{classify_sdk_error, describe_sdk_error};
use crate::takeover::{PrimaryEmail, PrimaryEmailError, UpdateStatus};
use crate::{AccountId, ErrorType, RootEmail};

#[derive(Clone)]
pub struct AccountApiPrimaryEmail {
    client: aws_sdk_account::Client,
}

impl AccountApiPrimaryEmail {
    pub fn new(client: aws_sdk_account::Client) -> Self {
        Self { client }
    }
}

/// Which refusal an account API error is. `accepting`: a refused code (`ValidationException`,
/// `ResourceNotFoundException`: no update pending) is `WrongCode`.
fn refusal<E: ProvideErrorMetadata + std::error::Error>(
    operation: &str,
    err: &SdkError<E, Response>,
    accepting: bool,
) -> PrimaryEmailError {
    let text = describe_sdk_error(operation, err);
    let code = match err {
        SdkError::ServiceError(se) => se.err().code().unwrap_or_default().to_owned(),
        _ => String::new(),
    };
    match code.as_str() {
        "ConflictException" => PrimaryEmailError::Conflict(text),
        "ValidationException" | "ResourceNotFoundException" if accepting => {
            PrimaryEmailError::WrongCode(text)
        }
        _ if classify_sdk_error(err) == ErrorType::TransientAwsError => {
            PrimaryEmailError::Unavailable(text)
        }
        _ => PrimaryEmailError::Refused(text),
    }
}

impl PrimaryEmail for AccountApiPrimaryEmail {
    async fn get(&self, account: &AccountId) -> Result<RootEmail, PrimaryEmailError> {
        let out = self
            .client
            .get_primary_email()
            .account_id(account.as_str())
            .send()
            .await
            .map_err(|e| refusal("account:GetPrimaryEmail", &e, false))?;
        let raw = out.primary_email().unwrap_or_default();
        RootEmail::parse(raw).map_err(|e| {
            PrimaryEmailError::Refused(format!(
                "account:GetPrimaryEmail returned no valid address: {e}"
            ))
        })
    }

    async fn start_update(
        &self,
        account: &AccountId,
        address: &RootEmail,
    ) -> Result<(), PrimaryEmailError> {
        self.client
            .start_primary_email_update()
            .account_id(account.as_str())
            .primary_email(address.as_str())
            .send()
            .await
            .map_err(|e| refusal("account:StartPrimaryEmailUpdate", &e, false))?;
        Ok(())
    }

    async fn accept_update(
        &self,
        account: &AccountId,
        address: &RootEmail,
        code: &SecretString,
    ) -> Result<(), PrimaryEmailError> {
        self.client
            .accept_primary_email_update()
            .account_id(account.as_str())
            .primary_email(address.as_str())
            .otp(code.expose_secret())
            .send()
            .await
            .map_err(|e| refusal("account:AcceptPrimaryEmailUpdate", &e, true))?;
        Ok(())
    }

    async fn update_status(
        &self,
        account: &AccountId,
    ) -> Result<Option<UpdateStatus>, PrimaryEmailError> {
        use aws_sdk_account::types::PrimaryEmailUpdateStatus as S;
        let out = match self
            .client
            .get_primary_email_update_status()
            .account_id(account.as_str())
            .send()
            .await
        {
            Ok(out) => out,
            Err(SdkError::ServiceError(se))
                if se.err().code() == Some("ResourceNotFoundException") =>
            {
                return Ok(None)
            }
            Err(e) => return Err(refusal("account:GetPrimaryEmailUpdateStatus", &e, false)),
        };
        Ok(Some(match out.status() {
            S::Pending => UpdateStatus::Pending,
            S::Accepted | S::Completed => UpdateStatus::Accepted,
            S::Failed => UpdateStatus::Failed,
            other => UpdateStatus::Other(other.as_str().to_owned()),
        }))
    }
}
