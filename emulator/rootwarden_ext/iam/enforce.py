"""The enforcement switch and the per-request check.

    enable()            turn enforcement on for the whole process (off: the emulator behaves
                        exactly as before; moto's own checker never runs either way once
                        moto_patches.patch_iam_enforcement() ran)
    check(req)          middleware entry: authenticate (SigV4 by a key moto knows), classify
                        the request into (action, resource, context) checks, decide each, log
                        it; returns the AWS-shaped error Resp, or None to let the request on
    authorize(...)      one decision for a known principal (function URLs use it)

Requests to /_rootwarden/* and /moto-api/* are not checked. Keys of AssumeRoot sessions never
get here (root_sessions.py answers them first).
"""
from __future__ import annotations

import time
import traceback

from ..common import Req, Resp, log, plain_json
from . import calllog, errors, principals, sigv4
from .policy import Caller, Decision, Policy, evaluate_identity, parse_policy
from .policy import authorize as _authorize
from .requests import Check, classify

UNCHECKED_PREFIXES = ("/_rootwarden/", "/moto-api/")
MARK = "rootwarden.iam.checked"
ADMIN_ACTION = "*:*"

_state = {"enabled": False}


def enable() -> None:
    """Enforce IAM on every AWS request this process serves."""
    from moto import settings

    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")  # moto's own checker never runs
    _state["enabled"] = True
    log("IAM enforcement on")


def disable() -> None:  # for in-process tests
    _state["enabled"] = False


def enabled() -> bool:
    return _state["enabled"]


# ---------------------------------------------------------------- authentication

def authenticate(req: Req) -> tuple[principals.Principal | None, Resp | None]:
    s = sigv4.parse(req)
    if s is None:
        return None, errors.error(req, "missing", "Request is missing Authentication Token")
    if not s.access_key:
        return None, errors.error(req, "signature", "Authorization header requires 'Credential', "
                                                    "'Signature' and 'SignedHeaders' parameters")
    p, why = principals.resolve(s.access_key)
    if p is None:
        return None, errors.error(req, "unknown")
    if p.kind == "role":
        if s.token != p.token:
            return None, errors.error(req, "token")
        if p.expires_at is not None and p.expires_at <= time.time():
            return None, errors.error(req, "expired")
    elif s.token is not None:
        return None, errors.error(req, "token")
    bad = sigv4.verify(req, s, p.secret)
    if bad:
        return None, errors.error(req, "signature", bad)
    return p, None


# ---------------------------------------------------------------- decisions

def global_context(p: principals.Principal, region: str) -> dict[str, tuple[str, ...]]:
    now = time.time()
    out = {
        "aws:principalarn": (p.principal_arn,),
        "aws:principalaccount": (p.account,),
        "aws:userid": (p.user_id,),
        "aws:principaltype": ("User" if p.kind == "user" else "AssumedRole",),
        # The emulator serves plain HTTP on loopback in place of AWS's HTTPS endpoints: requests
        # are treated as if they had arrived over TLS, as every SDK call to AWS does.
        "aws:securetransport": ("true",),
        "aws:currenttime": (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),),
        "aws:epochtime": (str(int(now)),),
        "aws:requestedregion": (region,),
        "aws:viaawsservice": ("false",),
    }
    if p.kind == "user":
        out["aws:username"] = (p.name,)
    return out


def identity_policies(p: principals.Principal) -> list[Policy]:
    return [parse_policy(d) for d in principals.identity_documents(p)]


def caller_of(p: principals.Principal) -> Caller:
    return Caller(p.arn, p.principal_arn, p.account, p.kind)


def decide(p: principals.Principal, chk: Check, gctx: dict, ident: list[Policy],
           legacy: bool = False) -> Decision:
    if chk.skip:  # GetCallerIdentity; or a request the service itself refuses (unknown key, ...)
        return Decision(True, chk.skip, "")
    ctx = {**gctx, **chk.context}
    if chk.resource is None:
        if evaluate_identity(ident, ADMIN_ACTION, "*", ctx) == "Allow":
            return Decision(True, "unclassified:admin", "")
        return Decision(False, "unclassified",
                        f"because the emulator cannot classify this request ({chk.why}); only a caller "
                        "whose policies allow \"*\" on \"*\" may make it")
    return _authorize(ident, caller_of(p), chk.action, chk.resource, ctx, chk.policy, chk.mode, legacy)


