"""S3, Lambda, SES v2 and Scheduler request classification (REST protocols).

S3 names IAM actions after the request (HeadObject -> s3:GetObject, ListObjectsV2 ->
s3:ListBucket, PutBucketEncryption -> s3:PutEncryptionConfiguration, ...): the table below
follows the S3 service authorization reference. Bucket ARN arn:aws:s3:::B, object ARN
arn:aws:s3:::B/KEY; the bucket policy applies (mode "resource"). CopyObject / UploadPartCopy
also need s3:GetObject on the source, DeleteObjects s3:DeleteObject per key.
Lambda, SES v2 and Scheduler requests are routed with moto's botocore-model router
(operation name + URI labels).
"""
from __future__ import annotations

import io
import json
import re
from email.utils import parseaddr
from urllib.parse import unquote
from xml.sax.saxutils import unescape

from .policy import Policy, parse_policy
from .requests import A, Call, Check, ctx, pass_role, ses_identity
from .sigv4 import raw_path

# ---------------------------------------------------------------- router


def route(service: str, call: Call) -> tuple[str | None, dict]:
    from moto.core.request import Request
    from moto.core.routing import get_service_router

    env = dict(call.req.environ)
    env["wsgi.input"] = io.BytesIO(call.req.body())
    try:
        op, params = get_service_router(service).match(Request(env))
        return op.name, dict(params or {})
    except Exception:
        return None, {}


# ---------------------------------------------------------------- S3

S3_BUCKET = {
    "GET": {"policy": "GetBucketPolicy", "policyStatus": "GetBucketPolicyStatus", "acl": "GetBucketAcl",
            "cors": "GetBucketCORS", "lifecycle": "GetLifecycleConfiguration", "location": "GetBucketLocation",
            "logging": "GetBucketLogging", "notification": "GetBucketNotification",
            "tagging": "GetBucketTagging", "versioning": "GetBucketVersioning", "website": "GetBucketWebsite",
            "encryption": "GetEncryptionConfiguration", "publicAccessBlock": "GetBucketPublicAccessBlock",
            "ownershipControls": "GetBucketOwnershipControls", "replication": "GetReplicationConfiguration",
            "object-lock": "GetBucketObjectLockConfiguration", "accelerate": "GetAccelerateConfiguration",
            "requestPayment": "GetBucketRequestPayment", "analytics": "GetAnalyticsConfiguration",
            "inventory": "GetInventoryConfiguration", "metrics": "GetMetricsConfiguration",
            "intelligent-tiering": "GetIntelligentTieringConfiguration",
            "uploads": "ListBucketMultipartUploads", "versions": "ListBucketVersions", "": "ListBucket"},
    "HEAD": {"": "ListBucket"},
    "PUT": {"policy": "PutBucketPolicy", "acl": "PutBucketAcl", "cors": "PutBucketCORS",
            "lifecycle": "PutLifecycleConfiguration", "logging": "PutBucketLogging",
            "notification": "PutBucketNotification", "tagging": "PutBucketTagging",
            "versioning": "PutBucketVersioning", "website": "PutBucketWebsite",
            "encryption": "PutEncryptionConfiguration", "publicAccessBlock": "PutBucketPublicAccessBlock",
            "ownershipControls": "PutBucketOwnershipControls", "replication": "PutReplicationConfiguration",
            "object-lock": "PutBucketObjectLockConfiguration", "accelerate": "PutAccelerateConfiguration",
            "requestPayment": "PutBucketRequestPayment", "analytics": "PutAnalyticsConfiguration",
            "inventory": "PutInventoryConfiguration", "metrics": "PutMetricsConfiguration",
            "intelligent-tiering": "PutIntelligentTieringConfiguration", "": "CreateBucket"},
    "DELETE": {"policy": "DeleteBucketPolicy", "cors": "PutBucketCORS", "lifecycle": "PutLifecycleConfiguration",
               "tagging": "PutBucketTagging", "website": "DeleteBucketWebsite",
               "encryption": "PutEncryptionConfiguration", "publicAccessBlock": "PutBucketPublicAccessBlock",
               "ownershipControls": "PutBucketOwnershipControls", "replication": "PutReplicationConfiguration",
               "analytics": "PutAnalyticsConfiguration", "inventory": "PutInventoryConfiguration",
               "metrics": "PutMetricsConfiguration", "intelligent-tiering": "PutIntelligentTieringConfiguration",
               "": "DeleteBucket"},
    "POST": {"delete": "DeleteObject"},
}
S3_OBJECT = {
    "GET": {"acl": "GetObjectAcl", "tagging": "GetObjectTagging", "retention": "GetObjectRetention",
            "legal-hold": "GetObjectLegalHold", "attributes": "GetObjectAttributes",
            "uploadId": "ListMultipartUploadParts", "torrent": "GetObjectTorrent", "": "GetObject"},
    "HEAD": {"": "GetObject"},
    "PUT": {"acl": "PutObjectAcl", "tagging": "PutObjectTagging", "retention": "PutObjectRetention",
            "legal-hold": "PutObjectLegalHold", "": "PutObject"},
    "DELETE": {"tagging": "DeleteObjectTagging", "uploadId": "AbortMultipartUpload", "": "DeleteObject"},
    "POST": {"uploads": "PutObject", "uploadId": "PutObject", "restore": "RestoreObject",
             "select": "GetObject", "": "PutObject"},
}
# the *Version variant of an object action when the request names a versionId
S3_VERSIONED = {"GetObject": "GetObjectVersion", "DeleteObject": "DeleteObjectVersion",
                "GetObjectAcl": "GetObjectVersionAcl", "GetObjectTagging": "GetObjectVersionTagging",
                "PutObjectAcl": "PutObjectVersionAcl", "PutObjectTagging": "PutObjectVersionTagging",
                "DeleteObjectTagging": "DeleteObjectVersionTagging",
                "GetObjectAttributes": "GetObjectVersionAttributes"}


