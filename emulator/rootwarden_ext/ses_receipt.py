"""SES inbound receipt: what SES does with a message its MX accepted, under the ACTIVE receipt
rule set in moto's SES backend (moto stores rule sets but never receives mail).

    receive(raw, recipients, verdicts=None, dkim_domain=None, mail_from=None) -> dict

- Rule set: the account's active one (SetActiveReceiptRuleSet). CloudFormation cannot activate a
  set (the template's deploy note: activate it once after deploying), so when NO set is active and
  the account/region has exactly one, that one stands in for it (`rule_set_active: false` in the
  answer). No set, or nothing matching: SES would refuse the recipient at SMTP time
  (`NoRuleMatches`).
- Rules are evaluated in order; a rule applies to the recipients its `Recipients` match (an
  address matches itself; `example.com` every address at that domain; `.example.com` every
  address at its subdomains, not the domain itself; no `Recipients` = every recipient), case
  insensitive. Disabled rules are skipped. A StopAction, or a synchronous Lambda answering
  {"disposition": "STOP_RULE_SET"}, stops the rules after it; "STOP_RULE" the actions after it.
- Actions, in order: S3Action stores the message (with the headers SES prepends on receipt) at
  ObjectKeyPrefix + message id as the `ses.amazonaws.com` service principal, checked against the
  bucket policy and the bucket key's policy (ses_delivery.store_object; aws:SourceAccount and
  aws:SourceArn = the rule); LambdaAction checks the function's resource policy lets
  ses.amazonaws.com lambda:InvokeFunction, then invokes it with SES's event (Records[0]
  eventSource "aws:ses", ses.mail, ses.receipt with action type "Lambda") through moto's Lambda
  backend, i.e. the function host when it runs: InvocationType Event is asynchronous (errors are
  logged, the caller does not wait), RequestResponse waits. AddHeaderAction adds its header to
  what later actions store. Bounce/WorkMail/SNS actions are recorded as not emulated. A refused
  action stops the rule (the later actions of that rule are not run), as SES fails the delivery.
- Verdicts: the caller states them (spam, virus, spf, dkim, dmarc: PASS|FAIL|GRAY|
  PROCESSING_FAILED). Defaults: spam/virus/SPF PASS; DKIM PASS when `dkim_domain` is given (the
  domain whose key signed the message), else GRAY; DMARC PASS when the DKIM domain or the SPF
  (envelope-from) domain aligns with the From domain, else FAIL for AWS's domains (they publish
  p=reject) and GRAY for others.

Test-only endpoints (middleware):
    POST /_rootwarden/ses/receive   {"raw_b64", "recipients": [...], "verdicts"?, "dkim_domain"?,
                                     "mail_from"?} -> {"message_id", "rule_set", "rule_set_active",
                                     "rules": [names], "actions": [{rule, type, ...}]}
    GET  /_rootwarden/ses/received  -> [{message_id, recipients, from, subject, received_at, ...}]
"""
from __future__ import annotations

import base64
import email
import email.policy
import email.utils
import json
import re
import secrets
import string
import threading
import time
from datetime import datetime, timezone
from typing import Any

from .common import Req, Resp, log, plain_json

SERVICE = "ses.amazonaws.com"
VERDICTS = ("PASS", "FAIL", "GRAY", "PROCESSING_FAILED")
AWS_DOMAINS = ("amazon.com", "amazonaws.com", "signin.aws", "awscloud.com", "aws")
SES_OUTBOUND_IP = "54.240.8.21"
SES_OUTBOUND_HELO = "a8-21.smtp-out.amazonses.com"

_lock = threading.Lock()
_received: list[dict] = []


class NoRuleMatches(Exception):
    """No enabled rule of an active rule set matches any recipient: SES refuses at SMTP time."""


def reset() -> None:
    with _lock:
        _received.clear()


