"""Console stand-ins (test-only): what a human does on the root sign-in page in a browser, with
the mail AWS sends for it delivered through the local SES receipt path (aws_mail).

    POST /_rootwarden/console/{account}/forgot-password  {"email"}
        "Forgot password": when `email` is the account's current primary email and the root user
        has a login profile (password recovery enabled: CreateLoginProfile in an
        IAMCreateRootUserPassword session), AWS mails a reset link
        https://signin.aws.amazon.com/resetpassword?token=...&type=ROOT_USER from
        no-reply@signin.aws, valid 1 hour (ROOTWARDEN_EMULATOR_RESET_TTL_SECONDS); a new request
        replaces the previous link. -> {"sent": true} (never the token) or {"sent": false, "why"}.
    POST /_rootwarden/console/{account}/reset-password   {"link", "password"}
        Sets the root password (AWS's rules: 8-128 characters, at least three of upper case,
        lower case, digits, symbols; not the account's email), stores only a salted hash,
        invalidates the link, mails "Your AWS password has been changed" to the primary email.
        -> {"reset": true}; 400 {"error"} with the reason.
    POST /_rootwarden/console/{account}/mfa              {"password", "name"?}
        Signs in with the current root password (403 otherwise) and enrols a virtual MFA device for
        the root user (listed by iam:ListMFADevices in a root session), mails "MFA device added".
        -> {"serial", "seed"} (the base32 seed the console shows once).
    GET  /_rootwarden/console/{account}  -> {"primary_email", "has_password", "mfa_devices": n}
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from urllib.parse import parse_qs, urlsplit

from . import aws_mail
from .common import Req, Resp, log, plain_json

RESET_HOST = "signin.aws.amazon.com"
RESET_PATH = "/resetpassword"
PBKDF2_ITERATIONS = 60_000
MAX_MFA_DEVICES = 8  # AWS: up to 8 MFA devices per user, root included
SYMBOLS = set("!@#$%^&*()<>[]{}|_+-=")


def reset_ttl() -> float:
    try:
        return float(os.environ.get("ROOTWARDEN_EMULATOR_RESET_TTL_SECONDS", 3600))
    except ValueError:
        return 3600.0


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ITERATIONS)
    return f"pbkdf2_sha256${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(dk).decode()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        _alg, it, salt, dk = stored.split("$")
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(it))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(dk))


def password_problem(password: str, email: str | None) -> str | None:
    """Why AWS's root password rules refuse `password`, or None."""
    if not (8 <= len(password) <= 128):
        return "the password must be 8 to 128 characters long"
    classes = sum([any(c.isupper() for c in password), any(c.islower() for c in password),
                   any(c.isdigit() for c in password), any(c in SYMBOLS for c in password)])
    if classes < 3:
        return ("the password must contain at least three of: upper case letters, lower case letters, "
                "numbers, symbols (! @ # $ % ^ & * ( ) < > [ ] { } | _ + - =)")
    if email and password.lower() == email.lower():
        return "the password must not be the account's email address"
    return None


