//! May this message complete this waiting workflow? Mail changes a credential (a rotation's
//! pending password becomes current) only when it is authentic AWS mail meant for that wait:
//!
//! - not quarantined, of the kind the wait is for, for the wait's account;
//! - **from an AWS sender domain with aligned DKIM**: the From domain is one AWS sends
//!   root-credential mail from ([`WORKFLOW_SENDER_DOMAINS`]), and SES's own
//!   `Authentication-Results` names a DKIM pass for a domain of the same organization;
//! - **SES's verdicts from the receipt event** (never headers): spam, virus, SPF and DKIM `PASS`,
//!   DMARC not `FAIL`;
//! - **received after the wait was registered**, by the SES receipt timestamp (AWS's clock, not
//!   the sender's Date header);
//! - **addressed to the account's registered root address** (an envelope recipient equal to the
//!   registry's root email; not a `+<account>` sub-address, not an id in the body), **by the
//!   message itself too**: its one To header names that address (not Cc, which AWS's DKIM
//!   signature does not cover, nor a second To a forger would add). The signature covers To, so a
//!   genuine AWS mail about someone else's account, re-sent by SMTP to our root address (its
//!   DKIM, SPF and DMARC all still pass), names the other account's address there;
//! - **not a re-delivery and with a Message-ID never recorded before**, and the wait not already
//!   claimed by another delivery.
//!
//! A delivery that passed all of this claims the wait before its ticket is written; a re-delivery
//! of that same delivery (a retry after a failure) is eligible again for the wait it claimed,
//! and for nothing else.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Category, Decision, SesVerdicts, Verdict};
use crate::workflows::Wait;
use crate::RootEmail;

/// Domains AWS sends root-credential mail from (password changed, password reset, verification
/// codes; see `tests/fixtures/mail`): `signin.aws` and its subdomains (`no-reply@signin.aws`,
/// `no-reply@verify.signin.aws`), and `amazon.com` itself (`no-reply-aws@amazon.com`,
/// `aws-verification@amazon.com`). Deliberately not: subdomains of amazon.com (e.g.
/// `marketplace.amazon.com` relays third-party sellers' mail), `amazonaws.com` (customer-named
/// hosts live under it), other `.aws` and `awscloud.com` domains (notices and marketing, never
/// credential mail).
pub const WORKFLOW_SENDER_DOMAINS: [(&str, bool); 2] =
    [("signin.aws", true), ("amazon.com", false)];

/// The allow-listed organization `domain` belongs to, if any: the entry itself or, where the
/// entry allows it, a subdomain of it.
pub fn aws_sender_org(domain: &str) -> Option<&'static str> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    WORKFLOW_SENDER_DOMAINS
        .iter()
        .find(|(org, subdomains)| d == *org || (*subdomains && d.ends_with(&format!(".{org}"))))
        .map(|(org, _)| *org)
}

/// Whether mail from `from_domain` is AWS's own credential mail by its sender: the domain is
/// one AWS sends root-credential mail from ([`aws_sender_org`]) and SES's
/// `Authentication-Results` names a DKIM pass for a domain of the same organization. (Wider
/// AWS domains, such as `marketplace.amazon.com`, relay other people's mail.)
pub fn aligned_aws_sender(from_domain: Option<&str>, dkim_pass_domains: &[String]) -> bool {
    aws_sender_refusal(from_domain, dkim_pass_domains).is_none()
}

/// Why mail from `from_domain` is not AWS's own credential mail by its sender, if it is not
/// ([`aligned_aws_sender`]).
fn aws_sender_refusal(from_domain: Option<&str>, dkim_pass_domains: &[String]) -> Option<Refusal> {
    match from_domain.and_then(aws_sender_org) {
        None => Some(Refusal::NotFromAwsSender),
        Some(org)
            if !dkim_pass_domains
                .iter()
                .any(|d| aws_sender_org(d) == Some(org)) =>
        {
            Some(Refusal::DkimNotAligned)
        }
        Some(_) => None,
    }
}

