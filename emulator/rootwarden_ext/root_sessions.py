"""STS AssumeRoot, IAM calls made with a root session, and per-member-account root user state.

Task policy action lists are the NotAction lists of the AWS managed policies
arn:aws:iam::aws:policy/root-task/* (policy version v1, 2024-11-06), as mirrored by
github.com/zoph-io/MAMIP (policies/IAMAuditRootUserCredentials etc.). Each of those policies
denies every action except the listed ones, and denies the IAM ones on any resource other
than arn:aws:iam::*:root (so passing a UserName is denied).
"""
from __future__ import annotations

import base64
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .common import (
    IAM_NS,
    STS_NS,
    Req,
    Resp,
    access_denied_for,
    expired_token_for,
    invalid_token_for,
    iso,
    log,
    plain_json,
    query_error,
    query_result,
)

ROOT_TASK_PREFIX = "arn:aws:iam::aws:policy/root-task/"

TASK_POLICIES: dict[str, frozenset[str]] = {
    "IAMAuditRootUserCredentials": frozenset({
        "iam:ListAccessKeys", "iam:ListSigningCertificates", "iam:GetLoginProfile",
        "iam:ListMFADevices", "iam:GetAccountSummary", "iam:GetUser", "iam:GetAccessKeyLastUsed",
    }),
    "IAMCreateRootUserPassword": frozenset({
        "iam:CreateLoginProfile", "iam:GetLoginProfile",
    }),
    "IAMDeleteRootUserCredentials": frozenset({
        "iam:DeleteAccessKey", "iam:DeleteSigningCertificate", "iam:DeleteLoginProfile",
        "iam:DeactivateMFADevice", "iam:DeleteVirtualMFADevice", "iam:ListAccessKeys",
        "iam:ListSigningCertificates", "iam:GetLoginProfile", "iam:ListMFADevices",
        "iam:GetUser", "iam:GetAccessKeyLastUsed",
    }),
    "S3UnlockBucketPolicy": frozenset({
        "s3:DeleteBucketPolicy", "s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:ListAllMyBuckets",
    }),
    "SQSUnlockQueuePolicy": frozenset({
        "sqs:SetQueueAttributes", "sqs:GetQueueAttributes", "sqs:ListQueues", "sqs:GetQueueUrl",
    }),
}

ROOT_USER_NAME = "<root_account>"
MAX_DURATION = 900


@dataclass
class RootSession:
    access_key_id: str
    secret_access_key: str
    session_token: str
    account_id: str
    task_policy: str  # short name, e.g. IAMDeleteRootUserCredentials
    expires_at: float

    @property
    def allowed(self) -> frozenset[str]:
        return TASK_POLICIES[self.task_policy]


