"""Lambda function URLs with AuthType AWS_IAM, as AWS serves them, and the invoke permission
that makes a URL-only function impossible to invoke directly.

Local URL form (path-routed, the provisioner writes it as the `<Function>Url` resource's
`FunctionUrl` and the stack env's ROOTWARDEN_ACCESS_URL):

    http://127.0.0.1:<port>/lambda-url/<url-id>/<path>

where <url-id> is the id of moto's `https://<url-id>.lambda-url.<region>.on.aws` URL. A request:

1. is routed by <url-id> to the function whose URL config has it (404 otherwise);
2. must be SigV4-signed for service `lambda` in the function's region, within 15 minutes, with an
   access key moto knows (an IAM user's key, or an STS AssumeRole session's key + token): the
   signature is recomputed over the request as received. Missing or wrong: HTTP 403, like AWS;
3. is authorized: the caller needs lambda:InvokeFunctionUrl and lambda:InvokeFunction, each
   granted by the function's resource policy (Principal `*`, the caller's account / account
   root, or the caller's own user or role ARN; `FunctionUrlAuthType` AWS_IAM and
   `InvokedViaFunctionUrl` honoured) or by an Allow without conditions in the caller's identity
   policies (user or role inline and attached managed policies; an explicit Deny wins). This is
   not full IAM evaluation (no groups, SCPs, boundaries, conditions in identity policies);
4. becomes the function URL event (payload format 2.0) built from the AUTHENTICATED identity
   (`requestContext.authorizer.iam`: accessKey, accountId, callerId, userArn, userId);
   nothing the client sent can set it. The function host runs it; the result maps back to HTTP
   (`statusCode`, `headers`, `body`, `isBase64Encoded`; a function error is a 502).

Direct `Invoke` (`POST /2015-03-31/functions/<fn>/invocations`) of a function whose resource
policy grants lambda:InvokeFunction only with `InvokedViaFunctionUrl` is refused with
AccessDeniedException unless the caller's identity policy allows lambda:InvokeFunction on it
(or a resource-policy statement does without the URL condition). Step Functions tasks and other
in-process invokes are not HTTP requests and are not affected.
"""
from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import hashlib
import hmac
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, quote

from .common import Req, Resp, log, rest_json_error

URL_PREFIX = "/lambda-url/"
_URL_RE = re.compile(r"^/lambda-url/([a-z0-9]+)(/.*)?$")
_INVOKE_RE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations/?$")
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
    r"SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})\s*$")
MAX_SKEW_SECONDS = 15 * 60
DROPPED_HEADERS = {"authorization", "x-amz-security-token"}


def url_id(function_url: str) -> str | None:
    m = re.match(r"^https?://([a-z0-9]+)\.lambda-url\.", function_url or "")
    return m.group(1) if m else None


def local_url(endpoint: str, function_url: str) -> str:
    return f"{endpoint.rstrip('/')}{URL_PREFIX}{url_id(function_url)}/"


# ---------------------------------------------------------------- moto lookups

def _lambda_functions():
    from moto.awslambda.models import lambda_backends
    from moto.awslambda_simple.models import lambda_simple_backends

    # with Lambda's Docker mode off (the launcher's setting) functions live in the simple backend
    for backends in (lambda_simple_backends, lambda_backends):
        for account, regions in list(backends.items()):
            for region, backend in list(regions.items()):
                # the stored objects themselves (LambdaStorage.all() returns deep copies)
                for group in list(backend._lambdas._functions.values()):
                    fn = group.get("latest")
                    if fn is not None:
                        yield fn


def function_for_url(uid: str):
    for fn in _lambda_functions():
        cfg = getattr(fn, "url_config", None)
        if cfg is not None and url_id(cfg.url) == uid:
            return fn
    return None


def function_by_name(name_or_arn: str):
    from urllib.parse import unquote

    name_or_arn = unquote(name_or_arn)
    name = name_or_arn.split(":function:")[-1].split(":")[0] if ":function:" in name_or_arn else name_or_arn
    for fn in _lambda_functions():
        if fn.function_name == name:
            return fn
    return None


