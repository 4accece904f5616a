"""IAM policy evaluation (pure: no moto, no I/O; unit-tested in emulator/tests/test_iam_policy.py).

A policy document is parsed once (cached by its JSON text) into statements whose Action /
Resource patterns are compiled. Evaluation follows AWS's same-account logic:

  * an explicit Deny in any applicable policy wins;
  * otherwise the request is allowed when an applicable Allow exists;
  * otherwise it is implicitly denied.

`authorize()` combines the caller's identity policies with the resource's own policy:
  mode None        identity policies only
  mode "resource"  S3 bucket / Lambda function policies: identity OR resource policy. A
                   resource-policy Allow naming the caller (user, role, session ARN, or "*")
                   grants by itself; one naming the account (ACCT / arn:...:root) only
                   delegates to IAM, i.e. adds nothing.
  mode "key"       KMS key policies and role trust policies: the resource policy must allow.
                   Naming the caller grants by itself; naming the account delegates to IAM,
                   so the identity policies must allow too. No resource-policy Allow: denied.
  legacy=True      the pre-engine function-URL rule: an account principal grants directly.

Context keys are case-insensitive: callers pass a dict of lower-case key -> tuple of strings.
Policy variables (${aws:username} etc.) are substituted from the context in Resource and
condition values of "2012-10-17" policies; a variable with no value leaves the pattern
unmatched, as AWS does.
"""
from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Context = Mapping[str, Sequence[str]]

ALLOW, DENY = "Allow", "Deny"

# ---------------------------------------------------------------- wildcard patterns

_rx_cache: dict[tuple[str, bool], re.Pattern] = {}


def _rx(pattern: str, ci: bool) -> re.Pattern:
    key = (pattern, ci)
    rx = _rx_cache.get(key)
    if rx is None:
        body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        rx = re.compile(body, re.S | (re.I if ci else 0))
        if len(_rx_cache) > 20000:
            _rx_cache.clear()
        _rx_cache[key] = rx
    return rx


def glob(pattern: str, value: str, ci: bool = False) -> bool:
    if pattern == "*":
        return True
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == value.lower() if ci else pattern == value
    return _rx(pattern, ci).fullmatch(value) is not None


def arn_like(pattern: str, value: str) -> bool:
    """ArnLike / ArnEquals: the six colon-separated parts match one by one (case-sensitive)."""
    if pattern == "*":
        return True
    p, v = pattern.split(":", 5), value.split(":", 5)
    if len(p) != 6 or len(v) != 6:
        return False
    return all(glob(a, b) for a, b in zip(p, v, strict=False))


_VAR_RE = re.compile(r"\$\{([^}]*)\}")


def substitute(text: str, ctx: Context) -> str | None:
    """Replace ${key} policy variables; None when one has no (single) value in the context."""
    missing = False

    def repl(m: re.Match) -> str:
        nonlocal missing
        name = m.group(1)
        if name in ("*", "?", "$"):
            return "\\" + name if name != "$" else "$"  # escaped literal, re-handled below
        vals = ctx.get(name.strip().lower())
        if not vals or len(vals) != 1:
            missing = True
            return ""
        return vals[0].replace("*", "\\*").replace("?", "\\?")

    out = _VAR_RE.sub(repl, text)
    return None if missing else out


def _glob_escaped(pattern: str, value: str, ci: bool = False) -> bool:
    """glob() where \\* and \\? (from substitution) are literal characters."""
    if "\\" not in pattern:
        return glob(pattern, value, ci)
    parts, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*?":
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return re.fullmatch("".join(parts), value, re.S | (re.I if ci else 0)) is not None


# ---------------------------------------------------------------- conditions

NEGATED = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
           "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike",
           "NumericNotEquals": "NumericEquals", "DateNotEquals": "DateEquals",
           "NotIpAddress": "IpAddress"}


def _num(s: str) -> float | None:
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def _date(s: str) -> float | None:
    s = str(s).strip()
    try:
        return float(s)  # epoch seconds
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.timestamp()


def _ip(v: str, p: str) -> bool:
    try:
        return ipaddress.ip_address(v) in ipaddress.ip_network(p, strict=False)
    except ValueError:
        return False


