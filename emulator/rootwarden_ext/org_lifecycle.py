"""Account release: Organizations CloseAccount (asynchronous, with its quota), handshakes from a
second organization (direct transfer), and Account API contact information.

moto 5.2.5 closes an account at once (ACTIVE -> SUSPENDED, no quota, the management account
closable), has no handshakes, and no contact-information operations. Nothing else in the
project uses these calls, so they are answered here with AWS's action names, shapes and errors:

Organizations (json 1.1, X-Amz-Target AWSOrganizationsV20161128.*):
  CloseAccount        management account only (AccessDeniedException otherwise); the management
                      account itself -> ConstraintViolationException CANNOT_CLOSE_MANAGEMENT_ACCOUNT;
                      SUSPENDED -> AccountAlreadyClosedException; PENDING_CLOSURE -> ConflictException
                      (our choice; AWS does not document it); quota: 10% of member accounts, at least
                      10, at most 1000, per rolling 30 days -> ConstraintViolationException
                      CLOSE_ACCOUNT_QUOTA_EXCEEDED. The account goes to Status/State PENDING_CLOSURE,
                      then SUSPENDED after ROOTWARDEN_EMULATOR_CLOSE_SECONDS (default 5), when AWS's
                      "AWS Account Closure Confirmation" mail goes to its root address (aws_mail,
                      through ses_receipt when a receipt rule matches). State CLOSED once the 90-day
                      post-closure period has passed.
  InviteAccountToOrganization  from the management account of an organization with all features;
                      Target {Type: ACCOUNT|EMAIL}; an open invitation to the same account ->
                      DuplicateHandshakeException; an account already in the caller's organization ->
                      HandshakeConstraintViolationException ALREADY_IN_AN_ORGANIZATION.
  ListHandshakesForAccount / DescribeHandshake / AcceptHandshake / DeclineHandshake  as the invited
                      account (the caller's account: access key, X-Moto-Account-Id or an assumed role).
                      Acceptance moves the account (since November 2025 directly from another
                      organization): out of its old organization (ListAccounts no longer lists it,
                      DescribeAccount -> AccountNotFoundException), into the inviter's (JoinedMethod
                      INVITED). Refused when: the account is a management account ->
                      MasterCannotLeaveOrganizationException; it was created in its organization less
                      than 7 days ago -> HandshakeConstraintViolationException
                      ORGANIZATION_MEMBERSHIP_CHANGE_RATE_LIMIT_EXCEEDED; it is enrolled in Control
                      Tower -> AccessDeniedException (an explicit deny in a service control policy,
                      as Control Tower's guardrails are; AWS documents no dedicated error); it is not
                      ACTIVE -> HandshakeConstraintViolationException TARGET_ACCOUNT_VALIDATION_FAILURE.
Every other Organizations action goes to moto, after due closures are completed.

Account API (rest-json): POST /putContactInformation, /getContactInformation (AccountId optional:
the caller's own account without it; the management account may not name itself ->
AccessDeniedException; a member of another organization -> AccessDeniedException; never set ->
ResourceNotFoundException). Alternate contacts: alternate_contacts.py, same rules.
An account that left our organization is out of our management account's reach:
foreign_account() (used by the Account API, contact and root-session extensions).

Test-only endpoints (plain JSON):
  POST /_rootwarden/organizations/accounts/{id}/close/advance   complete a pending closure now
  POST /_rootwarden/organizations/accounts/{id}/reinstate       AWS Support reinstates (within 90
                                                                days of closure; 409 afterwards)
  PUT  /_rootwarden/organizations/accounts/{id}  {"created_days_ago"?, "closed_days_ago"?,
                                                  "control_tower"?}  set dates and flags
                                                  (control_tower also creates / deletes the
                                                  account's AWSControlTowerExecution role)
  GET  /_rootwarden/organizations/accounts/{id}                 what the emulator holds
  POST /_rootwarden/organizations/customer-org   {"account_id", "management_account_id"?,
        "email"?, "notes"?}  a second organization (its own management account, all features)
        that invites account_id -> {"organization_id", "management_account_id", "handshake_id"}
"""
from __future__ import annotations

import json
import os
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, field

from . import aws_mail, member_roles
from .common import Req, Resp, log, new_request_id, plain_json, rest_json_error, rest_json_ok

