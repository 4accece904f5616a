from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .names import bucket_name, gen_name
from .util import _as_bool, _bool_str, _drop_none, _tags_list, _tags_map

if TYPE_CHECKING:
    from .provisioner import Provisioner

# ----------------------------------------------------------------------------- handlers

def h_dynamodb_table(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    ddb = p.client("dynamodb")
    table = pr.get("TableName") or gen_name(p.stack, name, 255, r"[^A-Za-z0-9_.-]")
    billing = pr.get("BillingMode") or ("PROVISIONED" if pr.get("ProvisionedThroughput") else "PAY_PER_REQUEST")

    def throughput(t: dict | None) -> dict:
        t = t or {}
        return {"ReadCapacityUnits": int(t.get("ReadCapacityUnits", 5)),
                "WriteCapacityUnits": int(t.get("WriteCapacityUnits", 5))}

    args: dict[str, Any] = {"TableName": table, "KeySchema": pr["KeySchema"],
                            "AttributeDefinitions": pr["AttributeDefinitions"], "BillingMode": billing}
    if billing == "PROVISIONED":
        args["ProvisionedThroughput"] = throughput(pr.get("ProvisionedThroughput"))
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        idxs = []
        for gsi in pr.get(key) or []:
            item = {"IndexName": gsi["IndexName"], "KeySchema": gsi["KeySchema"],
                    "Projection": gsi.get("Projection") or {"ProjectionType": "ALL"}}
            if key == "GlobalSecondaryIndexes" and billing == "PROVISIONED":
                item["ProvisionedThroughput"] = throughput(gsi.get("ProvisionedThroughput"))
            idxs.append(item)
        if idxs:
            args[key] = idxs
    ss = pr.get("StreamSpecification")
    if ss:
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": ss["StreamViewType"]}
    sse = pr.get("SSESpecification")
    if sse and _as_bool(sse.get("SSEEnabled", False)):
        args["SSESpecification"] = _drop_none({"Enabled": True, "SSEType": sse.get("SSEType"),
                                               "KMSMasterKeyId": sse.get("KMSMasterKeyId")})
    if pr.get("TableClass"):
        args["TableClass"] = pr["TableClass"]
    if "DeletionProtectionEnabled" in pr:
        args["DeletionProtectionEnabled"] = _as_bool(pr["DeletionProtectionEnabled"])
    tags = _tags_list(pr.get("Tags"))
    if tags:
        args["Tags"] = tags
    desc = ddb.create_table(**args)["TableDescription"]
    warnings = []
    ttl = pr.get("TimeToLiveSpecification")
    if ttl and _as_bool(ttl.get("Enabled", False)):
        ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": ttl["AttributeName"]})
    pitr = pr.get("PointInTimeRecoverySpecification")
    if pitr and _as_bool(pitr.get("PointInTimeRecoveryEnabled", False)):
        try:
            ddb.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True})
        except Exception as e:
            warnings.append(f"PITR not set: {e}")
    desc = ddb.describe_table(TableName=table)["Table"]
    attrs = {"Arn": desc["TableArn"]}
    if desc.get("LatestStreamArn"):
        attrs["StreamArn"] = desc["LatestStreamArn"]
    return {"physical_id": table, "arn": desc["TableArn"], "attrs": attrs, "warnings": warnings}


