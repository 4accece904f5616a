"""DynamoDB and KMS request classification.

DynamoDB: resource arn:aws:dynamodb:REGION:ACCT:table/T (+ /index/I with IndexName).
TransactWriteItems is checked per item as PutItem / UpdateItem / DeleteItem / ConditionCheckItem
on that item's table (AWS has no TransactWriteItems action), TransactGetItems as GetItem,
BatchWriteItem / BatchGetItem as themselves per table. dynamodb:LeadingKeys is the set of
partition-key values the request touches (Key / Item hash attribute; the equality on the hash
key of a Query's KeyConditionExpression or KeyConditions; absent for Scan). When a Query's
partition-key value cannot be read from the expression of an existing table the check fails
closed (resource None), since DynamoDB itself would have it.

KMS: KeyId (id, key ARN, alias/x, alias ARN; for Decrypt / ReEncrypt the key in the ciphertext)
resolves to the key ARN, and the key policy applies (mode "key"). Context:
kms:EncryptionContext:<k>, kms:EncryptionContextKeys, kms:CallerAccount, kms:SigningAlgorithm,
kms:EncryptionAlgorithm, kms:MacAlgorithm, kms:RequestAlias; kms:ViaService only on the
implied calls other services make (see enforce.implied_kms). A key moto does not know is not
authorized here: moto answers NotFoundException / InvalidCiphertextException, as AWS does.
"""
from __future__ import annotations

import re
from typing import Any

from .policy import parse_policy
from .requests import A, Call, Check, ctx

# ---------------------------------------------------------------- DynamoDB

DDB_STAR = {"ListTables", "DescribeLimits", "DescribeEndpoints", "ListBackups", "ListGlobalTables",
            "ListExports", "ListImports", "ListContributorInsights", "ListStreams",
            "DescribeReservedCapacity", "DescribeReservedCapacityOfferings"}


def _table(call: Call, name: str):
    try:
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[call.account][call.region].tables.get(name)
    except Exception:
        return None


def _table_name(ref: str) -> str:
    return ref.split(":table/", 1)[1].split("/")[0] if ref.startswith("arn:") and ":table/" in ref else ref


def _hash_attr(table, index: str | None = None) -> str | None:
    if table is None:
        return None
    if index:
        for idx in list(getattr(table, "global_indexes", [])) + list(getattr(table, "indexes", [])):
            if idx.name == index:
                for k in idx.schema:
                    if k.get("KeyType") == "HASH":
                        return k.get("AttributeName")
        return None
    return table.hash_key_attr or None


def _scalar(av: Any) -> str | None:
    if isinstance(av, dict) and len(av) == 1:
        (t, v), = av.items()
        if t in ("S", "N", "B"):
            return str(v)
    return None


def _key_value(table, key: Any) -> str | None:
    attr = _hash_attr(table)
    if attr is None or not isinstance(key, dict):
        return None
    return _scalar(key.get(attr))


_EQ = re.compile(r"^\(*\s*([#:]?[\w.-]+)\s*=\s*([#:]?[\w.-]+)\s*\)*$")


def query_hash_value(table, index: str | None, p: dict) -> tuple[bool, str | None]:
    """(found, value) of the partition-key equality of a Query."""
    attr = _hash_attr(table, index)
    if attr is None:
        return False, None
    names = p.get("ExpressionAttributeNames") or {}
    values = p.get("ExpressionAttributeValues") or {}
    expr = p.get("KeyConditionExpression")
    if isinstance(expr, str) and expr.strip():
        for part in re.split(r"\s+(?i:and)\s+", expr.strip()):
            m = _EQ.match(part.strip())
            if not m:
                continue
            a, b = m.groups()
            if a.startswith(":") and not b.startswith(":"):
                a, b = b, a
            if not b.startswith(":"):
                continue
            name = names.get(a, a) if a.startswith("#") else a
            if name == attr and b in values:
                return True, _scalar(values[b])
        return False, None
    conds = p.get("KeyConditions") or {}
    cond = conds.get(attr) if isinstance(conds, dict) else None
    if isinstance(cond, dict) and cond.get("ComparisonOperator") == "EQ":
        vals = cond.get("AttributeValueList") or []
        return True, (_scalar(vals[0]) if vals else None)
    return False, None


def _leading(vals: list[str | None]) -> dict[str, tuple[str, ...]]:
    got = tuple(sorted({v for v in vals if v is not None}))
    return {"dynamodb:leadingkeys": got} if got else {}


def _tarn(call: Call, name: str, index: str | None = None) -> str:
    base = f"{A}:dynamodb:{call.region}:{call.account}:table/{name}"
    return f"{base}/index/{index}" if index else base


TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def dynamodb(call: Call) -> list[Check]:
    p, op = call.params, call.op
    if (call.req.target or "").startswith("DynamoDBStreams_"):
        return _streams(call)
    action = f"dynamodb:{op}"
    if op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem") and p.get("TableName"):
        name = _table_name(p["TableName"])
        table = _table(call, name)
        key = p.get("Item") if op == "PutItem" else p.get("Key")
        return [Check(action, _tarn(call, name), _leading([_key_value(table, key)]))]
    if op in ("Query", "Scan") and p.get("TableName"):
        name = _table_name(p["TableName"])
        index = p.get("IndexName")
        res = _tarn(call, name, index)
        if op == "Scan":
            return [Check(action, res)]
        table = _table(call, name)
        if table is None:
            return [Check(action, res)]  # DynamoDB answers ResourceNotFoundException
        found, value = query_hash_value(table, index, p)
        if not found:
            return [Check(action, None, why="the partition-key equality of this Query could not be read")]
        return [Check(action, res, _leading([value]))]
    if op in ("BatchGetItem", "BatchWriteItem") and isinstance(p.get("RequestItems"), dict):
        out = []
        for tref, spec in p["RequestItems"].items():
            name = _table_name(tref)
            table = _table(call, name)
            keys: list = []
            if op == "BatchGetItem" and isinstance(spec, dict):
                keys = [_key_value(table, k) for k in spec.get("Keys") or []]
            elif isinstance(spec, list):
                for w in spec:
                    if isinstance(w, dict) and "PutRequest" in w:
                        keys.append(_key_value(table, (w["PutRequest"] or {}).get("Item")))
                    elif isinstance(w, dict) and "DeleteRequest" in w:
                        keys.append(_key_value(table, (w["DeleteRequest"] or {}).get("Key")))
            out.append(Check(action, _tarn(call, name), _leading(keys)))
        return out
    if op in ("TransactWriteItems", "TransactGetItems") and isinstance(p.get("TransactItems"), list):
        out = []
        for item in p["TransactItems"]:
            if not isinstance(item, dict) or len(item) != 1:
                return [Check(action, None, why="a transaction item is not a single Put/Update/Delete/"
                                                "ConditionCheck/Get")]
            (kind, spec), = item.items()
            sub = TRANSACT_ACTIONS.get(kind)
            if sub is None or not isinstance(spec, dict) or not spec.get("TableName"):
                return [Check(action, None, why=f"transaction item {kind} is not classified")]
            name = _table_name(spec["TableName"])
            key = spec.get("Item") if kind == "Put" else spec.get("Key")
            chk = Check(f"dynamodb:{sub}", _tarn(call, name), _leading([_key_value(_table(call, name), key)]))
            if all((chk.action, chk.resource, chk.context) != (o.action, o.resource, o.context) for o in out):
                out.append(chk)
        return out
    if op in ("ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"):
        return _partiql(call)
    if p.get("TableName"):
        return [Check(action, _tarn(call, _table_name(p["TableName"]), p.get("IndexName")))]
    for key in ("ResourceArn", "BackupArn", "TableArn", "ExportArn", "ImportArn"):
        if p.get(key):
            return [Check(action, p[key])]
    if op in DDB_STAR:
        return [Check(action, "*")]
    return call.unclassified(f"{action} without TableName")


_PARTIQL = re.compile(r'^\s*(SELECT|INSERT|UPDATE|DELETE|EXISTS)\b.*?\b(?:FROM|INTO|UPDATE)\s+"?([\w.-]+)"?',
                      re.I | re.S)
_PARTIQL_UPDATE = re.compile(r'^\s*UPDATE\s+"?([\w.-]+)"?', re.I)


def _partiql(call: Call) -> list[Check]:
    p = call.params
    stmts = []
    if isinstance(p.get("Statement"), str):
        stmts = [p["Statement"]]
    for k in ("Statements", "TransactStatements"):
        if isinstance(p.get(k), list):
            stmts += [s.get("Statement", "") for s in p[k] if isinstance(s, dict)]
    out = []
    for s in stmts:
        m = _PARTIQL_UPDATE.match(s) or _PARTIQL.match(s)
        if not m:
            return [Check(f"dynamodb:{call.op}", None, why="PartiQL statement not classified")]
        verb = "Update" if m.re is _PARTIQL_UPDATE else m.group(1).capitalize()
        table = m.group(1) if m.re is _PARTIQL_UPDATE else m.group(2)
        verb = "Select" if verb == "Exists" else verb
        out.append(Check(f"dynamodb:PartiQL{verb}", _tarn(call, table)))
    return out or call.unclassified("no PartiQL statement")


