"""Account API alternate contacts (rest-json, signing name `account`): POST
/putAlternateContact, /getAlternateContact, /deleteAlternateContact, as AWS documents them.

moto 5.2.5 answers these paths without organization rules and without validation; here they
follow the same rules as the contact information (org_lifecycle._contact_target): `AccountId`
omitted = the caller's own account; a member account only from its organization's management
account (AccessDeniedException otherwise, and for the management account naming itself or an
account of another organization, such as one that left). AlternateContactType BILLING |
OPERATIONS | SECURITY; EmailAddress 1-254 characters with an @, Name 1-64, Title 1-50,
PhoneNumber 1-25 of `[\\s0-9()+-]`. Get / Delete of a type never set -> ResourceNotFoundException.
"""
from __future__ import annotations

import re
import threading

from . import org_lifecycle
from .common import Req, Resp, log, rest_json_error, rest_json_ok

PATHS = {"/putAlternateContact", "/getAlternateContact", "/deleteAlternateContact"}
TYPES = ("BILLING", "OPERATIONS", "SECURITY")
LIMITS = {"EmailAddress": 254, "Name": 64, "Title": 50, "PhoneNumber": 25}

_lock = threading.Lock()
_contacts: dict[tuple[str, str], dict] = {}  # (account, type) -> AlternateContact


def reset() -> None:
    with _lock:
        _contacts.clear()


def _validation(msg: str) -> Resp:
    return rest_json_error("ValidationException", msg, 400)


def _field(name: str) -> str:
    return name[0].lower() + name[1:]


def handle(req: Req) -> Resp:
    try:
        body = req.json_body() or {}
    except ValueError:
        return _validation("The request body is not valid JSON.")
    if not isinstance(body, dict):
        return _validation("The request body must be a JSON object.")
    aid, err = org_lifecycle._contact_target(req, body)
    if err:
        return err
    kind = body.get("AlternateContactType")
    if kind not in TYPES:
        return _validation(f"1 validation error detected: Value '{kind}' at 'alternateContactType' "
                           "failed to satisfy constraint: Member must satisfy enum value set: "
                           "[SECURITY, OPERATIONS, BILLING]")
    key = (aid, kind)
    if req.path == "/getAlternateContact":
        with _lock:
            got = _contacts.get(key)
        if got is None:
            return rest_json_error("ResourceNotFoundException", "No contact of the inputted "
                                   "alternate contact type found.", 404)
        return rest_json_ok({"AlternateContact": got})
    if req.path == "/deleteAlternateContact":
        with _lock:
            gone = _contacts.pop(key, None)
        if gone is None:
            return rest_json_error("ResourceNotFoundException", "No contact of the inputted "
                                   "alternate contact type found.", 404)
        log(f"Account {aid}: alternate contact {kind} deleted")
        return rest_json_ok({})
    contact = {"AlternateContactType": kind}
    for name, limit in LIMITS.items():
        v = body.get(name)
        if v is None:
            return _validation(f"1 validation error detected: Value null at '{_field(name)}' failed "
                               "to satisfy constraint: Member must not be null")
        if not isinstance(v, str) or not (1 <= len(v) <= limit):
            return _validation(f"1 validation error detected: Value at '{_field(name)}' failed to "
                               f"satisfy constraint: Member must have length between 1 and {limit}")
        contact[name] = v
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", contact["EmailAddress"]):
        return _validation("1 validation error detected: Value at 'emailAddress' failed to satisfy "
                           "constraint: Member must satisfy regular expression pattern: "
                           "[\\s]*[\\w+=.#|!&-]+@[\\w.-]+\\.[\\w]+[\\s]*")
    if not re.fullmatch(r"[\s0-9()+-]+", contact["PhoneNumber"]):
        return _validation("1 validation error detected: Value at 'phoneNumber' failed to satisfy "
                           "constraint: Member must satisfy regular expression pattern: "
                           "[\\s0-9()+-]+")
    with _lock:
        _contacts[key] = contact
    log(f"Account {aid}: alternate contact {kind} set")
    return rest_json_ok({})