def identity(access_key: str, token: str | None) -> dict | None:
    """The principal behind an access key moto issued: {arn, user_id, account, secret,
    principal_arn, kind}, or None for an unknown key (or a session key without its token)."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for account, parts in list(sts_backends.items()):
        for _, backend in list(parts.items()):
            for role in list(getattr(backend, "assumed_roles", [])):
                if role.access_key_id == access_key:
                    if token != role.session_token:
                        return None
                    return {"arn": role.arn, "user_id": role.user_id, "account": role.account_id,
                            "secret": role.secret_access_key, "principal_arn": role.role_arn,
                            "kind": "role"}
    for account, parts in list(iam_backends.items()):
        for _, backend in list(parts.items()):
            for user in list(backend.users.values()):
                for key in user.access_keys:
                    if key.access_key_id == access_key and getattr(key, "status", "Active") == "Active":
                        return {"arn": user.arn, "user_id": user.id, "account": user.account_id,
                                "secret": key.secret_access_key, "principal_arn": user.arn,
                                "kind": "user"}
    return None


def _identity_documents(ident: dict) -> list[dict]:
    from moto.iam.models import iam_backends

    docs: list[str] = []
    for _, backend in list(iam_backends.get(ident["account"], {}).items()):
        entity = None
        try:
            if ident["kind"] == "user":
                entity = backend.get_user(ident["principal_arn"].split("/")[-1])
            else:
                entity = backend.get_role_by_arn(ident["principal_arn"])
        except Exception:
            entity = None
        if entity is None:
            continue
        docs.extend((getattr(entity, "policies", None) or {}).values())
        for mp in (getattr(entity, "managed_policies", None) or {}).values():
            for v in getattr(mp, "versions", []):
                if getattr(v, "is_default", False) or v.version_id == getattr(mp, "default_version_id", None):
                    docs.append(v.document)
    out = []
    for d in docs:
        try:
            out.append(json.loads(d) if isinstance(d, str) else d)
        except ValueError:
            continue
    return out


def _as_list(v: Any) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _match(patterns: Any, value: str, ci: bool = False) -> bool:
    for p in _as_list(patterns):
        p = str(p)
        if fnmatch.fnmatchcase(value.lower() if ci else value, p.lower() if ci else p):
            return True
    return False


def identity_allows(ident: dict, action: str, resource: str) -> bool:
    """An Allow without conditions for action on resource, and no matching Deny."""
    allowed = False
    for doc in _identity_documents(ident):
        for st in _as_list(doc.get("Statement")):
            if not (_match(st.get("Action"), action, ci=True) and _match(st.get("Resource"), resource)):
                continue
            if st.get("Effect") == "Deny":
                return False
            if st.get("Effect") == "Allow" and not st.get("Condition"):
                allowed = True
    return allowed


def _principal_ok(st: dict, ident: dict, fn_account: str) -> bool:
    pr = st.get("Principal")
    values = []
    if isinstance(pr, dict):
        values = _as_list(pr.get("AWS"))
    elif pr is not None:
        values = _as_list(pr)
    for v in values:
        v = str(v)
        if v == "*":
            return True
        if v in (ident["account"], f"arn:aws:iam::{ident['account']}:root"):
            return True
        if v in (ident["arn"], ident["principal_arn"]):
            return True
    return False


def _cond_value(st: dict, key: str) -> Any:
    if key in st:
        return st[key]
    for op, kv in (st.get("Condition") or {}).items():
        if isinstance(kv, dict):
            for k, v in kv.items():
                if k.lower() == f"lambda:{key}".lower():
                    return v[0] if isinstance(v, list) and len(v) == 1 else v
    return None


def _truthy(v: Any) -> bool:
    return v is True or str(v).lower() == "true"


def resource_allows(fn, ident: dict, action: str, via_url: bool) -> bool:
    for st in list(getattr(getattr(fn, "policy", None), "statements", []) or []):
        if st.get("Effect", "Allow") != "Allow" or not _match(st.get("Action"), action, ci=True):
            continue
        if not _principal_ok(st, ident, fn.account_id):
            continue
        auth = _cond_value(st, "FunctionUrlAuthType")
        if auth is not None and str(auth) != "AWS_IAM":
            continue
        if _truthy(_cond_value(st, "InvokedViaFunctionUrl")) and not via_url:
            continue
        return True
    return False


def url_only(fn) -> bool:
    """The function's resource policy grants lambda:InvokeFunction only through its URL."""
    sts = [st for st in list(getattr(getattr(fn, "policy", None), "statements", []) or [])
           if _match(st.get("Action"), "lambda:InvokeFunction", ci=True)]
    return bool(sts) and all(_truthy(_cond_value(st, "InvokedViaFunctionUrl")) for st in sts)