TARGET_PREFIX = "AWSOrganizationsV20161128."
CONTACT_PATHS = {"/putContactInformation", "/getContactInformation"}
POST_CLOSURE_DAYS = 90
MIN_AGE_DAYS = 7
HANDSHAKE_DAYS = 15
DAY = 86400.0

TEST_RE = re.compile(r"^/_rootwarden/organizations/(?:accounts/(\d{12})(/close/advance|/reinstate)?|"
                     r"(customer-org))/?$")


def close_delay() -> float:
    try:
        return float(os.environ.get("ROOTWARDEN_EMULATOR_CLOSE_SECONDS", 5))
    except ValueError:
        return 5.0


def org_error(code: str, message: str, status: int = 400, reason: str | None = None) -> Resp:
    payload = {"__type": code, "Message": message}
    if reason:
        payload["Reason"] = reason
    return Resp(status, json.dumps(payload), {"x-amzn-RequestId": new_request_id()},
                "application/x-amz-json-1.1")


def org_ok(payload: dict) -> Resp:
    return Resp(200, json.dumps(payload), {"x-amzn-RequestId": new_request_id()},
                "application/x-amz-json-1.1")


def caller_account(req: Req) -> str:
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if req.headers.get("x-moto-account-id"):
        return req.headers["x-moto-account-id"]
    from moto.iam.models import get_account_id_from

    return get_account_id_from(req.access_key or "")


def _backends():
    from moto.organizations.models import organizations_backends
    return organizations_backends


def _org_backend_of(account_id: str):
    """The backend holding the organization account_id belongs to (management or member)."""
    be = _backends()
    own = be[account_id]["aws"]
    if own.org is not None:
        return own
    owner = be.master_accounts.get(account_id)
    if owner:
        return be[owner[0]][owner[1]]
    return None


def _find(be, account_id: str):
    return next((a for a in be.accounts if a.id == account_id), None)


def foreign_account(caller: str, account_id: str) -> bool:
    """Whether `account_id` belongs to an organization `caller` does not manage (for one that
    left ours: the customer's). Such an account is out of reach of our management account's
    sts:AssumeRoot and Account API calls. An account in no organization (a seeded test account)
    is not foreign; neither is the caller's own."""
    if caller == account_id:
        return False
    be = _org_backend_of(account_id)
    if be is None or be.org is None or _find(be, account_id) is None:
        return False
    return be.org.master_account_id != caller


@dataclass
class Closure:
    requested_at: float
    due_at: float
    suspended_at: float | None = None
    org_id: str = ""


@dataclass
class Store:
    lock: threading.RLock = field(default_factory=threading.RLock)
    closures: dict[str, Closure] = field(default_factory=dict)       # account -> closure
    history: dict[str, list[float]] = field(default_factory=dict)    # org id -> CloseAccount times
    control_tower: set[str] = field(default_factory=set)
    handshakes: dict[str, dict] = field(default_factory=dict)        # id -> record
    contacts: dict[str, dict] = field(default_factory=dict)          # account -> ContactInformation

    def reset(self) -> None:
        with self.lock:
            self.closures.clear()
            self.history.clear()
            self.control_tower.clear()
            self.handshakes.clear()
            self.contacts.clear()


STORE = Store()


def reset() -> None:
    STORE.reset()


# ------------------------------------------------------------------ closure
def _complete_closure(account_id: str) -> None:
    """PENDING_CLOSURE -> SUSPENDED (idempotent), then AWS's closure mail."""
    with STORE.lock:
        c = STORE.closures.get(account_id)
        if c is None or c.suspended_at is not None:
            return
        be = _org_backend_of(account_id)
        acct = _find(be, account_id) if be is not None else None
        c.suspended_at = time.time()
        if acct is None:
            return
        acct.status = "SUSPENDED"
        acct.state = "SUSPENDED"
        to = acct.email
    log(f"Organizations: account {account_id} is SUSPENDED (closed)")
    aws_mail.send(aws_mail.account_closed(to, account_id), to, f"account closed, account {account_id}")