def _cmp(kind: str, op: str):
    conv = _num if kind == "Numeric" else _date

    def f(v: str, p: str) -> bool:
        a, b = conv(v), conv(p)
        if a is None or b is None:
            return False
        return {"Equals": a == b, "LessThan": a < b, "LessThanEquals": a <= b,
                "GreaterThan": a > b, "GreaterThanEquals": a >= b}[op]
    return f


MATCHERS: dict[str, Any] = {
    "StringEquals": lambda v, p: v == p,
    "StringEqualsIgnoreCase": lambda v, p: v.lower() == p.lower(),
    "StringLike": lambda v, p: _glob_escaped(p, v),
    "ArnEquals": lambda v, p: arn_like(p, v),
    "ArnLike": lambda v, p: arn_like(p, v),
    "Bool": lambda v, p: v.lower() == p.lower(),
    "BinaryEquals": lambda v, p: v == p or v == base64.b64encode(p.encode()).decode(),
    "IpAddress": _ip,
}
for _k in ("Numeric", "Date"):
    for _o in ("Equals", "LessThan", "LessThanEquals", "GreaterThan", "GreaterThanEquals"):
        MATCHERS[_k + _o] = _cmp(_k, _o)


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class Cond:
    op: str            # base operator, e.g. "StringLike" / "StringNotLike" / "Null"
    qualifier: str     # "", "ForAllValues", "ForAnyValue"
    if_exists: bool
    key: str           # lower-case
    values: tuple[str, ...]
    has_vars: bool


def _str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def parse_condition(block: Any) -> tuple[Cond, ...]:
    if not isinstance(block, dict):
        raise PolicyError("Condition must be an object")
    out = []
    for raw_op, kv in block.items():
        qual, op = "", str(raw_op)
        for q in ("ForAllValues:", "ForAnyValue:"):
            if op.lower().startswith(q.lower()):
                qual, op = q[:-1], op[len(q):]
        if_exists = op.endswith("IfExists") and op != "IfExists"
        if if_exists:
            op = op[:-len("IfExists")]
        if op != "Null" and op not in MATCHERS and op not in NEGATED:
            raise PolicyError(f"unknown condition operator {raw_op}")
        if not isinstance(kv, dict):
            raise PolicyError(f"condition {raw_op} must map keys to values")
        for key, vals in kv.items():
            vals = vals if isinstance(vals, list) else [vals]
            values = tuple(_str(v) for v in vals)
            out.append(Cond(op, qual, if_exists, str(key).lower(), values,
                            any("${" in v for v in values)))
    return tuple(out)


def eval_condition(c: Cond, ctx: Context, variables: bool = True) -> bool:
    vals = ctx.get(c.key)
    absent = not vals
    if c.op == "Null":
        return any((p.lower() == "true") == absent for p in c.values)
    if absent:
        if c.if_exists or c.qualifier == "ForAllValues":
            return True
        if c.qualifier == "ForAnyValue":
            return False
        return c.op in NEGATED
    pvals: Iterable[str] = c.values
    if c.has_vars and variables:
        pvals = [s for s in (substitute(p, ctx) for p in c.values) if s is not None]
        if c.op not in ("StringLike", "StringNotLike"):
            pvals = [p.replace("\\*", "*").replace("\\?", "?") for p in pvals]
    pvals = tuple(pvals)
    neg = c.op in NEGATED
    match = MATCHERS[NEGATED.get(c.op, c.op)]

    def pred(v: str) -> bool:
        hit = any(match(v, p) for p in pvals)
        return not hit if neg else hit

    if c.qualifier == "ForAllValues":
        return all(pred(v) for v in vals)
    if c.qualifier == "ForAnyValue":
        return any(pred(v) for v in vals)
    return all(pred(v) for v in vals) if neg else any(pred(v) for v in vals)


# ---------------------------------------------------------------- statements and policies

def _as_list(v: Any) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


@dataclass(frozen=True)
class Principals:
    any: bool                 # "*" or {"AWS": "*"}
    aws: tuple[str, ...]      # AWS principal values (account ids / ARNs)
    other: bool               # Service / Federated / CanonicalUser present


