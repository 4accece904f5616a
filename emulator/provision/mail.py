from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .names import gen_name
from .util import _as_bool

if TYPE_CHECKING:
    from .provisioner import Provisioner

def h_ses_rule_set(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    rs = pr.get("RuleSetName") or gen_name(p.stack, name, 64, r"[^A-Za-z0-9_.-]")
    p.client("ses").create_receipt_rule_set(RuleSetName=rs)
    return {"physical_id": rs, "arn": None}


def h_ses_rule(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    rule = dict(pr["Rule"])
    rule.setdefault("Name", gen_name(p.stack, name, 64, r"[^A-Za-z0-9_.-]"))
    for k in ("Enabled", "ScanEnabled"):
        if k in rule:
            rule[k] = _as_bool(rule[k])
    kw: dict[str, Any] = {"RuleSetName": pr["RuleSetName"], "Rule": rule}
    if pr.get("After"):
        kw["After"] = pr["After"]
    p.client("ses").create_receipt_rule(**kw)
    return {"physical_id": rule["Name"], "arn": None}


def h_ses_email_identity(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    ident = pr["EmailIdentity"]
    warnings = []
    try:
        p.client("sesv2").create_email_identity(EmailIdentity=ident)
    except Exception as e:
        warnings.append(f"sesv2 identity: {e}")
    ses = p.client("ses")
    if "@" in ident:
        ses.verify_email_identity(EmailAddress=ident)
    else:
        ses.verify_domain_identity(Domain=ident)
    return {"physical_id": ident, "arn": f"arn:aws:ses:{p.region}:{p.account}:identity/{ident}",
            "warnings": warnings}


def h_ses_configuration_set(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    cs = pr.get("Name") or gen_name(p.stack, name, 64)
    p.client("sesv2").create_configuration_set(ConfigurationSetName=cs)
    return {"physical_id": cs, "arn": None}