def tick() -> None:
    """Complete due closures and mark those past the post-closure period CLOSED."""
    now = time.time()
    due = []
    with STORE.lock:
        for aid, c in STORE.closures.items():
            if c.suspended_at is None and now >= c.due_at:
                due.append(aid)
            elif c.suspended_at is not None and now - c.suspended_at >= POST_CLOSURE_DAYS * DAY:
                be = _org_backend_of(aid)
                acct = _find(be, aid) if be is not None else None
                if acct is not None:
                    acct.state = "CLOSED"
    for aid in due:
        _complete_closure(aid)


def _close_account(req: Req, body: dict) -> Resp:
    caller = caller_account(req)
    target = body.get("AccountId")
    if not isinstance(target, str) or not re.fullmatch(r"\d{12}", target):
        return org_error("InvalidInputException", "You provided a value that does not match the "
                         "required pattern.", reason="INVALID_PATTERN")
    be = _backends()[caller]["aws"]
    if be.org is None:
        if caller in _backends().master_accounts:
            return org_error("AccessDeniedException", "You don't have permissions to access this "
                             "resource.")
        return org_error("AWSOrganizationsNotInUseException", "Your account is not a member of "
                         "an organization.")
    if target == be.org.master_account_id:
        return org_error("ConstraintViolationException", "You can't close the management account "
                         "with the CloseAccount operation.", reason="CANNOT_CLOSE_MANAGEMENT_ACCOUNT")
    with STORE.lock:
        acct = _find(be, target)
        if acct is None:
            return org_error("AccountNotFoundException", "You specified an account that doesn't "
                             "exist.")
        if acct.status == "SUSPENDED":
            return org_error("AccountAlreadyClosedException", "You attempted to close an account "
                             "that is already closed.")
        if acct.status == "PENDING_CLOSURE":
            return org_error("ConflictException", "The request failed because it conflicts with the "
                             "current state of the specified resource.", 409)
        now = time.time()
        members = sum(1 for a in be.accounts if a.id != be.org.master_account_id)
        quota = min(1000, max(10, members // 10))
        hist = [t for t in STORE.history.get(be.org.id, []) if now - t < 30 * DAY]
        STORE.history[be.org.id] = hist
        if len(hist) >= quota:
            again = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(min(hist) + 30 * DAY))
            return org_error("ConstraintViolationException", f"You have exceeded close account "
                             f"quota for the past 30 days ({quota} of {members} member accounts). "
                             f"You can close another account after {again}.",
                             reason="CLOSE_ACCOUNT_QUOTA_EXCEEDED")
        hist.append(now)
        delay = close_delay()
        STORE.closures[target] = Closure(requested_at=now, due_at=now + delay, org_id=be.org.id)
        acct.status = "PENDING_CLOSURE"
        acct.state = "PENDING_CLOSURE"
    log(f"Organizations: CloseAccount {target}: PENDING_CLOSURE, SUSPENDED in {delay:g} s")
    timer = threading.Timer(max(0.0, delay), _complete_closure, args=(target,))
    timer.daemon = True
    timer.start()
    return org_ok({})


# ------------------------------------------------------------------ handshakes
def _hs_id() -> str:
    return "h-" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10))


def _public(h: dict) -> dict:
    now = time.time()
    state = h["State"]
    if state == "REQUESTED" and now >= h["ExpirationTimestamp"]:
        state = h["State"] = "EXPIRED"
    return {k: v for k, v in h.items() if not k.startswith("_")} | {"State": state}


