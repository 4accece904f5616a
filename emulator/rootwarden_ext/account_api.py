"""AWS Account API primary-email operations (rest-json, signing name `account`).

POST /getPrimaryEmail, /startPrimaryEmailUpdate, /acceptPrimaryEmailUpdate. moto 5.2.5 has an
`account` service with only alternate-contact paths, so these paths never reach it.

StartPrimaryEmailUpdate mails the OTP to the new address as AWS does (aws_mail: From
no-reply@verify.signin.aws, "AWS Account Email Change Verification"), through the local SES
receipt path (ses_receipt: the active rule set's S3 and Lambda actions), from a background thread
started once the API response has been sent (the inbound Lambda calls back into the emulator).
Only when a receipt rule matches the new address; otherwise AWS mailed it elsewhere (logged). A
second Start is a resend: a new code, the old one invalid. GetPrimaryEmailUpdateStatus reports
the latest update (PENDING, COMPLETED once accepted, FAILED when its code expired). An accepted
update mails AWS's "The email address for your AWS account root user was changed" notice to the
PREVIOUS address (aws_mail.root_email_changed, the new one masked). An account of another
organization (one that left ours) is AccessDeniedException (org_lifecycle.foreign_account).

Test-only: GET /_rootwarden/primary-email/{account_id}/otp reveals the OTP; it expires after 24
hours (the AWS Organizations guide: the verification code must be entered within 24 hours),
overridable with ROOTWARDEN_EMULATOR_OTP_TTL_SECONDS; POST .../otp/expire expires it at once.
POST .../mail {"mode": "deliver"|"hold"|"drop"} decides what happens to the next mails (hold:
kept until POST .../mail/release sends them, late; drop: never sent); PUT|GET
/_rootwarden/primary-email/conflicts {"emails": [...]} makes Start to those addresses a
ConflictException (in use by another AWS account); an entry may be a glob (`aws-1234*@d`), for
addresses a test cannot know in advance. POST .../propagation {"mode": "hold"|"now"}: AWS says a
change can take up to four hours to propagate; in hold, GetPrimaryEmail goes on answering the
previous address after an accepted update (and GetPrimaryEmailUpdateStatus says ACCEPTED, not
COMPLETED) until "now" lets it through (the default).
"""
from __future__ import annotations

import fnmatch
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass

from . import aws_mail
from .common import Req, Resp, log, plain_json, rest_json_error, rest_json_ok

PATHS = {"/getPrimaryEmail", "/startPrimaryEmailUpdate", "/acceptPrimaryEmailUpdate",
         "/getPrimaryEmailUpdateStatus"}
MAIL_MODES = ("deliver", "hold", "drop")
PROPAGATION_MODES = ("hold", "now")
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


