"""KMS key-state enforcement, which moto 5.2.5 lacks (a Disabled key still encrypts there).

Cryptographic operations on a key that is not Enabled fail as in AWS:
  Disabled                                   -> DisabledException        (HTTP 400)
  PendingDeletion / PendingImport / other    -> KMSInvalidStateException (HTTP 400)
The key is resolved from KeyId (id, key ARN, alias name, alias ARN) or, for Decrypt and
ReEncrypt without a key id, from moto's ciphertext header (moto.kms.utils._deserialize_ciphertext_blob).
moto's own DisableKey / EnableKey / ScheduleKeyDeletion / CancelKeyDeletion set Key.key_state.
"""
from __future__ import annotations

import base64
import json
import os

from .common import Req, Resp, json_error

# action -> fields that name a key ("@ciphertext" = key from CiphertextBlob)
CHECKED: dict[str, tuple[str, ...]] = {
    "Encrypt": ("KeyId",),
    "GenerateDataKey": ("KeyId",),
    "GenerateDataKeyWithoutPlaintext": ("KeyId",),
    "GenerateDataKeyPair": ("KeyId",),
    "GenerateDataKeyPairWithoutPlaintext": ("KeyId",),
    "Sign": ("KeyId",),
    "Verify": ("KeyId",),
    "GenerateMac": ("KeyId",),
    "VerifyMac": ("KeyId",),
    "GetPublicKey": ("KeyId",),
    "DeriveSharedSecret": ("KeyId",),
    "Decrypt": ("KeyId|@ciphertext",),
    "ReEncrypt": ("SourceKeyId|@ciphertext", "DestinationKeyId"),
}


def _account_for(req: Req) -> str:
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if req.headers.get("x-moto-account-id"):
        return req.headers["x-moto-account-id"]
    from moto.iam.models import get_account_id_from

    return get_account_id_from(req.access_key or "")


def _resolve(backend, key_ref: str):
    try:
        key_id = backend.any_id_to_key_id(key_ref)
    except Exception:
        return None
    return backend.keys.get(key_id) if key_id else None


def _from_ciphertext(backend, blob_b64: str):
    try:
        from moto.kms.utils import _deserialize_ciphertext_blob

        blob = base64.b64decode(blob_b64)
        key_id = _deserialize_ciphertext_blob(blob).key_id
    except Exception:
        return None
    return backend.keys.get(key_id)


def check(req: Req) -> Resp | None:
    action = (req.target or "").split(".")[-1]
    fields = CHECKED.get(action)
    if not fields:
        return None
    try:
        body = json.loads(req.body() or b"{}")
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    try:
        from moto.kms.models import kms_backends

        backend = kms_backends[_account_for(req)][req.region]
    except Exception:
        return None
    for spec in fields:
        key = None
        for alt in spec.split("|"):
            if alt == "@ciphertext":
                if body.get("CiphertextBlob"):
                    key = _from_ciphertext(backend, body["CiphertextBlob"])
            elif body.get(alt):
                key = _resolve(backend, body[alt])
            if key is not None or (alt != "@ciphertext" and body.get(alt)):
                break
        if key is None:
            continue  # unknown key: let moto answer NotFoundException
        state = getattr(key, "key_state", "Enabled")
        if state == "Enabled":
            continue
        if state == "Disabled":
            return json_error("DisabledException", f"{key.arn} is disabled.", 400)
        words = {"PendingDeletion": "pending deletion", "PendingImport": "pending import",
                 "Unavailable": "unavailable", "PendingReplicaDeletion": "pending replica deletion",
                 "Creating": "creating", "Updating": "updating"}
        return json_error("KMSInvalidStateException",
                          f"{key.arn} is {words.get(state, state)}.", 400)
    return None