class Console:
    def __init__(self, roots, accounts) -> None:
        self.roots = roots        # root_sessions.RootStore
        self.accounts = accounts  # account_api.AccountStore
        self.lock = threading.Lock()
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (account, expires at)

    def reset(self) -> None:
        with self.lock:
            self.tokens.clear()

    def _send_later(self, resp: Resp, raw: bytes, to: str, what: str) -> Resp:
        resp.after.append(lambda: aws_mail.send(raw, to, what))
        return resp

    def endpoint(self, req: Req, account: str, action: str) -> Resp:
        if not re.fullmatch(r"\d{12}", account):
            return plain_json(400, {"error": "account id must be 12 digits"})
        if action == "":
            if req.method != "GET":
                return plain_json(405, {"error": "use GET"})
            with self.roots.lock:
                st = self.roots.states.get(account)
                has_pw = bool(st and st.password_hash)
                n = len(st.mfa_devices) if st else 0
            return plain_json(200, {"primary_email": self.accounts.email_of(account),
                                    "has_password": has_pw, "mfa_devices": n})
        if req.method != "POST":
            return plain_json(405, {"error": "use POST"})
        try:
            data = req.json_body()
        except ValueError as e:
            return plain_json(400, {"error": f"invalid JSON: {e}"})
        if not isinstance(data, dict):
            return plain_json(400, {"error": "body must be a JSON object"})
        if action == "forgot-password":
            return self.forgot_password(account, data)
        if action == "reset-password":
            return self.reset_password(account, data)
        if action == "mfa":
            return self.enrol_mfa(account, data)
        return plain_json(404, {"error": f"unknown console action {action}"})

    def forgot_password(self, account: str, data: dict) -> Resp:
        email = data.get("email")
        if not isinstance(email, str) or "@" not in email:
            return plain_json(400, {"error": 'body must be {"email": "..."}'})
        primary = self.accounts.email_of(account)
        if primary is None or primary.lower() != email.strip().lower():
            return plain_json(200, {"sent": False, "why": "not the root email address of this account"})
        with self.roots.lock:
            st = self.roots.states.get(account)
            recovery = bool(st and st.login_profile)
        if not recovery:
            log(f"console {account}: forgot password: no login profile (password recovery disabled), no mail")
            return plain_json(200, {"sent": False, "why": "password recovery is disabled for the root user "
                                                         "(no login profile)"})
        token = secrets.token_urlsafe(72)
        with self.lock:
            for t, (acct, _) in list(self.tokens.items()):
                if acct == account:
                    del self.tokens[t]
            self.tokens[token] = (account, time.time() + reset_ttl())
        link = f"https://{RESET_HOST}{RESET_PATH}?token={token}&type=ROOT_USER"
        log(f"console {account}: forgot password: reset link mailed to {primary}")
        return self._send_later(plain_json(200, {"sent": True}), aws_mail.password_reset(primary, link), primary,
                                f"password reset, account {account}")

    def reset_password(self, account: str, data: dict) -> Resp:
        link, password = data.get("link"), data.get("password")
        if not isinstance(link, str) or not isinstance(password, str):
            return plain_json(400, {"error": 'body must be {"link": "...", "password": "..."}'})
        u = urlsplit(link.strip())
        token = (parse_qs(u.query).get("token") or [""])[0]
        if u.scheme != "https" or u.hostname != RESET_HOST or u.path.lower() != RESET_PATH or not token:
            return plain_json(400, {"error": "not an AWS root password reset link"})
        with self.lock:
            entry = self.tokens.get(token)
            if entry is None or entry[0] != account:
                return plain_json(400, {"error": "the reset link is not valid (used, replaced or unknown)"})
            if time.time() >= entry[1]:
                del self.tokens[token]
                return plain_json(400, {"error": "the reset link has expired"})
        primary = self.accounts.email_of(account)
        why = password_problem(password, primary)
        if why:
            return plain_json(400, {"error": why})
        with self.roots.lock:
            st = self.roots._state(account)
            if not st.login_profile:
                return plain_json(400, {"error": "password recovery is disabled for the root user (no login profile)"})
            st.password_hash = hash_password(password)
        with self.lock:
            self.tokens.pop(token, None)
        log(f"console {account}: root password reset")
        resp = plain_json(200, {"reset": True})
        if primary:
            self._send_later(resp, aws_mail.password_changed(primary), primary, f"password changed, account {account}")
        return resp

    def enrol_mfa(self, account: str, data: dict) -> Resp:
        password = data.get("password")
        name = data.get("name") or "root-account-mfa-device"
        if not isinstance(password, str) or not isinstance(name, str) or not re.fullmatch(r"[\w+=,.@-]{1,128}", name):
            return plain_json(400, {"error": 'body must be {"password": "...", "name"?: "device-name"}'})
        serial = f"arn:aws:iam::{account}:mfa/{name}"
        with self.roots.lock:
            st = self.roots._state(account)
            if not st.login_profile or not check_password(password, st.password_hash):
                log(f"console {account}: root sign-in failed")
                return plain_json(403, {"error": "sign-in failed: wrong root password, or the root user has none"})
            if any(d["serial"] == serial for d in st.mfa_devices):
                return plain_json(400, {"error": f"an MFA device named {name} already exists"})
            if len(st.mfa_devices) >= MAX_MFA_DEVICES:
                return plain_json(400, {"error": f"the root user has {MAX_MFA_DEVICES} MFA devices already"})
            seed = base64.b32encode(secrets.token_bytes(20)).decode()
            st.mfa_devices.append({"serial": serial, "enable_date": time.time()})
        primary = self.accounts.email_of(account)
        log(f"console {account}: virtual MFA device {serial} enrolled")
        resp = plain_json(200, {"serial": serial, "seed": seed})
        if primary:
            self._send_later(resp, aws_mail.mfa_device_added(primary, account, name), primary,
                             f"MFA device added, account {account}")
        return resp
