//! Sender authentication and the quarantine decision.
//!
//! Verdicts come from the SES event when there is one; otherwise (CLI, replay) from the headers
//! SES stamps on stored mail, of which only the topmost instance is trusted.

use serde::{Deserialize, Serialize};

use super::parse::AuthHeaders;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail,
    Gray,
    ProcessingFailed,
    #[default]
    Unknown,
}

impl Verdict {
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_uppercase().as_str() {
            "PASS" => Verdict::Pass,
            "FAIL" => Verdict::Fail,
            "GRAY" => Verdict::Gray,
            "PROCESSING_FAILED" => Verdict::ProcessingFailed,
            _ => Verdict::Unknown,
        }
    }
}

/// Verdicts as the SES receipt event reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SesVerdicts {
    pub spam: Verdict,
    pub virus: Verdict,
    pub spf: Verdict,
    pub dkim: Verdict,
    pub dmarc: Verdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuarantineReason {
    Spam,
    Virus,
    DmarcFail,
    AwsSenderWithoutAlignedDkim,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuthSummary {
    /// `ses-event`, `ses-headers` or `none`.
    pub source: &'static str,
    pub spam: Verdict,
    pub virus: Verdict,
    pub spf: Verdict,
    pub dmarc: Verdict,
    /// Domains with a DKIM pass.
    pub dkim_pass_domains: Vec<String>,
    pub dkim_aligned: bool,
}

/// SES sending domains of AWS: the domain itself or any subdomain.
const AWS_DOMAINS: &[&str] = &["amazon.com", "amazonaws.com", "signin.aws", "awscloud.com"];

pub fn is_aws_domain(domain: &str) -> bool {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    d == "aws"
        || d.ends_with(".aws")
        || AWS_DOMAINS
            .iter()
            .any(|a| d == *a || d.ends_with(&format!(".{a}")))
}

/// Relaxed alignment: equal, or one is a subdomain of the other.
fn aligned(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))
}

/// Parsed `Authentication-Results` (RFC 8601), topmost header only.
#[derive(Debug, Default)]
struct AuthResults {
    spf: Option<Verdict>,
    dmarc: Option<Verdict>,
    dkim_pass_domains: Vec<String>,
}