@dataclass
class RootState:
    access_keys: list[dict] = field(default_factory=list)          # {id, status, create_date}
    signing_certificates: list[dict] = field(default_factory=list)  # {id, status, body, upload_date}
    mfa_devices: list[dict] = field(default_factory=list)           # {serial, enable_date}
    login_profile: bool = False
    login_profile_created: float = 0.0
    deactivated_virtual_mfa: list[str] = field(default_factory=list)
    created: float = field(default_factory=time.time)
    # Test switch: AssumeRoot into this account is refused, as AWS refuses it for an account
    # that left the organization or when centralized root access is off.
    assume_root_denied: bool = False
    # Test switch (fault injection): the next N AssumeRoot calls into this account are throttled
    # (`Throttling`, "Rate exceeded", HTTP 400, as STS answers); `assume_root_throttled` counts
    # the calls refused so.
    assume_root_throttle: int = 0
    assume_root_throttled: int = 0
    # The root password, set through the console stand-in (console.py): "pbkdf2_sha256$iter$salt$hash"
    # only, never the password; never in to_json. Deleting the login profile deletes it.
    password_hash: str | None = None

    def to_json(self) -> dict:
        out = {
            "access_keys": [{"id": k["id"], "status": k["status"]} for k in self.access_keys],
            "signing_certificates": [{"id": c["id"], "status": c["status"]}
                                     for c in self.signing_certificates],
            "mfa_devices": [{"serial": d["serial"]} for d in self.mfa_devices],
            "login_profile": self.login_profile,
        }
        if self.assume_root_denied:
            out["assume_root_denied"] = True
        if self.assume_root_throttle or self.assume_root_throttled:
            out["assume_root_throttle"] = self.assume_root_throttle
            out["assume_root_throttled"] = self.assume_root_throttled
        return out

    @classmethod
    def from_json(cls, account_id: str, data: dict) -> RootState:
        now = time.time()
        st = cls()
        for k in data.get("access_keys") or []:
            st.access_keys.append({"id": str(k["id"]), "status": k.get("status", "Active"),
                                   "create_date": now})
        for c in data.get("signing_certificates") or []:
            st.signing_certificates.append({
                "id": str(c["id"]), "status": c.get("status", "Active"),
                "body": c.get("body") or _fake_cert_body(str(c["id"])), "upload_date": now})
        for d in data.get("mfa_devices") or []:
            serial = d.get("serial") or f"arn:aws:iam::{account_id}:mfa/root-account-mfa-device"
            st.mfa_devices.append({"serial": serial, "enable_date": now})
        st.login_profile = bool(data.get("login_profile", False))
        st.login_profile_created = now
        st.assume_root_denied = bool(data.get("assume_root_denied", False))
        throttle = data.get("assume_root_throttle", 0)
        if not isinstance(throttle, int) or isinstance(throttle, bool) or throttle < 0:
            raise ValueError("assume_root_throttle must be a non-negative integer")
        st.assume_root_throttle = throttle
        return st


def _fake_cert_body(cert_id: str) -> str:
    blob = base64.b64encode(("root-warden-emulator-cert-" + cert_id).encode() * 3).decode()
    return f"-----BEGIN CERTIFICATE-----\n{blob}\n-----END CERTIFICATE-----"


