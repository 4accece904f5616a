//! A transfer's preconditions (AWS's rules for `AcceptHandshake` by a member of another
//! organization): the account is `ACTIVE`, joined our organization at least 7 days ago, is not
//! enrolled in AWS Control Tower, and the inviting organization is in our region group
//! (partition). Which invitation counts: an `OPEN` one from the customer's organization.

use chrono::{DateTime, Duration, Utc};

use super::ports::{Invitation, Member, MemberStatus};

/// An account created in or invited to an organization can leave it after this many days.
pub const MIN_MEMBER_DAYS: i64 = 7;

/// `Ok` when the account may be transferred now; otherwise which precondition fails.
pub fn transferable(
    member: Option<&Member>,
    control_tower: bool,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let Some(m) = member else {
        return Err("the account is not a member of our organization".into());
    };
    if m.status != MemberStatus::Active {
        return Err(format!("the account is {}, not ACTIVE", m.status.as_str()));
    }
    let free = m.joined_at + Duration::days(MIN_MEMBER_DAYS);
    if now < free {
        return Err(format!(
            "the account joined our organization less than {MIN_MEMBER_DAYS} days ago; it may leave from {}",
            crate::registry::stamp(free)
        ));
    }
    if control_tower {
        return Err(
            "the account is enrolled in AWS Control Tower: unenroll it (unmanage) first".into(),
        );
    }
    Ok(())
}

/// The partition of a handshake ARN (`arn:<partition>:organizations::…`).
pub fn partition_of(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next() == Some("arn")).then_some(())?;
    parts.next().filter(|p| !p.is_empty())
}

/// Whether the invitation comes from our region group.
pub fn same_region_group(invitation: &Invitation, our_partition: &str) -> bool {
    partition_of(&invitation.handshake_arn) == Some(our_partition)
}

/// Handshake states of an invitation nobody answered yet: AWS's examples show `OPEN`; its
/// `HandshakeState` also names `REQUESTED` for a handshake not every party answered (what moto
/// reports for a fresh invitation). Both can be accepted.
pub const PENDING_STATES: [&str; 2] = ["OPEN", "REQUESTED"];

/// The open, unexpired invitation from `customer_org`, if any.
pub fn open_invitation<'a>(
    invitations: &'a [Invitation],
    customer_org: &str,
    now: DateTime<Utc>,
) -> Option<&'a Invitation> {
    invitations.iter().find(|i| {
        i.organization_id == customer_org
            && PENDING_STATES.contains(&i.state.as_str())
            && i.expires_at.is_none_or(|e| e > now)
    })
}

/// Organizations other than the customer's that invited the account (recorded, ignored).
pub fn other_inviters(invitations: &[Invitation], customer_org: &str) -> Vec<String> {
    let mut v: Vec<String> = invitations
        .iter()
        .filter(|i| i.organization_id != customer_org)
        .map(|i| i.organization_id.chars().take(40).collect())
        .collect();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn member(status: MemberStatus, days: i64) -> Member {
        Member {
            status,
            joined_at: now() - Duration::days(days),
        }
    }

    #[test]
    fn each_precondition_is_named() {
        assert!(transferable(Some(&member(MemberStatus::Active, 8)), false, now()).is_ok());
        let e = transferable(None, false, now()).unwrap_err();
        assert!(e.contains("not a member"), "{e}");
        let e = transferable(Some(&member(MemberStatus::Suspended, 80)), false, now()).unwrap_err();
        assert!(e.contains("SUSPENDED"), "{e}");
        let e = transferable(Some(&member(MemberStatus::Active, 3)), false, now()).unwrap_err();
        assert!(e.contains("7 days") && e.contains("2026-12-05"), "{e}");
        let e = transferable(Some(&member(MemberStatus::Active, 30)), true, now()).unwrap_err();
        assert!(e.contains("Control Tower"), "{e}");
    }

    #[test]
    fn invitations_from_the_customer_and_our_partition_only() {
        let inv = |org: &str, state: &str, arn: &str| Invitation {
            handshake_id: "h-1".into(),
            handshake_arn: arn.into(),
            organization_id: org.into(),
            state: state.into(),
            expires_at: Some(now() + Duration::days(1)),
        };
        let list = vec![
            inv(
                "o-other00000",
                "OPEN",
                "arn:aws:organizations::1:handshake/o-other00000/invite/h-1",
            ),
            inv(
                "o-customer00",
                "DECLINED",
                "arn:aws:organizations::1:handshake/x",
            ),
            inv(
                "o-customer00",
                "OPEN",
                "arn:aws-cn:organizations::1:handshake/x",
            ),
        ];
        let found = open_invitation(&list, "o-customer00", now()).unwrap();
        assert!(!same_region_group(found, "aws"));
        assert!(same_region_group(found, "aws-cn"));
        assert!(open_invitation(&list[..2], "o-customer00", now()).is_none());
        let requested = [inv(
            "o-customer00",
            "REQUESTED",
            "arn:aws:organizations::1:handshake/x",
        )];
        assert!(open_invitation(&requested, "o-customer00", now()).is_some());
        let expired = [Invitation {
            expires_at: Some(now() - Duration::days(1)),
            ..requested[0].clone()
        }];
        assert!(open_invitation(&expired, "o-customer00", now()).is_none());
        assert_eq!(other_inviters(&list, "o-customer00"), vec!["o-other00000"]);
        assert_eq!(partition_of("nope"), None);
    }
}