def invite(inviter: str, target_type: str, target_id: str, notes: str | None = None) -> Resp:
    be = _backends()[inviter]["aws"]
    if be.org is None:
        return org_error("AWSOrganizationsNotInUseException", "Your account is not a member of "
                         "an organization.")
    if be.org.master_account_id != inviter:
        return org_error("AccessDeniedException", "You don't have permissions to access this "
                         "resource.")
    if target_type == "EMAIL":
        acct_id = None
        for _a, per in list(_backends().items()):
            for _p, b in list(per.items()):
                for a in list(getattr(b, "accounts", [])):
                    if str(a.email).lower() == target_id.lower():
                        acct_id = a.id
        if acct_id is None:
            return org_error("InvalidInputException", "You provided an invalid email address.",
                             reason="INVALID_PARTY_TYPE_TARGET")
    elif target_type == "ACCOUNT" and re.fullmatch(r"\d{12}", target_id or ""):
        acct_id = target_id
    else:
        return org_error("InvalidInputException", "You specified an invalid value for Target.",
                         reason="INVALID_PARTY_TYPE_TARGET")
    if _find(be, acct_id) is not None:
        return org_error("HandshakeConstraintViolationException", "The account is already a member "
                         "of your organization.", reason="ALREADY_IN_AN_ORGANIZATION")
    now = time.time()
    with STORE.lock:
        for h in STORE.handshakes.values():
            if h["_account"] == acct_id and h["_org"] == be.org.id and _public(h)["State"] == "REQUESTED":
                return org_error("DuplicateHandshakeException", "A handshake with the same action "
                                 "and target already exists.")
        hid = _hs_id()
        resources = [{"Type": "ORGANIZATION", "Value": be.org.id, "Resources": [
            {"Type": "MASTER_EMAIL", "Value": be.org.master_account_email},
            {"Type": "MASTER_NAME", "Value": "Master"},
            {"Type": "ORGANIZATION_FEATURE_SET", "Value": be.org.feature_set}]},
            {"Type": "ACCOUNT", "Value": acct_id}]
        if notes:
            resources.append({"Type": "NOTES", "Value": notes})
        h = {"Id": hid, "Arn": f"arn:aws:organizations::{inviter}:handshake/{be.org.id}/invite/{hid}",
             "Parties": [{"Id": be.org.id, "Type": "ORGANIZATION"},
                         {"Id": acct_id, "Type": "ACCOUNT"}],
             "State": "REQUESTED", "RequestedTimestamp": now,
             "ExpirationTimestamp": now + HANDSHAKE_DAYS * DAY, "Action": "INVITE",
             "Resources": resources, "_account": acct_id, "_org": be.org.id, "_inviter": inviter}
        STORE.handshakes[hid] = h
        out = _public(h)
    log(f"Organizations: {be.org.id} invited account {acct_id} (handshake {hid})")
    return org_ok({"Handshake": out})


def _list_for_account(req: Req, body: dict) -> Resp:
    me = caller_account(req)
    flt = body.get("Filter") or {}
    with STORE.lock:
        hs = [_public(h) for h in STORE.handshakes.values() if h["_account"] == me]
    if flt.get("ActionType"):
        hs = [h for h in hs if h["Action"] == flt["ActionType"]]
    return org_ok({"Handshakes": sorted(hs, key=lambda h: h["RequestedTimestamp"])})


def _get_handshake(req: Req, body: dict) -> tuple[dict | None, Resp | None]:
    hid = body.get("HandshakeId")
    if not isinstance(hid, str) or not re.fullmatch(r"h-[0-9a-z]{8,32}", hid):
        return None, org_error("InvalidInputException", "You provided a value that does not match "
                               "the required pattern.", reason="INVALID_PATTERN")
    me = caller_account(req)
    h = STORE.handshakes.get(hid)
    if h is None or me not in (h["_account"], h["_inviter"]):
        return None, org_error("HandshakeNotFoundException", "We can't find a handshake with the "
                               "HandshakeId that you specified.")
    return h, None


def _respond(req: Req, body: dict, accept: bool) -> Resp:
    with STORE.lock:
        h, err = _get_handshake(req, body)
        if err:
            return err
        if caller_account(req) != h["_account"]:
            return org_error("AccessDeniedException", "You don't have permissions to access this "
                             "resource.")
        state = _public(h)["State"]
        wanted = "ACCEPTED" if accept else "DECLINED"
        if state == wanted:
            return org_error("HandshakeAlreadyInStateException", f"The specified handshake is "
                             f"already in the requested state ({state}).")
        if state != "REQUESTED":
            return org_error("InvalidHandshakeTransitionException", f"You can't perform the "
                             f"operation on the handshake in its current state ({state}).")
        if accept:
            err = _move(h["_account"], h["_inviter"])
            if err:
                return err
        h["State"] = wanted
        out = _public(h)
    log(f"Organizations: handshake {h['Id']} {wanted} by account {h['_account']}")
    return org_ok({"Handshake": out})


