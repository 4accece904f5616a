"""WSGI middleware in front of moto's server app.

Order of handling:
  /_rootwarden/...                 test-only endpoints (unsigned, plain JSON), incl. firing a schedule
  /lambda-url/<id>/...             Lambda function URLs, AWS_IAM (SigV4 verified; function_urls)
  Invoke of a URL-only function    AccessDeniedException without an identity-policy grant
                                   (enforcement off only: with it on, the IAM check covers it)
  key of an AssumeRoot session     root-session emulation (IAM root state, S3/SQS unlock, else AccessDenied)
  IAM enforcement (when enabled)   SigV4 authentication + the IAM check of every other AWS request
                                   (iam.enforce; /moto-api/* is not checked)
  sts Action=AssumeRoot            STS AssumeRoot
  account /…PrimaryEmail…          AWS Account API primary email operations (the OTP is mailed
                                   through ses_receipt after the response: Resp.after)
  account /…ContactInformation     Account API contact information (org_lifecycle)
  account /…AlternateContact       Account API alternate contacts (alternate_contacts)
  Organizations CloseAccount,      asynchronous closure with its quota and mail; handshakes from a
    handshakes                     second organization (org_lifecycle); other actions: moto, after
                                   due closures complete
  KMS crypto on a non-Enabled key  DisabledException / KMSInvalidStateException
  POST /moto-api/reset             also clears the extension state
  (every AWS request above)        logged by requestlog when it is on (bench-calls)
  everything else                  moto
"""
from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from typing import Any

from . import (
    account_api,
    alternate_contacts,
    function_urls,
    kms_state,
    org_lifecycle,
    requestlog,
    service_credentials,
    ses_delivery,
    ses_receipt,
)
from .common import Req, Resp, log, plain_json, query_error
from .console import Console
from .iam import enforce as iam_enforce
from .iam import principals as iam_principals
from .root_sessions import RootStore
from .root_sessions import calls_endpoint as root_calls_endpoint
from .root_sessions import test_endpoint as root_state_endpoint

_ROOT_STATE_RE = re.compile(r"^/_rootwarden/root-state/([^/]+)/?$")
_EMAIL_RE = re.compile(r"^/_rootwarden/primary-email/([^/]+)(/otp|/otp/expire|/mail|/mail/release|/propagation)?/?$")
_CONSOLE_RE = re.compile(r"^/_rootwarden/console/([^/]+)(?:/(forgot-password|reset-password|mfa))?/?$")
_FIRE_RE = re.compile(r"^/_rootwarden/schedules/([A-Za-z0-9_.-]+)/fire/?$")


class RootWardenMiddleware:
    def __init__(self, app: Callable, info: Callable[[], dict] | None = None) -> None:
        self.app = app
        self.roots = RootStore()
        self.accounts = account_api.AccountStore()
        self.console = Console(self.roots, self.accounts)
        self.info = info or (lambda: {})

    def reset(self) -> None:
        self.roots.reset()
        self.accounts.reset()
        self.console.reset()
        ses_receipt.reset()
        org_lifecycle.reset()
        alternate_contacts.reset()

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        logged = None
        try:
            req = Req.from_environ(environ)
            if requestlog.enabled():
                logged = requestlog.Pending(req, self.roots)
            resp = self._route(req)
        except Exception as e:  # never let an extension bug take the request down silently
            log(f"extension error: {e}\n{traceback.format_exc()}")
            resp = Resp(500, f"<ErrorResponse><Error><Code>InternalFailure</Code><Message>emulator "
                             f"extension error: {e}</Message></Error></ErrorResponse>", {}, "text/xml")
        if logged is not None:
            start_response = logged.wrap(start_response)
        if resp is None:
            return self.app(environ, start_response)
        return resp(start_response)

    def _route(self, req: Req) -> Resp | None:
        path = req.path
        if path.startswith("/_rootwarden/"):
            return self._test_endpoint(req)
        if path.startswith(function_urls.URL_PREFIX):
            return function_urls.serve(req)
        if not iam_enforce.enabled():
            denied = function_urls.guard_invoke(req)
            if denied is not None:
                return denied

        sess = self.roots.session_for(req.access_key)
        if sess is not None:
            out = self.roots.handle_session_request(req, sess)
            if isinstance(out, tuple):  # allowed S3/SQS unlock action: moto, as the member account
                req.environ["HTTP_X_MOTO_ACCOUNT_ID"] = out[1]
                req.environ[iam_enforce.MARK] = True  # authorized by the root session's task policy
                return None
            return out

        denied = iam_enforce.check(req)
        if denied is not None:
            return denied

        if req.service == "sts" or (req.service is None and req.is_form):
            if req.is_form or "Action" in req.query:
                if req.form().get("Action") == "AssumeRoot":
                    return self.roots.assume_root(req)

        account_paths = account_api.PATHS | org_lifecycle.CONTACT_PATHS | alternate_contacts.PATHS
        if req.service == "account" or (req.service is None and path in account_paths):
            if path in account_api.PATHS:
                return self.accounts.handle(req)
            if path in org_lifecycle.CONTACT_PATHS:
                return org_lifecycle.handle_contact(req)
            if path in alternate_contacts.PATHS:
                return alternate_contacts.handle(req)

        if (req.target or "").startswith(org_lifecycle.TARGET_PREFIX):
            out = org_lifecycle.handle_organizations(req)
            if out is not None:
                return out

        if (req.target or "").startswith("TrentService."):
            return kms_state.check(req)

        if path.rstrip("/") == "/moto-api/reset" and req.method == "POST":
            self.reset()
            iam_principals.reset_caches()
        return None

    def _test_endpoint(self, req: Req) -> Resp:
        path = req.path
        m = _ROOT_STATE_RE.match(path)
        if m:
            return root_state_endpoint(self.roots, req, m.group(1))
        if path.rstrip("/") == "/_rootwarden/root-calls":
            return root_calls_endpoint(self.roots, req)
        if path.rstrip("/") == "/_rootwarden/primary-email/conflicts":
            return account_api.conflicts_endpoint(self.accounts, req)
        m = _EMAIL_RE.match(path)
        if m:
            return self.accounts.test_endpoint(req, m.group(1), m.group(2) or "")
        if path.startswith("/_rootwarden/organizations/"):
            return org_lifecycle.test_endpoint(req)
        if path.rstrip("/") == "/_rootwarden/requests":
            return requestlog.endpoint(req)
        if path.startswith(ses_delivery.PREFIX):
            return ses_delivery.store(req)
        if path.rstrip("/") in ("/_rootwarden/ses/receive", "/_rootwarden/ses/received"):
            return ses_receipt.endpoint(req)
        m = _CONSOLE_RE.match(path)
        if m:
            return self.console.endpoint(req, m.group(1), m.group(2) or "")
        m = _FIRE_RE.match(path)
        if m and req.method == "POST":
            return service_credentials.fire_schedule(req, m.group(1))
        if path.startswith("/_rootwarden/iam/"):
            return iam_enforce.test_endpoint(req)
        if path.rstrip("/") == "/_rootwarden/health":
            return plain_json(200, {"status": "ok", **self.info()})
        if path.rstrip("/") == "/_rootwarden/sessions" and req.method == "GET":
            with self.roots.lock:
                return plain_json(200, {k: {"account_id": s.account_id, "task_policy": s.task_policy,
                                            "expires_at": s.expires_at}
                                        for k, s in self.roots.sessions.items()})
        return plain_json(404, {"error": f"unknown test endpoint {path}"})


__all__ = ["RootWardenMiddleware", "query_error"]
