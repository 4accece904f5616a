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
3. is authorized by the IAM engine (rootwarden_ext.iam): the caller needs
   lambda:InvokeFunctionUrl and lambda:InvokeFunction, each allowed by its identity policies
   or granted by the function's resource policy (context lambda:FunctionUrlAuthType=AWS_IAM,
   lambda:InvokedViaFunctionUrl=true; an explicit Deny in either wins). With IAM enforcement
   on, a resource-policy statement naming the caller's account only delegates to IAM (AWS's
   rule: the identity policies must allow); with it off, the emulator's earlier rule holds
   and the account principal grants by itself;
4. becomes the function URL event (payload format 2.0) built from the AUTHENTICATED identity
   (`requestContext.authorizer.iam`: accessKey, accountId, callerId, userArn, userId);
   nothing the client sent can set it. The function host runs it; the result maps back to HTTP
   (`statusCode`, `headers`, `body`, `isBase64Encoded`; a function error is a 502).

Direct `Invoke` (`POST /2015-03-31/functions/<fn>/invocations`) of a function whose resource
policy grants lambda:InvokeFunction only with `InvokedViaFunctionUrl` is refused with
AccessDeniedException unless the caller's identity policy allows lambda:InvokeFunction on it
(or a resource-policy statement does without the URL condition): `guard_invoke`, with IAM
enforcement off; with it on, the engine's check of every Invoke covers this. In-process
invokes (SES receipt rules, ...) are not HTTP requests and are not affected.
"""
from __future__ import annotations

import base64
import json
import re
import time
import uuid
from urllib.parse import parse_qsl

from .common import Req, Resp, log, rest_json_error
from .iam import principals as iam_principals
from .iam import sigv4

URL_PREFIX = "/lambda-url/"
_URL_RE = re.compile(r"^/lambda-url/([a-z0-9]+)(/.*)?$")
_INVOKE_RE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations/?$")
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
    r"SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})\s*$")
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
        for _account, regions in list(backends.items()):
            for _region, backend in list(regions.items()):
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
    principal_arn, kind}, or None for an unknown key, a session key without its token, or an
    expired session."""
    p = principal(access_key, token)
    return p.identity_dict() if p is not None else None


def principal(access_key: str, token: str | None):
    p, _ = iam_principals.resolve(access_key)
    if p is None:
        return None
    if p.kind == "role" and (token != p.token or (p.expires_at or 0) <= time.time()):
        return None
    if p.kind == "user" and token is not None:
        return None
    return p


URL_CONTEXT = {"lambda:functionurlauthtype": ("AWS_IAM",), "lambda:invokedviafunctionurl": ("true",)}


def allowed(p, fn, action: str, via_url: bool) -> tuple[bool, str]:
    """(allowed, AWS's message) for `action` on the function, by the IAM engine."""
    from .iam import enforce
    from .iam.services_rest import normalize_lambda_policy

    d = enforce.authorize(p, action, fn.function_arn, URL_CONTEXT if via_url else {},
                          normalize_lambda_policy(fn), "resource", region=fn.region)
    return d.allowed, d.message(p.arn, action, fn.function_arn)


def url_only(fn) -> bool:
    """The function's resource policy grants lambda:InvokeFunction only through its URL."""
    from .iam.services_rest import normalize_lambda_policy

    pol = normalize_lambda_policy(fn)
    if pol is None:
        return False
    sts = [st for st in pol.statements if st.effect == "Allow" and st.action_matches("lambda:InvokeFunction")]

    def via_url_only(st) -> bool:
        return any(c.key == "lambda:invokedviafunctionurl" and c.op == "Bool"
                   and "true" in (v.lower() for v in c.values) for c in st.conditions)

    return bool(sts) and all(via_url_only(st) for st in sts)


# ---------------------------------------------------------------- SigV4

def verify_sigv4(req: Req, region: str) -> tuple[dict | None, str]:
    """(identity, "") when the request is correctly signed by a key moto knows, else
    (None, why)."""
    p, why = verify_request(req, region)
    return (p.identity_dict() if p is not None else None), why


def verify_request(req: Req, region: str):
    m = _AUTH_RE.match(req.headers.get("authorization", "").strip())
    if not m:
        return None, "Missing Authentication Token"
    akid, date, sig_region, service, signed, signature = m.groups()
    if service != "lambda" or sig_region != region:
        return None, f"Credential should be scoped to a valid region and service lambda ({region})"
    s = sigv4.parse(req)
    if s is None or "host" not in s.signed_headers:
        return None, "the Host header must be signed"
    p = principal(akid, req.headers.get("x-amz-security-token"))
    if p is None:
        return None, "The security token included in the request is invalid."
    if "x-amz-security-token" in req.headers and "x-amz-security-token" not in s.signed_headers:
        return None, "the session token must be signed"
    if req.headers.get("x-amz-content-sha256") == "UNSIGNED-PAYLOAD":
        return None, "unsigned payloads are not accepted"
    why = sigv4.verify(req, s, p.secret)
    if why:
        return None, why
    return p, ""


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
    p, why = verify_request(req, fn.region)
    if p is None:
        log(f"function URL {uid}: refused ({why})")
        return _forbidden(why)
    akid = req.access_key or ""
    for action in ("lambda:InvokeFunctionUrl", "lambda:InvokeFunction"):
        ok, msg = allowed(p, fn, action, via_url=True)
        if not ok:
            log(f"function URL {uid}: {msg}")
            return _forbidden()
    event = event_for(req, uid, fn, p.identity_dict(), akid, sub_path)
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
    p = principal(req.access_key or "", req.headers.get("x-amz-security-token"))
    who = p.arn if p is not None else f"key {req.access_key}"
    if p is not None and allowed(p, fn, "lambda:InvokeFunction", via_url=False)[0]:
        return None
    log(f"direct Invoke of {fn.function_name} by {who} refused (URL-only function)")
    return rest_json_error(
        "AccessDeniedException",
        f"User: {who} is not authorized to perform: lambda:InvokeFunction on resource: "
        f"{fn.function_arn} because no identity-based policy allows the lambda:InvokeFunction "
        "action (the resource policy allows it only through the function URL)",
        403)