# ---------------------------------------------------------------- SigV4

def _sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _canonical_uri(path: str) -> str:
    # the AWS SDKs' default for services other than S3: each segment URI-encoded twice
    return "/".join(quote(quote(seg, safe="-_.~"), safe="-_.~") for seg in path.split("/")) or "/"


def _canonical_query(qs: str) -> str:
    pairs = parse_qsl(qs, keep_blank_values=True)
    enc = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in enc)


def verify_sigv4(req: Req, region: str) -> tuple[dict | None, str]:
    """(identity, "") when the request is correctly signed by a key moto knows, else
    (None, why)."""
    m = _AUTH_RE.match(req.headers.get("authorization", "").strip())
    if not m:
        return None, "Missing Authentication Token"
    akid, date, sig_region, service, signed, signature = m.groups()
    if service != "lambda" or sig_region != region:
        return None, f"Credential should be scoped to a valid region and service lambda ({region})"
    amz_date = req.headers.get("x-amz-date", "")
    try:
        t = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None, "missing or malformed X-Amz-Date"
    if not amz_date.startswith(date) or abs(time.time() - t.timestamp()) > MAX_SKEW_SECONDS:
        return None, "Signature expired or not yet current"
    names = signed.split(";")
    if "host" not in names:
        return None, "the Host header must be signed"
    ident = identity(akid, req.headers.get("x-amz-security-token"))
    if ident is None:
        return None, "The security token included in the request is invalid."
    if "x-amz-security-token" in req.headers and "x-amz-security-token" not in names:
        return None, "the session token must be signed"
    body = req.body()
    payload_hash = req.headers.get("x-amz-content-sha256") or _sha256(body)
    if payload_hash != "UNSIGNED-PAYLOAD" and payload_hash != _sha256(body):
        return None, "The provided x-amz-content-sha256 header does not match what was computed."
    if payload_hash == "UNSIGNED-PAYLOAD":
        return None, "unsigned payloads are not accepted"
    headers = []
    for n in names:
        v = req.headers.get(n)
        if v is None:
            return None, f"signed header {n} is missing"
        headers.append(f"{n}:{' '.join(v.strip().split())}\n")
    canonical = "\n".join([req.method, _canonical_uri(req.path),
                           _canonical_query(req.environ.get("QUERY_STRING", "")),
                           "".join(headers), signed, payload_hash])
    scope = f"{date}/{sig_region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{_sha256(canonical.encode())}"
    k = _hmac(("AWS4" + ident["secret"]).encode(), date)
    for part in (sig_region, service, "aws4_request"):
        k = _hmac(k, part)
    expected = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return None, ("The request signature we calculated does not match the signature you "
                      "provided. Check your AWS Secret Access Key and signing method.")
    return ident, ""


# ---------------------------------------------------------------- serving

def _forbidden(message: str = "Forbidden") -> Resp:
    return Resp(403, json.dumps({"Message": message}), {"x-amzn-ErrorType": "AccessDeniedException"},
                "application/json")