def _move(account_id: str, inviter: str) -> Resp | None:
    bks = _backends()
    dest = bks[inviter]["aws"]
    if dest.org is None:
        return org_error("HandshakeConstraintViolationException", "The inviting organization no "
                         "longer exists.", reason="TARGET_ACCOUNT_VALIDATION_FAILURE")
    if bks[account_id]["aws"].org is not None:
        return org_error("MasterCannotLeaveOrganizationException", "You can't remove a management "
                         "account from an organization.")
    src = _org_backend_of(account_id)
    acct = _find(src, account_id) if src is not None else None
    if acct is not None:
        if acct.status != "ACTIVE":
            return org_error("HandshakeConstraintViolationException", f"The account is "
                             f"{acct.status} and can't join an organization.",
                             reason="TARGET_ACCOUNT_VALIDATION_FAILURE")
        if account_id in STORE.control_tower:
            return org_error("AccessDeniedException", "You don't have permissions to access this "
                             "resource: organizations:AcceptHandshake is denied with an explicit "
                             "deny in a service control policy (the account is enrolled in AWS "
                             "Control Tower; unenrol it first).")
        age = time.time() - acct.create_time.timestamp()
        if acct.joined_method == "CREATED" and age < MIN_AGE_DAYS * DAY:
            return org_error("HandshakeConstraintViolationException", "An account created in an "
                             "organization must be at least 7 days old before it can move to "
                             "another organization.",
                             reason="ORGANIZATION_MEMBERSHIP_CHANGE_RATE_LIMIT_EXCEEDED")
        for policy in list(acct.attached_policies):
            if acct in policy.attachments:
                policy.attachments.remove(acct)
        acct.attached_policies = []
        src.accounts.remove(acct)
        log(f"Organizations: account {account_id} departed {src.org.id} (LEFT)")
    else:
        from moto.organizations.models import FakeAccount  # a standalone account joins
        acct = FakeAccount.__new__(FakeAccount)
        acct.__dict__.update(type="ACCOUNT", id=account_id, name=account_id, tags={},
                             email=f"{account_id}@example.com", status="ACTIVE", state="ACTIVE",
                             attached_policies=[],
                             create_account_status_id="car-" + secrets.token_hex(16))
    from moto.core.utils import utcnow
    acct.organization_id = dest.org.id
    acct.master_account_id = dest.org.master_account_id
    acct.region = dest.org.region
    acct.parent_id = dest.org.root_id
    acct.joined_method = "INVITED"
    acct.create_time = utcnow()
    dest.accounts.append(acct)
    from moto.organizations import utils as org_utils
    for policy_id in (org_utils.DEFAULT_SCP_POLICY_ID, org_utils.DEFAULT_RCP_POLICY_ID):
        try:
            dest.attach_policy(PolicyId=policy_id, TargetId=account_id)
        except Exception:
            pass
    bks.master_accounts[account_id] = (inviter, "aws")
    log(f"Organizations: account {account_id} joined {dest.org.id} (INVITED)")
    return None


def handle_organizations(req: Req) -> Resp | None:
    """The Organizations actions answered here; None for moto (after completing due closures)."""
    tick()
    action = (req.target or "")[len(TARGET_PREFIX):]
    if action not in ("CloseAccount", "InviteAccountToOrganization", "ListHandshakesForAccount",
                      "DescribeHandshake", "AcceptHandshake", "DeclineHandshake"):
        return None
    try:
        body = req.json_body() or {}
    except ValueError:
        return org_error("InvalidInputException", "The request body is not valid JSON.")
    if action == "CloseAccount":
        return _close_account(req, body)
    if action == "InviteAccountToOrganization":
        t = body.get("Target") or {}
        return invite(caller_account(req), t.get("Type", ""), t.get("Id", ""), body.get("Notes"))
    if action == "ListHandshakesForAccount":
        return _list_for_account(req, body)
    if action == "DescribeHandshake":
        with STORE.lock:
            h, err = _get_handshake(req, body)
            return err or org_ok({"Handshake": _public(h)})
    return _respond(req, body, accept=action == "AcceptHandshake")


# ------------------------------------------------------------------ contact information
CONTACT_FIELDS = {"FullName": 50, "AddressLine1": 60, "AddressLine2": 60, "AddressLine3": 60,
                  "City": 50, "StateOrRegion": 50, "DistrictOrCounty": 50, "PostalCode": 20,
                  "CountryCode": 2, "PhoneNumber": 25, "CompanyName": 50, "WebsiteUrl": 256}