def _mode(req: Req, modes: tuple[str, ...]) -> tuple[str | None, Resp | None]:
    """A test endpoint's `{"mode": ...}` body: the mode, or the 400 answer."""
    try:
        data = req.json_body()
    except ValueError as e:
        return None, plain_json(400, {"error": f"invalid JSON: {e}"})
    mode = data.get("mode") if isinstance(data, dict) else None
    if mode not in modes:
        choices = "|".join(f'"{m}"' for m in modes)
        return None, plain_json(400, {"error": f'body must be {{"mode": {choices}}}'})
    return mode, None


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
        self.status: dict[str, tuple[str, float]] = {}  # account -> (status, updated at)
        self.mail_mode: dict[str, str] = {}
        self.held: dict[str, list[tuple[str, bytes]]] = {}  # account -> [(to, raw)]
        self.conflicts: set[str] = set()
        self.propagation_held: set[str] = set()  # accounts whose accepted changes do not show yet
        self.unpropagated: dict[str, str] = {}  # account -> the address GetPrimaryEmail still says

    def reset(self) -> None:
        with self.lock:
            self.emails.clear()
            self.pending.clear()
            self.status.clear()
            self.mail_mode.clear()
            self.held.clear()
            self.conflicts.clear()
            self.propagation_held.clear()
            self.unpropagated.clear()

    def email_of(self, account_id: str) -> str | None:
        with self.lock:
            if account_id in self.emails:
                return self.emails[account_id]
        return _orgs_email(account_id)

    def _email_in_use(self, email: str) -> bool:
        low = email.lower()
        with self.lock:
            if any(fnmatch.fnmatchcase(low, c) for c in self.conflicts) or any(
                    e.lower() == low for e in self.emails.values()):
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
        from . import org_lifecycle

        if org_lifecycle.foreign_account(org_lifecycle.caller_account(req), account_id):
            return rest_json_error("AccessDeniedException", f"The account {account_id} is not a "
                                   "member of your organization.", 403)
        current = self.email_of(account_id)
        if req.path == "/getPrimaryEmail":
            if current is None:
                return _not_found(account_id)
            with self.lock:
                shown = self.unpropagated.get(account_id, current)
            return rest_json_ok({"PrimaryEmail": shown})
        if req.path == "/startPrimaryEmailUpdate":
            return self._start(account_id, current, body)
        if req.path == "/getPrimaryEmailUpdateStatus":
            return self._status(account_id, current)
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
        raw = aws_mail.email_change_verification(email, otp)
        with self.lock:
            resend = account_id in self.pending
            self.pending[account_id] = Pending(email=email, otp=otp, expires_at=time.time() + otp_ttl())
            self.status[account_id] = ("PENDING", time.time())
            mode = self.mail_mode.get(account_id, "deliver")
            if mode == "hold":
                self.held.setdefault(account_id, []).append((email, raw))
        what = "a new code, the previous one is invalid" if resend else "code"
        log(f"Account {account_id}: primary email update started -> {email} ({what}; mail: {mode})")
        resp = rest_json_ok({"Status": "PENDING"})
        if mode == "deliver":
            resp.after.append(lambda: aws_mail.send(raw, email, f"email change verification, account {account_id}"))
        return resp

    def _status(self, account_id: str, current: str | None) -> Resp:
        if current is None:
            return _not_found(account_id)
        with self.lock:
            st = self.status.get(account_id)
            pend = self.pending.get(account_id)
            if st is None:
                return rest_json_error("ResourceNotFoundException",
                                       "No primary email update was requested for this account.", 404)
            status, at = st
            if status == "COMPLETED" and account_id in self.unpropagated:
                status = "ACCEPTED"
            if status == "PENDING" and pend is not None and time.time() >= pend.expires_at:
                status, at = "FAILED", pend.expires_at
        return rest_json_ok({"Status": status, "UpdatedAt": int(at)})

    def release_held(self, account_id: str) -> int:
        """Send the held mails of an account now (in the background); how many."""
        with self.lock:
            held = self.held.pop(account_id, [])

        def run() -> None:
            for to, raw in held:
                aws_mail.send(raw, to, f"held email change verification, account {account_id}")

        if held:
            threading.Thread(target=run, name="release-held-mail", daemon=True).start()
        return len(held)

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
            if account_id in self.propagation_held:
                self.unpropagated.setdefault(account_id, current)
            self.emails[account_id] = pend.email
            self.status[account_id] = ("COMPLETED", time.time())
        self._update_orgs_email(account_id, pend.email)
        log(f"Account {account_id}: primary email updated to {pend.email}")
        resp = rest_json_ok({"Status": "ACCEPTED"})
        if current.lower() != pend.email.lower():
            raw = aws_mail.root_email_changed(current, account_id, pend.email)
            resp.after.append(lambda: aws_mail.send(raw, current, f"root email changed, account {account_id}"))
        return resp

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
        if rest == "/mail" and req.method == "POST":
            mode, bad = _mode(req, MAIL_MODES)
            if bad:
                return bad
            with self.lock:
                self.mail_mode[account_id] = mode
                held = len(self.held.get(account_id, []))
            return plain_json(200, {"mode": mode, "held": held})
        if rest == "/propagation" and req.method == "POST":
            mode, bad = _mode(req, PROPAGATION_MODES)
            if bad:
                return bad
            with self.lock:
                if mode == "hold":
                    self.propagation_held.add(account_id)
                else:
                    self.propagation_held.discard(account_id)
                    self.unpropagated.pop(account_id, None)
                shown = self.unpropagated.get(account_id)
            return plain_json(200, {"mode": mode, "unpropagated": shown is not None})
        if rest == "/mail/release" and req.method == "POST":
            return plain_json(200, {"released": self.release_held(account_id)})
        if rest == "/otp/expire" and req.method == "POST":
            with self.lock:
                pend = self.pending.get(account_id)
                if pend is None:
                    return plain_json(404, {"error": "no pending primary email update"})
                pend.expires_at = time.time() - 1
                return plain_json(200, {"expired": True})
        return plain_json(404, {"error": "unknown test endpoint"})


def conflicts_endpoint(store: AccountStore, req: Req) -> Resp:
    """PUT|GET /_rootwarden/primary-email/conflicts {"emails": [...]}: addresses that belong to
    another AWS account (StartPrimaryEmailUpdate to them is a ConflictException); entries may be
    globs (fnmatch, case-insensitive). PUT replaces."""
    if req.method == "PUT":
        try:
            data = req.json_body()
        except ValueError as e:
            return plain_json(400, {"error": f"invalid JSON: {e}"})
        emails = data.get("emails") if isinstance(data, dict) else None
        if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
            return plain_json(400, {"error": 'body must be {"emails": ["..."]}'})
        with store.lock:
            store.conflicts = {e.lower() for e in emails}
    elif req.method != "GET":
        return plain_json(405, {"error": "use GET or PUT"})
    with store.lock:
        return plain_json(200, {"emails": sorted(store.conflicts)})
