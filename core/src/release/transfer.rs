//! Transfer to the customer's organization: the preconditions, the customer's invitation
//! (seen and accepted from inside the account, through the member role), and the departure
//! from our organization.

use super::close::{bounded, polled};
use super::flow::{advance, entry, owned, owned_live, Owned};
use super::poll::{self, invitation_polls};
use super::ports::{MemberAccount, Organizations, ReleasePorts};
use super::preconditions::{open_invitation, other_inviters, same_region_group, transferable};
use super::record::{Exit, ReleaseStep};
use super::Polled;
use crate::{AccountId, ErrorType, LambdaError};

fn require_transfer(o: &Owned) -> Result<&str, LambdaError> {
    match (&o.release.exit, &o.release.customer_org) {
        (Exit::Transfer, Some(org)) => Ok(org),
        _ => Err(LambdaError::new(
            ErrorType::ValidationError,
            format!("the release of {} is not a transfer", o.release.account_id),
        )),
    }
}

fn precondition(msg: impl Into<String>) -> LambdaError {
    LambdaError::new(ErrorType::TransferPreconditionFailed, msg)
}

/// `ACTIVE`, in our organization for 7 days, not enrolled in Control Tower; else
/// `TransferPreconditionFailed` naming which.
pub async fn check_transfer<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<(), LambdaError> {
    let o = owned_live(ports, account, execution).await?;
    require_transfer(&o)?;
    let member = ports.orgs().describe(account).await?;
    let control_tower = ports.member().control_tower_enrolled(account).await?;
    transferable(member.as_ref(), control_tower, ports.clock().now())
        .map_err(|why| precondition(format!("{account} cannot be transferred: {why}")))?;
    if !o.reached(ReleaseStep::PreconditionsChecked) {
        let record = entry(ports, &o.release, "preconditions-checked");
        advance(
            ports,
            &o,
            o.release.clone(),
            ReleaseStep::PreconditionsChecked,
            record,
        )
        .await?;
    }
    Ok(())
}

fn require_handed_over(o: &Owned) -> Result<(), LambdaError> {
    if !o.reached(ReleaseStep::LoginProfileCreated) {
        return Err(LambdaError::new(
            ErrorType::Conflict,
            format!(
                "the credentials of {} are not handed over yet: the account must not leave",
                o.release.account_id
            ),
        ));
    }
    Ok(())
}

/// An open invitation from the customer's organization (others are recorded and ignored); one
/// from another region group is `TransferPreconditionFailed`.
pub async fn check_invitation<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<Polled, LambdaError> {
    let o = owned(ports, account, execution).await?;
    let org = require_transfer(&o)?.to_owned();
    require_handed_over(&o)?;
    if o.reached(ReleaseStep::InvitationFound) {
        return Ok(Polled {
            done: true,
            wait_seconds: 0,
        });
    }
    let invitations = ports.member().invitations(account).await?;
    let others = other_inviters(&invitations, &org);
    if let Some(inv) = open_invitation(&invitations, &org, ports.clock().now()) {
        if !same_region_group(inv, ports.orgs().partition()) {
            return Err(precondition(format!(
                "the invitation from {org} comes from another region group (partition) than ours ({})",
                ports.orgs().partition()
            )));
        }
        let record = entry(ports, &o.release, "invitation-found")
            .detail("handshake_id", inv.handshake_id.clone())
            .detail("ignored_inviters", others);
        let mut next = o.release.clone();
        next.polls = 0;
        advance(ports, &o, next, ReleaseStep::InvitationFound, record).await?;
        return Ok(Polled {
            done: true,
            wait_seconds: 0,
        });
    }
    let max = invitation_polls(o.release.poll_seconds, o.release.invitation_timeout_seconds);
    let seen = if others.is_empty() {
        format!("no open invitation from {org}")
    } else {
        format!(
            "no open invitation from {org}; ignored: {}",
            others.join(", ")
        )
    };
    bounded(ports, &o, max, "invitation-polled", seen).await
}

/// `AcceptHandshake` from inside the account. Returns the handshake id.
pub async fn accept_invitation<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<String, LambdaError> {
    let o = owned(ports, account, execution).await?;
    let org = require_transfer(&o)?.to_owned();
    require_handed_over(&o)?;
    let invitations = ports.member().invitations(account).await?;
    let accepted = invitations
        .iter()
        .find(|i| i.organization_id == org && i.state == "ACCEPTED");
    let id = match (
        accepted,
        open_invitation(&invitations, &org, ports.clock().now()),
    ) {
        (Some(a), _) => a.handshake_id.clone(),
        (None, Some(inv)) => {
            if !same_region_group(inv, ports.orgs().partition()) {
                return Err(precondition(format!(
                    "the invitation from {org} comes from another region group"
                )));
            }
            ports.member().accept(account, &inv.handshake_id).await?;
            inv.handshake_id.clone()
        }
        (None, None) if o.reached(ReleaseStep::HandshakeAccepted) => String::new(),
        (None, None) => {
            return Err(precondition(format!(
                "no open invitation from {org} to accept (declined, cancelled or expired)"
            )));
        }
    };
    if !o.reached(ReleaseStep::HandshakeAccepted) {
        let mut next = o.release.clone();
        next.polls = 0;
        let record = entry(ports, &next, "handshake-accepted").detail("handshake_id", id.clone());
        advance(ports, &o, next, ReleaseStep::HandshakeAccepted, record).await?;
    }
    Ok(id)
}

/// `DescribeAccount` until the account is no member of ours.
pub async fn check_departure<P: ReleasePorts>(
    ports: &P,
    account: &AccountId,
    execution: &str,
) -> Result<Polled, LambdaError> {
    let mut o = owned(ports, account, execution).await?;
    require_transfer(&o)?;
    let member = ports.orgs().describe(account).await?;
    if !o.reached(ReleaseStep::HandshakeAccepted) {
        // An earlier execution accepted the invitation and died before it recorded so: the
        // account has left our organization, which only that acceptance does (nothing else
        // moves it once its invitation is found). Recorded now, or a resumed release would
        // stop at the preconditions of an account that is no longer ours, for ever.
        if !(o.reached(ReleaseStep::InvitationFound) && member.is_none()) {
            return Err(LambdaError::new(
                ErrorType::Conflict,
                format!("no invitation of {account} was accepted"),
            ));
        }
        let mut next = o.release.clone();
        next.polls = 0;
        let record = entry(ports, &next, "handshake-accepted")
            .detail("seen", "the account left our organization");
        o = advance(ports, &o, next, ReleaseStep::HandshakeAccepted, record).await?;
    }
    if member.is_none() {
        if !o.reached(ReleaseStep::Departed) {
            let mut next = o.release.clone();
            next.polls = 0;
            let record = entry(ports, &next, "departed");
            advance(ports, &o, next, ReleaseStep::Departed, record).await?;
        }
        return Ok(Polled {
            done: true,
            wait_seconds: 0,
        });
    }
    polled(
        ports,
        &o,
        poll::Wait::Departure,
        "departure-polled",
        "still a member".into(),
    )
    .await
}
