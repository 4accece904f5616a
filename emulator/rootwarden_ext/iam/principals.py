"""Who signed a request, and what their identity policies say (moto's IAM and STS backends).

Access keys resolve by dict lookup: moto's IAM backend keeps every key (user keys and the
temporary keys of AssumeRole sessions) in `access_keys`; sessions are indexed here once
(akid -> AssumedRole) and every cache hit is re-validated against the live backend, so a
deleted key, a `POST /moto-api/reset` or a removed role takes effect at once.

Public API (in-process; the launcher and function host use it):
  create_user(name, policy_document, account=DEFAULT_ACCOUNT) -> (user_arn, akid, secret)
  mint_role_credentials(role_arn, session_name, duration_seconds=43200) -> {AccessKeyId,
      SecretAccessKey, SessionToken, Expiration}: a session as an AWS service gets it
      (Lambda, Step Functions, Scheduler): no trust-policy check, recorded in moto's STS
      backend so it authenticates like any AssumeRole session.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass

DEFAULT_ACCOUNT = "123456789012"
PARTITION = "aws"


@dataclass(frozen=True)
class Principal:
    arn: str              # caller ARN: user ARN or arn:aws:sts::ACCT:assumed-role/ROLE/SESSION
    principal_arn: str    # user ARN or role ARN
    kind: str             # "user" | "role"
    account: str
    user_id: str          # AIDA... (user) or AROA...:SESSION (role session)
    name: str             # user name or role name
    session: str | None
    access_key: str
    secret: str
    token: str | None
    expires_at: float | None

    def identity_dict(self) -> dict:
        """The shape function_urls has always used."""
        return {"arn": self.arn, "user_id": self.user_id, "account": self.account,
                "secret": self.secret, "principal_arn": self.principal_arn, "kind": self.kind}


_lock = threading.Lock()
_sessions: dict[str, tuple[object, object]] = {}   # akid -> (AssumedRole, its AccessKey)
_roles: dict[str, object] = {}                       # role ARN -> Role
_scanned: dict[int, tuple[list, int]] = {}           # id(assumed_roles) -> (that list, entries indexed)


def _iam(account: str):
    from moto.iam.models import iam_backends

    return iam_backends[account][PARTITION]


def _key_owner_account(akid: str) -> str | None:
    from moto.iam.models import iam_backends

    for account, parts in list(iam_backends.items()):
        be = parts.get(PARTITION) if hasattr(parts, "get") else None
        if be is not None and akid in be.access_keys:
            return account
    return None


def _epoch(d: dt.datetime) -> float:
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return d.timestamp()


def _session(account: str, akid: str, key) -> object | None:
    from moto.sts.models import sts_backends

    cached = _sessions.get(akid)
    if cached is not None and cached[1] is key:
        return cached[0]
    sts = sts_backends[account][PARTITION]
    roles = sts.assumed_roles
    with _lock:
        seen = _scanned.get(id(roles))
        start = seen[1] if seen is not None and seen[0] is roles and seen[1] <= len(roles) else 0
        for ar in roles[start:]:
            k = getattr(ar, "access_key", None)
            if k is not None:
                _sessions[ar.access_key_id] = (ar, k)
        _scanned[id(roles)] = (roles, len(roles))
    cached = _sessions.get(akid)
    return cached[0] if cached is not None and cached[1] is key else None


def role_by_arn(role_arn: str, account: str | None = None):
    """The moto Role for an ARN (path included), or by name when the ARN has no path; None."""
    account = account or (role_arn.split(":")[4] if role_arn.count(":") >= 5 else DEFAULT_ACCOUNT)
    be = _iam(account)
    role = _roles.get(role_arn)
    if role is not None and be.roles.get(getattr(role, "id", None)) is role:
        return role
    name = role_arn.split("/")[-1]
    found = None
    for r in list(be.roles.values()):
        if r.arn == role_arn:
            found = r
            break
        if r.name == name and found is None:
            found = r
    if found is not None:
        _roles[role_arn] = found
    return found


def resolve(akid: str | None) -> tuple[Principal | None, str]:
    """(principal, "") for a key moto knows; (None, "unknown") otherwise, (None, "inactive")
    for a deactivated user key. The session token and expiry are checked by the caller."""
    if not akid:
        return None, "unknown"
    account = _key_owner_account(akid)
    if account is None:
        return None, "unknown"
    be = _iam(account)
    key = be.access_keys.get(akid)
    if key is None:
        return None, "unknown"
    if key.user_name is not None:
        user = be.users.get(key.user_name)
        if user is None or key not in user.access_keys:
            return None, "unknown"
        if getattr(key, "status", "Active") != "Active":
            return None, "inactive"
        return Principal(user.arn, user.arn, "user", account, user.id, user.name, None, akid,
                         key.secret_access_key, None, None), ""
    ar = _session(account, akid, key)
    if ar is None:
        return None, "unknown"
    role = role_by_arn(ar.role_arn, account)
    role_arn = role.arn if role is not None else ar.role_arn
    role_id = role.id if role is not None else "AROA" + akid[4:]
    return Principal(ar.arn, role_arn, "role", account, f"{role_id}:{ar.session_name}",
                     role_arn.split("/")[-1], ar.session_name, akid, ar.secret_access_key,
                     ar.session_token, _epoch(ar.expiration)), ""


# ---------------------------------------------------------------- identity policies

def _managed_docs(managed: dict) -> list[str]:
    out = []
    for mp in list(managed.values()):
        for v in getattr(mp, "versions", []):
            if getattr(v, "is_default", False):
                out.append(v.document)
                break
    return out


def identity_documents(p: Principal) -> list[str]:
    """Inline and attached managed policies of the user (and its groups) or the role."""
    be = _iam(p.account)
    docs: list[str] = []
    if p.kind == "user":
        user = be.users.get(p.name)
        if user is None:
            return []
        docs.extend(user.policies.values())
        docs.extend(_managed_docs(user.managed_policies))
        for g in list(be.groups.values()):
            if user in g.users:
                docs.extend(g.policies.values())
                docs.extend(_managed_docs(g.managed_policies))
    else:
        role = role_by_arn(p.principal_arn, p.account)
        if role is None:
            return []
        docs.extend(role.policies.values())
        docs.extend(_managed_docs(role.managed_policies))
    return [d if isinstance(d, str) else json.dumps(d) for d in docs]


# ---------------------------------------------------------------- principals for tests and hosts

def create_user(name: str, policy_document: dict, account: str = DEFAULT_ACCOUNT) -> tuple[str, str, str]:
    """An IAM user with `policy_document` as its inline policy and one access key."""
    be = _iam(account)
    if name in be.users:
        user = be.users[name]
    else:
        user = be.create_user(region_name="us-east-1", user_name=name)
    be.put_user_policy(name, "rootwarden-inline", json.dumps(policy_document))
    key = be.create_access_key(name)
    return user.arn, key.access_key_id, key.secret_access_key


def mint_role_credentials(role_arn: str, session_name: str, duration_seconds: int = 43200) -> dict:
    from moto.sts.models import sts_backends

    parts = role_arn.split(":")
    if len(parts) < 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        raise ValueError(f"not a role ARN: {role_arn}")
    account = parts[4]
    role = role_by_arn(role_arn, account)
    if role is None:
        raise ValueError(f"no such role: {role_arn}")
    ar = sts_backends[account][PARTITION].assume_role(
        region_name="us-east-1", role_session_name=session_name, role_arn=role.arn,
        policy=None, duration=int(duration_seconds), external_id=None)
    exp = ar.expiration
    return {"AccessKeyId": ar.access_key_id, "SecretAccessKey": ar.secret_access_key,
            "SessionToken": ar.session_token,
            "Expiration": exp.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%SZ")}


def reset_caches() -> None:
    with _lock:
        _sessions.clear()
        _roles.clear()
        _scanned.clear()
