//! The credential hand-over (hand-back and transfer): the contacts become the customer's
//! (whoever holds the root email and the primary contact's phone can bypass MFA), our root
//! credentials go (`IAMDeleteRootUserCredentials`), and a login profile without a password is
//! created (`IAMCreateRootUserPassword`) so the customer sets theirs through "Forgot password".

use super::flow::{advance, cross, definitive, entry, owned, save, withdraw, Owned};
use super::ports::{AccountContacts, Contact, ReleasePorts};
use super::progress;
use super::record::{Exit, ReleaseStep};
use crate::enforcement::ports::{RootCredentials, RootSession, TaskPolicy};
use crate::enforcement::{Posture, Removal};
use crate::registry::AccountMode;
use crate::{AccountId, ErrorType, LambdaError};

fn require_handover(o: &Owned) -> Result<(), LambdaError> {
    if o.release.exit == Exit::Close {
        return Err(LambdaError::new(
            ErrorType::ValidationError,
            format!("a closure of {} hands nothing over", o.release.account_id),
        ));
    }
    Ok(())
}

/// After the point of no return only (a step run out of order must not hand anything over).
fn require_passed(o: &Owned, step: &str) -> Result<(), LambdaError> {
    require_handover(o)?;
    if o.release.point_of_no_return_at.is_none() {
        return Err(LambdaError::new(
            ErrorType::Conflict,
            format!(
                "{step} before the point of no return of the release of {}",
                o.release.account_id
            ),
        ));
    }
    Ok(())
}

/// The primary contact's name and phone, and the BILLING, OPERATIONS and SECURITY alternate
/// contacts, become the customer's. The point of no return of a transfer that keeps our email.
pub async fn put_contacts<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<(), LambdaError> {
    let o = owned(ports, account, execution).await?;
    require_handover(&o)?;
    let r = &o.release;
    let customer = r.customer.clone().ok_or_else(|| {
        LambdaError::new(
            ErrorType::ValidationError,
            format!("the release of {account} names no customer"),
        )
    })?;
    let here = progress::point_of_no_return(r.exit, r.keep_email) == ReleaseStep::ContactsUpdated;
    let (o, back) = if here && !o.reached(ReleaseStep::ContactsUpdated) {
        let back = o.release.step.unwrap_or(ReleaseStep::Begun);
        (cross(ports, &o).await?, Some(back))
    } else {
        require_passed(&o, "put-contacts")?;
        (o, None)
    };
    let name = customer
        .name
        .clone()
        .or_else(|| o.account.name.clone())
        .unwrap_or_else(|| format!("AWS account {account}"));
    let primary = Contact {
        name: name.clone(),
        phone: customer.phone.clone(),
        email: None,
    };
    let email = customer.email.as_ref().map(|e| e.to_string());
    // Whether AWS took the primary contact: from then on the customer's phone can recover the
    // root user (with the root email, past MFA), so the crossing stands whatever fails next.
    let mut primary_changed = false;
    let result = async {
        ports.contacts().put_primary(account, &primary).await?;
        primary_changed = true;
        if let Some(email) = &email {
            let alternate = Contact {
                name: name.clone(),
                phone: customer.phone.clone(),
                email: Some(email.clone()),
            };
            ports.contacts().put_alternates(account, &alternate).await?;
        }
        Ok::<(), LambdaError>(())
    }
    .await;
    if let Err(e) = result {
        if let (Some(back), true, false) = (back, definitive(&e), primary_changed) {
            withdraw(ports, &o, back, &e).await?;
        }
        return Err(e);
    }
    if !o.reached(ReleaseStep::ContactsUpdated) || back.is_some() {
        let record = entry(ports, &o.release, "contacts-updated")
            .detail("primary_phone", customer.phone.clone())
            .detail("alternates", email.is_some());
        advance(
            ports,
            &o,
            o.release.clone(),
            ReleaseStep::ContactsUpdated,
            record,
        )
        .await?;
    }
    Ok(())
}

fn everything(p: &Posture) -> Vec<Removal> {
    crate::enforcement::removals(p, AccountMode::CredentialLess, false)
}

/// Removes every root credential of ours (MFA devices, login profile, access keys, signing
/// certificates) and checks none is left. Returns what the release removed (identifiers).
pub async fn remove_root_credentials<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<Vec<String>, LambdaError> {
    let o = owned(ports, account, execution).await?;
    require_passed(&o, "remove-root-credentials")?;
    let session = ports
        .root()
        .open(account, TaskPolicy::DeleteRootUserCredentials)
        .await?;
    let removals = everything(&session.posture().await?);
    for r in &removals {
        session.remove(r).await?;
    }
    let left = everything(&session.posture().await?);
    if !left.is_empty() {
        let left: Vec<String> = left.iter().map(Removal::describe).collect();
        return Err(LambdaError::new(
            ErrorType::AwsError,
            format!("root credentials of {account} remain: {}", left.join(", ")),
        ));
    }
    let mut next = o.release.clone();
    for r in &removals {
        let d = r.describe();
        if !next.removed.contains(&d) {
            next.removed.push(d);
        }
    }
    if !o.reached(ReleaseStep::RootCredentialsRemoved) {
        let record =
            entry(ports, &next, "root-credentials-removed").detail("removed", next.removed.clone());
        let done = advance(ports, &o, next, ReleaseStep::RootCredentialsRemoved, record).await?;
        return Ok(done.release.removed);
    }
    if next.removed != o.release.removed {
        let record =
            entry(ports, &next, "root-credentials-removed").detail("removed", next.removed.clone());
        let account_item = o.account.clone();
        save(ports, &o, &account_item, next.clone(), record).await?;
    }
    Ok(next.removed)
}

/// A login profile without a password: the customer sets one through "Forgot password" on
/// their own inbox. `true` when one was created.
pub async fn create_login_profile<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<bool, LambdaError> {
    let o = owned(ports, account, execution).await?;
    require_passed(&o, "create-login-profile")?;
    let session = ports
        .root()
        .open(account, TaskPolicy::CreateRootUserPassword)
        .await?;
    let created = session.create_login_profile().await?;
    if !o.reached(ReleaseStep::LoginProfileCreated) {
        let record = entry(ports, &o.release, "login-profile-created").detail("created", created);
        advance(
            ports,
            &o,
            o.release.clone(),
            ReleaseStep::LoginProfileCreated,
            record,
        )
        .await?;
    }
    Ok(created)
}
