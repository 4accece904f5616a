//! `AccountContactsApi`: a member account's contacts through the account API, called from the
//! management account with `AccountId` (`account:GetContactInformation`,
//! `account:PutContactInformation`, `account:PutAlternateContact`).
//!
//! The primary contact is read first and written back with the new name and phone: the postal
//! address (required by `PutContactInformation`) stays what the account has. The alternate
//! contacts BILLING, OPERATIONS and SECURITY are each set to the customer (a `Put` replaces, so
//! a retry converges).

use aws_sdk_account::types::{AlternateContactType, ContactInformation};

use crate::release::{AccountContacts, Contact};
use crate::sdk::sdk_error;
use crate::{AccountId, ErrorType, LambdaError};

/// The alternate contacts a hand-over sets, in order.
pub const ALTERNATE_TYPES: [AlternateContactType; 3] = [
    AlternateContactType::Billing,
    AlternateContactType::Operations,
    AlternateContactType::Security,
];

/// The title the alternate contacts carry (the API requires one).
pub const ALTERNATE_TITLE: &str = "Account owner";

#[derive(Clone)]
pub struct AccountContactsApi {
    client: aws_sdk_account::Client,
}

impl AccountContactsApi {
    pub fn new(client: aws_sdk_account::Client) -> Self {
        Self { client }
    }
}

/// `current` with `contact`'s name and phone, everything else kept.
pub fn with_primary(
    current: &ContactInformation,
    contact: &Contact,
) -> Result<ContactInformation, LambdaError> {
    ContactInformation::builder()
        .full_name(&contact.name)
        .phone_number(&contact.phone)
        .address_line1(current.address_line1())
        .set_address_line2(current.address_line2().map(str::to_owned))
        .set_address_line3(current.address_line3().map(str::to_owned))
        .city(current.city())
        .set_state_or_region(current.state_or_region().map(str::to_owned))
        .set_district_or_county(current.district_or_county().map(str::to_owned))
        .postal_code(current.postal_code())
        .country_code(current.country_code())
        .set_company_name(current.company_name().map(str::to_owned))
        .set_website_url(current.website_url().map(str::to_owned))
        .build()
        .map_err(|e| {
            LambdaError::new(
                ErrorType::InternalError,
                format!("building ContactInformation: {e}"),
            )
        })
}

impl AccountContacts for AccountContactsApi {
    async fn put_primary(&self, account: &AccountId, contact: &Contact) -> Result<(), LambdaError> {
        let out = self
            .client
            .get_contact_information()
            .account_id(account.as_str())
            .send()
            .await
            .map_err(|e| sdk_error("account:GetContactInformation", &e))?;
        let current = out.contact_information().ok_or_else(|| {
            LambdaError::new(
                ErrorType::AwsError,
                format!("account:GetContactInformation returned no contact of {account}"),
            )
        })?;
        if current.full_name() == contact.name && current.phone_number() == contact.phone {
            return Ok(());
        }
        self.client
            .put_contact_information()
            .account_id(account.as_str())
            .contact_information(with_primary(current, contact)?)
            .send()
            .await
            .map_err(|e| sdk_error("account:PutContactInformation", &e))?;
        Ok(())
    }

    async fn put_alternates(
        &self,
        account: &AccountId,
        contact: &Contact,
    ) -> Result<(), LambdaError> {
        let email = contact.email.as_deref().ok_or_else(|| {
            LambdaError::new(
                ErrorType::ValidationError,
                "an alternate contact needs an email address",
            )
        })?;
        for kind in ALTERNATE_TYPES {
            self.client
                .put_alternate_contact()
                .account_id(account.as_str())
                .alternate_contact_type(kind.clone())
                .name(&contact.name)
                .title(ALTERNATE_TITLE)
                .email_address(email)
                .phone_number(&contact.phone)
                .send()
                .await
                .map_err(|e| {
                    let mut err = sdk_error("account:PutAlternateContact", &e);
                    err.message = format!("{} ({})", err.message, kind.as_str());
                    err
                })?;
        }
        Ok(())
    }
}
