"""Request parsing and AWS-shaped error/response helpers shared by the extensions."""
from __future__ import annotations

import io
import json
import re
import sys
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

DEFAULT_REGION = "us-east-1"
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"

_CRED_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")

_log_lock = threading.Lock()


def log(msg: str) -> None:
    with _log_lock:
        stamp = datetime.now(timezone.utc).strftime("%H:%M:%S.%f")[:-3]
        sys.stderr.write(f"[emulator {stamp}] {msg}\n")
        sys.stderr.flush()


def new_request_id() -> str:
    return str(uuid.uuid4())


def iso_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Req:
    """A parsed view of one WSGI request (body read lazily, then re-wound for moto)."""

    environ: dict
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    access_key: str | None = None
    region: str = DEFAULT_REGION
    service: str | None = None
    _body: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_environ(cls, environ: dict) -> Req:
        headers = {}
        for k, v in environ.items():
            if k.startswith("HTTP_"):
                headers[k[5:].replace("_", "-").lower()] = v
        if "CONTENT_TYPE" in environ:
            headers["content-type"] = environ["CONTENT_TYPE"]
        if "CONTENT_LENGTH" in environ:
            headers["content-length"] = environ["CONTENT_LENGTH"]
        path = environ.get("PATH_INFO", "") or "/"
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        req = cls(environ=environ, method=environ.get("REQUEST_METHOD", "GET").upper(),
                  path=path, query=query, headers=headers)
        auth = headers.get("authorization", "")
        m = _CRED_RE.search(auth)
        if not m and "X-Amz-Credential" in query:
            parts = query["X-Amz-Credential"][0].split("/")
            if len(parts) >= 5:
                req.access_key, req.region, req.service = parts[0], parts[2], parts[3]
        elif m:
            req.access_key, req.region, req.service = m.group(1), m.group(3), m.group(4)
        return req

    def body(self) -> bytes:
        """Read the whole body once and put it back so moto can read it again."""
        if self._body is None:
            env = self.environ
            stream = env.get("wsgi.input")
            data = b""
            try:
                length = int(env.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if stream is not None:
                if length > 0:
                    data = stream.read(length)
                elif env.get("wsgi.input_terminated"):
                    data = stream.read()
            self._body = data
            env["wsgi.input"] = io.BytesIO(data)
            env["CONTENT_LENGTH"] = str(len(data))
        return self._body

    @property
    def is_form(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")

    def form(self) -> dict[str, str]:
        """Query-protocol parameters: form body merged over the query string."""
        params = {k: v[0] for k, v in self.query.items()}
        if self.is_form:
            body = self.body().decode("utf-8", "replace")
            for k, v in parse_qs(body, keep_blank_values=True).items():
                params[k] = v[0]
        return params

    def json_body(self) -> dict:
        raw = self.body()
        if not raw.strip():
            return {}
        return json.loads(raw)

    @property
    def target(self) -> str | None:
        return self.headers.get("x-amz-target")

    def protocol(self) -> str:
        """Best guess of the AWS protocol, to answer errors in the caller's format."""
        if self.target:
            return "json"
        if self.service == "s3":
            return "rest-xml-s3"
        if self.is_form or "Action" in self.query:
            return "query"
        return "rest-json"

    def action_name(self) -> str | None:
        if self.target:
            return self.target.split(".")[-1]
        if self.is_form or "Action" in self.query:
            return self.form().get("Action")
        return None


# ---------------------------------------------------------------- responses

StartResponse = Callable[..., Any]


class Resp:
    def __init__(self, status: int, body: bytes | str, headers: dict[str, str] | None = None,
                 content_type: str = "text/xml"):
        self.status = status
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.headers = dict(headers or {})
        self.headers.setdefault("Content-Type", content_type)
        # run (in a new thread) once the response has been written to the caller
        self.after: list[Callable[[], None]] = []

    def __call__(self, start_response: StartResponse) -> Iterable[bytes]:
        from http import HTTPStatus

        try:
            reason = HTTPStatus(self.status).phrase
        except ValueError:
            reason = "Unknown"
        hdrs = list(self.headers.items()) + [("Content-Length", str(len(self.body)))]
        start_response(f"{self.status} {reason}", hdrs)
        if self.after:
            return _AfterResponse(self.body, self.after)
        return [self.body]


class _AfterResponse:
    """A WSGI body whose close() (called by the server after the last byte is sent) starts the
    response's `after` callbacks in a background thread: work the caller must not wait for, and
    that may call back into the emulator (e.g. the mail AWS sends after an API call)."""

    def __init__(self, body: bytes, after: list[Callable[[], None]]) -> None:
        self.body = body
        self.after = list(after)

    def __iter__(self):
        yield self.body

    def close(self) -> None:
        after, self.after = self.after, []
        if not after:
            return

        def run() -> None:
            for fn in after:
                try:
                    fn()
                except Exception as e:  # logged, never raised into the server
                    log(f"after-response task failed: {e}")

        threading.Thread(target=run, name="after-response", daemon=True).start()


def xml_elem(name: str, value: Any) -> str:
    """Render a value as query-protocol XML: dict -> children, list -> <member>s, bool -> true/false."""
    if value is None:
        return ""
    if isinstance(value, dict):
        inner = "".join(xml_elem(k, v) for k, v in value.items())
        return f"<{name}>{inner}</{name}>"
    if isinstance(value, list):
        inner = "".join(xml_elem("member", v) for v in value)
        return f"<{name}>{inner}</{name}>"
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{escape(str(value))}</{name}>"


def query_result(action: str, result: dict | None, ns: str, request_id: str | None = None,
                 raw_result_xml: str | None = None) -> Resp:
    rid = request_id or new_request_id()
    if raw_result_xml is not None:
        inner = f"<{action}Result>{raw_result_xml}</{action}Result>"
    elif result is None:
        inner = ""
    else:
        inner = xml_elem(f"{action}Result", result)
    body = (f'<{action}Response xmlns="{ns}">{inner}'
            f"<ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></{action}Response>")
    return Resp(200, body, {"x-amzn-RequestId": rid}, "text/xml")


def query_error(code: str, message: str, status: int, ns: str | None = None, sender: bool = True) -> Resp:
    rid = new_request_id()
    xmlns = f' xmlns="{ns}"' if ns else ""
    body = (f"<ErrorResponse{xmlns}><Error><Type>{'Sender' if sender else 'Receiver'}</Type>"
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{rid}</RequestId></ErrorResponse>")
    return Resp(status, body, {"x-amzn-RequestId": rid}, "text/xml")


def json_error(code: str, message: str, status: int = 400) -> Resp:
    rid = new_request_id()
    return Resp(status, json.dumps({"__type": code, "message": message}),
                {"x-amzn-RequestId": rid}, "application/x-amz-json-1.1")


def rest_json_error(code: str, message: str, status: int) -> Resp:
    rid = new_request_id()
    return Resp(status, json.dumps({"message": message}),
                {"x-amzn-RequestId": rid, "x-amzn-ErrorType": code}, "application/json")


def rest_json_ok(payload: dict) -> Resp:
    rid = new_request_id()
    return Resp(200, json.dumps(payload), {"x-amzn-RequestId": rid}, "application/json")


def s3_error(code: str, message: str, status: int) -> Resp:
    rid = new_request_id()
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message><RequestId>{rid}</RequestId></Error>")
    return Resp(status, body, {"x-amz-request-id": rid}, "application/xml")


def plain_json(status: int, payload: Any) -> Resp:
    return Resp(status, json.dumps(payload), {}, "application/json")


def access_denied_for(req: Req, message: str) -> Resp:
    """AccessDenied in the format of the protocol the caller used."""
    proto = req.protocol()
    if proto == "json":
        return json_error("AccessDeniedException", message, 400)
    if proto == "rest-xml-s3":
        return s3_error("AccessDenied", "Access Denied", 403)
    if proto == "query":
        ns = IAM_NS if req.service == "iam" else STS_NS if req.service == "sts" else None
        return query_error("AccessDenied", message, 403, ns)
    return rest_json_error("AccessDeniedException", message, 403)


def expired_token_for(req: Req) -> Resp:
    msg = "The security token included in the request is expired"
    proto = req.protocol()
    if proto == "json":
        return json_error("ExpiredTokenException", msg, 400)
    if proto == "rest-xml-s3":
        return s3_error("ExpiredToken", "The provided token has expired.", 400)
    if proto == "query":
        ns = IAM_NS if req.service == "iam" else STS_NS if req.service == "sts" else None
        return query_error("ExpiredToken", msg, 403, ns)
    return rest_json_error("ExpiredTokenException", msg, 403)


def invalid_token_for(req: Req) -> Resp:
    msg = "The security token included in the request is invalid."
    proto = req.protocol()
    if proto == "json":
        return json_error("UnrecognizedClientException", msg, 400)
    if proto == "rest-xml-s3":
        return s3_error("InvalidToken", "The provided token is malformed or otherwise invalid.", 400)
    if proto == "query":
        ns = IAM_NS if req.service == "iam" else STS_NS if req.service == "sts" else None
        return query_error("InvalidClientTokenId", msg, 403, ns)
    return rest_json_error("UnrecognizedClientException", msg, 403)