def h_simple_table(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    pk = pr.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    t = {"S": "S", "String": "S", "Number": "N", "Binary": "B"}.get(pk.get("Type", "String"), "S")
    fake = {"Properties": {"TableName": pr.get("TableName") or gen_name(p.stack, name, 255, r"[^A-Za-z0-9_.-]"),
                           "KeySchema": [{"AttributeName": pk["Name"], "KeyType": "HASH"}],
                           "AttributeDefinitions": [{"AttributeName": pk["Name"], "AttributeType": t}],
                           "BillingMode": "PAY_PER_REQUEST", "Tags": pr.get("Tags"),
                           "SSESpecification": pr.get("SSESpecification")}}
    return h_dynamodb_table(p, name, fake)


def _s3_lifecycle_rule(r: dict) -> dict:
    out: dict[str, Any] = {"ID": r.get("Id"), "Status": r.get("Status", "Enabled")}
    tags = r.get("TagFilters")
    prefix = r.get("Prefix")
    size_gt, size_lt = r.get("ObjectSizeGreaterThan"), r.get("ObjectSizeLessThan")
    if tags or size_gt is not None or size_lt is not None:
        and_ = _drop_none({"Prefix": prefix, "Tags": tags,
                           "ObjectSizeGreaterThan": int(size_gt) if size_gt is not None else None,
                           "ObjectSizeLessThan": int(size_lt) if size_lt is not None else None})
        out["Filter"] = {"And": and_}
    else:
        out["Filter"] = {"Prefix": prefix or ""}
    exp: dict[str, Any] = {}
    if r.get("ExpirationInDays") is not None:
        exp["Days"] = int(r["ExpirationInDays"])
    if r.get("ExpirationDate"):
        exp["Date"] = r["ExpirationDate"]
    if r.get("ExpiredObjectDeleteMarker") is not None:
        exp["ExpiredObjectDeleteMarker"] = _as_bool(r["ExpiredObjectDeleteMarker"])
    if exp:
        out["Expiration"] = exp
    nve = r.get("NoncurrentVersionExpiration")
    if nve:
        out["NoncurrentVersionExpiration"] = _drop_none({
            "NoncurrentDays": int(nve["NoncurrentDays"]) if nve.get("NoncurrentDays") is not None else None,
            "NewerNoncurrentVersions": (int(nve["NewerNoncurrentVersions"])
                                        if nve.get("NewerNoncurrentVersions") is not None else None)})
    elif r.get("NoncurrentVersionExpirationInDays") is not None:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(r["NoncurrentVersionExpirationInDays"])}
    trans = list(r.get("Transitions") or []) + ([r["Transition"]] if r.get("Transition") else [])
    if trans:
        out["Transitions"] = [_drop_none({"StorageClass": t["StorageClass"],
                                          "Days": (int(t["TransitionInDays"])
                                                   if t.get("TransitionInDays") is not None else None),
                                          "Date": t.get("TransitionDate")}) for t in trans]
    ntrans = list(r.get("NoncurrentVersionTransitions") or []) + (
        [r["NoncurrentVersionTransition"]] if r.get("NoncurrentVersionTransition") else [])
    if ntrans:
        out["NoncurrentVersionTransitions"] = [_drop_none({
            "StorageClass": t["StorageClass"], "NoncurrentDays": int(t["TransitionInDays"]),
            "NewerNoncurrentVersions": t.get("NewerNoncurrentVersions")}) for t in ntrans]
    if r.get("AbortIncompleteMultipartUpload"):
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])}
    return _drop_none(out)