def _bucket_policy(call: Call, bucket: str) -> Policy | None:
    try:
        from moto.s3.models import s3_backends

        b = s3_backends[call.account]["aws"].buckets.get(bucket)
    except Exception:
        return None
    pol = getattr(b, "policy", None) if b is not None else None
    return parse_policy(pol) if pol else None


def _bucket_and_key(call: Call) -> tuple[str | None, str | None]:
    host = (call.req.headers.get("host") or "").split(":")[0]
    path = raw_path(call.req)
    m = re.match(r"^(.+?)\.s3[.-]", host) or re.match(r"^(.+)\.localhost$", host)
    if m and not re.fullmatch(r"[\d.]+", host):
        return m.group(1), (unquote(path[1:]) or None)
    parts = path.lstrip("/").split("/", 1)
    bucket = unquote(parts[0]) if parts[0] else None
    key = unquote(parts[1]) if len(parts) > 1 and parts[1] else None
    return bucket, key


def _sub(method_table: dict, query: dict) -> str:
    for k in method_table:
        if k and k in query:
            return method_table[k]
    return method_table.get("", "")


def s3(call: Call) -> list[Check]:
    req = call.req
    bucket, key = _bucket_and_key(call)
    q = req.query
    headers = req.headers
    base = ctx(**{"s3:x-amz-server-side-encryption": headers.get("x-amz-server-side-encryption"),
                  "s3:x-amz-server-side-encryption-aws-kms-key-id":
                      headers.get("x-amz-server-side-encryption-aws-kms-key-id"),
                  "s3:x-amz-acl": headers.get("x-amz-acl"),
                  "s3:authType": "REST-QUERY-STRING" if "X-Amz-Signature" in q else "REST-HEADER",
                  "s3:signatureversion": "AWS4-HMAC-SHA256",
                  "s3:x-amz-content-sha256": headers.get("x-amz-content-sha256")})
    if bucket is None:
        if req.method == "GET":
            return [Check("s3:ListAllMyBuckets", "*", base)]
        return call.unclassified(f"S3 {req.method} / is not classified")
    pol = _bucket_policy(call, bucket)
    bucket_arn = f"{A}:s3:::{bucket}"

    def chk(action: str, res: str, extra: dict | None = None) -> Check:
        return Check(f"s3:{action}", res, {**base, **(extra or {})}, pol, "resource")

    if key is None:
        table = S3_BUCKET.get(req.method)
        if table is None:
            return call.unclassified(f"S3 {req.method} on a bucket is not classified")
        action = _sub(table, q)
        if not action:
            return call.unclassified(f"S3 {req.method} on a bucket with {sorted(q)} is not classified")
        if req.method == "POST" and "delete" in q:
            keys = re.findall(r"<Key>(.*?)</Key>", req.body().decode("utf-8", "replace"), re.S)
            return [chk("DeleteObject", f"{bucket_arn}/{unescape(k)}") for k in keys] or \
                [chk("DeleteObject", f"{bucket_arn}/*")]
        extra = ctx(**{"s3:prefix": q.get("prefix", [None])[0], "s3:delimiter": q.get("delimiter", [None])[0],
                       "s3:max-keys": q.get("max-keys", [None])[0]})
        return [chk(action, bucket_arn, extra)]
    table = S3_OBJECT.get(req.method)
    if table is None:
        return call.unclassified(f"S3 {req.method} on an object is not classified")
    has_version = "versionId" in q
    action = _sub(table, q)
    action = S3_VERSIONED.get(action, action) if has_version else action
    extra = ctx(**{"s3:VersionId": q.get("versionId", [None])[0]})
    out = [chk(action, f"{bucket_arn}/{key}", extra)]
    src = headers.get("x-amz-copy-source")
    if src and req.method == "PUT":
        src_path, _, src_q = src.partition("?")
        sb, _, sk = unquote(src_path).lstrip("/").partition("/")
        src_action = "GetObjectVersion" if "versionId=" in src_q else "GetObject"
        out.append(Check(f"s3:{src_action}", f"{A}:s3:::{sb}/{sk}", dict(base),
                         _bucket_policy(call, sb), "resource"))
    return out