CONTACT_REQUIRED = ("FullName", "AddressLine1", "City", "PostalCode", "CountryCode", "PhoneNumber")


def _validation(msg: str) -> Resp:
    return rest_json_error("ValidationException", msg, 400)


def _contact_target(req: Req, body: dict) -> tuple[str | None, Resp | None]:
    caller = caller_account(req)
    aid = body.get("AccountId")
    if aid is None:
        return caller, None
    if not isinstance(aid, str) or not re.fullmatch(r"\d{12}", aid):
        return None, _validation(f"1 validation error detected: Value '{aid}' at 'accountId' failed "
                                 "to satisfy constraint: Member must satisfy regular expression "
                                 "pattern: \\d{12}")
    be = _backends()[caller]["aws"]
    if be.org is None or be.org.master_account_id != caller:
        return None, rest_json_error("AccessDeniedException", "User is not authorized to access "
                                     "this account: only the management account or a delegated "
                                     "administrator can specify AccountId.", 403)
    if aid == caller:
        return None, rest_json_error("AccessDeniedException", "The management account can't "
                                     "specify its own AccountId; call the operation without it.",
                                     403)
    if _find(be, aid) is None:
        return None, rest_json_error("AccessDeniedException", f"The account {aid} is not a member "
                                     "of your organization.", 403)
    return aid, None


def handle_contact(req: Req) -> Resp:
    try:
        body = req.json_body() or {}
    except ValueError:
        return _validation("The request body is not valid JSON.")
    aid, err = _contact_target(req, body)
    if err:
        return err
    if req.path == "/getContactInformation":
        with STORE.lock:
            ci = STORE.contacts.get(aid)
        if ci is None:
            return rest_json_error("ResourceNotFoundException", "No contact information found for "
                                   "this account.", 404)
        return rest_json_ok({"ContactInformation": ci})
    ci = body.get("ContactInformation")
    if not isinstance(ci, dict):
        return _validation("1 validation error detected: Value null at 'contactInformation' failed "
                           "to satisfy constraint: Member must not be null")
    for k in CONTACT_REQUIRED:
        if not ci.get(k):
            return _validation(f"1 validation error detected: Value null at 'contactInformation."
                               f"{k[0].lower() + k[1:]}' failed to satisfy constraint: Member must "
                               "not be null")
    clean = {}
    for k, v in ci.items():
        if k not in CONTACT_FIELDS:
            continue
        if not isinstance(v, str) or not (1 <= len(v) <= CONTACT_FIELDS[k]) or (
                k == "CountryCode" and len(v) != 2):
            return _validation(f"1 validation error detected: Value at 'contactInformation."
                               f"{k[0].lower() + k[1:]}' failed to satisfy constraint: Member must "
                               f"have length between {2 if k == 'CountryCode' else 1} and "
                               f"{CONTACT_FIELDS[k]}")
        clean[k] = v
    if not re.fullmatch(r"[\s0-9()+-]+", clean["PhoneNumber"]):
        return _validation("1 validation error detected: Value at 'contactInformation.phoneNumber' "
                           "failed to satisfy constraint: Member must satisfy regular expression "
                           "pattern: [\\s0-9()+-]+")
    if clean["CountryCode"] in ("US", "CA", "GB", "DE", "JP", "IN", "BR") and "StateOrRegion" not in clean:
        return _validation("StateOrRegion is required for this country.")
    with STORE.lock:
        STORE.contacts[aid] = clean
    log(f"Account {aid}: contact information updated")
    return rest_json_ok({})