/// Why a message may not complete a wait. Names are stable: they go into tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Refusal {
    Quarantined,
    WrongKind,
    WrongAccount,
    NotFromAwsSender,
    DkimNotAligned,
    NoSesVerdicts,
    SesSpamNotPass,
    SesVirusNotPass,
    SesSpfNotPass,
    SesDkimNotPass,
    SesDmarcFail,
    ReceivedBeforeWait,
    NotAddressedToRootEmail,
    HeaderNotAddressedToRootEmail,
    NoMessageId,
    Redelivery,
    MessageIdSeen,
    ClaimedByAnotherDelivery,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Quarantined => "quarantined",
            Refusal::WrongKind => "wrong-kind",
            Refusal::WrongAccount => "wrong-account",
            Refusal::NotFromAwsSender => "not-from-aws-sender",
            Refusal::DkimNotAligned => "dkim-not-aligned",
            Refusal::NoSesVerdicts => "no-ses-verdicts",
            Refusal::SesSpamNotPass => "ses-spam-not-pass",
            Refusal::SesVirusNotPass => "ses-virus-not-pass",
            Refusal::SesSpfNotPass => "ses-spf-not-pass",
            Refusal::SesDkimNotPass => "ses-dkim-not-pass",
            Refusal::SesDmarcFail => "ses-dmarc-fail",
            Refusal::ReceivedBeforeWait => "received-before-wait",
            Refusal::NotAddressedToRootEmail => "not-addressed-to-root-email",
            Refusal::HeaderNotAddressedToRootEmail => "header-not-addressed-to-root-email",
            Refusal::NoMessageId => "no-message-id",
            Refusal::Redelivery => "redelivery",
            Refusal::MessageIdSeen => "message-id-seen",
            Refusal::ClaimedByAnotherDelivery => "claimed-by-another-delivery",
        }
    }
}

/// What AWS (SES's receipt event) vouches for about this delivery.
#[derive(Debug, Clone, Copy)]
pub struct Receipt<'a> {
    pub ses_message_id: &'a str,
    /// Verdicts from the receipt event; `None` when there was no event (replays).
    pub verdicts: Option<&'a SesVerdicts>,
    /// `receipt.timestamp`.
    pub received_at: DateTime<Utc>,
    /// Envelope recipients (`receipt.recipients`).
    pub recipients: &'a [String],
}