def _rand(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


class RootStore:
    """All root-session state (thread safe)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.sessions: dict[str, RootSession] = {}
        self.states: dict[str, RootState] = {}
        # Calls per (member account, action): sts:AssumeRoot into it (throttled ones too) and the
        # IAM calls of its root sessions. Read by benchmarks (GET /_rootwarden/root-calls).
        self.calls: dict[tuple[str, str], int] = {}

    def reset(self) -> None:
        with self.lock:
            self.sessions.clear()
            self.states.clear()
            self.calls.clear()

    def count(self, account_id: str, action: str) -> None:
        with self.lock:
            self.calls[(account_id, action)] = self.calls.get((account_id, action), 0) + 1

    def calls_json(self) -> list[dict]:
        with self.lock:
            return [{"account_id": a, "action": act, "count": n}
                    for (a, act), n in sorted(self.calls.items())]

    # ------------------------------------------------------------- test-only API
    def put_state(self, account_id: str, data: dict) -> dict:
        st = RootState.from_json(account_id, data)
        with self.lock:
            self.states[account_id] = st
            return st.to_json()

    def get_state(self, account_id: str) -> dict:
        with self.lock:
            st = self.states.get(account_id)
            return (st or RootState()).to_json()

    def _state(self, account_id: str) -> RootState:
        st = self.states.get(account_id)
        if st is None:
            st = self.states[account_id] = RootState()
        return st

    # ------------------------------------------------------------- STS AssumeRoot
    def assume_root(self, req: Req) -> Resp:
        p = req.form()

        def verr(msg: str) -> Resp:
            return query_error("ValidationError", msg, 400, STS_NS)

        target = p.get("TargetPrincipal")
        if target is None:
            return verr("1 validation error detected: Value null at 'targetPrincipal' failed to "
                        "satisfy constraint: Member must not be null")
        m = re.fullmatch(r"(\d{12})|arn:aws[\w-]*:iam::(\d{12}):root", target)
        if not m:
            return verr(f"Invalid TargetPrincipal: '{target}'. The target principal must be a "
                        "12-digit member account ID.")
        account_id = m.group(1) or m.group(2)
        self.count(account_id, "sts:AssumeRoot")

        arn = p.get("TaskPolicyArn.arn")
        if arn is None:
            return verr("1 validation error detected: Value null at 'taskPolicyArn' failed to "
                        "satisfy constraint: Member must not be null")
        name = arn[len(ROOT_TASK_PREFIX):] if arn.startswith(ROOT_TASK_PREFIX) else None
        if name not in TASK_POLICIES:
            return verr(f"The TaskPolicyArn '{arn}' is not a valid root task policy. Use one of "
                        + ", ".join(ROOT_TASK_PREFIX + n for n in TASK_POLICIES))

        raw = p.get("DurationSeconds")
        duration = MAX_DURATION
        if raw is not None:
            try:
                duration = int(raw)
            except ValueError:
                return verr(f"Value '{raw}' at 'durationSeconds' failed to satisfy constraint: "
                            "Member must be an integer")
            if duration > MAX_DURATION:
                return verr(f"1 validation error detected: Value '{duration}' at 'durationSeconds' "
                            "failed to satisfy constraint: Member must have value less than or "
                            f"equal to {MAX_DURATION}")
            if duration < 0:
                return verr(f"1 validation error detected: Value '{duration}' at 'durationSeconds' "
                            "failed to satisfy constraint: Member must have value greater than or "
                            "equal to 0")

        from . import org_lifecycle

        with self.lock:
            st = self.states.get(account_id)
            denied = st is not None and st.assume_root_denied
            throttled = st is not None and not denied and st.assume_root_throttle > 0
            if throttled:
                st.assume_root_throttle -= 1
                st.assume_root_throttled += 1
        if throttled:
            return query_error("Throttling", "Rate exceeded", 400, STS_NS)
        # An account that left our organization (AWS: AssumeRoot only into members of the
        # caller's organization).
        denied = denied or org_lifecycle.foreign_account(org_lifecycle.caller_account(req), account_id)
        if denied:
            return query_error(
                "AccessDenied",
                f"Cannot assume root in account {account_id}: it is not a member account of "
                "this organization with centralized root access enabled.", 403, STS_NS)

        akid = "ASIA" + _rand(string.ascii_uppercase + "234567", 16)
        sess = RootSession(
            access_key_id=akid,
            secret_access_key=_rand(string.ascii_letters + string.digits + "+/", 40),
            session_token="IQoJb3JpZ2luX2VjE" + _rand(string.ascii_letters + string.digits, 300),
            account_id=account_id,
            task_policy=name,
            expires_at=time.time() + duration,
        )
        with self.lock:
            self.sessions[akid] = sess
        log(f"AssumeRoot {account_id} {name} ({duration}s) -> {akid}")
        return query_result("AssumeRoot", {
            "Credentials": {
                "AccessKeyId": sess.access_key_id,
                "SecretAccessKey": sess.secret_access_key,
                "SessionToken": sess.session_token,
                "Expiration": iso(sess.expires_at),
            },
        }, STS_NS)

    # ------------------------------------------------------------- root session requests
    def session_for(self, access_key: str | None) -> RootSession | None:
        if not access_key:
            return None
        with self.lock:
            return self.sessions.get(access_key)

    def handle_session_request(self, req: Req, sess: RootSession) -> Resp | tuple[str, str]:
        """Answer a request signed with a root session key.

        Returns a Resp, or ("passthrough", account_id) when the request should go to moto
        as the member account (S3/SQS unlock task policies)."""
        if time.time() >= sess.expires_at:
            return expired_token_for(req)
        token = req.headers.get("x-amz-security-token")
        if token is None and "X-Amz-Security-Token" in req.query:
            token = req.query["X-Amz-Security-Token"][0]
        if token is not None and token != sess.session_token:
            return invalid_token_for(req)

        acct = sess.account_id
        service = req.service or "unknown"
        principal = f"arn:aws:iam::{acct}:root"

        def denied(action: str, resource: str = "*") -> Resp:
            return access_denied_for(
                req, f"User: {principal} is not authorized to perform: {action} on resource: "
                     f"{resource} with an explicit deny in a session policy")

        if service == "sts":
            action = req.action_name() or "unknown"
            if action == "GetCallerIdentity":  # needs no permission, works in any session
                return query_result("GetCallerIdentity", {
                    "UserId": acct, "Account": acct, "Arn": principal}, STS_NS)
            return denied(f"sts:{action}")

        if service == "iam":
            params = req.form()
            action = params.get("Action", "unknown")
            full = f"iam:{action}"
            self.count(acct, full)
            if full not in sess.allowed:
                return denied(full, principal)
            if params.get("UserName"):
                return denied(full, f"arn:aws:iam::{acct}:user/{params['UserName']}")
            with self.lock:
                return self._iam(action, params, acct)

        if service == "s3":
            action = _s3_action(req)
            full = f"s3:{action}"
            if action and full in sess.allowed:
                return ("passthrough", acct)
            return denied(full)

        if service == "sqs":
            action = req.action_name() or "unknown"
            full = f"sqs:{action}"
            if full in sess.allowed:
                return ("passthrough", acct)
            return denied(full)

        action = req.action_name() or req.path.strip("/").split("/")[0] or "unknown"
        return denied(f"{service}:{action}")

    # ------------------------------------------------------------- IAM on root state
    def _iam(self, action: str, p: dict[str, str], acct: str) -> Resp:
        st = self._state(acct)

        def no_such(msg: str) -> Resp:
            return query_error("NoSuchEntity", msg, 404, IAM_NS)

        def ok(result: dict | None) -> Resp:
            return query_result(action, result, IAM_NS)

        if action == "GetLoginProfile":
            if not st.login_profile:
                return no_such(f"Login Profile for User {ROOT_USER_NAME} cannot be found.")
            return ok({"LoginProfile": {"UserName": ROOT_USER_NAME,
                                        "CreateDate": iso(st.login_profile_created),
                                        "PasswordResetRequired": False}})
        if action == "CreateLoginProfile":
            if "Password" in p:
                return query_error("InvalidInput", "A password cannot be specified when creating "
                                   "a login profile for the root user in a root session.", 400, IAM_NS)
            if st.login_profile:
                return query_error("EntityAlreadyExists",
                                   f"Login Profile for user {ROOT_USER_NAME} already exists.", 409, IAM_NS)
            st.login_profile = True
            st.login_profile_created = time.time()
            log(f"root {acct}: login profile created (password recovery enabled)")
            return ok({"LoginProfile": {"UserName": ROOT_USER_NAME,
                                        "CreateDate": iso(st.login_profile_created),
                                        "PasswordResetRequired": False}})
        if action == "DeleteLoginProfile":
            if not st.login_profile:
                return no_such(f"Login Profile for User {ROOT_USER_NAME} cannot be found.")
            st.login_profile = False
            st.password_hash = None
            log(f"root {acct}: login profile deleted")
            return ok(None)
        if action == "ListAccessKeys":
            return ok({"AccessKeyMetadata": [
                {"UserName": ROOT_USER_NAME, "AccessKeyId": k["id"], "Status": k["status"],
                 "CreateDate": iso(k["create_date"])} for k in st.access_keys],
                "IsTruncated": False})
        if action == "DeleteAccessKey":
            kid = p.get("AccessKeyId", "")
            for k in st.access_keys:
                if k["id"] == kid:
                    st.access_keys.remove(k)
                    log(f"root {acct}: access key {kid} deleted")
                    return ok(None)
            return no_such(f"The Access Key with id {kid} cannot be found.")
        if action == "GetAccessKeyLastUsed":
            kid = p.get("AccessKeyId", "")
            if not any(k["id"] == kid for k in st.access_keys):
                return no_such(f"The Access Key with id {kid} cannot be found.")
            return ok({"UserName": ROOT_USER_NAME,
                       "AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"}})
        if action == "ListMFADevices":
            return ok({"MFADevices": [
                {"UserName": ROOT_USER_NAME, "SerialNumber": d["serial"],
                 "EnableDate": iso(d["enable_date"])} for d in st.mfa_devices],
                "IsTruncated": False})
        if action == "DeactivateMFADevice":
            serial = p.get("SerialNumber", "")
            for d in st.mfa_devices:
                if d["serial"] == serial:
                    st.mfa_devices.remove(d)
                    if ":mfa/" in serial:
                        st.deactivated_virtual_mfa.append(serial)
                    log(f"root {acct}: MFA device {serial} deactivated")
                    return ok(None)
            return no_such(f"MFA Device with serial number {serial} does not exist.")
        if action == "DeleteVirtualMFADevice":
            serial = p.get("SerialNumber", "")
            if any(d["serial"] == serial for d in st.mfa_devices):
                return query_error("DeleteConflict", "MFA device is still in use.", 409, IAM_NS)
            if serial in st.deactivated_virtual_mfa:
                st.deactivated_virtual_mfa.remove(serial)
                return ok(None)
            return no_such(f"VirtualMFADevice with serial number {serial} doesn't exist.")
        if action == "ListSigningCertificates":
            return ok({"Certificates": [
                {"UserName": ROOT_USER_NAME, "CertificateId": c["id"], "CertificateBody": c["body"],
                 "Status": c["status"], "UploadDate": iso(c["upload_date"])}
                for c in st.signing_certificates], "IsTruncated": False})
        if action == "DeleteSigningCertificate":
            cid = p.get("CertificateId", "")
            for c in st.signing_certificates:
                if c["id"] == cid:
                    st.signing_certificates.remove(c)
                    log(f"root {acct}: signing certificate {cid} deleted")
                    return ok(None)
            return no_such(f"The Certificate with id {cid} cannot be found.")
        if action == "GetUser":
            return ok({"User": {"UserId": acct, "Arn": f"arn:aws:iam::{acct}:root",
                                "CreateDate": iso(st.created)}})
        if action == "GetAccountSummary":
            summary = {
                "AccountMFAEnabled": 1 if st.mfa_devices else 0,
                "AccountAccessKeysPresent": 1 if st.access_keys else 0,
                "AccountSigningCertificatesPresent": 1 if st.signing_certificates else 0,
                "AccountPasswordPresent": 1 if st.login_profile else 0,
                "MFADevices": len(st.mfa_devices),
                "MFADevicesInUse": len(st.mfa_devices),
                "Users": 0, "UsersQuota": 5000, "Groups": 0, "GroupsQuota": 300,
                "Roles": 0, "RolesQuota": 1000, "Policies": 0, "PoliciesQuota": 1500,
            }
            entries = "".join(f"<entry><key>{k}</key><value>{v}</value></entry>"
                              for k, v in summary.items())
            return query_result(action, None, IAM_NS,
                                raw_result_xml=f"<SummaryMap>{entries}</SummaryMap>")
        return query_error("AccessDenied", f"iam:{action} is not emulated for root sessions", 403, IAM_NS)


def _s3_action(req: Req) -> str | None:
    """Name the S3 action of a path-style request, for the actions the unlock policy allows."""
    path = req.path.strip("/")
    if not path and req.method == "GET":
        return "ListAllMyBuckets"
    if path and "/" not in path and "policy" in req.query:
        return {"GET": "GetBucketPolicy", "PUT": "PutBucketPolicy",
                "DELETE": "DeleteBucketPolicy"}.get(req.method)
    return "Unknown"


def calls_endpoint(store: RootStore, req: Req) -> Resp:
    """GET: the calls per member account and action; DELETE: forget them."""
    if req.method == "GET":
        return plain_json(200, {"calls": store.calls_json()})
    if req.method == "DELETE":
        with store.lock:
            store.calls.clear()
        return plain_json(200, {"cleared": True})
    return plain_json(405, {"error": "use GET or DELETE"})


def test_endpoint(store: RootStore, req: Req, account_id: str) -> Resp:
    if not re.fullmatch(r"\d{12}", account_id):
        return plain_json(400, {"error": "account id must be 12 digits"})
    if req.method == "PUT":
        try:
            data: Any = req.json_body()
        except ValueError as e:
            return plain_json(400, {"error": f"invalid JSON: {e}"})
        if not isinstance(data, dict):
            return plain_json(400, {"error": "body must be a JSON object"})
        try:
            return plain_json(200, store.put_state(account_id, data))
        except (ValueError, KeyError, TypeError) as e:
            return plain_json(400, {"error": f"invalid root state: {e}"})
    if req.method == "GET":
        return plain_json(200, store.get_state(account_id))
    return plain_json(405, {"error": "use GET or PUT"})
