from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

from .compute import h_lambda_function, h_lambda_permission, h_serverless_function
from .data import (
    h_dynamodb_table,
    h_s3_bucket,
    h_s3_bucket_policy,
    h_secret,
    h_simple_table,
    h_sns_subscription,
    h_sns_topic,
    h_sqs_queue,
    h_sqs_queue_policy,
)
from .iam import Roles, h_iam_managed_policy, h_iam_policy, h_iam_role
from .intrinsics import Intrinsics
from .keys import h_kms_alias, h_kms_key
from .loader import load_template
from .mail import h_ses_configuration_set, h_ses_email_identity, h_ses_rule, h_ses_rule_set
from .names import gen_name
from .observability import h_alarm, h_log_group
from .util import DEFAULT_ACCOUNT, TemplateError, _bool_str, _log
from .workflows import h_schedule, h_schedule_group, h_state_machine

# ----------------------------------------------------------------------------- provisioner

class Provisioner(Intrinsics, Roles):
    def __init__(self, template: dict, template_dir: str, stack_name: str, endpoint: str,
                 params: dict[str, str] | None = None, region: str = "us-east-1",
                 log: Callable[[str], None] = _log, aws_access_key_id: str = "testing",
                 aws_secret_access_key: str = "testing", aws_session_token: str | None = None) -> None:
        self.credentials = {"aws_access_key_id": aws_access_key_id,
                            "aws_secret_access_key": aws_secret_access_key,
                            "aws_session_token": aws_session_token}
        # function / state machine / schedule logical id -> role ARN it runs with
        self.role_users: dict[str, str] = {}
        self.t = template
        self.dir = template_dir
        self.stack = stack_name
        self.endpoint = endpoint
        self.region = region
        self.log = log
        self.overrides = dict(params or {})
        self._clients: dict[str, Any] = {}
        self.account = None
        self.params: dict[str, Any] = {}
        self.conditions: dict[str, bool] = {}
        self._cond_eval: set[str] = set()
        self.resources: dict[str, dict] = {}
        self.stack_id = None

    # -------------------------------------------------------------- clients
    def client(self, service: str):
        c = self._clients.get(service)
        if c is None:
            import boto3
            from botocore.config import Config

            cfg = Config(retries={"max_attempts": 1, "mode": "standard"},
                         s3={"addressing_style": "path"}, connect_timeout=10, read_timeout=120)
            c = boto3.client(service, endpoint_url=self.endpoint, region_name=self.region,
                             config=cfg, **self.credentials)
            self._clients[service] = c
        return c

    def _order(self, resources: dict[str, dict]) -> list[str]:
        globals_fn = (self.t.get("Globals") or {}).get("Function") or {}
        graph: dict[str, set[str]] = {}
        for name, res in resources.items():
            d = self.deps(res.get("Properties") or {})
            if res.get("Type") == "AWS::Serverless::Function":
                d |= self.deps(globals_fn)
            dep_on = res.get("DependsOn") or []
            d |= set([dep_on] if isinstance(dep_on, str) else dep_on)
            graph[name] = {x for x in d if x in resources and x != name}
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(n: str, path: list[str]) -> None:
            if state.get(n) == 2:
                return
            if state.get(n) == 1:
                raise TemplateError("circular dependency: " + " -> ".join(path + [n]))
            state[n] = 1
            for m in sorted(graph[n]):
                visit(m, path + [n])
            state[n] = 2
            order.append(n)

        for n in resources:  # template order for independent resources
            visit(n, [])
        return order

    # -------------------------------------------------------------- run
    def run(self) -> dict:
        ident = self.client("sts").get_caller_identity()
        self.account = ident.get("Account") or DEFAULT_ACCOUNT
        self.stack_id = (f"arn:aws:cloudformation:{self.region}:{self.account}:stack/"
                         f"{self.stack}/{uuid.uuid5(uuid.NAMESPACE_URL, self.stack)}")
        self._init_params()
        for name in (self.t.get("Conditions") or {}):
            self.condition(name)

        all_res = self.t.get("Resources") or {}
        active = {}
        for name, res in all_res.items():
            cond = res.get("Condition")
            if cond and not self.condition(cond):
                self.log(f"{name}: condition {cond} is false, not created")
                continue
            active[name] = res
        for name in self._order(active):
            res = active[name]
            rtype = res.get("Type", "")
            handler = HANDLERS.get(rtype)
            if handler is None:
                self._record_skip(name, rtype, "type not emulated")
                continue
            try:
                out = handler(self, name, res)
            except TemplateError:
                raise
            except Exception as e:
                raise TemplateError(f"{name} ({rtype}): {type(e).__name__}: {e}") from e
            entry = {"type": rtype, "physical_id": out.get("physical_id"), "arn": out.get("arn")}
            if out.get("warnings"):
                entry["warnings"] = out["warnings"]
                for w in out["warnings"]:
                    self.log(f"{name}: warning: {w}")
            self.resources[name] = {**entry, "attrs": out.get("attrs") or {}}
            self.log(f"{rtype} {name} -> {entry['physical_id']}")
            for extra_name, extra in (out.get("extra_resources") or {}).items():
                self.resources[extra_name] = extra

        env = {}
        genv = (((self.t.get("Globals") or {}).get("Function") or {}).get("Environment") or {})
        for k, v in (self.resolve(genv.get("Variables") or {})).items():
            env[k] = _bool_str(v)
        outputs = {}
        for oname, ospec in (self.t.get("Outputs") or {}).items():
            cond = (ospec or {}).get("Condition")
            if cond and not self.condition(cond):
                continue
            try:
                outputs[oname] = self.resolve(ospec.get("Value"))
            except TemplateError as e:
                self.log(f"output {oname}: {e}")
        client_env = {var: outputs[o] for o, var in OUTPUT_ENV.items() if outputs.get(o)}
        resources = {}
        for name, r in self.resources.items():
            entry = {k: v for k, v in r.items() if k != "attrs"}
            resources[name] = entry
        roles, bindings = self._roles()
        return {"name": self.stack, "env": env, "client_env": client_env, "resources": resources,
                "outputs": outputs, "roles": roles, "role_bindings": bindings}

    def _roles(self) -> tuple[dict[str, str], dict[str, dict]]:
        """Every role by its logical id, and every function / state machine / schedule by the
        logical id of what runs it, to the role ARN; plus, for the latter, which role that is."""
        by_arn = {r["arn"]: n for n, r in self.resources.items()
                  if r.get("type") == "AWS::IAM::Role" and r.get("arn")}
        roles = {n: a for a, n in by_arn.items()}
        bindings = {}
        for user, arn in self.role_users.items():
            roles[user] = arn
            bindings[user] = {"role": by_arn.get(arn), "name": arn.rsplit("/", 1)[-1], "arn": arn}
        return roles, bindings

    def _record_skip(self, name: str, rtype: str, why: str) -> None:
        self.log(f"{rtype} {name}: skipped ({why})")
        self.resources[name] = {
            "type": rtype, "physical_id": gen_name(self.stack, name, 128), "arn": None,
            "skipped": True, "reason": why, "attrs": {},
        }

    # -------------------------------------------------------------- shared helpers
    def props(self, res: dict) -> dict:
        return self.resolve(res.get("Properties") or {})


