"""Service principals act with their own role's credentials, as on AWS.

On AWS, Lambda runs a function with a session of its execution role, Step Functions calls task
resources with a session of the state machine's role, and EventBridge Scheduler calls a schedule's
target with a session of the schedule's role. Here each of them gets a session minted by the IAM
engine (`iam.principals.mint_role_credentials`, no trust-policy check, as the service itself would
assume the role), so the engine checks every call they make against that role's policies:

- the function host starts each handler process with its function's role session
  (`function_credentials`), session name = function name, as Lambda does;
- moto's Step Functions interpreter (which calls Lambda and S3 over HTTP on localhost) signs with a
  session of the execution's state machine role (`patch_step_functions_credentials`, a patch of
  moto 5.2.5's `boto_client_for`, which used the dummy keys "ak"/"sk");
- `POST /_rootwarden/schedules/<name>/fire` makes the call a schedule would make at its next
  firing, with a session of the schedule's role (Scheduler never fires in moto).

Sessions are cached per (role, session name) and minted again an hour before they expire.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any

from .common import Req, Resp, log, plain_json

_lock = threading.Lock()
_cache: dict[tuple[str, str], dict] = {}
_endpoint: dict[str, str] = {}
REFRESH_MARGIN_SECONDS = 3600


def set_endpoint(endpoint: str) -> None:
    """The emulator's own endpoint (services call back into it over HTTP)."""
    _endpoint["url"] = endpoint


def role_session(role_arn: str, session_name: str) -> dict:
    """{AccessKeyId, SecretAccessKey, SessionToken, Expiration(epoch seconds)} of a session of
    `role_arn`, as the AWS service that runs as that role would get it."""
    from .iam.principals import mint_role_credentials

    key = (role_arn, session_name)
    with _lock:
        cur = _cache.get(key)
        if cur is not None and cur["_expires"] - time.time() > REFRESH_MARGIN_SECONDS:
            return cur
        creds = dict(mint_role_credentials(role_arn, session_name))
        exp = creds.get("Expiration")
        if hasattr(exp, "timestamp"):
            exp = exp.timestamp()
        creds["_expires"] = float(exp) if isinstance(exp, (int, float)) else time.time() + 43200
        _cache[key] = creds
        return creds


def reset() -> None:
    with _lock:
        _cache.clear()


def function_credentials(fn) -> dict[str, str]:
    """Environment entries giving a handler process its function's role session."""
    role = getattr(fn, "role", None)
    if not role:
        raise RuntimeError(f"function {fn.function_name} has no execution role")
    c = role_session(str(role), fn.function_name[:64])
    return {"AWS_ACCESS_KEY_ID": c["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"],
            "AWS_SESSION_TOKEN": c["SessionToken"]}


# ---------------------------------------------------------------- Step Functions

def patch_step_functions_credentials() -> None:
    """The interpreter's service calls sign with the state machine role's session."""
    import sys

    import boto3
    from botocore.config import Config
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.utils import boto_client as bc

    def boto_client_for(region: str, service: str, state_credentials: Any = None):
        role_arn = getattr(state_credentials, "role_arn", None)
        if not role_arn:
            raise RuntimeError(f"Step Functions task calling {service} without a role")
        c = role_session(str(role_arn), "states-execution")
        return boto3.client(
            service_name=service, region_name=region,
            endpoint_url=f"http://127.0.0.1:{moto_server_port()}",
            aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
            aws_session_token=c["SessionToken"],
            config=Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1},
                          connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                          read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                          s3={"addressing_style": "path"}),
        )

    bc.boto_client_for = boto_client_for
    # every interpreter module bound the name at import: rebind it where it is already loaded,
    # and import the ones our state machines use so none is missed
    import importlib

    base = "moto.stepfunctions.parser.asl.component.state.exec."
    for mod in ("state_task.lambda_eval_utils", "state_task.service.state_task_service_aws_sdk",
                "state_task.service.state_task_service_sfn",
                "state_map.item_reader.eval.resource_eval_s3",
                "state_map.result_writer.resource_eval.resource_eval_s3"):
        try:
            importlib.import_module(base + mod)
        except Exception as e:  # pragma: no cover - a moto layout change
            log(f"step functions credentials: cannot import {mod}: {e}")
    for name, mod in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(mod, "boto_client_for", None) is not None:
            if mod is not bc:
                mod.boto_client_for = boto_client_for


# ---------------------------------------------------------------- EventBridge Scheduler

def _schedule(name: str, group: str | None):
    from moto.scheduler.models import scheduler_backends

    for _account, regions in list(scheduler_backends.items()):
        for _region, backend in list(regions.items()):
            try:
                return backend.get_schedule(group, name)
            except Exception:
                continue
    return None


def fire_schedule(req: Req, name: str) -> Resp:
    """Make the call the schedule's next firing would make, as the schedule's role.

    Lambda targets are invoked asynchronously, as Scheduler does (`?invocation=RequestResponse`
    waits for the result instead); Step Functions targets get StartExecution. The IAM decision on
    the schedule's role is made before this answers. Answers
    {"target", "role", "status", "result"|"error"}."""
    import boto3
    import botocore.exceptions

    group = (req.query.get("group") or [None])[0]
    sched = _schedule(name, group)
    if sched is None:
        return plain_json(404, {"error": f"no schedule {name}"})
    target = sched.target or {}
    arn, role = target.get("Arn", ""), target.get("RoleArn", "")
    if getattr(sched, "state", "ENABLED") == "DISABLED":
        return plain_json(409, {"error": f"schedule {name} is DISABLED"})
    try:
        c = role_session(role, f"scheduler-{name}"[:64])
    except Exception as e:
        return plain_json(424, {"error": f"cannot assume {role}: {e}"})
    region = arn.split(":")[3] if arn.count(":") >= 4 else "us-east-1"
    kw = dict(region_name=region, endpoint_url=_endpoint.get("url"), aws_access_key_id=c["AccessKeyId"],
              aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
    payload = target.get("Input") or "{}"
    out: dict[str, Any] = {"target": arn, "role": role}
    try:
        if ":lambda:" in arn:
            mode = (req.query.get("invocation") or ["Event"])[0]
            if mode not in ("Event", "RequestResponse"):
                return plain_json(400, {"error": "invocation must be Event or RequestResponse"})
            r = boto3.client("lambda", **kw).invoke(FunctionName=arn, Payload=payload.encode(),
                                                    InvocationType=mode)
            body = r["Payload"].read().decode("utf-8", "replace")
            try:
                body = json.loads(body) if body else None
            except ValueError:
                pass
            out.update(status=r["StatusCode"], function_error=r.get("FunctionError"), result=body)
        elif ":states:" in arn:
            r = boto3.client("stepfunctions", **kw).start_execution(stateMachineArn=arn, input=payload)
            out.update(status=200, result={"executionArn": r["executionArn"]})
        else:
            return plain_json(501, {"error": f"schedule target {arn} is not emulated"})
    except botocore.exceptions.ClientError as e:
        err = e.response.get("Error", {})
        out.update(status=e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400),
                   error={"code": err.get("Code"), "message": err.get("Message")})
    return plain_json(200, out)