def _principals(v: Any) -> Principals | None:
    if v is None:
        return None
    if v == "*":
        return Principals(True, (), False)
    if isinstance(v, str):  # bare account id / ARN (moto stores Lambda AddPermission this way)
        return Principals(False, (v,), False) if not v.endswith(".amazonaws.com") else Principals(False, (), True)
    if not isinstance(v, dict):
        raise PolicyError("Principal must be \"*\" or an object")
    aws = tuple(str(x) for x in _as_list(v.get("AWS")))
    other = any(k != "AWS" for k in v)
    return Principals("*" in aws, tuple(a for a in aws if a != "*"), other)


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    principal: Principals | None
    not_principal: Principals | None
    conditions: tuple[Cond, ...]
    invalid: str = ""      # a statement AWS would have rejected: Allow never, Deny always applies

    def action_matches(self, action: str) -> bool:
        if self.actions is not None:
            return any(glob(p, action, ci=True) for p in self.actions)
        if self.not_actions is not None:
            return not any(glob(p, action, ci=True) for p in self.not_actions)
        return False

    def resource_matches(self, resource: str, ctx: Context, implicit: bool, variables: bool) -> bool:
        pats = self.resources if self.resources is not None else self.not_resources
        if pats is None:
            return implicit
        hit = False
        for p in pats:
            if variables and "${" in p:
                p = substitute(p, ctx)
                if p is None:
                    continue
                if _glob_escaped(p, resource):
                    hit = True
                    break
            elif glob(p, resource):
                hit = True
                break
        return hit if self.resources is not None else not hit

    def conditions_hold(self, ctx: Context, variables: bool) -> bool:
        return all(eval_condition(c, ctx, variables) for c in self.conditions)


@dataclass(frozen=True)
class Policy:
    statements: tuple[Statement, ...]
    variables: bool  # Version 2012-10-17: policy variables are substituted


def _parse_statement(st: Any, i: int) -> Statement:
    if not isinstance(st, dict):
        raise PolicyError(f"statement {i} is not an object")
    effect = st.get("Effect")
    sid = str(st.get("Sid", ""))

    def strs(key: str) -> tuple[str, ...] | None:
        return tuple(str(x) for x in _as_list(st[key])) if key in st else None

    try:
        if effect not in (ALLOW, DENY):
            raise PolicyError(f"statement {i}: Effect must be Allow or Deny")
        return Statement(sid, effect, strs("Action"), strs("NotAction"), strs("Resource"),
                         strs("NotResource"), _principals(st.get("Principal")),
                         _principals(st.get("NotPrincipal")),
                         parse_condition(st["Condition"]) if "Condition" in st else ())
    except PolicyError as e:
        return Statement(sid, DENY if effect == DENY else ALLOW, strs("Action"), strs("NotAction"),
                         strs("Resource"), strs("NotResource"), None, None, (), invalid=str(e))


_doc_cache: dict[str, Policy] = {}
_doc_lock = threading.Lock()


def parse_policy(doc: str | bytes | dict) -> Policy:
    """Parse (cached by the document's text) a policy document."""
    if isinstance(doc, bytes):
        doc = doc.decode("utf-8", "replace")
    key = doc if isinstance(doc, str) else json.dumps(doc, sort_keys=True)
    pol = _doc_cache.get(key)
    if pol is not None:
        return pol
    data = doc
    if isinstance(doc, str):
        text = doc
        if text.lstrip().startswith("%7B") or text.lstrip().startswith("%7b"):
            from urllib.parse import unquote
            text = unquote(text)
        try:
            data = json.loads(text)
        except ValueError:
            data = {"Statement": [{"Effect": DENY, "Action": "*", "Resource": "*",
                                   "Sid": "unparseable-policy"}]}
    if not isinstance(data, dict):
        data = {}
    stmts = tuple(_parse_statement(s, i) for i, s in enumerate(_as_list(data.get("Statement"))))
    pol = Policy(stmts, str(data.get("Version", "")) == "2012-10-17")
    with _doc_lock:
        if len(_doc_cache) > 5000:
            _doc_cache.clear()
        _doc_cache[key] = pol
    return pol


# ---------------------------------------------------------------- callers and evaluation

