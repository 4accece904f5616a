"""AWS Signature Version 4, recomputed over the request as received.

Header auth (`Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`)
and presigned query auth (X-Amz-Algorithm ... X-Amz-Signature) are both verified. Canonical URI
as the SDKs build it: S3 signs the path exactly as sent (single encoding, no normalisation);
every other service signs the normalised path encoded once more. The payload hash is the
x-amz-content-sha256 header when present (S3: UNSIGNED-PAYLOAD and the STREAMING-* markers are
accepted as AWS accepts them; per-chunk signatures of aws-chunked bodies are not re-verified),
otherwise SHA-256 of the body. Requests more than 15 minutes from the server clock are refused.
"""
from __future__ import annotations

import calendar
import hashlib
import hmac
import posixpath
import re
import time
from dataclasses import dataclass
from urllib.parse import quote, unquote

MAX_SKEW_SECONDS = 15 * 60
ALGORITHM = "AWS4-HMAC-SHA256"
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request\s*,\s*"
    r"SignedHeaders=([A-Za-z0-9;_.-]+)\s*,\s*Signature=([0-9a-fA-F]{64})\s*$")
UNSIGNED_MARKERS = {"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
                    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"}


@dataclass(frozen=True)
class Signed:
    access_key: str
    date: str           # YYYYMMDD of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    presigned: bool
    token: str | None
    expires: int | None = None


def parse(req) -> Signed | None:
    """The SigV4 parameters of a request, or None when it carries no SigV4 auth at all."""
    auth = req.headers.get("authorization", "").strip()
    if auth:
        m = _AUTH_RE.match(auth)
        if not m:
            return Signed("", "", "", "", (), "", "", False, None)  # malformed: fails verification
        akid, date, region, service, signed, sig = m.groups()
        return Signed(akid, date, region, service, tuple(signed.lower().split(";")), sig.lower(),
                      req.headers.get("x-amz-date", "") or "", False,
                      req.headers.get("x-amz-security-token"))
    q = req.query
    if "X-Amz-Signature" in q or "X-Amz-Credential" in q:
        cred = (q.get("X-Amz-Credential") or [""])[0].split("/")
        if len(cred) != 5 or q.get("X-Amz-Algorithm", [""])[0] != ALGORITHM:
            return Signed("", "", "", "", (), "", "", True, None)
        try:
            expires = int(q.get("X-Amz-Expires", ["0"])[0])
        except ValueError:
            expires = -1
        return Signed(cred[0], cred[1], cred[2], cred[3],
                      tuple(q.get("X-Amz-SignedHeaders", [""])[0].lower().split(";")),
                      q.get("X-Amz-Signature", [""])[0].lower(), q.get("X-Amz-Date", [""])[0], True,
                      (q.get("X-Amz-Security-Token") or [None])[0], expires)
    return None


def _amz_time(v: str) -> float | None:
    """Epoch seconds of an ISO 8601 basic timestamp (20261201T144840Z), or None."""
    if len(v) != 16 or v[8] != "T" or v[15] != "Z" or not (v[:8] + v[9:15]).isdigit():
        return None
    try:
        return calendar.timegm((int(v[:4]), int(v[4:6]), int(v[6:8]), int(v[9:11]), int(v[11:13]),
                                int(v[13:15]), 0, 0, 0)) if 1 <= int(v[4:6]) <= 12 else None
    except (ValueError, OverflowError):
        return None


def _sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


_key_cache: dict[tuple[str, str, str, str], bytes] = {}


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    ck = (secret, date, region, service)
    k = _key_cache.get(ck)
    if k is None:
        k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
        for part in (region, service, "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        if len(_key_cache) > 4096:
            _key_cache.clear()
        _key_cache[ck] = k
    return k


def _normalize(path: str) -> str:
    """botocore's / the Rust SDK's path normalisation (dot segments, repeated slashes)."""
    if not path:
        return "/"
    norm = posixpath.normpath(re.sub(r"/{2,}", "/", path))
    if path.endswith("/") and norm != "/":
        norm += "/"
    return norm if norm.startswith("/") else "/" + norm


def raw_path(req) -> str:
    raw = req.environ.get("RAW_URI") or req.environ.get("REQUEST_URI") or ""
    if raw:
        if "://" in raw.split("?", 1)[0]:
            raw = "/" + raw.split("://", 1)[1].split("/", 1)[-1]
        return raw.split("?", 1)[0] or "/"
    return quote(req.path, safe="/-_.~")


def canonical_uri(req, service: str) -> str:
    path = raw_path(req)
    if service == "s3":
        return path
    return quote(_normalize(path), safe="/-_.~")


def canonical_query(qs: str, drop_signature: bool) -> str:
    pairs = []
    for part in qs.split("&") if qs else []:
        if not part:
            continue
        k, _, v = part.partition("=")
        k, v = unquote(k), unquote(v)
        if drop_signature and k == "X-Amz-Signature":
            continue
        pairs.append((quote(k, safe="-_.~"), quote(v, safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def verify(req, s: Signed, secret: str, now: float | None = None) -> str:
    """"" when the signature is right, else why not (for logs and error messages)."""
    if not s.access_key or not s.signature or not s.signed_headers:
        return "malformed authorization"
    now = time.time() if now is None else now
    t = _amz_time(s.amz_date)
    if t is None:
        return "missing or malformed X-Amz-Date"
    if not s.amz_date.startswith(s.date):
        return "X-Amz-Date does not match the credential scope date"
    if s.presigned:
        if s.expires is None or s.expires < 1 or s.expires > 7 * 24 * 3600:
            return "X-Amz-Expires must be between 1 second and 7 days"
        if now > t + s.expires:
            return "Request has expired"
        if t > now + MAX_SKEW_SECONDS:
            return "Signature not yet current"
    elif abs(now - t) > MAX_SKEW_SECONDS:
        return (f"Signature expired: {s.amz_date} is now earlier or later than the server time by "
                "more than 15 minutes")
    if "host" not in s.signed_headers:
        return "the Host header must be signed"
    if s.presigned:
        payload = "UNSIGNED-PAYLOAD"
        if s.service != "s3":
            payload = _sha256(req.body())
    else:
        declared = req.headers.get("x-amz-content-sha256")
        if declared is None:
            payload = _sha256(req.body())
        elif declared in UNSIGNED_MARKERS:
            if s.service != "s3":
                return "unsigned payloads are accepted by S3 only"
            payload = declared
        else:
            if declared.lower() != _sha256(req.body()):
                return "The provided x-amz-content-sha256 header does not match what was computed."
            payload = declared
    lines = []
    for name in s.signed_headers:
        v = req.headers.get(name)
        if v is None:
            return f"signed header {name} is missing"
        lines.append(f"{name}:{' '.join(v.strip().split())}\n")
    canonical = "\n".join([req.method, canonical_uri(req, s.service),
                           canonical_query(req.environ.get("QUERY_STRING", ""), s.presigned),
                           "".join(lines), ";".join(s.signed_headers), payload])
    scope = f"{s.date}/{s.region}/{s.service}/aws4_request"
    to_sign = f"{ALGORITHM}\n{s.amz_date}\n{scope}\n{_sha256(canonical.encode())}"
    expected = hmac.new(signing_key(secret, s.date, s.region, s.service), to_sign.encode(),
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, s.signature):
        return ("The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method.")
    return ""