# ---------------------------------------------------------------- Lambda

def lambda_function(account: str, region: str, name: str):
    """The stored (not copied) latest LambdaFunction object, or None."""
    try:
        from moto.awslambda.models import lambda_backends
        from moto.awslambda_simple.models import lambda_simple_backends
    except Exception:  # pragma: no cover
        return None
    for backends in (lambda_simple_backends, lambda_backends):
        try:
            be = backends[account].get(region)
        except Exception:
            be = None
        if be is None:
            continue
        group = be._lambdas._functions.get(name)
        if group and group.get("latest") is not None:
            return group["latest"]
    return None


def normalize_lambda_policy(fn) -> Policy | None:
    """moto keeps AddPermission statements as sent (Principal "123456789012", top-level
    FunctionUrlAuthType / InvokedViaFunctionUrl, Resource ...:$LATEST); AWS stores them as a
    policy document with those as conditions. Cached per policy revision."""
    pol = getattr(fn, "policy", None)
    stmts = list(getattr(pol, "statements", None) or [])
    if not stmts:
        return None
    key = ("lambda", id(pol), getattr(pol, "revision", ""), len(stmts))
    hit = _lambda_cache.get(key)
    if hit is not None:
        return hit
    parsed = parse_policy(json.dumps(lambda_policy_document(fn)))
    if len(_lambda_cache) > 2000:
        _lambda_cache.clear()
    _lambda_cache[key] = parsed
    return parsed


def lambda_policy_document(fn) -> dict | None:
    """The function's resource policy as AWS stores it (see normalize_lambda_policy), or None."""
    pol = getattr(fn, "policy", None)
    stmts = list(getattr(pol, "statements", None) or [])
    if not stmts:
        return None
    out = []
    for st in stmts:
        st = dict(st)
        pr = st.get("Principal")
        if isinstance(pr, str) and pr != "*":
            st["Principal"] = {"Service": pr} if pr.endswith(".amazonaws.com") else {"AWS": pr}
        cond = {k: dict(v) for k, v in (st.get("Condition") or {}).items() if isinstance(v, dict)}
        if "FunctionUrlAuthType" in st:
            cond.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = st.pop("FunctionUrlAuthType")
        if "InvokedViaFunctionUrl" in st:
            v = st.pop("InvokedViaFunctionUrl")
            cond.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = \
                "true" if v is True or str(v).lower() == "true" else "false"
        if cond:
            st["Condition"] = cond
        res = st.get("Resource")
        if isinstance(res, str) and res.endswith(":$LATEST"):
            st["Resource"] = res[: -len(":$LATEST")]
        out.append(st)
    return {"Version": "2012-10-17", "Statement": out}


_lambda_cache: dict[tuple, Policy] = {}

LAMBDA_ACTIONS = {"Invoke": "InvokeFunction", "InvokeWithResponseStream": "InvokeFunction",
                  "InvokeAsync": "InvokeFunction"}
LAMBDA_STAR = {"ListFunctions", "GetAccountSettings", "ListEventSourceMappings", "CreateEventSourceMapping",
               "ListLayers", "ListCodeSigningConfigs", "CreateCodeSigningConfig", "ListCapacityProviders"}


def function_name_and_qualifier(ref: str, qualifier: str | None) -> tuple[str, str | None]:
    ref = unquote(ref)
    if ":function:" in ref:
        rest = ref.split(":function:", 1)[1]
    else:
        rest = ref
    name, _, qual = rest.partition(":")
    return name, (qualifier or qual or None)


