"""The request log: one record per AWS request the emulator served, in arrival order.

Off by default (the test suite does not pay for it). `make bench-calls` turns it on with
POST /_rootwarden/requests {"enabled": true} and reads it with GET /_rootwarden/requests?after=SEQ:
    {"records": [{"seq", "t", "caller", "service", "op", "status", "target"}], "last": SEQ}
`caller` is the signer as AWS would name it (user ARN, assumed-role session ARN, or
`root-session:<account>` for an AssumeRoot session's key); `op` is the API operation
(X-Amz-Target suffix, query Action, or moto's router for REST protocols: S3, Lambda, SESv2, ...).
Unlike the IAM call log (one record per distinct (caller, action, resource)), this counts every
request once, however many IAM checks it implies (a TransactWriteItems of five items is one
request). /_rootwarden/* and /moto-api/* are not AWS requests and are not logged. DELETE clears it.
"""
from __future__ import annotations

import io
import threading
import time
from collections import deque

from .common import Req, plain_json

MAX_RECORDS = 500_000

_lock = threading.Lock()
_state: dict = {"enabled": False, "seq": 0}
_records: deque = deque(maxlen=MAX_RECORDS)

# moto's router names for REST services, by signing name (SESv2 signs as "ses" under /v2/).
_REST = {"s3": "s3", "lambda": "lambda", "scheduler": "scheduler", "account": "account"}


def enabled() -> bool:
    return _state["enabled"]


def _rest_op(req: Req, service: str) -> str | None:
    from moto.core.request import Request
    from moto.core.routing import get_service_router

    env = dict(req.environ)
    env["wsgi.input"] = io.BytesIO(req.body())
    try:
        op, _ = get_service_router(service).match(Request(env))
        return op.name
    except Exception:
        return None


def operation(req: Req) -> tuple[str, str]:
    """(service, operation) of one AWS request."""
    service = req.service or "unknown"
    if req.path.startswith("/lambda-url/"):
        return "lambda", "InvokeFunctionUrl"
    op = req.action_name()
    if op:
        return service, op
    if service == "ses" and req.path.startswith("/v2/"):
        service = "sesv2"
    router = "sesv2" if service == "sesv2" else _REST.get(service)
    if router:
        op = _rest_op(req, router)
    return service, op or f"{req.method} {req.path.split('/')[1] if '/' in req.path else ''}"


def target(req: Req, service: str) -> str:
    """What a DynamoDB request touches (tables, and the key attribute names and values of a
    GetItem/PutItem/UpdateItem/DeleteItem), so `CALLS_BENCH_TRACE=1` can show which reads repeat.
    Empty for other services. Keys are identifiers, never secrets."""
    if service != "dynamodb":
        return ""
    try:
        body = req.json_body()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""

    def one(item: dict) -> str:
        table = str(item.get("TableName", ""))
        key = item.get("Key") or {}
        if not key and isinstance(item.get("Item"), dict):
            return table + " put"
        if isinstance(key, dict) and key:
            parts = []
            for name, value in sorted(key.items()):
                v = next(iter(value.values()), "") if isinstance(value, dict) and value else ""
                parts.append(f"{name}={str(v)[:60]}")
            return f"{table} {' '.join(parts)}"
        if "KeyConditionExpression" in item:
            return f"{table} {item.get('IndexName', '')} {item['KeyConditionExpression']}".strip()
        return table

    if isinstance(body.get("TransactItems"), list):
        parts = []
        for t in body["TransactItems"]:
            if isinstance(t, dict) and t:
                kind, item = next(iter(t.items()))
                parts.append(f"{kind}({one(item) if isinstance(item, dict) else ''})")
        return "; ".join(parts)
    return one(body)


def caller(req: Req, roots) -> str:
    from .iam import principals

    akid = req.access_key
    if not akid:
        return "unsigned"
    sess = roots.session_for(akid)
    if sess is not None:
        return f"root-session:{sess.account_id}"
    try:
        p, _ = principals.resolve(akid)
    except Exception:
        p = None
    return p.arn if p is not None else f"unknown-key:{akid}"


class Pending:
    """One request being served: named before routing (the body is still there to route on),
    recorded when its status line is written."""

    def __init__(self, req: Req, roots) -> None:
        self.skip = req.path.startswith(("/_rootwarden/", "/moto-api/"))
        if not self.skip:
            self.service, self.op = operation(req)
            self.caller = caller(req, roots)
            self.target = target(req, self.service)

    def wrap(self, start_response):
        if self.skip:
            return start_response

        def recording(status, headers, *rest):
            try:
                code = int(str(status).split(" ", 1)[0])
            except ValueError:
                code = 0
            with _lock:
                _state["seq"] += 1
                _records.append({"seq": _state["seq"], "t": time.time(), "caller": self.caller,
                                 "service": self.service, "op": self.op, "status": code,
                                 "target": self.target})
            return start_response(status, headers, *rest)

        return recording


def endpoint(req: Req):
    if req.method == "GET":
        try:
            after = int((req.query.get("after") or ["0"])[0])
        except ValueError:
            return plain_json(400, {"error": "after must be an integer"})
        with _lock:
            out = [r for r in _records if r["seq"] > after]
            last = _state["seq"]
        return plain_json(200, {"enabled": _state["enabled"], "records": out, "last": last})
    if req.method == "POST":
        try:
            body = req.json_body()
        except ValueError as e:
            return plain_json(400, {"error": f"invalid JSON: {e}"})
        if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
            return plain_json(400, {"error": 'body must be {"enabled": true|false}'})
        _state["enabled"] = body["enabled"]
        return plain_json(200, {"enabled": _state["enabled"], "last": _state["seq"]})
    if req.method == "DELETE":
        with _lock:
            _records.clear()
        return plain_json(200, {"cleared": True, "last": _state["seq"]})
    return plain_json(405, {"error": f"{req.method} not allowed"})