def _record(p: principals.Principal, chk: Check, d: Decision) -> None:
    calllog.record(p.arn, p.principal_arn, p.kind, p.session, chk.action,
                   chk.resource if chk.resource is not None else "(unclassified)", d.allowed,
                   d.decided_by + (f" via:{chk.via}" if chk.via else ""))


def authorize(p: principals.Principal, action: str, resource: str, context: dict | None = None,
              policy: Policy | None = None, mode: str | None = None, region: str = "us-east-1") -> Decision:
    """One decision for a known principal. With enforcement off the function-URL rule of old
    applies (an account principal in a resource policy grants directly) and nothing is logged."""
    chk = Check(action, resource, dict(context or {}), policy, mode)
    d = decide(p, chk, global_context(p, region), identity_policies(p), legacy=not enabled())
    if enabled():
        _record(p, chk, d)
    return d


def check(req: Req) -> Resp | None:
    if not enabled():
        return None
    if req.path.startswith(UNCHECKED_PREFIXES):
        req.environ[MARK] = True
        return None
    p, err = authenticate(req)
    if err is not None:
        log(f"IAM: refused {req.method} {req.path} (key {req.access_key or '-'}): HTTP {err.status} "
            f"{err.body[:160].decode('utf-8', 'replace')}")
        return err
    try:
        checks = classify(req, p)
    except Exception as e:  # a classifier bug must not open anything
        log(f"IAM: classifier error: {e}\n{traceback.format_exc()}")
        checks = [Check(f"{req.service or 'unknown'}:{req.action_name() or 'Unknown'}", None,
                        why=f"classifier error: {e}")]
    ident = identity_policies(p)
    gctx = global_context(p, req.region or "us-east-1")
    for chk in checks:
        d = decide(p, chk, gctx, ident)
        _record(p, chk, d)
        if not d.allowed:
            res = chk.resource if chk.resource is not None else "(unclassified)"
            msg = d.message(p.arn, chk.action, res)
            log(f"IAM: denied {msg}")
            return errors.access_denied(req, msg)
    req.environ[MARK] = True
    return None


# ---------------------------------------------------------------- test-only endpoints

def test_endpoint(req: Req) -> Resp:
    path = req.path.rstrip("/")
    if path == "/_rootwarden/iam/status" and req.method == "GET":
        return plain_json(200, {"enforced": enabled()})
    if path == "/_rootwarden/iam/calls":
        if req.method == "GET":
            return plain_json(200, {"calls": calllog.records()})
        if req.method == "DELETE":
            calllog.clear()
            return plain_json(200, {"cleared": True})
    if req.method != "POST" or path not in ("/_rootwarden/iam/credentials", "/_rootwarden/iam/users"):
        return plain_json(404, {"error": f"unknown test endpoint {req.method} {req.path}"})
    try:
        body = req.json_body()
    except ValueError as e:
        return plain_json(400, {"error": f"invalid JSON: {e}"})
    if not isinstance(body, dict):
        return plain_json(400, {"error": "body must be a JSON object"})
    try:
        if path.endswith("/credentials"):
            if not body.get("role_arn") or not body.get("session_name"):
                return plain_json(400, {"error": 'body must be {"role_arn", "session_name"}'})
            return plain_json(200, principals.mint_role_credentials(
                str(body["role_arn"]), str(body["session_name"]), int(body.get("duration_seconds") or 43200)))
        if not body.get("name") or not isinstance(body.get("policy"), dict):
            return plain_json(400, {"error": 'body must be {"name", "policy": {...}}'})
        arn, akid, secret = principals.create_user(str(body["name"]), body["policy"],
                                                   str(body.get("account") or principals.DEFAULT_ACCOUNT))
        return plain_json(200, {"arn": arn, "access_key_id": akid, "secret_access_key": secret})
    except ValueError as e:
        return plain_json(400, {"error": str(e)})
    except Exception as e:
        return plain_json(400, {"error": f"{e.__class__.__name__}: {e}"})
