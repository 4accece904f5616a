//! The release's attributes on the account's registry item (accounts table). Nothing secret.
//!
//! `release_exit`, `release_execution`, `release_execution_arn`, `release_request_id`,
//! `release_requested_by`, `release_approved_by` (L of S), `release_reason`, `release_ticket`,
//! `release_customer_email`, `release_customer_phone`, `release_customer_name` (the customer:
//! present with its phone), `release_customer_org`, `release_keep_email` (BOOL), `release_step`
//! (absent until `begin` ran), `release_previous_status`, `release_previous_email`,
//! `release_resends`, `release_polls`, `release_poll_seconds`,
//! `release_invitation_timeout_seconds` (N), `release_removed` (L of S),
//! `release_cancel_requested_by`, `release_stopped`, and the times (RFC 3339, whole seconds):
//! `release_point_of_no_return_at`, `release_closed_at`, `release_shred_after`,
//! `release_shredded_at`, `release_started_at`, `release_updated_at`. The certificate
//! (`release_certificate`, JSON) is written on its own and never removed by a save.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use crate::registry::{stamp, AccountStatus};
use crate::release::{Customer, Exit, Release, ReleaseStep};
use crate::{AccountId, ErrorType, LambdaError, RootEmail};

/// The certificate's attribute.
pub const CERTIFICATE: &str = "release_certificate";

/// Every attribute a save writes or removes (the release's, not the certificate).
pub const RELEASE_ATTRIBUTES: [&str; 29] = [
    "release_exit",
    "release_execution",
    "release_execution_arn",
    "release_request_id",
    "release_requested_by",
    "release_approved_by",
    "release_reason",
    "release_ticket",
    "release_customer_email",
    "release_customer_phone",
    "release_customer_name",
    "release_customer_org",
    "release_keep_email",
    "release_step",
    "release_previous_status",
    "release_previous_email",
    "release_resends",
    "release_polls",
    "release_poll_seconds",
    "release_invitation_timeout_seconds",
    "release_removed",
    "release_cancel_requested_by",
    "release_stopped",
    "release_point_of_no_return_at",
    "release_closed_at",
    "release_shred_after",
    "release_shredded_at",
    "release_started_at",
    "release_updated_at",
];

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn time(v: Option<&AttributeValue>) -> Option<DateTime<Utc>> {
    v.and_then(|v| v.as_s().ok())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.to_utc())
}

fn strings(v: Option<&AttributeValue>) -> Vec<String> {
    match v {
        Some(AttributeValue::L(l)) => l.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
        Some(AttributeValue::Ss(l)) => l.clone(),
        _ => Vec::new(),
    }
}

fn list(v: &[String]) -> AttributeValue {
    AttributeValue::L(v.iter().map(|x| s(x.clone())).collect())
}

/// The release's attributes.
pub fn release_attributes(r: &Release) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("release_exit".to_owned(), s(r.exit.as_str())),
        ("release_execution".to_owned(), s(&r.execution)),
        ("release_execution_arn".to_owned(), s(&r.execution_arn)),
        ("release_request_id".to_owned(), s(&r.request_id)),
        ("release_requested_by".to_owned(), s(&r.requested_by)),
        ("release_approved_by".to_owned(), list(&r.approved_by)),
        ("release_reason".to_owned(), s(&r.reason)),
        ("release_ticket".to_owned(), s(&r.ticket)),
        (
            "release_keep_email".to_owned(),
            AttributeValue::Bool(r.keep_email),
        ),
        (
            "release_previous_status".to_owned(),
            s(r.previous_status.as_str()),
        ),
        (
            "release_resends".to_owned(),
            AttributeValue::N(r.resends.to_string()),
        ),
        (
            "release_polls".to_owned(),
            AttributeValue::N(r.polls.to_string()),
        ),
        (
            "release_poll_seconds".to_owned(),
            AttributeValue::N(r.poll_seconds.to_string()),
        ),
        (
            "release_invitation_timeout_seconds".to_owned(),
            AttributeValue::N(r.invitation_timeout_seconds.to_string()),
        ),
        ("release_removed".to_owned(), list(&r.removed)),
        ("release_started_at".to_owned(), s(stamp(r.started_at))),
        ("release_updated_at".to_owned(), s(stamp(r.updated_at))),
    ]);
    let mut opt = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            item.insert(k.to_owned(), s(v));
        }
    };
    if let Some(c) = &r.customer {
        opt(
            "release_customer_email",
            c.email.as_ref().map(|e| e.as_str().to_owned()),
        );
        opt("release_customer_phone", Some(c.phone.clone()));
        opt("release_customer_name", c.name.clone());
    }
    opt("release_customer_org", r.customer_org.clone());
    opt("release_step", r.step.map(|st| st.as_str().to_owned()));
    opt("release_previous_email", r.previous_email.clone());
    opt("release_cancel_requested_by", r.cancel_requested_by.clone());
    opt("release_stopped", r.stopped.clone());
    opt(
        "release_point_of_no_return_at",
        r.point_of_no_return_at.map(stamp),
    );
    opt("release_closed_at", r.closed_at.map(stamp));
    opt("release_shred_after", r.shred_after.map(stamp));
    opt("release_shredded_at", r.shredded_at.map(stamp));
    item
}