def event_for(req: Req, uid: str, fn, ident: dict, akid: str, sub_path: str) -> dict:
    body = req.body()
    ctype = req.headers.get("content-type", "")
    text_like = ctype.startswith("text/") or "json" in ctype or "xml" in ctype or not body
    try:
        body_text, b64 = (body.decode("utf-8"), False) if text_like else (None, True)
    except UnicodeDecodeError:
        body_text, b64 = None, True
    if b64:
        body_text = base64.b64encode(body).decode()
    qs = req.environ.get("QUERY_STRING", "")
    now = time.time()
    headers = {k: v for k, v in req.headers.items() if k not in DROPPED_HEADERS}
    headers["host"] = f"{uid}.lambda-url.{fn.region}.on.aws"
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": sub_path,
        "rawQueryString": qs,
        "headers": headers,
        "requestContext": {
            "accountId": fn.account_id,
            "apiId": uid,
            "authorizer": {"iam": {
                "accessKey": akid,
                "accountId": ident["account"],
                "callerId": ident["user_id"],
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": ident["arn"],
                "userId": ident["user_id"],
            }},
            "domainName": f"{uid}.lambda-url.{fn.region}.on.aws",
            "domainPrefix": uid,
            "http": {"method": req.method, "path": sub_path, "protocol": "HTTP/1.1",
                     "sourceIp": req.environ.get("REMOTE_ADDR", "127.0.0.1"),
                     "userAgent": req.headers.get("user-agent", "")},
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": body_text,
        "isBase64Encoded": b64,
    }
    if qs:
        event["queryStringParameters"] = dict(parse_qsl(qs, keep_blank_values=True))
    return event


def _http_response(payload: bytes) -> Resp:
    try:
        out = json.loads(payload or b"null")
    except ValueError:
        return Resp(200, payload, {}, "application/json")
    if not (isinstance(out, dict) and "statusCode" in out):
        return Resp(200, json.dumps(out), {}, "application/json")
    body = out.get("body") or ""
    data = base64.b64decode(body) if out.get("isBase64Encoded") else str(body).encode()
    headers = {str(k): str(v) for k, v in (out.get("headers") or {}).items()
               if k.lower() not in ("content-length", "content-type")}
    ctype = next((str(v) for k, v in (out.get("headers") or {}).items() if k.lower() == "content-type"),
                 "application/json")
    return Resp(int(out.get("statusCode") or 200), data, headers, ctype)


def serve(req: Req) -> Resp | None:
    m = _URL_RE.match(req.path)
    if not m:
        return None
    uid, sub_path = m.group(1), m.group(2) or "/"
    fn = function_for_url(uid)
    if fn is None:
        return Resp(404, json.dumps({"Message": "Not Found"}), {}, "application/json")
    cfg = fn.url_config.config or {}
    if cfg.get("AuthType") != "AWS_IAM":
        return _forbidden("only AuthType AWS_IAM function URLs are emulated")
    ident, why = verify_sigv4(req, fn.region)
    if ident is None:
        log(f"function URL {uid}: refused ({why})")
        return _forbidden(why)
    arn = fn.function_arn
    akid = req.access_key or ""
    for action in ("lambda:InvokeFunctionUrl", "lambda:InvokeFunction"):
        if not (resource_allows(fn, ident, action, via_url=True) or identity_allows(ident, action, arn)):
            log(f"function URL {uid}: {ident['arn']} is not allowed {action}")
            return _forbidden()
    event = event_for(req, uid, fn, ident, akid, sub_path)
    resp_headers: dict = {}
    payload = fn.invoke(json.dumps(event), {}, resp_headers)
    if isinstance(payload, str):
        payload = payload.encode()
    if resp_headers.get("x-amz-function-error"):
        return Resp(502, json.dumps({"Message": "Internal Server Error"}), {}, "application/json")
    return _http_response(payload or b"")


def guard_invoke(req: Req) -> Resp | None:
    """AccessDeniedException for a direct Invoke of a URL-only function without a grant."""
    if req.method != "POST":
        return None
    m = _INVOKE_RE.match(req.path)
    if not m:
        return None
    fn = function_by_name(m.group(1))
    if fn is None or not url_only(fn):
        return None
    ident = identity(req.access_key or "", req.headers.get("x-amz-security-token"))
    who = ident["arn"] if ident else f"key {req.access_key}"
    if ident is not None and (resource_allows(fn, ident, "lambda:InvokeFunction", via_url=False)
                              or identity_allows(ident, "lambda:InvokeFunction", fn.function_arn)):
        return None
    log(f"direct Invoke of {fn.function_name} by {who} refused (URL-only function)")
    return rest_json_error(
        "AccessDeniedException",
        f"User: {who} is not authorized to perform: lambda:InvokeFunction on resource: "
        f"{fn.function_arn} because no identity-based policy allows the lambda:InvokeFunction "
        "action (the resource policy allows it only through the function URL)",
        403)