def h_s3_bucket(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    s3 = p.client("s3")
    bucket = pr.get("BucketName") or bucket_name(p.stack, name)
    args: dict[str, Any] = {"Bucket": bucket}
    if p.region != "us-east-1":
        args["CreateBucketConfiguration"] = {"LocationConstraint": p.region}
    if _as_bool(pr.get("ObjectLockEnabled", False)):
        args["ObjectLockEnabledForBucket"] = True
    s3.create_bucket(**args)
    warnings: list[str] = []

    def attempt(what: str, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception as e:
            warnings.append(f"{what} not applied: {e}")

    enc = pr.get("BucketEncryption")
    if enc:
        rules = []
        for r in enc.get("ServerSideEncryptionConfiguration") or []:
            r = dict(r)
            if "ServerSideEncryptionByDefault" in r:
                r["ApplyServerSideEncryptionByDefault"] = r.pop("ServerSideEncryptionByDefault")
            if "BucketKeyEnabled" in r:
                r["BucketKeyEnabled"] = _as_bool(r["BucketKeyEnabled"])
            rules.append(r)
        attempt("BucketEncryption", lambda: s3.put_bucket_encryption(
            Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules}))
    ver = pr.get("VersioningConfiguration")
    if ver:
        attempt("VersioningConfiguration", lambda: s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": ver.get("Status", "Enabled")}))
    lc = pr.get("LifecycleConfiguration")
    if lc and lc.get("Rules"):
        rules = [_s3_lifecycle_rule(r) for r in lc["Rules"]]
        attempt("LifecycleConfiguration", lambda: s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": rules}))
    pab = pr.get("PublicAccessBlockConfiguration")
    if pab:
        conf = {k: _as_bool(v) for k, v in pab.items()}
        attempt("PublicAccessBlockConfiguration", lambda: s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=conf))
    own = pr.get("OwnershipControls")
    if own:
        attempt("OwnershipControls", lambda: s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": own.get("Rules") or []}))
    olc = pr.get("ObjectLockConfiguration")
    if olc:
        attempt("ObjectLockConfiguration", lambda: s3.put_object_lock_configuration(
            Bucket=bucket, ObjectLockConfiguration=olc))
    tags = _tags_list(pr.get("Tags"))
    if tags:
        attempt("Tags", lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags}))
    for unsupported in ("NotificationConfiguration", "ReplicationConfiguration", "WebsiteConfiguration",
                        "LoggingConfiguration", "CorsConfiguration", "InventoryConfigurations",
                        "MetricsConfigurations", "IntelligentTieringConfigurations", "AnalyticsConfigurations"):
        if pr.get(unsupported):
            warnings.append(f"{unsupported} ignored")
    arn = f"arn:aws:s3:::{bucket}"
    attrs = {"Arn": arn, "DomainName": f"{bucket}.s3.amazonaws.com",
             "RegionalDomainName": f"{bucket}.s3.{p.region}.amazonaws.com",
             "DualStackDomainName": f"{bucket}.s3.dualstack.{p.region}.amazonaws.com",
             "WebsiteURL": f"http://{bucket}.s3-website-{p.region}.amazonaws.com"}
    return {"physical_id": bucket, "arn": arn, "attrs": attrs, "warnings": warnings}


def _requires_tls(stmt: dict) -> bool:
    """A Deny conditioned on aws:SecureTransport=false (the usual TLS-only statement)."""
    if stmt.get("Effect") != "Deny":
        return False
    for cond in (stmt.get("Condition") or {}).values():
        if isinstance(cond, dict) and any(k.lower() == "aws:securetransport" for k in cond):
            return True
    return False


def h_s3_bucket_policy(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    doc = pr["PolicyDocument"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    warnings = []
    # moto enforces bucket policies, and the emulator serves plain HTTP: a TLS-only Deny would
    # refuse every request. Locally (only) such statements are left out, and said so.
    kept = [st for st in doc.get("Statement", []) if not _requires_tls(st)]
    if len(kept) != len(doc.get("Statement", [])):
        warnings.append("TLS-only Deny statement(s) not applied: the emulator serves plain HTTP")
        doc = {**doc, "Statement": kept}
    p.client("s3").put_bucket_policy(Bucket=pr["Bucket"], Policy=json.dumps(doc))
    return {"physical_id": pr["Bucket"], "arn": None, "warnings": warnings}


SQS_ATTRS = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
             "VisibilityTimeout", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled",
             "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")


def h_sqs_queue(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    sqs = p.client("sqs")
    fifo = _as_bool(pr.get("FifoQueue", False))
    qname = pr.get("QueueName") or gen_name(p.stack, name, 80, suffix=".fifo" if fifo else "")
    attrs = {k: _bool_str(pr[k]) for k in SQS_ATTRS if pr.get(k) is not None}
    for k in ("RedrivePolicy", "RedriveAllowPolicy"):
        if pr.get(k):
            attrs[k] = pr[k] if isinstance(pr[k], str) else json.dumps(pr[k])
    args: dict[str, Any] = {"QueueName": qname}
    if attrs:
        args["Attributes"] = attrs
    tags = _tags_map(pr.get("Tags"))
    if tags:
        args["tags"] = tags
    url = sqs.create_queue(**args)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"physical_id": url, "arn": arn, "attrs": {"Arn": arn, "QueueName": qname, "QueueUrl": url}}


def h_sqs_queue_policy(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    doc = pr["PolicyDocument"]
    for url in pr.get("Queues") or []:
        p.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={
            "Policy": doc if isinstance(doc, str) else json.dumps(doc)})
    return {"physical_id": gen_name(p.stack, name, 128), "arn": None}


def h_sns_topic(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    sns = p.client("sns")
    fifo = _as_bool(pr.get("FifoTopic", False))
    tname = pr.get("TopicName") or gen_name(p.stack, name, 256, suffix=".fifo" if fifo else "")
    attrs = {}
    for k in ("DisplayName", "KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication", "SignatureVersion",
              "TracingConfig"):
        if pr.get(k) is not None:
            attrs[k] = _bool_str(pr[k])
    args: dict[str, Any] = {"Name": tname}
    if attrs:
        args["Attributes"] = attrs
    tags = _tags_list(pr.get("Tags"))
    if tags:
        args["Tags"] = tags
    arn = sns.create_topic(**args)["TopicArn"]
    for sub in pr.get("Subscription") or []:
        sns.subscribe(TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])
    return {"physical_id": arn, "arn": arn, "attrs": {"TopicArn": arn, "TopicName": tname}}


def h_sns_subscription(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    attrs = {}
    for k in ("FilterPolicy", "RedrivePolicy", "DeliveryPolicy"):
        if pr.get(k):
            attrs[k] = pr[k] if isinstance(pr[k], str) else json.dumps(pr[k])
    for k in ("RawMessageDelivery", "FilterPolicyScope"):
        if pr.get(k) is not None:
            attrs[k] = _bool_str(pr[k])
    kw: dict[str, Any] = {"TopicArn": pr["TopicArn"], "Protocol": pr["Protocol"], "Endpoint": pr.get("Endpoint"),
                          "ReturnSubscriptionArn": True}
    if attrs:
        kw["Attributes"] = attrs
    arn = p.client("sns").subscribe(**_drop_none(kw))["SubscriptionArn"]
    return {"physical_id": arn, "arn": arn}


def h_secret(p: Provisioner, name: str, res: dict) -> dict:
    """AWS::SecretsManager::Secret: Ref is the secret's ARN (IAM policies name it)."""
    pr = p.props(res)
    sm = p.client("secretsmanager")
    sname = pr.get("Name") or gen_name(p.stack, name, 256, r"[^A-Za-z0-9/_+=.@-]")
    kw: dict[str, Any] = {"Name": sname}
    for k in ("Description", "KmsKeyId"):
        if pr.get(k):
            kw[k] = pr[k]
    gen = pr.get("GenerateSecretString")
    if pr.get("SecretString") is not None:
        kw["SecretString"] = pr["SecretString"]
    elif gen:
        args = {k: (int(v) if k == "PasswordLength" else _as_bool(v) if k.startswith(("Exclude", "Include", "Require"))
                    else v)
                for k, v in gen.items() if k in ("PasswordLength", "ExcludeCharacters", "ExcludeNumbers",
                                                "ExcludePunctuation", "ExcludeUppercase", "ExcludeLowercase",
                                                "IncludeSpace", "RequireEachIncludedType")}
        value = sm.get_random_password(**args)["RandomPassword"]
        if gen.get("SecretStringTemplate") and gen.get("GenerateStringKey"):
            doc = json.loads(gen["SecretStringTemplate"])
            doc[gen["GenerateStringKey"]] = value
            value = json.dumps(doc)
        kw["SecretString"] = value
    if pr.get("Tags"):
        kw["Tags"] = _tags_list(pr["Tags"])
    arn = sm.create_secret(**kw)["ARN"]
    return {"physical_id": arn, "arn": arn, "attrs": {"Id": arn}}
