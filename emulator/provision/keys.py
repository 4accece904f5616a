from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .util import _as_bool, _tags_list

if TYPE_CHECKING:
    from .provisioner import Provisioner

def h_kms_key(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    kms = p.client("kms")
    args: dict[str, Any] = {}
    for k in ("Description", "KeyUsage", "KeySpec", "Origin"):
        if pr.get(k) is not None:
            args[k] = pr[k]
    if pr.get("MultiRegion") is not None:
        args["MultiRegion"] = _as_bool(pr["MultiRegion"])
    pol = pr.get("KeyPolicy")
    if pol:
        args["Policy"] = pol if isinstance(pol, str) else json.dumps(pol)
    tags = _tags_list(pr.get("Tags"), "TagKey", "TagValue")
    if tags:
        args["Tags"] = tags
    meta = kms.create_key(**args)["KeyMetadata"]
    key_id, arn = meta["KeyId"], meta["Arn"]
    warnings = []
    if _as_bool(pr.get("EnableKeyRotation", False)):
        kw = {"KeyId": key_id}
        if pr.get("RotationPeriodInDays"):
            kw["RotationPeriodInDays"] = int(pr["RotationPeriodInDays"])
        try:
            kms.enable_key_rotation(**kw)
        except Exception as e:
            warnings.append(f"key rotation not enabled: {e}")
    if "Enabled" in pr and not _as_bool(pr["Enabled"]):
        kms.disable_key(KeyId=key_id)
    return {"physical_id": key_id, "arn": arn, "attrs": {"Arn": arn, "KeyId": key_id}, "warnings": warnings}


def h_kms_alias(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    alias = pr["AliasName"]
    p.client("kms").create_alias(AliasName=alias, TargetKeyId=pr["TargetKeyId"])
    arn = f"arn:aws:kms:{p.region}:{p.account}:{alias}"
    return {"physical_id": alias, "arn": arn, "attrs": {}}
