"""Provision a SAM / CloudFormation template into a local AWS endpoint with plain SDK calls.

moto's CloudFormation skips SES rules, bucket policies and schedules and misplaces state machines,
so the template is interpreted here: intrinsics are resolved, resources are created in dependency
order through boto3 against the endpoint, and a summary is returned:

    {"name": STACK, "env": {VAR: value}, "resources": {LogicalId: {"type", "physical_id", "arn", ...}},
     "outputs": {Name: value}, "roles": {LogicalId: role ARN}, "role_bindings": {LogicalId: {...}}}

`env` is Globals.Function.Environment.Variables resolved. Types that are not emulated are recorded
with "skipped": true (their Ref / GetAtt give placeholder values so dependants still resolve).

IAM is built as SAM and CloudFormation would build it, so that an IAM-enforcing emulator enforces
the template: an AWS::Serverless::Function or ::StateMachine without `Role` gets SAM's implicit role
`<LogicalId>Role` (SAM's trust policy, every `Policies` entry as SAM names and orders it: inline
statement documents, SAM policy templates expanded as SAM expands them, managed policy names or ARNs;
and SAM's automatic additions: AWSLambdaBasicExecutionRole, AWSXrayWriteOnlyAccess for tracing, the
DeadLetterQueue and EventInvokeConfig destination policies). Explicit AWS::IAM::Role, ::Policy and
::ManagedPolicy resources are applied as written. `roles` maps every function, state machine and
schedule (and every role, by its own logical id) to its role ARN; `role_bindings` gives, for each
function, state machine and schedule, the role's logical id (None for an ARN from outside the
template), name and ARN.

Requests are signed with the credentials given to provision() / Provisioner (default "testing"), so
a launcher can provision as a deployer principal.

Importable (provision(...)) and runnable:
    .venv/bin/python emulator/provision --endpoint http://127.0.0.1:PORT \
        --template infra/template.yaml --stack-name NAME [--param Key=Value ...]
(or `.venv/bin/python -m provision ...` from emulator/).

Modules: loader (YAML with short tags), names (physical names), intrinsics (parameters, conditions,
Ref / GetAtt / Sub / Join / If ...), provisioner (ordering, run, the handler table) and one handler
module per resource family: data (DynamoDB, S3, SQS, SNS, Secrets Manager), keys (KMS), iam (roles,
policies, SAM role materialisation), compute (Lambda, URLs, permissions), workflows (Step Functions,
Scheduler), observability (alarms, logs), mail (SES).
"""
from __future__ import annotations

import argparse
import json

from .loader import load_template
from .names import bucket_name, gen_name
from .provisioner import HANDLERS, OUTPUT_ENV, Provisioner, provision
from .util import TemplateError, _log

__all__ = ["HANDLERS", "OUTPUT_ENV", "Provisioner", "TemplateError", "bucket_name", "gen_name", "load_template",
           "main", "parse_params", "provision"]


def parse_params(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit(f"--param expects Key=Value, got {item!r}")
        k, v = item.split("=", 1)
        out[k] = v
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="provision", description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--template", required=True)
    ap.add_argument("--stack-name", required=True)
    ap.add_argument("--param", action="append", default=[])
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--aws-access-key-id", default="testing")
    ap.add_argument("--aws-secret-access-key", default="testing")
    ap.add_argument("--aws-session-token", default=None)
    a = ap.parse_args(argv)
    try:
        out = provision(a.template, a.stack_name, a.endpoint, parse_params(a.param), a.region,
                        aws_access_key_id=a.aws_access_key_id, aws_secret_access_key=a.aws_secret_access_key,
                        aws_session_token=a.aws_session_token)
    except TemplateError as e:
        _log(f"FAILED: {e}")
        return 1
    print(json.dumps(out, indent=2))
    return 0