/// What the ticket store already holds about this message.
#[derive(Debug, Clone, Copy, Default)]
pub struct History {
    /// This SES delivery was already recorded (a retry).
    pub redelivery: bool,
    /// Another delivery already recorded this RFC Message-ID.
    pub message_id_seen: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitEligibility {
    /// May complete the wait (or, for a re-delivery, finish what its first delivery claimed).
    Eligible,
    /// Must not; every failed condition, in a stable order.
    Refused(Vec<Refusal>),
}

/// The rule. Pure: every fact comes in as an argument.
pub fn eligibility(
    decision: &Decision,
    receipt: &Receipt<'_>,
    root_email: Option<&RootEmail>,
    wait: &Wait,
    history: History,
) -> WaitEligibility {
    // A re-delivery finishes what its first delivery claimed after passing every check; it
    // earns nothing new.
    if history.redelivery && wait.claimed_by.as_deref() == Some(receipt.ses_message_id) {
        return WaitEligibility::Eligible;
    }
    let mut refused = Vec::new();
    if decision.quarantined {
        refused.push(Refusal::Quarantined);
    }
    if decision.category != wait.kind {
        refused.push(Refusal::WrongKind);
    }
    if decision.account_id.as_ref() != Some(&wait.account) {
        refused.push(Refusal::WrongAccount);
    }
    let from_domain = decision
        .from
        .as_deref()
        .and_then(|f| f.rsplit_once('@'))
        .map(|(_, d)| d);
    refused.extend(aws_sender_refusal(
        from_domain,
        &decision.auth.dkim_pass_domains,
    ));
    match receipt.verdicts {
        None => refused.push(Refusal::NoSesVerdicts),
        Some(v) => {
            for (verdict, refusal) in [
                (v.spam, Refusal::SesSpamNotPass),
                (v.virus, Refusal::SesVirusNotPass),
                (v.spf, Refusal::SesSpfNotPass),
                (v.dkim, Refusal::SesDkimNotPass),
            ] {
                if verdict != Verdict::Pass {
                    refused.push(refusal);
                }
            }
            if v.dmarc == Verdict::Fail {
                refused.push(Refusal::SesDmarcFail);
            }
        }
    }
    if receipt.received_at <= wait.registered_at {
        refused.push(Refusal::ReceivedBeforeWait);
    }
    let to_root = root_email.is_some_and(|root| {
        receipt
            .recipients
            .iter()
            .any(|r| r.trim().eq_ignore_ascii_case(root.as_str()))
    });
    if !to_root {
        refused.push(Refusal::NotAddressedToRootEmail);
    }
    if !root_email.is_some_and(|root| decision.addressed_to(root)) {
        refused.push(Refusal::HeaderNotAddressedToRootEmail);
    }
    if decision.message_id.as_deref().is_none_or(str::is_empty) {
        refused.push(Refusal::NoMessageId);
    }
    if history.redelivery {
        refused.push(Refusal::Redelivery);
    }
    if history.message_id_seen {
        refused.push(Refusal::MessageIdSeen);
    }
    if wait
        .claimed_by
        .as_deref()
        .is_some_and(|c| c != receipt.ses_message_id)
    {
        refused.push(Refusal::ClaimedByAnotherDelivery);
    }
    if refused.is_empty() {
        WaitEligibility::Eligible
    } else {
        WaitEligibility::Refused(refused)
    }
}

/// The ticket's account of a refused claim: "claimed to complete workflow <kind>
/// (<execution>): refused because <reasons>".
pub fn refusal_reason(kind: Category, execution: &str, refused: &[Refusal]) -> String {
    let reasons: Vec<&str> = refused.iter().map(|r| r.as_str()).collect();
    format!(
        "claimed to complete workflow {} ({execution}): refused because {}",
        kind.as_str(),
        reasons.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{analyze, Context};
    use crate::AccountId;
    use chrono::Duration;

    const ROOT: &str = "acme-prod@root.provider.example";
    const ACCOUNT: &str = "210987654321";

    fn pass() -> SesVerdicts {
        SesVerdicts {
            spam: Verdict::Pass,
            virus: Verdict::Pass,
            spf: Verdict::Pass,
            dkim: Verdict::Pass,
            dmarc: Verdict::Pass,
        }
    }

    /// AWS's "password changed" mail as SES stores it, with the From / DKIM domain given.
    fn raw(from: &str, dkim: &str) -> Vec<u8> {
        format!(
            "Authentication-Results: amazonses.com;\r\n spf=pass smtp.mailfrom=x@amazonses.com;\r\n \
             dkim=pass header.i=@{dkim};\r\n dmarc=pass header.from={dkim};\r\n\
             X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\n\
             From: Amazon Web Services <no-reply@{from}>\r\nTo: {ROOT}\r\n\
             Subject: Your AWS password has been changed\r\n\
             Message-ID: <m1@email.amazonses.com>\r\n\r\nYour AWS password has been changed.\r\n"
        )
        .into_bytes()
    }

    fn decision(raw: &[u8]) -> Decision {
        analyze(
            raw,
            &Context {
                recipients: vec![ROOT.into()],
                ses: Some(pass()),
                registry_account: Some(AccountId::parse(ACCOUNT).unwrap()),
                expected_by_workflow: false,
            },
        )
        .decision
    }

    fn wait(registered_at: DateTime<Utc>) -> Wait {
        Wait {
            account: AccountId::parse(ACCOUNT).unwrap(),
            kind: Category::PasswordChanged,
            execution: "rotate-1".into(),
            task_token: "token".into(),
            expires_at: registered_at + Duration::hours(72),
            registered_at,
            claimed_by: None,
        }
    }

    struct Case {
        decision: Decision,
        verdicts: Option<SesVerdicts>,
        received_at: DateTime<Utc>,
        recipients: Vec<String>,
        root: Option<RootEmail>,
        wait: Wait,
        history: History,
    }

    impl Case {
        fn genuine() -> Self {
            let now = Utc::now();
            Case {
                decision: decision(&raw("signin.aws", "signin.aws")),
                verdicts: Some(pass()),
                received_at: now,
                recipients: vec![ROOT.into()],
                root: Some(RootEmail::parse(ROOT).unwrap()),
                wait: wait(now - Duration::minutes(5)),
                history: History::default(),
            }
        }
        fn judge(&self) -> WaitEligibility {
            eligibility(
                &self.decision,
                &Receipt {
                    ses_message_id: "ses1",
                    verdicts: self.verdicts.as_ref(),
                    received_at: self.received_at,
                    recipients: &self.recipients,
                },
                self.root.as_ref(),
                &self.wait,
                self.history,
            )
        }
        fn refused(&self) -> Vec<Refusal> {
            match self.judge() {
                WaitEligibility::Refused(r) => r,
                WaitEligibility::Eligible => Vec::new(),
            }
        }
    }

    #[test]
    fn genuine_aws_mail_for_the_wait_is_eligible() {
        assert_eq!(Case::genuine().judge(), WaitEligibility::Eligible);
        let mut c = Case::genuine();
        c.decision = decision(&raw("verify.signin.aws", "signin.aws"));
        assert_eq!(c.judge(), WaitEligibility::Eligible);
        c.decision = decision(&raw("amazon.com", "amazon.com"));
        assert_eq!(c.judge(), WaitEligibility::Eligible);
    }

    #[test]
    fn sender_allow_list_is_exact() {
        for d in [
            "signin.aws",
            "verify.signin.aws",
            "SIGNIN.AWS.",
            "amazon.com",
        ] {
            assert!(aws_sender_org(d).is_some(), "{d}");
        }
        for d in [
            "marketplace.amazon.com",
            "amazonaws.com",
            "health.aws",
            "aws",
            "awscloud.com",
            "signin.aws.example",
            "evilsignin.aws",
            "amazon-security.example",
        ] {
            assert_eq!(aws_sender_org(d), None, "{d}");
        }
    }

    #[test]
    fn non_aws_sender_with_its_own_valid_dkim_is_refused() {
        let mut c = Case::genuine();
        c.decision = decision(&raw("amazon-security.example", "amazon-security.example"));
        assert_eq!(c.decision.category, Category::PasswordChanged);
        assert!(!c.decision.quarantined);
        assert_eq!(c.refused(), vec![Refusal::NotFromAwsSender]);
    }

    #[test]
    fn aws_from_with_dkim_of_another_org_is_refused() {
        let mut c = Case::genuine();
        // Quarantine already catches amazonses.com-only DKIM; amazon.com vs signin.aws is
        // aligned to neither side's organization.
        c.decision = decision(&raw("signin.aws", "amazon.com"));
        assert!(c.refused().contains(&Refusal::DkimNotAligned));
        c.decision = decision(&raw("signin.aws", "amazonses.com"));
        assert!(c.refused().contains(&Refusal::DkimNotAligned));
    }

    #[test]
    fn every_ses_verdict_must_pass() {
        let mut c = Case::genuine();
        c.verdicts = None;
        assert_eq!(c.refused(), vec![Refusal::NoSesVerdicts]);
        for (field, refusal) in [
            (0, Refusal::SesSpamNotPass),
            (1, Refusal::SesVirusNotPass),
            (2, Refusal::SesSpfNotPass),
            (3, Refusal::SesDkimNotPass),
        ] {
            let mut v = pass();
            let slot = [&mut v.spam, &mut v.virus, &mut v.spf, &mut v.dkim];
            *slot.into_iter().nth(field).unwrap() = Verdict::Gray;
            c.verdicts = Some(v);
            assert_eq!(c.refused(), vec![refusal]);
        }
        let mut v = pass();
        v.dmarc = Verdict::Gray;
        c.verdicts = Some(v);
        assert_eq!(
            c.judge(),
            WaitEligibility::Eligible,
            "DMARC need only not fail"
        );
        v.dmarc = Verdict::Fail;
        c.verdicts = Some(v);
        assert!(c.refused().contains(&Refusal::SesDmarcFail));
    }

    #[test]
    fn mail_received_before_the_wait_was_registered_is_refused() {
        let mut c = Case::genuine();
        c.received_at = c.wait.registered_at - Duration::seconds(1);
        assert_eq!(c.refused(), vec![Refusal::ReceivedBeforeWait]);
        c.received_at = c.wait.registered_at;
        assert_eq!(c.refused(), vec![Refusal::ReceivedBeforeWait]);
    }

    #[test]
    fn only_the_registered_root_address_counts() {
        let mut c = Case::genuine();
        c.recipients = vec![format!("acme-prod+{ACCOUNT}@root.provider.example")];
        assert_eq!(c.refused(), vec![Refusal::NotAddressedToRootEmail]);
        let mut c = Case::genuine();
        c.root = None;
        assert_eq!(
            c.refused(),
            vec![
                Refusal::NotAddressedToRootEmail,
                Refusal::HeaderNotAddressedToRootEmail
            ]
        );
        let mut c = Case::genuine();
        c.recipients = vec![ROOT.to_ascii_uppercase()];
        assert_eq!(c.judge(), WaitEligibility::Eligible);
    }

    /// The attacker's own genuine AWS mail (about their account: DKIM, SPF and DMARC all pass),
    /// re-sent by SMTP with our root address as the envelope recipient: its signed To still
    /// names the attacker's address.
    #[test]
    fn genuine_aws_mail_for_another_address_resent_to_ours_is_refused() {
        let resent = String::from_utf8(raw("signin.aws", "signin.aws"))
            .unwrap()
            .replace(
                &format!("To: {ROOT}"),
                "To: attacker-root@elsewhere.example",
            );
        let mut c = Case::genuine();
        c.decision = decision(resent.as_bytes());
        assert_eq!(c.refused(), vec![Refusal::HeaderNotAddressedToRootEmail]);
        // Named only in Cc (not covered by AWS's DKIM signature: anyone can add it) is not
        // addressed to it; named in To, in any case, is.
        let cc = String::from_utf8(raw("signin.aws", "signin.aws"))
            .unwrap()
            .replace(
                &format!("To: {ROOT}"),
                &format!("To: attacker-root@elsewhere.example\r\nCc: {ROOT}"),
            );
        c.decision = decision(cc.as_bytes());
        assert_eq!(c.refused(), vec![Refusal::HeaderNotAddressedToRootEmail]);
        let upper = String::from_utf8(raw("signin.aws", "signin.aws"))
            .unwrap()
            .replace(
                &format!("To: {ROOT}"),
                &format!("To: Root <{}>", ROOT.to_ascii_uppercase()),
            );
        c.decision = decision(upper.as_bytes());
        assert_eq!(c.judge(), WaitEligibility::Eligible);
        // A second To header (a forger's, added above the signed one): addressed to nobody.
        let two = String::from_utf8(raw("signin.aws", "signin.aws"))
            .unwrap()
            .replace(&format!("To: {ROOT}"), &format!("To: {ROOT}\r\nTo: {ROOT}"));
        c.decision = decision(two.as_bytes());
        assert_eq!(c.refused(), vec![Refusal::HeaderNotAddressedToRootEmail]);
    }

    #[test]
    fn replays_and_re_deliveries_earn_nothing_new() {
        let mut c = Case::genuine();
        c.history.message_id_seen = true;
        assert_eq!(c.refused(), vec![Refusal::MessageIdSeen]);
        let mut c = Case::genuine();
        c.history = History {
            redelivery: true,
            message_id_seen: true,
        };
        assert_eq!(
            c.refused(),
            vec![Refusal::Redelivery, Refusal::MessageIdSeen]
        );
        // ...except finishing the wait this very delivery claimed the first time.
        c.wait.claimed_by = Some("ses1".into());
        assert_eq!(c.judge(), WaitEligibility::Eligible);
        // A wait another delivery claimed is not this one's.
        let mut c = Case::genuine();
        c.wait.claimed_by = Some("ses0".into());
        assert_eq!(c.refused(), vec![Refusal::ClaimedByAnotherDelivery]);
        // A first attempt that claimed but failed before its ticket committed may claim again.
        c.wait.claimed_by = Some("ses1".into());
        assert_eq!(c.judge(), WaitEligibility::Eligible);
    }

    #[test]
    fn quarantined_wrong_kind_wrong_account_or_no_message_id_is_refused() {
        let mut c = Case::genuine();
        c.decision.quarantined = true;
        assert_eq!(c.refused(), vec![Refusal::Quarantined]);
        let mut c = Case::genuine();
        c.wait.kind = Category::VerificationCode;
        assert_eq!(c.refused(), vec![Refusal::WrongKind]);
        let mut c = Case::genuine();
        c.wait.account = AccountId::parse("123456789012").unwrap();
        assert_eq!(c.refused(), vec![Refusal::WrongAccount]);
        let mut c = Case::genuine();
        c.decision.message_id = None;
        assert_eq!(c.refused(), vec![Refusal::NoMessageId]);
    }

    #[test]
    fn the_reason_names_the_workflow_and_every_refusal() {
        assert_eq!(
            refusal_reason(
                Category::PasswordChanged,
                "rotate-1",
                &[Refusal::NotFromAwsSender, Refusal::MessageIdSeen]
            ),
            "claimed to complete workflow password-changed (rotate-1): refused because \
             not-from-aws-sender, message-id-seen"
        );
    }
}