@dataclass(frozen=True)
class Caller:
    arn: str            # user ARN or assumed-role session ARN
    principal_arn: str  # user ARN or role ARN
    account: str
    kind: str           # "user" | "role"


def principal_match(p: Principals, caller: Caller) -> str | None:
    """"direct" when the principal element names the caller (or everyone), "account" when it
    names the caller's account (delegation to IAM), else None."""
    if p.any:
        return "direct"
    best = None
    root = f"arn:aws:iam::{caller.account}:root"
    for v in p.aws:
        if v == caller.arn or v == caller.principal_arn:
            return "direct"
        if v == caller.account or v == root:
            best = "account"
    return best


def _applies(st: Statement, action: str, resource: str, ctx: Context, variables: bool,
             implicit_resource: bool) -> bool:
    if not st.action_matches(action):
        return False
    if st.invalid:
        return st.effect == DENY
    if not st.resource_matches(resource, ctx, implicit_resource, variables):
        return False
    return st.conditions_hold(ctx, variables)


def evaluate_identity(policies: Iterable[Policy], action: str, resource: str, ctx: Context) -> str | None:
    """DENY, ALLOW or None (no applicable statement) over identity-based policies."""
    allowed = False
    for pol in policies:
        for st in pol.statements:
            if (st.effect == DENY or not allowed) and _applies(st, action, resource, ctx, pol.variables, False):
                if st.effect == DENY:
                    return DENY
                allowed = True
    return ALLOW if allowed else None


@dataclass
class ResourceResult:
    deny: bool = False
    allow_direct: bool = False
    allow_account: bool = False


def evaluate_resource(pol: Policy, caller: Caller, action: str, resource: str, ctx: Context) -> ResourceResult:
    out = ResourceResult()
    for st in pol.statements:
        if st.principal is not None:
            how = principal_match(st.principal, caller)
        elif st.not_principal is not None:
            how = None if principal_match(st.not_principal, caller) else "direct"
        else:
            how = None  # a resource-policy statement without a principal applies to no one
        if how is None or not _applies(st, action, resource, ctx, pol.variables, True):
            continue
        if st.effect == DENY:
            out.deny = True
            return out
        if how == "direct":
            out.allow_direct = True
        else:
            out.allow_account = True
    return out


@dataclass(frozen=True)
class Decision:
    allowed: bool
    decided_by: str           # e.g. "identity", "resource-policy", "key-policy+identity",
    #                           "explicit-deny:identity", "no-identity-allow", "no-resource-allow"
    reason: str               # the "because ..." / "with ..." tail of AWS's message

    def message(self, caller_arn: str, action: str, resource: str) -> str:
        return (f"User: {caller_arn} is not authorized to perform: {action} on resource: "
                f"{resource} {self.reason}")


def _deny(kind: str, action: str, label: str) -> Decision:
    if kind == "explicit":
        return Decision(False, f"explicit-deny:{label}",
                        f"with an explicit deny in a{'n' if label[0] in 'aeiou' else ''} {label} policy")
    return Decision(False, f"no-{label}-allow", f"because no {label} policy allows the {action} action")


def authorize(identity: Iterable[Policy], caller: Caller, action: str, resource: str, ctx: Context,
              resource_policy: Policy | None = None, mode: str | None = None,
              legacy: bool = False) -> Decision:
    ident = evaluate_identity(identity, action, resource, ctx)
    if ident == DENY:
        return _deny("explicit", action, "identity-based")
    res = ResourceResult()
    if resource_policy is not None:
        res = evaluate_resource(resource_policy, caller, action, resource, ctx)
        if res.deny:
            return _deny("explicit", action, "resource-based")
    if mode == "key":
        if res.allow_direct or (legacy and res.allow_account):
            return Decision(True, "resource-policy", "")
        if res.allow_account:
            if ident == ALLOW:
                return Decision(True, "resource-policy-delegates+identity", "")
            return _deny("none", action, "identity-based")
        return _deny("none", action, "resource-based")
    if ident == ALLOW:
        return Decision(True, "identity", "")
    if mode == "resource" and (res.allow_direct or (legacy and res.allow_account)):
        return Decision(True, "resource-policy", "")
    return _deny("none", action, "identity-based")
