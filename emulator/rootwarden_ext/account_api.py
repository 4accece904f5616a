"""AWS Account API primary-email operations (rest-json, signing name `account`).

POST /getPrimaryEmail, /startPrimaryEmailUpdate, /acceptPrimaryEmailUpdate. moto 5.2.5 has an
`account` service with only alternate-contact paths, so these paths never reach it.

The OTP "sent" to the new address is readable through the test-only endpoint
GET /_rootwarden/primary-email/{account_id}/otp. It expires after 24 hours (the AWS
Organizations guide: the verification code must be entered within 24 hours), overridable with
ROOTWARDEN_EMULATOR_OTP_TTL_SECONDS; POST .../otp/expire expires it at once for tests.
"""
from __future__ import annotations

import os
import re
import secrets
import threading
import time
from dataclasses import dataclass

from .common import Req, Resp, log, plain_json, rest_json_error, rest_json_ok

PATHS = {"/getPrimaryEmail", "/startPrimaryEmailUpdate", "/acceptPrimaryEmailUpdate"}
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+'=-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


def otp_ttl() -> float:
    try:
        return float(os.environ.get("ROOTWARDEN_EMULATOR_OTP_TTL_SECONDS", 24 * 3600))
    except ValueError:
        return 24 * 3600.0


@dataclass
class Pending:
    email: str
    otp: str
    expires_at: float


def _validation(msg: str) -> Resp:
    return rest_json_error("ValidationException", msg, 400)


def _not_found(account_id: str) -> Resp:
    return rest_json_error("ResourceNotFoundException",
                           f"The specified account ({account_id}) could not be found.", 404)


def _orgs_email(account_id: str) -> str | None:
    try:
        from moto.organizations.models import organizations_backends
    except Exception:  # pragma: no cover
        return None
    acct = _orgs_account(account_id, organizations_backends)
    return acct.email if acct is not None else None


def _orgs_account(account_id: str, backends) -> object | None:
    candidates = []
    owner = backends.master_accounts.get(account_id)
    if owner:
        try:
            candidates.append(backends[owner[0]][owner[1]])
        except Exception:
            pass
    for _acct, per_partition in list(backends.items()):
        for _p, be in list(per_partition.items()):
            candidates.append(be)
    for be in candidates:
        for a in list(getattr(be, "accounts", [])):
            if getattr(a, "id", None) == account_id:
                return a
    return None


class AccountStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.emails: dict[str, str] = {}
        self.pending: dict[str, Pending] = {}

    def reset(self) -> None:
        with self.lock:
            self.emails.clear()
            self.pending.clear()

    def email_of(self, account_id: str) -> str | None:
        with self.lock:
            if account_id in self.emails:
                return self.emails[account_id]
        return _orgs_email(account_id)

    def _email_in_use(self, email: str) -> bool:
        low = email.lower()
        with self.lock:
            if any(e.lower() == low for e in self.emails.values()):
                return True
        try:
            from moto.organizations.models import organizations_backends
            for _acct, per_partition in list(organizations_backends.items()):
                for _p, be in list(per_partition.items()):
                    for a in list(getattr(be, "accounts", [])):
                        if str(getattr(a, "email", "")).lower() == low:
                            return True
        except Exception:
            pass
        return False

    # ------------------------------------------------------------- API
    def handle(self, req: Req) -> Resp:
        if req.method != "POST":
            return rest_json_error("ValidationException", "Method not allowed", 400)
        try:
            body = req.json_body()
        except ValueError:
            return _validation("The request body is not valid JSON.")
        if not isinstance(body, dict):
            return _validation("The request body must be a JSON object.")
        account_id = body.get("AccountId")
        if account_id is None:
            return _validation("1 validation error detected: Value null at 'accountId' failed to "
                               "satisfy constraint: Member must not be null")
        if not isinstance(account_id, str) or not re.fullmatch(r"\d{12}", account_id):
            return _validation(f"1 validation error detected: Value '{account_id}' at 'accountId' "
                               "failed to satisfy constraint: Member must satisfy regular "
                               "expression pattern: ^\\d{12}$")
        current = self.email_of(account_id)
        if req.path == "/getPrimaryEmail":
            if current is None:
                return _not_found(account_id)
            return rest_json_ok({"PrimaryEmail": current})
        if req.path == "/startPrimaryEmailUpdate":
            return self._start(account_id, current, body)
        return self._accept(account_id, current, body)

    def _check_email(self, email) -> Resp | None:
        if email is None:
            return _validation("1 validation error detected: Value null at 'primaryEmail' failed "
                               "to satisfy constraint: Member must not be null")
        if not isinstance(email, str) or not (5 <= len(email) <= 64):
            return _validation("1 validation error detected: Value at 'primaryEmail' failed to "
                               "satisfy constraint: Member must have length between 5 and 64")
        if not EMAIL_RE.match(email):
            return _validation("The primary email address is not valid.")
        return None

    def _start(self, account_id: str, current: str | None, body: dict) -> Resp:
        email = body.get("PrimaryEmail")
        bad = self._check_email(email)
        if bad:
            return bad
        if current is None:
            return _not_found(account_id)
        if self._email_in_use(email):
            return rest_json_error("ConflictException",
                                   "The email address is already in use by an AWS account.", 409)
        otp = "".join(secrets.choice("0123456789") for _ in range(6))
        with self.lock:
            self.pending[account_id] = Pending(email=email, otp=otp, expires_at=time.time() + otp_ttl())
        log(f"Account {account_id}: primary email update started -> {email} (OTP sent)")
        return rest_json_ok({"Status": "PENDING"})

    def _accept(self, account_id: str, current: str | None, body: dict) -> Resp:
        email = body.get("PrimaryEmail")
        bad = self._check_email(email)
        if bad:
            return bad
        otp = body.get("Otp")
        if otp is None:
            return _validation("1 validation error detected: Value null at 'otp' failed to "
                               "satisfy constraint: Member must not be null")
        if not isinstance(otp, str) or not re.fullmatch(r"[a-zA-Z0-9]{6}", otp):
            return _validation("1 validation error detected: Value at 'otp' failed to satisfy "
                               "constraint: Member must satisfy regular expression pattern: "
                               "^[a-zA-Z0-9]{6}$")
        if current is None:
            return _not_found(account_id)
        with self.lock:
            pend = self.pending.get(account_id)
            if pend is None:
                return _validation("There is no pending primary email update for this account. "
                                   "Call StartPrimaryEmailUpdate first.")
            if pend.email.lower() != email.lower():
                return _validation("The primary email address doesn't match the address of the "
                                   "pending update.")
            if time.time() >= pend.expires_at:
                return _validation("The OTP code has expired. Call StartPrimaryEmailUpdate again.")
            if not secrets.compare_digest(pend.otp, otp):
                return _validation("The OTP code is not valid.")
            del self.pending[account_id]
            self.emails[account_id] = pend.email
        self._update_orgs_email(account_id, pend.email)
        log(f"Account {account_id}: primary email updated to {pend.email}")
        return rest_json_ok({"Status": "ACCEPTED"})

    @staticmethod
    def _update_orgs_email(account_id: str, email: str) -> None:
        try:
            from moto.organizations.models import organizations_backends
            acct = _orgs_account(account_id, organizations_backends)
            if acct is not None:
                acct.email = email
        except Exception:
            pass

    # ------------------------------------------------------------- test-only endpoints
    def test_endpoint(self, req: Req, account_id: str, rest: str) -> Resp:
        if not re.fullmatch(r"\d{12}", account_id):
            return plain_json(400, {"error": "account id must be 12 digits"})
        if rest == "":
            if req.method == "PUT":
                try:
                    data = req.json_body()
                except ValueError as e:
                    return plain_json(400, {"error": f"invalid JSON: {e}"})
                email = data.get("email") if isinstance(data, dict) else None
                if not isinstance(email, str) or not email:
                    return plain_json(400, {"error": "body must be {\"email\": \"...\"}"})
                with self.lock:
                    self.emails[account_id] = email
                    self.pending.pop(account_id, None)
                return plain_json(200, {"email": email})
            if req.method == "GET":
                email = self.email_of(account_id)
                if email is None:
                    return plain_json(404, {"error": "unknown account"})
                return plain_json(200, {"email": email})
            return plain_json(405, {"error": "use GET or PUT"})
        if rest == "/otp" and req.method == "GET":
            with self.lock:
                pend = self.pending.get(account_id)
                if pend is None:
                    return plain_json(404, {"error": "no pending primary email update"})
                return plain_json(200, {"email": pend.email, "otp": pend.otp,
                                        "expires_in": max(0, int(pend.expires_at - time.time()))})
        if rest == "/otp/expire" and req.method == "POST":
            with self.lock:
                pend = self.pending.get(account_id)
                if pend is None:
                    return plain_json(404, {"error": "no pending primary email update"})
                pend.expires_at = time.time() - 1
                return plain_json(200, {"expired": True})
        return plain_json(404, {"error": "unknown test endpoint"})