/// The header's `;`-separated parts as RFC 8601 reads them: a `;` inside a quoted string or a
/// comment (nested parentheses, both with `\` escapes) separates nothing, and comments are
/// dropped. SES copies sender-chosen text into the header (`smtp.mailfrom`, `smtp.helo`): read
/// naively, a MAIL FROM like `<"a;dkim=pass header.i=@signin.aws;"@evil.example>` would add a
/// DKIM pass of its own.
fn clauses(header: &str) -> Vec<String> {
    let (mut out, mut cur) = (Vec::new(), String::new());
    let (mut quoted, mut depth, mut escaped) = (false, 0usize, false);
    for c in header.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                cur.push(c);
            }
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 => {
                quoted = !quoted;
                cur.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            ';' if !quoted && depth == 0 => out.push(std::mem::take(&mut cur)),
            _ if depth > 0 => {}
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn parse_auth_results(header: &str) -> AuthResults {
    let mut out = AuthResults::default();
    // "authserv-id; method=result props...; method=result ..."
    for clause in clauses(header).iter().skip(1) {
        let clause = clause.trim();
        // A quoted string is a property's value, never a clause of its own.
        if clause.starts_with('"') {
            continue;
        }
        let Some((method, rest)) = clause.split_once('=') else {
            continue;
        };
        let result = rest.split_whitespace().next().unwrap_or_default();
        let verdict = Verdict::parse(result);
        match method.trim().to_ascii_lowercase().as_str() {
            "spf" => out.spf = Some(verdict),
            "dmarc" => out.dmarc = Some(verdict),
            "dkim" if verdict == Verdict::Pass => {
                for prop in rest.split_whitespace().skip(1) {
                    let lower = prop.to_ascii_lowercase();
                    let domain = lower.strip_prefix("header.d=").or_else(|| {
                        lower
                            .strip_prefix("header.i=")
                            .map(|i| i.rsplit('@').next().unwrap_or(i))
                    });
                    if let Some(d) = domain {
                        let d = d
                            .trim_matches(|c: char| c == '"' || c == '@' || c == ';')
                            .to_owned();
                        if !d.is_empty() {
                            out.dkim_pass_domains.push(d);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

pub fn evaluate(
    event: Option<&SesVerdicts>,
    headers: &AuthHeaders,
    from_domain: Option<&str>,
) -> (AuthSummary, Vec<QuarantineReason>) {
    let ses_results = headers
        .authentication_results
        .as_deref()
        .filter(|h| {
            h.trim_start()
                .to_ascii_lowercase()
                .starts_with("amazonses.com")
        })
        .map(parse_auth_results)
        .unwrap_or_default();
    let header_verdict = |v: &Option<String>| v.as_deref().map(Verdict::parse).unwrap_or_default();
    let mut summary = match event {
        Some(v) => AuthSummary {
            source: "ses-event",
            spam: v.spam,
            virus: v.virus,
            spf: v.spf,
            dmarc: v.dmarc,
            ..AuthSummary::default()
        },
        None => AuthSummary {
            source: if headers.authentication_results.is_some() || headers.spam_verdict.is_some() {
                "ses-headers"
            } else {
                "none"
            },
            spam: header_verdict(&headers.spam_verdict),
            virus: header_verdict(&headers.virus_verdict),
            spf: ses_results.spf.unwrap_or_default(),
            dmarc: ses_results.dmarc.unwrap_or_default(),
            ..AuthSummary::default()
        },
    };
    summary.dkim_pass_domains = ses_results.dkim_pass_domains.clone();
    summary.dkim_aligned = match from_domain {
        Some(from) => {
            ses_results.dkim_pass_domains.iter().any(|d| aligned(d, from))
                // The event says DKIM and DMARC passed but no stamped header names the domain:
                // a DMARC pass implies an aligned identifier.
                || (ses_results.dkim_pass_domains.is_empty()
                    && event.is_some_and(|v| v.dkim == Verdict::Pass && v.dmarc == Verdict::Pass))
        }
        None => false,
    };
    let mut reasons = Vec::new();
    if summary.spam == Verdict::Fail {
        reasons.push(QuarantineReason::Spam);
    }
    if summary.virus == Verdict::Fail {
        reasons.push(QuarantineReason::Virus);
    }
    if summary.dmarc == Verdict::Fail {
        reasons.push(QuarantineReason::DmarcFail);
    }
    if from_domain.is_some_and(is_aws_domain) && !summary.dkim_aligned {
        reasons.push(QuarantineReason::AwsSenderWithoutAlignedDkim);
    }
    (summary, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_domains() {
        for d in [
            "amazon.com",
            "signin.aws",
            "health.aws",
            "aws",
            "email.amazonaws.com",
            "marketing.awscloud.com",
            "AMAZON.COM",
        ] {
            assert!(is_aws_domain(d), "{d}");
        }
        for d in [
            "amazon-security.example",
            "notamazon.com",
            "aws.example.com",
            "awscloud.co",
        ] {
            assert!(!is_aws_domain(d), "{d}");
        }
    }

    fn headers(ar: &str) -> AuthHeaders {
        AuthHeaders {
            authentication_results: Some(ar.into()),
            spam_verdict: Some("PASS".into()),
            virus_verdict: Some("PASS".into()),
            ..Default::default()
        }
    }

    #[test]
    fn aligned_dkim_from_aws_passes() {
        let h = headers("amazonses.com; spf=pass (spfCheck: domain of amazon.com designates 1.2.3.4) smtp.mailfrom=x@amazon.com; dkim=pass header.i=@amazon.com; dmarc=pass header.from=amazon.com;");
        let (s, r) = evaluate(None, &h, Some("amazon.com"));
        assert!(r.is_empty(), "{r:?}");
        assert!(s.dkim_aligned);
        assert_eq!(s.source, "ses-headers");
        // Subdomain alignment (relaxed).
        let h = headers(
            "amazonses.com; dkim=pass header.d=amazonses.com header.d=signin.aws; dmarc=pass",
        );
        assert!(evaluate(None, &h, Some("no-reply.signin.aws")).1.is_empty());
    }

    #[test]
    fn unaligned_or_failed_dkim_from_aws_is_quarantined() {
        for ar in [
            "amazonses.com; spf=pass; dkim=pass header.i=@evil.example; dmarc=none",
            "amazonses.com; spf=pass; dkim=fail header.i=@amazon.com; dmarc=none",
            // A forged header not from SES's authserv-id is not trusted.
            "mx.evil.example; dkim=pass header.i=@amazon.com; dmarc=pass",
        ] {
            let (_, r) = evaluate(None, &headers(ar), Some("amazon.com"));
            assert_eq!(
                r,
                vec![QuarantineReason::AwsSenderWithoutAlignedDkim],
                "{ar}"
            );
        }
    }

    /// Attacker: SES copies the sender's MAIL FROM (and HELO) into its own header. A quoted
    /// local part, or a comment, carrying "; dkim=pass header.i=@signin.aws;" must not read as a
    /// DKIM pass of SES's.
    #[test]
    fn sender_text_inside_quotes_or_comments_is_no_clause() {
        for ar in [
            r#"amazonses.com; spf=pass smtp.mailfrom="a;dkim=pass header.i=@signin.aws;"@evil.example; dkim=pass header.i=@evil.example; dmarc=none"#,
            r#"amazonses.com; spf=pass smtp.mailfrom="a\";dkim=pass header.i=@signin.aws;"@evil.example; dkim=pass header.i=@evil.example; dmarc=none"#,
            "amazonses.com; spf=pass (helo=x;dkim=pass header.i=@signin.aws;) smtp.helo=evil.example; dkim=pass header.i=@evil.example; dmarc=none",
            "amazonses.com; spf=pass (a (nested;dkim=pass header.i=@signin.aws;) b) smtp.mailfrom=x@evil.example; dmarc=none",
        ] {
            let (s, r) = evaluate(None, &headers(ar), Some("signin.aws"));
            assert_eq!(
                r,
                vec![QuarantineReason::AwsSenderWithoutAlignedDkim],
                "{ar}"
            );
            assert!(
                !s.dkim_pass_domains.iter().any(|d| d.contains("signin.aws")),
                "{ar}: {:?}",
                s.dkim_pass_domains
            );
        }
        assert_eq!(
            clauses(r#"id; a="x;y" (c;d) b; c"#),
            vec!["id", r#" a="x;y"  b"#, " c"]
        );
    }

    #[test]
    fn event_verdicts_win_over_headers() {
        let ev = SesVerdicts {
            spam: Verdict::Fail,
            virus: Verdict::Pass,
            spf: Verdict::Pass,
            dkim: Verdict::Pass,
            dmarc: Verdict::Fail,
        };
        let (s, r) = evaluate(Some(&ev), &AuthHeaders::default(), Some("example.org"));
        assert_eq!(s.source, "ses-event");
        assert_eq!(r, vec![QuarantineReason::Spam, QuarantineReason::DmarcFail]);
        let ok = SesVerdicts {
            spam: Verdict::Pass,
            virus: Verdict::Pass,
            spf: Verdict::Pass,
            dkim: Verdict::Pass,
            dmarc: Verdict::Pass,
        };
        assert!(
            evaluate(Some(&ok), &AuthHeaders::default(), Some("signin.aws"))
                .1
                .is_empty()
        );
    }

    #[test]
    fn virus_fail_from_headers() {
        let h = AuthHeaders {
            virus_verdict: Some("FAIL".into()),
            ..Default::default()
        };
        assert_eq!(
            evaluate(None, &h, Some("example.org")).1,
            vec![QuarantineReason::Virus]
        );
    }
}