/// The release read back from an item (None: the item has none).
pub fn release_from_item(
    item: &HashMap<String, AttributeValue>,
    account: &AccountId,
) -> Result<Option<Release>, LambdaError> {
    let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    let Some(execution) = text("release_execution") else {
        return Ok(None);
    };
    let bad = |what: &str| {
        LambdaError::new(
            ErrorType::InternalError,
            format!("registry item of {account} has no valid {what}"),
        )
    };
    let number = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let big = |k: &str| -> u64 {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let exit = text("release_exit")
        .and_then(|e| Exit::parse(&e))
        .ok_or_else(|| bad("release_exit"))?;
    let step = text("release_step")
        .map(|v| ReleaseStep::parse(&v).ok_or_else(|| bad("release_step")))
        .transpose()?;
    let previous_status = text("release_previous_status")
        .and_then(|v| AccountStatus::parse(&v))
        .ok_or_else(|| bad("release_previous_status"))?;
    let customer = match text("release_customer_phone") {
        None => None,
        Some(phone) => Some(Customer {
            email: text("release_customer_email")
                .map(|e| RootEmail::parse(&e).map_err(|_| bad("release_customer_email")))
                .transpose()?,
            phone,
            name: text("release_customer_name"),
        }),
    };
    Ok(Some(Release {
        account_id: account.clone(),
        exit,
        execution,
        execution_arn: text("release_execution_arn").ok_or_else(|| bad("release_execution_arn"))?,
        request_id: text("release_request_id").unwrap_or_default(),
        requested_by: text("release_requested_by").unwrap_or_default(),
        approved_by: strings(item.get("release_approved_by")),
        reason: text("release_reason").unwrap_or_default(),
        ticket: text("release_ticket").unwrap_or_default(),
        customer,
        customer_org: text("release_customer_org"),
        keep_email: item
            .get("release_keep_email")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        step,
        previous_status,
        previous_email: text("release_previous_email"),
        resends: number("release_resends"),
        polls: number("release_polls"),
        poll_seconds: match big("release_poll_seconds") {
            0 => crate::release::steps::DEFAULT_POLL_SECONDS,
            n => n,
        },
        invitation_timeout_seconds: match big("release_invitation_timeout_seconds") {
            0 => crate::release::steps::DEFAULT_INVITATION_TIMEOUT_SECONDS,
            n => n,
        },
        removed: strings(item.get("release_removed")),
        cancel_requested_by: text("release_cancel_requested_by"),
        stopped: text("release_stopped"),
        point_of_no_return_at: time(item.get("release_point_of_no_return_at")),
        closed_at: time(item.get("release_closed_at")),
        shred_after: time(item.get("release_shred_after")),
        shredded_at: time(item.get("release_shredded_at")),
        started_at: time(item.get("release_started_at")).unwrap_or_default(),
        updated_at: time(item.get("release_updated_at")).unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn release() -> Release {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        Release {
            account_id: AccountId::parse("111122223333").unwrap(),
            exit: Exit::Transfer,
            execution: "release-111122223333-r1".into(),
            execution_arn:
                "arn:aws:states:us-east-1:123456789012:execution:m:release-111122223333-r1".into(),
            request_id: "r1".into(),
            requested_by: "arn:aws:sts::123456789012:assumed-role/Op/alice".into(),
            approved_by: vec!["arn:aws:sts::123456789012:assumed-role/Op/bob".into()],
            reason: "customer leaves".into(),
            ticket: "T-1".into(),
            customer: Some(Customer {
                email: Some(RootEmail::parse("owner@customer.example").unwrap()),
                phone: "+15550100".into(),
                name: Some("Customer Ltd".into()),
            }),
            customer_org: Some("o-abcdefghij".into()),
            keep_email: false,
            step: Some(ReleaseStep::RootCredentialsRemoved),
            previous_status: AccountStatus::Active,
            previous_email: Some("aws-1111@ops.example".into()),
            resends: 1,
            polls: 3,
            poll_seconds: 30,
            invitation_timeout_seconds: 7200,
            removed: vec![
                "login-profile".into(),
                "mfa:arn:aws:iam::111122223333:mfa/x".into(),
            ],
            cancel_requested_by: None,
            stopped: Some("TransientAwsError: throttled".into()),
            point_of_no_return_at: Some(t),
            closed_at: None,
            shred_after: None,
            shredded_at: None,
            started_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn a_release_round_trips_through_its_attributes() {
        let r = release();
        let item = release_attributes(&r);
        assert!(item
            .keys()
            .all(|k| RELEASE_ATTRIBUTES.contains(&k.as_str())));
        assert_eq!(
            release_from_item(&item, &r.account_id).unwrap(),
            Some(r.clone())
        );
        let mut closed = r;
        closed.exit = Exit::Close;
        closed.customer = None;
        closed.customer_org = None;
        closed.step = None;
        closed.closed_at = closed.point_of_no_return_at;
        closed.shred_after = closed.point_of_no_return_at;
        let item = release_attributes(&closed);
        assert!(!item.contains_key("release_step"));
        assert_eq!(
            release_from_item(&item, &closed.account_id).unwrap(),
            Some(closed.clone())
        );
    }

    #[test]
    fn an_item_without_a_release_has_none_and_a_damaged_one_is_an_error() {
        let r = release();
        assert_eq!(
            release_from_item(&HashMap::new(), &r.account_id).unwrap(),
            None
        );
        let mut item = release_attributes(&r);
        item.insert("release_step".into(), s("teleported"));
        assert_eq!(
            release_from_item(&item, &r.account_id)
                .unwrap_err()
                .error_type,
            ErrorType::InternalError
        );
    }
}