# ------------------------------------------------------------------ test-only endpoints
def test_endpoint(req: Req) -> Resp:
    m = TEST_RE.match(req.path)
    if not m:
        return plain_json(404, {"error": f"unknown test endpoint {req.path}"})
    account_id, rest, customer = m.group(1), m.group(2) or "", m.group(3)
    try:
        data = req.json_body() if req.method in ("PUT", "POST") and req.body().strip() else {}
    except ValueError as e:
        return plain_json(400, {"error": f"invalid JSON: {e}"})
    if not isinstance(data, dict):
        return plain_json(400, {"error": "body must be a JSON object"})
    if customer:
        return _customer_org(req, data) if req.method == "POST" else plain_json(405, {"error": "POST"})
    tick()
    if rest == "/close/advance" and req.method == "POST":
        with STORE.lock:
            c = STORE.closures.get(account_id)
            if c is None or c.suspended_at is not None:
                return plain_json(409, {"error": "no pending closure"})
            c.due_at = time.time()
        _complete_closure(account_id)
        return plain_json(200, {"status": "SUSPENDED"})
    if rest == "/reinstate" and req.method == "POST":
        with STORE.lock:
            c = STORE.closures.get(account_id)
            if c is None or c.suspended_at is None:
                return plain_json(409, {"error": "the account is not closed"})
            if time.time() - c.suspended_at >= POST_CLOSURE_DAYS * DAY:
                return plain_json(409, {"error": "the 90-day post-closure period has passed; the "
                                        "closure is permanent"})
            be = _org_backend_of(account_id)
            acct = _find(be, account_id) if be is not None else None
            if acct is None:
                return plain_json(404, {"error": "unknown account"})
            acct.status = acct.state = "ACTIVE"
            del STORE.closures[account_id]
        log(f"Organizations: account {account_id} reinstated by AWS Support")
        return plain_json(200, {"status": "ACTIVE"})
    if rest:
        return plain_json(405, {"error": "use POST"})
    be = _org_backend_of(account_id)
    acct = _find(be, account_id) if be is not None else None
    if req.method == "PUT":
        if acct is None:
            return plain_json(404, {"error": "unknown account"})
        from datetime import timedelta

        from moto.core.utils import utcnow
        with STORE.lock:
            if "created_days_ago" in data:
                acct.create_time = utcnow() - timedelta(days=float(data["created_days_ago"]))
            if "control_tower" in data:
                (STORE.control_tower.add if data["control_tower"] else
                 STORE.control_tower.discard)(account_id)
                member_roles.set_control_tower(account_id, acct.master_account_id,
                                               bool(data["control_tower"]))
            if "closed_days_ago" in data:
                c = STORE.closures.get(account_id)
                if c is None or c.suspended_at is None:
                    return plain_json(409, {"error": "the account is not closed"})
                c.suspended_at = time.time() - float(data["closed_days_ago"]) * DAY
        tick()
    elif req.method != "GET":
        return plain_json(405, {"error": "use GET or PUT"})
    with STORE.lock:
        c = STORE.closures.get(account_id)
        return plain_json(200 if acct is not None else 404, {
            "account_id": account_id, "organization_id": getattr(acct, "organization_id", None),
            "status": getattr(acct, "status", None), "state": getattr(acct, "state", None),
            "joined_method": getattr(acct, "joined_method", None),
            "created": acct.create_time.timestamp() if acct is not None else None,
            "control_tower": account_id in STORE.control_tower,
            "closure": None if c is None else {"requested_at": c.requested_at, "due_at": c.due_at,
                                               "suspended_at": c.suspended_at}})


def _customer_org(req: Req, data: dict) -> Resp:
    target = data.get("account_id")
    if not isinstance(target, str) or not re.fullmatch(r"\d{12}", target):
        return plain_json(400, {"error": 'body must be {"account_id": "<12 digits>", ...}'})
    mgmt = data.get("management_account_id") or "".join(secrets.choice("0123456789") for _ in range(12))
    if not re.fullmatch(r"\d{12}", mgmt):
        return plain_json(400, {"error": "management_account_id must be 12 digits"})
    be = _backends()[mgmt]["aws"]
    if be.org is None:
        try:
            be.create_organization(region=req.region, FeatureSet="ALL")
        except Exception as e:
            return plain_json(409, {"error": f"cannot create the organization: {e}"})
        if data.get("email"):
            be.org.master_account_email = data["email"]
    resp = invite(mgmt, "ACCOUNT", target, data.get("notes"))
    if resp.status != 200:
        return Resp(resp.status, resp.body, {}, "application/json")
    h = json.loads(resp.body)["Handshake"]
    return plain_json(200, {"organization_id": be.org.id, "management_account_id": mgmt,
                            "handshake_id": h["Id"]})