def new_message_id() -> str:
    """An SES inbound message id: 40 characters of [a-z0-9] (as in SES's events)."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(40))


def _domain(addr: str | None) -> str:
    return (addr or "").rsplit("@", 1)[-1].strip().strip(">").lower()


def _aligned(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    return bool(a and b) and (a == b or a.endswith("." + b) or b.endswith("." + a))


def _is_aws_domain(d: str) -> bool:
    d = d.lower()
    return any(d == a or d.endswith("." + a) for a in AWS_DOMAINS)


def recipient_matches(entry: str, address: str) -> bool:
    """SES receipt-rule recipient matching (address / domain / .subdomain form)."""
    e, a = entry.strip().lower(), address.strip().lower()
    if "@" in e:
        return a == e
    dom = _domain(a)
    if e.startswith("."):
        return dom.endswith(e)
    return dom == e


def _rule_sets() -> list[tuple[str, str, Any, bool]]:
    """(account, region, rule set, active) to evaluate: per SES backend, its active set, else its
    only set."""
    from moto.ses.models import ses_backends

    out = []
    for account, regions in list(ses_backends.items()):
        for region, be in list(regions.items()):
            sets = dict(getattr(be, "receipt_rule_set", {}) or {})
            active = next((rs for rs in sets.values() if rs.is_active), None)
            if active is not None:
                out.append((account, region, active, True))
            elif len(sets) == 1:
                out.append((account, region, next(iter(sets.values())), False))
    return out


def _enabled(rule: dict) -> bool:
    v = rule.get("Enabled", False)
    return v is True or str(v).lower() == "true"


def _rule_recipients(rule: dict) -> list[str]:
    r = rule.get("Recipients")
    if isinstance(r, dict):  # query-protocol shape {"member": [...]}
        r = r.get("member")
    if isinstance(r, str):
        r = [r]
    return [str(x) for x in (r or [])]


def _actions(rule: dict) -> list[dict]:
    a = rule.get("Actions") or []
    if isinstance(a, dict):
        a = a.get("member") or []
    return list(a) if isinstance(a, list) else [a]


def _plan(recipients: list[str]) -> tuple[str, str, Any, bool, list[tuple[dict, list[str]]]]:
    """The rule set that receives the message and its matching rules with their recipients."""
    for account, region, rs, active in _rule_sets():
        plan = []
        for rule in list(rs.rules):
            if not _enabled(rule):
                continue
            entries = _rule_recipients(rule)
            matched = [r for r in recipients if not entries or any(recipient_matches(e, r) for e in entries)]
            if matched:
                plan.append((rule, matched))
        if plan:
            return account, region, rs, active, plan
    raise NoRuleMatches(f"no receipt rule matches {', '.join(recipients)}: SES refuses them at SMTP time")


def _verdicts(given: dict | None, from_domain: str, dkim_domain: str | None, mail_from: str) -> dict[str, str]:
    given = {str(k).lower(): str(v).upper() for k, v in (given or {}).items()}
    for k, v in given.items():
        if k not in ("spam", "virus", "spf", "dkim", "dmarc"):
            raise ValueError(f"unknown verdict {k} (spam, virus, spf, dkim, dmarc)")
        if v not in VERDICTS:
            raise ValueError(f"verdict {k}={v}: one of {', '.join(VERDICTS)}")
    out = {"spam": "PASS", "virus": "PASS", "spf": "PASS",
           "dkim": "PASS" if dkim_domain else "GRAY"}
    out.update({k: v for k, v in given.items() if k != "dmarc"})
    if "dmarc" in given:
        out["dmarc"] = given["dmarc"]
    elif (out["dkim"] == "PASS" and _aligned(dkim_domain or "", from_domain)) or \
            (out["spf"] == "PASS" and _aligned(_domain(mail_from), from_domain)):
        out["dmarc"] = "PASS"
    else:
        out["dmarc"] = "FAIL" if _is_aws_domain(from_domain) else "GRAY"
    return out


def _receipt_headers(message_id: str, recipient: str, region: str, mail_from: str, from_domain: str,
                     dkim_domain: str | None, v: dict[str, str], now: datetime) -> str:
    date = now.strftime("%a, %d %b %Y %H:%M:%S +0000 (UTC)")
    spf_dom = _domain(mail_from) or from_domain
    spf = v["spf"].lower()
    spf_text = (f"{spf} (spfCheck: domain of {spf_dom} designates {SES_OUTBOUND_IP} as permitted sender)"
                if spf == "pass" else f"{spf} (spfCheck: domain of {spf_dom} does not designate "
                                      f"{SES_OUTBOUND_IP} as permitted sender)")
    tail = f"client-ip={SES_OUTBOUND_IP}; envelope-from={mail_from}; helo={SES_OUTBOUND_HELO};"
    dkim = v["dkim"].lower()
    if dkim_domain and dkim in ("pass", "fail"):
        dkim_text = f"dkim={dkim} header.i=@{dkim_domain};"
    else:
        dkim_text = "dkim=none;" if dkim == "gray" else f"dkim={dkim.replace('_', '')};"
    dmarc = {"GRAY": "none", "PROCESSING_FAILED": "temperror"}.get(v["dmarc"], v["dmarc"].lower())
    lines = [
        f"Return-Path: <{mail_from}>",
        f"Received: from {SES_OUTBOUND_HELO} ({SES_OUTBOUND_HELO} [{SES_OUTBOUND_IP}])",
        f" by inbound-smtp.{region}.amazonaws.com with SMTP id {message_id}",
        f" for {recipient};",
        f" {date}",
        f"X-SES-Spam-Verdict: {v['spam']}",
        f"X-SES-Virus-Verdict: {v['virus']}",
        f"Received-SPF: {spf_text} {tail}",
        "Authentication-Results: amazonses.com;",
        f" spf={spf_text}",
        f" {tail}",
        f" {dkim_text}",
        f" dmarc={dmarc} header.from={from_domain};",
        "X-SES-RECEIPT: " + base64.b64encode(secrets.token_bytes(72)).decode(),
    ]
    return "\r\n".join(lines) + "\r\n"


def _common_headers(msg: email.message.Message, mail_from: str) -> dict:
    def addrs(name: str) -> list[str]:
        return [str(x) for x in msg.get_all(name, [])]

    out: dict[str, Any] = {"returnPath": mail_from, "from": addrs("From"), "date": str(msg.get("Date", "")),
                           "to": addrs("To"), "messageId": str(msg.get("Message-ID", "")),
                           "subject": str(msg.get("Subject", ""))}
    if msg.get("Cc"):
        out["cc"] = addrs("Cc")
    return out


def _function_allows_ses(fn, account: str, source_arn: str) -> tuple[bool, str]:
    from . import ses_delivery
    from .iam import enforce
    from .iam.requests import ctx
    from .iam.services_rest import lambda_policy_document

    if not enforce.enabled():
        return True, ""
    doc = lambda_policy_document(fn)
    context = ctx(**{"aws:SourceAccount": account, "aws:SourceArn": source_arn,
                     "aws:SecureTransport": "true"})
    return ses_delivery.service_allows(doc, "lambda:InvokeFunction", fn.function_arn, context)


def _invoke(account: str, region: str, action: dict, event: dict, source_arn: str) -> dict:
    from moto.awslambda.utils import get_backend

    arn = action.get("FunctionArn", "")
    inv = action.get("InvocationType") or "Event"
    out: dict[str, Any] = {"type": "Lambda", "function_arn": arn, "invocation_type": inv}
    parts = arn.split(":")
    fn_region = parts[3] if len(parts) > 6 else region
    be = get_backend(account, fn_region)
    try:
        fn = be.get_function(arn)
    except Exception as e:
        out.update(status="failed", error=f"no function {arn}: {e}")
        return out
    ok, why = _function_allows_ses(fn, account, source_arn)
    if not ok:
        out.update(status="refused", error=f"the resource policy of {fn.function_name} does not let "
                                             f"{SERVICE} lambda:InvokeFunction: {why}")
        return out
    qualifier = parts[7] if len(parts) > 7 else None
    response_headers: dict[str, str] = {}
    try:
        result = be.invoke(fn.function_name, qualifier, json.dumps(event),
                           {"X-Amz-Invocation-Type": inv}, response_headers)
    except Exception as e:
        out.update(status="failed", error=str(e))
        log(f"SES receipt: invoking {arn} failed: {e}")
        return out
    if inv == "Event":
        out["status"] = "invoked"
        return out
    body = result.decode("utf-8", "replace") if isinstance(result, (bytes, bytearray)) else str(result or "")
    if response_headers.get("x-amz-function-error"):
        out.update(status="failed", error=body[:500])
        log(f"SES receipt: {arn} failed: {body[:500]}")
        return out
    out["status"] = "invoked"
    try:
        disp = json.loads(body).get("disposition") if body.strip().startswith("{") else None
    except ValueError:
        disp = None
    if disp in ("STOP_RULE", "STOP_RULE_SET"):
        out["disposition"] = disp
    return out


def receive(raw: bytes, recipients: list[str], verdicts: dict | None = None,
            sender_domain_dkim: str | None = None, mail_from: str | None = None) -> dict:
    """Receive one message for `recipients` (envelope recipients) as SES inbound does. Raises
    NoRuleMatches, or ValueError for bad input. Returns {"message_id", "rule_set",
    "rule_set_active", "rules", "actions", "recipients"}."""
    from .ses_delivery import store_object

    recipients = [str(r).strip() for r in recipients if str(r).strip()]
    if not recipients:
        raise ValueError("no recipients")
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    from_addr = email.utils.parseaddr(str(msg.get("From", "")))[1]
    from_domain = _domain(from_addr)
    mail_from = mail_from or from_addr or "unknown@unknown.invalid"
    v = _verdicts(verdicts, from_domain, sender_domain_dkim, mail_from)
    account, region, rs, active, plan = _plan(recipients)
    t0 = time.time()
    now = datetime.now(timezone.utc)
    message_id = new_message_id()
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    matched_all = sorted({r for _, rs_ in plan for r in rs_}, key=recipients.index)
    head = _receipt_headers(message_id, matched_all[0], region, mail_from, from_domain,
                            sender_domain_dkim, v, now)
    if b"\r\n" not in raw:  # a message with bare LF line ends keeps them
        head = head.replace("\r\n", "\n")
    stored = head.encode() + raw
    stored_msg = email.message_from_bytes(stored, policy=email.policy.compat32)
    mail = {
        "timestamp": stamp, "source": mail_from, "messageId": message_id, "destination": recipients,
        "headersTruncated": False,
        "headers": [{"name": k, "value": re.sub(r"\r?\n[ \t]+", " ", str(val))}
                    for k, val in stored_msg.items()],
        "commonHeaders": _common_headers(msg, mail_from),
    }
    receipt_base = {
        "timestamp": stamp, "spamVerdict": {"status": v["spam"]}, "virusVerdict": {"status": v["virus"]},
        "spfVerdict": {"status": v["spf"]}, "dkimVerdict": {"status": v["dkim"]},
        "dmarcVerdict": {"status": v["dmarc"]},
    }
    if v["dmarc"] == "FAIL":
        receipt_base["dmarcPolicy"] = "reject" if _is_aws_domain(from_domain) else "none"
    rules_run: list[str] = []
    actions_out: list[dict] = []
    extra_headers = b""
    stop_set = False
    for rule, matched in plan:
        if stop_set:
            break
        name = rule.get("Name", "?")
        rules_run.append(name)
        source_arn = f"arn:aws:ses:{region}:{account}:receipt-rule-set/{rs.name}:receipt-rule/{name}"
        for action in _actions(rule):
            kind = next(iter(action), "?")
            body = action.get(kind) or {}
            rec: dict[str, Any] = {"rule": name}
            if kind == "S3Action":
                key = (body.get("ObjectKeyPrefix") or "") + message_id
                status, res = store_object(body.get("BucketName", ""), key, extra_headers + stored, region,
                                           source_arn)
                rec.update(type="S3", bucket=body.get("BucketName"), key=key,
                           status="stored" if status == 200 else "refused" if status == 403 else "failed")
                if status != 200:
                    rec["error"] = res.get("error")
            elif kind == "LambdaAction":
                event = {"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {
                    "mail": mail,
                    "receipt": {**receipt_base, "recipients": matched,
                                "processingTimeMillis": max(1, int((time.time() - t0) * 1000)),
                                "action": {"type": "Lambda", "functionArn": body.get("FunctionArn"),
                                           "invocationType": body.get("InvocationType") or "Event"}},
                }}]}
                rec.update(_invoke(account, region, body, event, source_arn))
            elif kind == "AddHeaderAction":
                hn, hv = str(body.get("HeaderName", "")), str(body.get("HeaderValue", ""))
                extra_headers += f"{hn}: {hv}".encode() + (b"\r\n" if b"\r\n" in raw else b"\n")
                rec.update(type="AddHeader", status="done", header=hn)
            elif kind == "StopAction":
                rec.update(type="Stop", status="done")
                actions_out.append(rec)
                stop_set = True
                break
            else:
                rec.update(type=kind.removesuffix("Action"), status="not-emulated")
            actions_out.append(rec)
            if rec.get("status") in ("refused", "failed"):
                log(f"SES receipt {message_id}: rule {name}: {rec['type']} action {rec['status']}: "
                    f"{rec.get('error')}")
                break
            if rec.get("disposition") == "STOP_RULE_SET":
                stop_set = True
                break
            if rec.get("disposition") == "STOP_RULE":
                break
    out = {"message_id": message_id, "rule_set": rs.name, "rule_set_active": active,
           "recipients": matched_all, "rules": rules_run, "actions": actions_out}
    with _lock:
        _received.append({"message_id": message_id, "recipients": matched_all, "from": from_addr,
                          "subject": str(msg.get("Subject", "")), "received_at": stamp,
                          "rules": rules_run, "actions": actions_out})
    log(f"SES receipt {message_id}: from {from_addr} to {', '.join(matched_all)}: rules "
        f"{', '.join(rules_run)}; actions " + ", ".join(f"{a['type']}:{a['status']}" for a in actions_out))
    return out


def endpoint(req: Req) -> Resp:
    path = req.path.rstrip("/")
    if path == "/_rootwarden/ses/received":
        if req.method != "GET":
            return plain_json(405, {"error": "use GET"})
        with _lock:
            return plain_json(200, [dict(r) for r in _received])
    if path != "/_rootwarden/ses/receive":
        return plain_json(404, {"error": f"unknown test endpoint {req.path}"})
    if req.method != "POST":
        return plain_json(405, {"error": "use POST"})
    try:
        data = req.json_body()
    except ValueError as e:
        return plain_json(400, {"error": f"invalid JSON: {e}"})
    if not isinstance(data, dict):
        return plain_json(400, {"error": "body must be a JSON object"})
    try:
        raw = base64.b64decode(data.get("raw_b64") or "", validate=True)
    except (ValueError, TypeError) as e:
        return plain_json(400, {"error": f"raw_b64: {e}"})
    rcpts = data.get("recipients")
    if not raw or not isinstance(rcpts, list) or not all(isinstance(r, str) for r in rcpts):
        return plain_json(400, {"error": 'body: {"raw_b64": ..., "recipients": ["..."], "verdicts"?: {...}, '
                                         '"dkim_domain"?: "...", "mail_from"?: "..."}'})
    verdicts = data.get("verdicts")
    if verdicts is not None and not isinstance(verdicts, dict):
        return plain_json(400, {"error": "verdicts must be an object"})
    dkim = data.get("dkim_domain")
    if dkim is not None and (not isinstance(dkim, str) or not re.fullmatch(r"[A-Za-z0-9.-]+", dkim)):
        return plain_json(400, {"error": "dkim_domain must be a domain name"})
    try:
        out = receive(raw, rcpts, verdicts, dkim, data.get("mail_from"))
    except NoRuleMatches as e:
        return plain_json(400, {"error": str(e)})
    except ValueError as e:
        return plain_json(400, {"error": str(e)})
    refused = any(a.get("status") == "refused" for a in out["actions"])
    return plain_json(403 if refused else 200, out)
