"""KMS calls AWS services make on the caller's behalf, checked as the caller with kms:ViaService.

  S3          PutObject / CopyObject (destination) / CreateMultipartUpload into SSE-KMS (request
              header or bucket default): kms:GenerateDataKey; GetObject / CopyObject source of an
              SSE-KMS object: kms:Decrypt. Context kms:EncryptionContext:aws:s3:arn = the object
              ARN (the bucket ARN with an S3 Bucket Key). UploadPart is not checked.
  SQS         SendMessage(Batch) to a queue with KmsMasterKeyId: kms:GenerateDataKey;
              ReceiveMessage: kms:Decrypt. Context aws:sqs:arn = the queue ARN.
  Secrets     GetSecretValue / BatchGetSecretValue of a secret with KmsKeyId: kms:Decrypt;
  Manager     PutSecretValue / UpdateSecret (with a value) / CreateSecret (with a value and
              KmsKeyId): kms:GenerateDataKey. Context SecretARN = the secret ARN.

The key policy applies as for a direct call. A key the emulator cannot resolve (an AWS managed
alias such as alias/aws/s3 that was never created) is not checked: AWS managed keys allow every
principal of the account through the service.
"""
from __future__ import annotations

from .requests import A, Call, Check, ctx
from .services_data import key_check, kms_backend, resolve_key


def _kms(call: Call, action: str, key_ref: str | None, service: str, enc: dict[str, str]) -> list[Check]:
    if not key_ref:
        return []
    try:
        key = resolve_key(kms_backend(call), key_ref)
    except Exception:
        key = None
    if key is None:
        return []
    extra = {f"kms:encryptioncontext:{k}".lower(): (v,) for k, v in enc.items()}
    extra["kms:encryptioncontextkeys"] = tuple(enc)
    extra.update(ctx(**{"kms:ViaService": f"{service}.{call.region}.amazonaws.com"}))
    chk = key_check(call, action, key, key_ref, extra)
    chk.via = service
    return [chk]


def kms_checks(call: Call, checks: list[Check]) -> list[Check]:
    if not checks or any(c.resource is None for c in checks):
        return []
    try:
        if call.service == "s3":
            return _s3(call, checks)
        if call.service == "sqs":
            return _sqs(call, checks)
        if call.service == "secretsmanager":
            return _secrets(call, checks)
    except Exception:  # the service's own check stands; a lookup failure adds nothing
        return []
    return []


def _s3_bucket(call: Call, name: str):
    from moto.s3.models import s3_backends

    return s3_backends[call.account]["aws"].buckets.get(name)


def _s3_target_key(call: Call, bucket_name: str) -> tuple[str | None, bool]:
    """(KMS key, bucket key enabled) a write into the bucket is encrypted with, if SSE-KMS."""
    h = call.req.headers
    bucket = _s3_bucket(call, bucket_name)
    rule = ((getattr(bucket, "encryption", None) or {}).get("Rule") or {}) if bucket is not None else {}
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    bucket_key = str(h.get("x-amz-server-side-encryption-bucket-key-enabled",
                           rule.get("BucketKeyEnabled", "false"))).lower() == "true"
    sse = h.get("x-amz-server-side-encryption")
    if sse == "aws:kms":
        return h.get("x-amz-server-side-encryption-aws-kms-key-id") or default.get("KMSMasterKeyID"), bucket_key
    if sse is None and default.get("SSEAlgorithm") == "aws:kms":
        return default.get("KMSMasterKeyID"), bucket_key
    return None, False


def _s3_object_key(call: Call, bucket_name: str, key_name: str) -> tuple[str | None, bool]:
    from moto.s3.models import s3_backends

    try:
        obj = s3_backends[call.account]["aws"].get_object(bucket_name, key_name)
    except Exception:
        return None, False
    if obj is None or getattr(obj, "encryption", None) != "aws:kms":
        return None, False
    return obj.kms_key_id, str(getattr(obj, "bucket_key_enabled", "") or "").lower() == "true"


def _split(arn: str) -> tuple[str, str]:
    bucket, _, key = arn[len(f"{A}:s3:::"):].partition("/")
    return bucket, key


def _s3(call: Call, checks: list[Check]) -> list[Check]:
    out: list[Check] = []
    q = call.req.query
    for c in checks:
        if c.resource is None or not c.resource.startswith(f"{A}:s3:::") or "/" not in c.resource:
            continue
        bucket, key = _split(c.resource)
        if c.action == "s3:PutObject" and call.req.method in ("PUT", "POST") and \
                "uploadId" not in q and "partNumber" not in q:
            kid, bk = _s3_target_key(call, bucket)
            ctx_arn = f"{A}:s3:::{bucket}" if bk else c.resource
            out += _kms(call, "kms:GenerateDataKey", kid, "s3", {"aws:s3:arn": ctx_arn})
        elif c.action in ("s3:GetObject", "s3:GetObjectVersion") and call.req.method == "GET" and \
                not set(q) & {"acl", "tagging", "retention", "legal-hold", "attributes", "uploadId", "torrent"}:
            kid, bk = _s3_object_key(call, bucket, key)
            ctx_arn = f"{A}:s3:::{bucket}" if bk else c.resource
            out += _kms(call, "kms:Decrypt", kid, "s3", {"aws:s3:arn": ctx_arn})
    return out


def _sqs(call: Call, checks: list[Check]) -> list[Check]:
    if call.op not in ("SendMessage", "SendMessageBatch", "ReceiveMessage"):
        return []
    arn = checks[0].resource or ""
    name = arn.rsplit(":", 1)[-1]
    from moto.sqs.models import sqs_backends

    q = sqs_backends[call.account][call.region].queues.get(name)
    kid = getattr(q, "kms_master_key_id", None) if q is not None else None
    action = "kms:Decrypt" if call.op == "ReceiveMessage" else "kms:GenerateDataKey"
    return _kms(call, action, kid, "sqs", {"aws:sqs:arn": arn})


def _secrets(call: Call, checks: list[Check]) -> list[Check]:
    from moto.secretsmanager.models import secretsmanager_backends

    be = secretsmanager_backends[call.account][call.region]
    p = call.params
    out: list[Check] = []
    reads = {"GetSecretValue": "kms:Decrypt", "BatchGetSecretValue": "kms:Decrypt"}
    writes = {"PutSecretValue", "UpdateSecret"}
    for c in checks:
        if c.action != "secretsmanager:" + (call.op or "") and not (
                call.op == "BatchGetSecretValue" and c.action == "secretsmanager:GetSecretValue"):
            continue
        if call.op in reads or (call.op in writes and (p.get("SecretString") or p.get("SecretBinary"))):
            s = be.secrets.get(c.resource or "")
            kid = p.get("KmsKeyId") if call.op == "UpdateSecret" and p.get("KmsKeyId") else \
                getattr(s, "kms_key_id", None) if s is not None else None
            action = reads.get(call.op or "", "kms:GenerateDataKey")
            out += _kms(call, action, kid, "secretsmanager", {"SecretARN": c.resource or ""})
        elif call.op == "CreateSecret" and p.get("KmsKeyId") and (p.get("SecretString") or p.get("SecretBinary")):
            out += _kms(call, "kms:GenerateDataKey", p["KmsKeyId"], "secretsmanager",
                        {"SecretARN": c.resource or ""})
    return out