def _streams(call: Call) -> list[Check]:
    p, op = call.params, call.op
    action = f"dynamodb:{op}"
    if p.get("StreamArn"):
        return [Check(action, p["StreamArn"])]
    if op == "GetRecords" and isinstance(p.get("ShardIterator"), str) and "|" in p["ShardIterator"]:
        return [Check(action, p["ShardIterator"].split("|", 1)[0])]
    if op == "ListStreams":
        return [Check(action, "*")]
    return call.unclassified(f"{action} without StreamArn")


# ---------------------------------------------------------------- KMS

KMS_STAR = {"CreateKey", "ListKeys", "ListAliases", "GenerateRandom", "ListRetirableGrants",
            "CreateCustomKeyStore", "DescribeCustomKeyStores", "ConnectCustomKeyStore",
            "DisconnectCustomKeyStore", "DeleteCustomKeyStore", "UpdateCustomKeyStore"}


def kms_backend(call: Call):
    from moto.kms.models import kms_backends

    return kms_backends[call.account][call.region]


def resolve_key(backend, ref: str | None):
    if not ref:
        return None
    try:
        key_id = backend.any_id_to_key_id(ref)
    except Exception:
        return None
    return backend.keys.get(key_id) if key_id else None


def key_from_ciphertext(backend, blob_b64: str | None):
    if not blob_b64:
        return None
    try:
        import base64

        from moto.kms.utils import _deserialize_ciphertext_blob

        return backend.keys.get(_deserialize_ciphertext_blob(base64.b64decode(blob_b64)).key_id)
    except Exception:
        return None


def _enc_ctx(ec: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(ec, dict) or not ec:
        return {}
    out = {f"kms:encryptioncontext:{k}".lower(): (str(v),) for k, v in ec.items()}
    out["kms:encryptioncontextkeys"] = tuple(str(k) for k in ec)
    return out


def key_check(call: Call, action: str, key, ref: str | None, extra: dict | None = None) -> Check:
    if key is None:
        return Check(action, ref or "*", skip="resource-not-found")
    c = dict(extra or {})
    c.update(ctx(**{"kms:CallerAccount": call.account}))
    if ref and (ref.startswith("alias/") or ":alias/" in ref):
        c["kms:requestalias"] = ("alias/" + ref.split("alias/", 1)[1],)
    return Check(action, key.arn, c, parse_policy(key.policy) if key.policy else None, "key")


def kms(call: Call) -> list[Check]:
    p, op = call.params, call.op
    action = f"kms:{op}"
    if op in KMS_STAR:
        return [Check(action, "*")]
    try:
        be = kms_backend(call)
    except Exception:
        return call.unclassified("no KMS backend for this account and region")
    algo = ctx(**{"kms:SigningAlgorithm": p.get("SigningAlgorithm"),
                  "kms:EncryptionAlgorithm": p.get("EncryptionAlgorithm"),
                  "kms:MacAlgorithm": p.get("MacAlgorithm")})
    if op == "ReEncrypt":
        src = resolve_key(be, p.get("SourceKeyId")) if p.get("SourceKeyId") else \
            key_from_ciphertext(be, p.get("CiphertextBlob"))
        dst = resolve_key(be, p.get("DestinationKeyId"))
        same = ctx(**{"kms:ReEncryptOnSameKey":
                      "true" if src is not None and dst is not None and src.arn == dst.arn else "false"})
        return [key_check(call, "kms:ReEncryptFrom", src, p.get("SourceKeyId"),
                          {**_enc_ctx(p.get("SourceEncryptionContext")), **same}),
                key_check(call, "kms:ReEncryptTo", dst, p.get("DestinationKeyId"),
                          {**_enc_ctx(p.get("DestinationEncryptionContext")), **same})]
    if op in ("CreateAlias", "UpdateAlias", "DeleteAlias"):
        alias = p.get("AliasName") or ""
        out = [Check(action, f"{A}:kms:{call.region}:{call.account}:{alias}")]
        keys = []
        if p.get("TargetKeyId"):
            keys.append((resolve_key(be, p["TargetKeyId"]), p["TargetKeyId"]))
        if op != "CreateAlias":
            keys.append((resolve_key(be, alias), alias))
        return out + [key_check(call, action, k, r) for k, r in keys]
    if op == "Decrypt" and not p.get("KeyId"):
        key = key_from_ciphertext(be, p.get("CiphertextBlob"))
        return [key_check(call, action, key, None, {**_enc_ctx(p.get("EncryptionContext")), **algo})]
    if p.get("KeyId"):
        key = resolve_key(be, p["KeyId"])
        extra = {**_enc_ctx(p.get("EncryptionContext")), **algo}
        if op == "CreateGrant":
            extra.update(ctx(**{"kms:GranteePrincipal": p.get("GranteePrincipal"),
                                "kms:GrantOperations": p.get("Operations") or None}))
        return [key_check(call, action, key, p["KeyId"], extra)]
    return call.unclassified(f"{action} without KeyId")