def lambda_(call: Call) -> list[Check]:
    op, params = route("lambda", call)
    if op is None:
        return call.unclassified(f"Lambda {call.req.method} {call.req.path} matches no operation")
    call.op = op
    action = "lambda:" + LAMBDA_ACTIONS.get(op, op)
    body = {}
    if call.req.method in ("POST", "PUT") and "json" in call.req.headers.get("content-type", "json"):
        try:
            body = json.loads(call.req.body() or b"{}") if op not in LAMBDA_ACTIONS else {}
        except ValueError:
            body = {}
    body = body if isinstance(body, dict) else {}
    ref = params.get("FunctionName") or body.get("FunctionName")
    if ref:
        name, qual = function_name_and_qualifier(str(ref), call.req.query.get("Qualifier", [None])[0])
        arn = f"{A}:lambda:{call.region}:{call.account}:function:{name}" + (f":{qual}" if qual else "")
        fn = lambda_function(call.account, call.region, name)
        out = [Check(action, arn, policy=normalize_lambda_policy(fn) if fn is not None else None,
                     mode="resource")]
        if op in ("CreateFunction", "UpdateFunctionConfiguration"):
            out += pass_role(body.get("Role"), "lambda")
        return out
    if params.get("Resource") or params.get("ARN"):
        return [Check(action, unquote(params.get("Resource") or params.get("ARN")))]
    if params.get("UUID"):
        return [Check(action, f"{A}:lambda:{call.region}:{call.account}:event-source-mapping:{params['UUID']}")]
    if params.get("LayerName"):
        layer = f"{A}:lambda:{call.region}:{call.account}:layer:{unquote(params['LayerName'])}"
        return [Check(action, layer + (f":{params['VersionNumber']}" if params.get("VersionNumber") else ""))]
    if op in LAMBDA_STAR:
        return [Check(action, "*")]
    return call.unclassified(f"{action} without a function")


# ---------------------------------------------------------------- SES v2 / Scheduler

def sesv2(call: Call) -> list[Check]:
    op, params = route("sesv2", call)
    if op is None:
        return call.unclassified(f"SES v2 {call.req.method} {call.req.path} matches no operation")
    call.op = op
    action = f"ses:{op}"
    pre = f"{A}:ses:{call.region}:{call.account}:"
    try:
        body = json.loads(call.req.body() or b"{}") if call.req.method in ("POST", "PUT") else {}
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    if op == "SendEmail":
        src = body.get("FromEmailAddress") or ""
        name, addr = parseaddr(src)
        if body.get("FromEmailAddressIdentityArn"):
            res = body["FromEmailAddressIdentityArn"]
        elif addr:
            res = ses_identity(call, addr)
        else:
            return call.unclassified("SendEmail without FromEmailAddress")
        dest = body.get("Destination") or {}
        rcpts = [a for k in ("ToAddresses", "CcAddresses", "BccAddresses") for a in dest.get(k) or []]
        c = ctx(**{"ses:FromAddress": addr or None, "ses:FromDisplayName": name or None,
                   "ses:Recipients": rcpts or None, "ses:ApiVersion": "2",
                   "ses:FeedbackAddress": body.get("FeedbackForwardingEmailAddress")})
        out = [Check(action, res, c)]
        if body.get("ConfigurationSetName"):
            out.append(Check(action, pre + f"configuration-set/{body['ConfigurationSetName']}", c))
        return out
    ident = params.get("EmailIdentity") or body.get("EmailIdentity")
    if ident:
        return [Check(action, pre + f"identity/{unquote(ident)}")]
    for key, kind in (("ConfigurationSetName", "configuration-set"), ("ContactListName", "contact-list"),
                      ("TemplateName", "template"), ("PoolName", "dedicated-ip-pool")):
        v = params.get(key) or body.get(key)
        if v:
            return [Check(action, pre + f"{kind}/{unquote(v)}")]
    if op.startswith("List") or op in ("GetAccount",) or op.startswith("PutAccount"):
        return [Check(action, "*")]
    return call.unclassified(f"{action} without a resource")


def scheduler(call: Call) -> list[Check]:
    op, params = route("scheduler", call)
    if op is None:
        return call.unclassified(f"Scheduler {call.req.method} {call.req.path} matches no operation")
    call.op = op
    action = f"scheduler:{op}"
    pre = f"{A}:scheduler:{call.region}:{call.account}:"
    try:
        body = json.loads(call.req.body() or b"{}") if call.req.method in ("POST", "PUT") else {}
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    if params.get("ResourceArn"):
        return [Check(action, unquote(params["ResourceArn"]))]
    name = params.get("Name")
    if name and "ScheduleGroup" in op:
        return [Check(action, pre + f"schedule-group/{unquote(name)}")]
    if name:
        group = body.get("GroupName") or call.req.query.get("groupName", ["default"])[0] or "default"
        out = [Check(action, pre + f"schedule/{group}/{unquote(name)}")]
        if op in ("CreateSchedule", "UpdateSchedule"):
            out += pass_role((body.get("Target") or {}).get("RoleArn"), "scheduler")
        return out
    if op.startswith("List"):
        return [Check(action, "*")]
    return call.unclassified(f"{action} without a schedule")