# Stack outputs the CLI (not the functions) reads from its environment: the stack's
# `client_env`, written to .local/env with `env`.
OUTPUT_ENV = {"AccessFunctionUrl": "ROOTWARDEN_ACCESS_URL"}

HANDLERS: dict[str, Callable[[Provisioner, str, dict], dict]] = {
    "AWS::DynamoDB::Table": h_dynamodb_table,
    "AWS::Serverless::SimpleTable": h_simple_table,
    "AWS::KMS::Key": h_kms_key,
    "AWS::KMS::Alias": h_kms_alias,
    "AWS::S3::Bucket": h_s3_bucket,
    "AWS::S3::BucketPolicy": h_s3_bucket_policy,
    "AWS::SQS::Queue": h_sqs_queue,
    "AWS::SQS::QueuePolicy": h_sqs_queue_policy,
    "AWS::SNS::Topic": h_sns_topic,
    "AWS::SNS::Subscription": h_sns_subscription,
    "AWS::IAM::Role": h_iam_role,
    "AWS::IAM::ManagedPolicy": h_iam_managed_policy,
    "AWS::IAM::Policy": h_iam_policy,
    "AWS::Serverless::Function": h_serverless_function,
    "AWS::Lambda::Function": h_lambda_function,
    "AWS::Lambda::Permission": h_lambda_permission,
    "AWS::Serverless::StateMachine": h_state_machine,
    "AWS::StepFunctions::StateMachine": h_state_machine,
    "AWS::Scheduler::ScheduleGroup": h_schedule_group,
    "AWS::Scheduler::Schedule": h_schedule,
    "AWS::CloudWatch::Alarm": h_alarm,
    "AWS::Logs::LogGroup": h_log_group,
    "AWS::SES::ReceiptRuleSet": h_ses_rule_set,
    "AWS::SES::ReceiptRule": h_ses_rule,
    "AWS::SES::EmailIdentity": h_ses_email_identity,
    "AWS::SES::ConfigurationSet": h_ses_configuration_set,
    "AWS::SecretsManager::Secret": h_secret,
}


def provision(template_path: str, stack_name: str, endpoint: str, params: dict[str, str] | None = None,
              region: str = "us-east-1", log: Callable[[str], None] = _log,
              aws_access_key_id: str = "testing", aws_secret_access_key: str = "testing",
              aws_session_token: str | None = None) -> dict:
    """Provisions the template, signing every request with the given credentials (the deployer)."""
    template = load_template(template_path)
    p = Provisioner(template, os.path.dirname(os.path.abspath(template_path)), stack_name, endpoint,
                    params=params, region=region, log=log, aws_access_key_id=aws_access_key_id,
                    aws_secret_access_key=aws_secret_access_key, aws_session_token=aws_session_token)
    return p.run()
