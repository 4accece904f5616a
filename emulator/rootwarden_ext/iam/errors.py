"""Authentication and authorization errors in each protocol's AWS shape.

              query (sts iam sns ses)   JSON (ddb kms sfn sm logs)   rest-json (lambda sesv2      s3
                                                                     scheduler account)
  denied      403 AccessDenied          400 AccessDeniedException    403 AccessDeniedException    403 AccessDenied
  unknown key 403 InvalidClientTokenId  400 UnrecognizedClient...    403 UnrecognizedClient...    403 InvalidAccessKeyId
  bad token   403 InvalidClientTokenId  400 UnrecognizedClient...    403 UnrecognizedClient...    400 InvalidToken
  signature   403 SignatureDoesNotMatch 400 InvalidSignatureException 403 InvalidSignatureException 403 SignatureDoesNotMatch
  expired     403 ExpiredToken          400 ExpiredTokenException    403 ExpiredTokenException    400 ExpiredToken
  no auth     403 MissingAuthentication 400 MissingAuthentication... 403 MissingAuthentication... 403 AccessDenied
                  Token                     TokenException               TokenException

DynamoDB's JSON codes carry the `com.amazon.coral.service#` prefix, as DynamoDB sends them.
JSON services in AWS query-compatible mode (SQS, CloudWatch: request header x-amzn-query-mode)
also get `x-amzn-query-error: <query code>;Sender`, which is what their SDKs read.
"""  # noqa: E501 (the table)
from __future__ import annotations

import json
from xml.sax.saxutils import escape

from ..common import IAM_NS, STS_NS, Req, Resp, new_request_id

#            kind: (query code, json code, rest code, s3 code, json status, query/rest status, s3 status)
_CODES = {
    "denied": ("AccessDenied", "AccessDeniedException", "AccessDeniedException", "AccessDenied", 400, 403, 403),
    "unknown": ("InvalidClientTokenId", "UnrecognizedClientException", "UnrecognizedClientException",
                "InvalidAccessKeyId", 400, 403, 403),
    "token": ("InvalidClientTokenId", "UnrecognizedClientException", "UnrecognizedClientException",
              "InvalidToken", 400, 403, 400),
    "signature": ("SignatureDoesNotMatch", "InvalidSignatureException", "InvalidSignatureException",
                  "SignatureDoesNotMatch", 400, 403, 403),
    "expired": ("ExpiredToken", "ExpiredTokenException", "ExpiredTokenException", "ExpiredToken", 400, 403, 400),
    "missing": ("MissingAuthenticationToken", "MissingAuthenticationTokenException",
                "MissingAuthenticationTokenException", "AccessDenied", 400, 403, 403),
}

DEFAULT_MESSAGES = {
    "unknown": "The security token included in the request is invalid.",
    "token": "The security token included in the request is invalid.",
    "expired": "The security token included in the request is expired",
    "missing": "Missing Authentication Token",
}
S3_MESSAGES = {
    "unknown": "The AWS Access Key Id you provided does not exist in our records.",
    "token": "The provided token is malformed or otherwise invalid.",
    "expired": "The provided token has expired.",
    "missing": "Access Denied",
}


def protocol(req: Req) -> str:
    if req.target:
        return "json"
    if req.service == "s3":
        return "s3"
    if req.is_form or "Action" in req.query:
        return "query"
    return "rest-json"


def error(req: Req, kind: str, message: str | None = None) -> Resp:
    q_code, j_code, r_code, s3_code, j_status, status, s3_status = _CODES[kind]
    proto = protocol(req)
    rid = new_request_id()
    if proto == "s3":
        msg = message if kind in ("denied", "signature") and message else S3_MESSAGES.get(kind, message or "")
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{s3_code}</Code>'
                f"<Message>{escape(msg)}</Message><RequestId>{rid}</RequestId></Error>")
        return Resp(s3_status, body, {"x-amz-request-id": rid}, "application/xml")
    msg = message or DEFAULT_MESSAGES.get(kind, "")
    if proto == "json":
        code = j_code
        if (req.target or "").startswith(("DynamoDB_", "DynamoDBStreams_")):
            code = "com.amazon.coral.service#" + j_code
        ctype = req.headers.get("content-type", "")
        ctype = ctype if ctype.startswith("application/x-amz-json-1.") else "application/x-amz-json-1.1"
        headers = {"x-amzn-RequestId": rid}
        if req.headers.get("x-amzn-query-mode") or (req.target or "").startswith(
                ("AmazonSQS.", "GraniteServiceVersion20100801.")):
            headers["x-amzn-query-error"] = f"{q_code};Sender"
        return Resp(j_status, json.dumps({"__type": code, "message": msg}), headers, ctype)
    if proto == "query":
        ns = IAM_NS if req.service == "iam" else STS_NS if req.service == "sts" else None
        xmlns = f' xmlns="{ns}"' if ns else ""
        body = (f"<ErrorResponse{xmlns}><Error><Type>Sender</Type><Code>{q_code}</Code>"
                f"<Message>{escape(msg)}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>")
        return Resp(status, body, {"x-amzn-RequestId": rid}, "text/xml")
    return Resp(status, json.dumps({"Type": "User", "Message": msg, "message": msg}),
                {"x-amzn-RequestId": rid, "x-amzn-ErrorType": r_code}, "application/json")


def access_denied(req: Req, message: str) -> Resp:
    return error(req, "denied", message)
