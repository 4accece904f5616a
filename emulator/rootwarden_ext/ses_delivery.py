"""SES storing inbound mail in S3, as the service principal `ses.amazonaws.com`.

    PUT /_rootwarden/ses/store/<bucket>/<key>     (body: the raw message)

SES receipt rules (S3 action) write each message with SES's own service identity, not with any
principal of the account; moto does not emulate receipt. This test-only endpoint does that write
and, with IAM enforced, checks what AWS would check for it:

- the bucket policy must allow `s3:PutObject` on the object to the `ses.amazonaws.com` service
  principal (with `aws:SourceAccount` = the bucket's account; an explicit Deny that applies wins);
- if the bucket encrypts with SSE-KMS, the key policy must allow the service principal
  `kms:GenerateDataKey` (service principals are not delegated through IAM).

The object is then written with the bucket's default encryption, so a later GetObject by the
inbound-mail role meets the same implied kms:Decrypt check as on AWS. Answers 200 {"bucket",
"key", "kms_key"} or 403 {"error"} naming the policy that refused.
"""
from __future__ import annotations

import json
from typing import Any

from .common import Req, Resp, plain_json

SERVICE = "ses.amazonaws.com"
PREFIX = "/_rootwarden/ses/store/"


def _services(principal: Any) -> tuple[bool, set[str]]:
    """(applies to everyone, service principals named) of a statement's Principal."""
    if principal == "*":
        return True, set()
    if not isinstance(principal, dict):
        return False, set()
    aws = principal.get("AWS")
    if aws == "*" or (isinstance(aws, list) and "*" in aws):
        return True, set()
    svc = principal.get("Service") or []
    return False, set(svc if isinstance(svc, list) else [svc])


def service_allows(doc: dict | str | bytes | None, action: str, resource: str, context: dict) -> tuple[bool, str]:
    """Whether a resource policy allows `action` on `resource` to the SES service principal."""
    from .iam.policy import parse_policy

    if not doc:
        return False, "no resource policy"
    raw = json.loads(doc) if isinstance(doc, (str, bytes)) else doc
    sts = raw.get("Statement") or []
    sts = sts if isinstance(sts, list) else [sts]
    parsed = parse_policy(raw).statements
    allowed = False
    for st_raw, st in zip(sts, parsed, strict=False):
        everyone, services = _services(st_raw.get("Principal"))
        if not (everyone or SERVICE in services):
            continue
        if not st.action_matches(action) or not st.resource_matches(resource, context, True, False):
            continue
        if not st.conditions_hold(context, False):
            continue
        if st.effect == "Deny":
            return False, f"explicit deny ({st.sid or 'statement'})"
        allowed = True
    return allowed, "" if allowed else "no statement allows it"


def store(req: Req) -> Resp:
    rest = req.path[len(PREFIX):]
    if "/" not in rest or req.method != "PUT":
        return plain_json(400, {"error": "PUT /_rootwarden/ses/store/<bucket>/<key>"})
    bucket_name, key = rest.split("/", 1)
    status, out = store_object(bucket_name, key, req.body(), req.region or "us-east-1")
    return plain_json(status, out)


def store_object(bucket_name: str, key: str, body: bytes, region: str = "us-east-1",
                 source_arn: str | None = None) -> tuple[int, dict]:
    """Write `body` to bucket/key as SES's service principal would: (200, {"bucket", "key",
    "kms_key"}), (404, {"error"}) for an unknown bucket, (403, {"error"}) naming the policy that
    refused. `source_arn` (the receipt rule) is put in the context as aws:SourceArn."""
    from moto.s3.models import s3_backends

    from .iam import enforce
    from .iam.requests import ctx

    found = None
    for account, parts in list(s3_backends.items()):
        be = parts.get("aws")
        if be is not None and bucket_name in be.buckets:
            found = (account, be, be.buckets[bucket_name])
            break
    if found is None:
        return 404, {"error": f"no bucket {bucket_name}"}
    account, be, bucket = found
    rule = ((getattr(bucket, "encryption", None) or {}).get("Rule") or {})
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    kms_key = default.get("KMSMasterKeyID") if default.get("SSEAlgorithm") == "aws:kms" else None
    if enforce.enabled():
        extra = {"aws:SourceArn": source_arn} if source_arn else {}
        context = ctx(**{"aws:SourceAccount": account, "aws:SecureTransport": "true", **extra})
        ok, why = service_allows(getattr(bucket, "policy", None), "s3:PutObject",
                                 f"arn:aws:s3:::{bucket_name}/{key}", context)
        if not ok:
            return 403, {"error": f"bucket policy of {bucket_name} does not let SES PutObject {key}: {why}"}
        if kms_key:
            from moto.kms.models import kms_backends

            kb = kms_backends[account][region]
            k = kb.describe_key(kms_key)
            kctx = ctx(**{"aws:SourceAccount": account, "kms:ViaService": f"s3.{region}.amazonaws.com",
                          **extra})
            ok, why = service_allows(k.policy, "kms:GenerateDataKey", k.arn, kctx)
            if not ok:
                return 403, {"error": f"key policy of {k.arn} does not let SES kms:GenerateDataKey: {why}"}
    be.put_object(bucket_name, key, body, encryption="aws:kms" if kms_key else None, kms_key_id=kms_key,
                  bucket_key_enabled=str(rule.get("BucketKeyEnabled", "false")).lower() == "true" or None)
    return 200, {"bucket": bucket_name, "key": key, "kms_key": kms_key}
