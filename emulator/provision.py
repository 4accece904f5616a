#!/usr/bin/env python3
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
    .venv/bin/python emulator/provision.py --endpoint http://127.0.0.1:PORT \
        --template infra/template.yaml --stack-name NAME [--param Key=Value ...]
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import re
import sys
import uuid
import zipfile
from typing import Any, Callable

import yaml

DEFAULT_ACCOUNT = "123456789012"


class TemplateError(Exception):
    pass


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


def _log(msg: str) -> None:
    sys.stderr.write(f"[provision] {msg}\n")
    sys.stderr.flush()


# ----------------------------------------------------------------------------- template loading

class _Loader(yaml.SafeLoader):
    pass


def _short_form(loader: yaml.Loader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {f"Fn::{tag_suffix}": value}


_Loader.add_multi_constructor("!", _short_form)


def load_template(path: str) -> dict:
    with open(path) as f:
        data = yaml.load(f, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: not a template")
    return data


# ----------------------------------------------------------------------------- name helpers

def _short_hash(s: str) -> str:
    return hashlib.sha1(s.encode()).hexdigest()[:8]


def gen_name(stack: str, logical_id: str, max_len: int, pattern: str = r"[^A-Za-z0-9_-]",
             lower: bool = False, suffix: str = "") -> str:
    base = f"{stack}-{logical_id}"
    if lower:
        base = base.lower()
    base = re.sub(pattern, "-", base)
    room = max_len - len(suffix)
    if len(base) > room:
        base = base[: room - 9].rstrip("-._") + "-" + _short_hash(f"{stack}/{logical_id}")
    return base + suffix


def bucket_name(stack: str, logical_id: str) -> str:
    name = re.sub(r"[^a-z0-9.-]", "-", f"{stack}-{logical_id}".lower())
    name = re.sub(r"-{2,}", "-", name).strip("-.")
    if len(name) > 63:
        name = name[:54].rstrip("-.") + "-" + _short_hash(f"{stack}/{logical_id}")
    if len(name) < 3:
        name = (name + "-bucket")[:63]
    return name


def _dummy_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\necho 'placeholder: the emulator runs the real binary'\n")
    return buf.getvalue()


def _tags_list(tags: Any, key: str = "Key", value: str = "Value") -> list[dict]:
    """CFN tags (list of {Key, Value} or SAM map) -> list with the given field names."""
    if not tags:
        return []
    if isinstance(tags, dict):
        return [{key: str(k), value: str(v)} for k, v in tags.items()]
    return [{key: str(t["Key"]), value: str(t["Value"])} for t in tags]


def _tags_map(tags: Any) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in _tags_list(tags)}


def _bool_str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _as_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    return str(v).lower() == "true"


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


# ----------------------------------------------------------------------------- provisioner

class Provisioner:
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

    # -------------------------------------------------------------- parameters & conditions
    def _init_params(self) -> None:
        unknown = set(self.overrides) - set(self.t.get("Parameters") or {})
        if unknown:
            raise TemplateError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        for name, spec in (self.t.get("Parameters") or {}).items():
            spec = spec or {}
            if name in self.overrides:
                val: Any = self.overrides[name]
            elif "Default" in spec:
                val = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default and no --param value")
            ptype = str(spec.get("Type", "String"))
            if ptype == "CommaDelimitedList" or ptype.startswith("List<"):
                if isinstance(val, list):
                    val = [str(x) for x in val]
                else:
                    val = [x.strip() for x in str(val).split(",")] if str(val) else []
            else:
                if isinstance(val, bool):
                    val = _bool_str(val)
                val = str(val)
                allowed = spec.get("AllowedValues")
                if allowed and val not in [str(a) for a in allowed]:
                    raise TemplateError(f"parameter {name}={val!r} not in AllowedValues {allowed}")
            self.params[name] = val

    def condition(self, name: str) -> bool:
        if name in self.conditions:
            return self.conditions[name]
        conds = self.t.get("Conditions") or {}
        if name not in conds:
            raise TemplateError(f"unknown condition {name}")
        if name in self._cond_eval:
            raise TemplateError(f"condition {name} refers to itself")
        self._cond_eval.add(name)
        val = self.eval_condition(conds[name])
        self.conditions[name] = val
        return val

    def eval_condition(self, expr: Any) -> bool:
        if isinstance(expr, bool):
            return expr
        if isinstance(expr, str):
            return expr.lower() == "true"
        if isinstance(expr, dict) and len(expr) == 1:
            (k, v), = expr.items()
            if k == "Condition":
                return self.condition(v)
            if k == "Fn::Equals":
                a, b = (self.resolve(x) for x in v)
                return _bool_str(a) == _bool_str(b)
            if k == "Fn::Not":
                return not self.eval_condition(v[0])
            if k == "Fn::And":
                return all(self.eval_condition(x) for x in v)
            if k == "Fn::Or":
                return any(self.eval_condition(x) for x in v)
        raise TemplateError(f"unsupported condition expression {expr!r}")

    # -------------------------------------------------------------- intrinsics
    def pseudo(self, name: str) -> Any:
        return {
            "AWS::StackName": self.stack,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
            "AWS::NotificationARNs": [],
            "AWS::StackId": self.stack_id,
        }.get(name, KeyError)

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            v = self.pseudo(name)
            if v is KeyError:
                raise TemplateError(f"unsupported pseudo parameter {name}")
            return v
        if name in self.params:
            return self.params[name]
        if name in self.resources:
            return self.resources[name]["physical_id"]
        if name in (self.t.get("Resources") or {}):
            raise TemplateError(f"Ref {name}: resource not created (condition false or ordering bug)")
        raise TemplateError(f"Ref to unknown name {name}")

    def get_att(self, name: str, attr: str) -> Any:
        res = self.resources.get(name)
        if res is None:
            raise TemplateError(f"Fn::GetAtt {name}.{attr}: resource not created")
        attrs = res.get("attrs") or {}
        if attr in attrs:
            return attrs[attr]
        if attr == "Arn" and res.get("arn"):
            return res["arn"]
        if res.get("skipped"):
            return f"arn:aws:emulator:{self.region}:{self.account}:skipped/{self.stack}/{name}/{attr}"
        raise TemplateError(f"Fn::GetAtt {name}.{attr}: attribute not available for {res['type']}")

    def _sub(self, template: str, variables: dict[str, Any]) -> str:
        def repl(m: re.Match) -> str:
            inner = m.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                v = variables[inner]
            elif "." in inner and not inner.startswith("AWS::"):
                res, attr = inner.split(".", 1)
                v = self.get_att(res, attr)
            else:
                v = self.ref(inner)
            if isinstance(v, list):
                v = ",".join(str(x) for x in v)
            return _bool_str(v)

        return re.sub(r"\$\{([^}]+)\}", repl, template)

    def resolve(self, v: Any) -> Any:
        if isinstance(v, list):
            out = [self.resolve(x) for x in v]
            return [x for x in out if x is not NO_VALUE]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, arg), = v.items()
            if k == "Ref":
                return self.ref(arg)
            if k == "Fn::GetAtt":
                if isinstance(arg, str):
                    arg = arg.split(".", 1)
                name, attr = arg[0], self.resolve(arg[1])
                return self.get_att(name, attr)
            if k == "Fn::Sub":
                if isinstance(arg, str):
                    return self._sub(arg, {})
                tmpl, variables = arg[0], {kk: self.resolve(vv) for kk, vv in (arg[1] or {}).items()}
                return self._sub(tmpl, variables)
            if k == "Fn::Join":
                delim, items = arg[0], self.resolve(arg[1])
                return delim.join(_bool_str(x) for x in items)
            if k == "Fn::Select":
                idx, items = int(self.resolve(arg[0])), self.resolve(arg[1])
                return items[idx]
            if k == "Fn::Split":
                delim, s = arg[0], self.resolve(arg[1])
                return str(s).split(delim)
            if k == "Fn::If":
                cond, a, b = arg
                return self.resolve(a if self.condition(cond) else b)
            if k in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
                return self.eval_condition(v)
            if k == "Fn::FindInMap":
                default = None
                if len(arg) == 4 and isinstance(arg[3], dict):
                    default = arg[3].get("DefaultValue")
                m, k1, k2 = (self.resolve(x) for x in arg[:3])
                try:
                    return self.t["Mappings"][m][k1][k2]
                except (KeyError, TypeError):
                    if default is not None:
                        return self.resolve(default)
                    raise TemplateError(f"Fn::FindInMap {m}/{k1}/{k2} not found")
            if k == "Fn::Base64":
                return base64.b64encode(str(self.resolve(arg)).encode()).decode()
            if k == "Fn::GetAZs":
                region = self.resolve(arg) or self.region
                return [f"{region}{z}" for z in "abcdef"]
            if k == "Fn::ToJsonString":
                return json.dumps(self.resolve(arg), separators=(",", ":"))
            if k == "Fn::Length":
                return len(self.resolve(arg))
            if k == "Fn::ImportValue":
                raise TemplateError("Fn::ImportValue is not supported by the local provisioner")
            if k == "Fn::Cidr" or k == "Fn::Transform" or k.startswith("Fn::ForEach"):
                raise TemplateError(f"{k} is not supported by the local provisioner")
        out = {}
        for kk, vv in v.items():
            r = self.resolve(vv)
            if r is not NO_VALUE:
                out[kk] = r
        return out

    # -------------------------------------------------------------- dependencies
    def deps(self, v: Any, local: frozenset = frozenset()) -> set[str]:
        res_names = set((self.t.get("Resources") or {}).keys())
        found: set[str] = set()

        def walk(x: Any, local: frozenset) -> None:
            if isinstance(x, list):
                for y in x:
                    walk(y, local)
            elif isinstance(x, dict):
                if len(x) == 1:
                    (k, arg), = x.items()
                    if k == "Ref" and isinstance(arg, str):
                        if arg in res_names:
                            found.add(arg)
                        return
                    if k == "Fn::GetAtt":
                        name = arg.split(".", 1)[0] if isinstance(arg, str) else arg[0]
                        if name in res_names:
                            found.add(name)
                        return
                    if k == "Fn::Sub":
                        if isinstance(arg, str):
                            tmpl, loc = arg, local
                        else:
                            tmpl, variables = arg[0], arg[1] or {}
                            walk(variables, local)
                            loc = local | frozenset(variables.keys())
                        for name in re.findall(r"\$\{([^}!][^}]*)\}", tmpl):
                            if name in loc:
                                continue
                            base = name.split(".", 1)[0]
                            if base in res_names:
                                found.add(base)
                        return
                for y in x.values():
                    walk(y, local)

        walk(v, local)
        return found

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

    def ensure_role(self, role_arn_or_name: str | None, default_name: str,
                    service: str) -> tuple[str, dict | None]:
        """Return a role ARN that exists in the emulator's IAM (moto's Lambda checks it). A role the
        template does not define (an ARN from outside) is created empty, as a stand-in."""
        iam = self.client("iam")
        if role_arn_or_name:
            name = role_arn_or_name.split("/")[-1] if role_arn_or_name.startswith("arn:") else role_arn_or_name
        else:
            name = default_name
        try:
            return iam.get_role(RoleName=name)["Role"]["Arn"], None
        except iam.exceptions.NoSuchEntityException:
            pass
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service},
                                                        "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(doc))["Role"]
        extra = {"type": "AWS::IAM::Role", "physical_id": name, "arn": role["Arn"],
                 "attrs": {"Arn": role["Arn"], "RoleId": role["RoleId"]}, "implicit": True}
        return role["Arn"], extra

    def sam_role(self, owner: str, kind: str, raw: dict, pr: dict) -> tuple[str, dict, list[str]]:
        """SAM's implicit execution role of a Serverless Function (kind "function") or StateMachine
        (kind "statemachine") without `Role`, as samtranslator builds it
        (model/role_utils/role_constructor.py construct_role_for_resource, sam_resources.py
        SamFunction._construct_role, stepfunctions/generators.py _construct_role). `raw` holds the
        unresolved properties (policy templates are expanded before intrinsics resolve), `pr` the
        resolved ones. Returns (ARN, the `<owner>Role` resource entry, warnings)."""
        iam = self.client("iam")
        role_logical = f"{owner}Role"
        warnings: list[str] = []
        trust = pr.get("AssumeRolePolicyDocument") if kind == "function" else None
        if trust is None:
            svc = "lambda.amazonaws.com" if kind == "function" else "states.amazonaws.com"
            trust = {"Version": "2012-10-17",
                     "Statement": [{"Action": ["sts:AssumeRole"], "Effect": "Allow",
                                    "Principal": {"Service": [svc]}}]}
        managed: list[str] = []
        inline: list[tuple[str, Any]] = []
        raw_policies = raw.get("Policies")
        if raw_policies is None or raw_policies == []:
            raw_policies = []
        elif not isinstance(raw_policies, list):
            raw_policies = [raw_policies]
        if kind == "function":
            managed.append(_aws_managed_arn("AWSLambdaBasicExecutionRole"))
            tracing = pr.get("Tracing")
            if tracing and tracing != "Disabled":
                managed.append(_aws_managed_arn("AWSXrayWriteOnlyAccess"))
            if pr.get("VpcConfig"):
                managed.append(_aws_managed_arn("AWSLambdaVPCAccessExecutionRole"))
            dlq = pr.get("DeadLetterQueue")
            if dlq and dlq.get("TargetArn"):
                action = {"SQS": "sqs:SendMessage", "SNS": "sns:Publish"}.get(dlq.get("Type"))
                if action is None:
                    raise TemplateError(f"{owner}: DeadLetterQueue.Type must be SQS or SNS")
                inline.append(("DeadLetterQueuePolicy", {
                    "Version": "2012-10-17",
                    "Statement": [{"Action": action, "Resource": dlq["TargetArn"], "Effect": "Allow"}]}))
            for event, cfg in (((pr.get("EventInvokeConfig") or {}).get("DestinationConfig")) or {}).items():
                inline.append(_event_invoke_policy(owner, event, cfg or {}))
        else:
            tr = pr.get("Tracing") or {}
            if _as_bool(tr.get("Enabled", False)):
                raw_policies = raw_policies + ["AWSXrayWriteOnlyAccess"]
        for index, entry in enumerate(raw_policies):
            entry = _expand_policy_template(owner, entry)
            value = self.resolve(entry)
            if value is NO_VALUE:
                continue
            if isinstance(value, str):
                arn = value if value.startswith("arn:") else _aws_managed_arn(value)
                if arn not in managed:
                    managed.append(arn)
            elif isinstance(value, dict) and "Statement" in value:
                inline.append((f"{role_logical}Policy{index}", value))
            else:
                raise TemplateError(f"{owner}: Policies[{index}] is not a managed policy, a policy "
                                    f"document or a known SAM policy template: {entry!r}")
        rname = gen_name(self.stack, role_logical, 64, r"[^A-Za-z0-9+=,.@_-]")
        args: dict[str, Any] = {"RoleName": rname, "AssumeRolePolicyDocument": json.dumps(trust)}
        if pr.get("RolePath"):
            args["Path"] = pr["RolePath"]
        if pr.get("PermissionsBoundary"):
            args["PermissionsBoundary"] = pr["PermissionsBoundary"]
        tag_key = "lambda:createdBy" if kind == "function" else "stateMachine:createdBy"
        args["Tags"] = [{"Key": tag_key, "Value": "SAM"}] + _tags_list(pr.get("Tags"))
        role = iam.create_role(**args)["Role"]
        for pname, doc in inline:
            warnings += _put_role_policy(iam, rname, pname, doc)
        for arn in managed:
            warnings += _attach_managed(iam, rname, arn)
        extra = {"type": "AWS::IAM::Role", "physical_id": rname, "arn": role["Arn"],
                 "attrs": {"Arn": role["Arn"], "RoleId": role["RoleId"]}, "implicit": True,
                 "policies": [n for n, _ in inline], "managed_policies": managed}
        return role["Arn"], extra, [f"{role_logical}: {w}" for w in warnings]


# ----------------------------------------------------------------------------- IAM helpers

# SAM policy templates this provisioner expands, copied verbatim from samtranslator's
# policy_templates_data/policy_templates.json (aws-sam-translator 1.115.0). A template not listed
# here is refused rather than guessed.
SAM_POLICY_TEMPLATES: dict[str, dict] = {
    "LambdaInvokePolicy": {
        "Parameters": {"FunctionName": {}},
        "Definition": {"Statement": [{
            "Action": ["lambda:InvokeFunction"], "Effect": "Allow",
            "Resource": {"Fn::Sub": [
                "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${functionName}*",
                {"functionName": {"Ref": "FunctionName"}}]}}]},
    },
    "StepFunctionsExecutionPolicy": {
        "Parameters": {"StateMachineName": {}},
        "Definition": {"Statement": [{
            "Effect": "Allow", "Action": ["states:StartExecution"],
            "Resource": {"Fn::Sub": [
                "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${stateMachineName}",
                {"stateMachineName": {"Ref": "StateMachineName"}}]}}]},
    },
    "SQSSendMessagePolicy": {
        "Parameters": {"QueueName": {}},
        "Definition": {"Statement": [{
            "Effect": "Allow", "Action": ["sqs:SendMessage*"],
            "Resource": {"Fn::Sub": [
                "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${queueName}",
                {"queueName": {"Ref": "QueueName"}}]}}]},
    },
}


def _expand_policy_template(owner: str, entry: Any) -> Any:
    """A `{TemplateName: {Param: value}}` Policies entry -> SAM's statement document (every
    `{"Ref": Param}` in the template's definition replaced by the given value, as samtranslator's
    PolicyTemplate.to_statement does); anything else unchanged. Fn::If branches are expanded too."""
    if isinstance(entry, dict) and len(entry) == 1 and "Fn::If" in entry:
        cond, a, b = entry["Fn::If"]
        return {"Fn::If": [cond, _expand_policy_template(owner, a), _expand_policy_template(owner, b)]}
    if not (isinstance(entry, dict) and len(entry) == 1):
        return entry
    (name, params), = entry.items()
    if name == "Statement" or name.startswith("Fn::") or name == "Ref":
        return entry
    spec = SAM_POLICY_TEMPLATES.get(name)
    if spec is None:
        raise TemplateError(f"{owner}: SAM policy template {name} is not known to the local provisioner")
    params = params or {}
    missing = [k for k in spec["Parameters"] if k not in params]
    if missing:
        raise TemplateError(f"{owner}: policy template {name} needs {', '.join(missing)}")

    def subst(x: Any) -> Any:
        if isinstance(x, dict):
            if len(x) == 1 and "Ref" in x and x["Ref"] in spec["Parameters"]:
                return params[x["Ref"]]
            return {k: subst(v) for k, v in x.items()}
        if isinstance(x, list):
            return [subst(v) for v in x]
        return x

    return subst(spec["Definition"])


def _event_invoke_policy(owner: str, event: str, cfg: dict) -> tuple[str, dict]:
    """SAM's policy for an EventInvokeConfig destination with an explicit ARN
    (SamFunction._add_event_invoke_managed_policy); SAM's auto-created queues/topics are not."""
    dest, kind = cfg.get("Destination"), cfg.get("Type")
    logical = f"{owner}EventInvokeConfig{event}"
    if not dest:
        raise TemplateError(f"{owner}: EventInvokeConfig {event} without Destination is not supported locally")
    if kind == "S3Bucket":
        return f"{logical}S3Policy", {"Statement": [
            {"Action": "s3:PutObject", "Effect": "Allow", "Resource": f"{dest}/*"},
            {"Action": "s3:ListBucket", "Effect": "Allow", "Resource": dest}]}
    action, suffix = {"SQS": ("sqs:SendMessage", "SQSPolicy"), "SNS": ("sns:publish", "SNSPolicy"),
                      "EventBridge": ("events:PutEvents", "EventBridgePolicy"),
                      "Lambda": ("lambda:InvokeFunction", "LambdaPolicy")}.get(kind, (None, None))
    if action is None:
        raise TemplateError(f"{owner}: EventInvokeConfig {event} Type {kind!r} is not supported")
    return f"{logical}{suffix}", {"Statement": [{"Action": action, "Effect": "Allow", "Resource": dest}]}


def _aws_managed_policies() -> dict:
    """AWS managed policies (name -> {Path, Document, ...}) as moto bundles them."""
    global _AWS_MANAGED
    if _AWS_MANAGED is None:
        try:
            from moto.iam.aws_managed_policies import aws_managed_policies_data
            _AWS_MANAGED = json.loads(aws_managed_policies_data)
        except Exception:
            _AWS_MANAGED = {}
    return _AWS_MANAGED


_AWS_MANAGED: dict | None = None


def _aws_managed_arn(name: str) -> str:
    """A managed policy name (as SAM's Policies take it) -> its AWS managed policy ARN, path
    included (service-role/AWSLambdaBasicExecutionRole), as SAM's bundled map resolves it."""
    path = (_aws_managed_policies().get(name) or {}).get("Path") or "/"
    return f"arn:aws:iam::aws:policy{path}{name}"


def _policy_json(doc: Any) -> tuple[str, list[str]]:
    """A policy document as IAM takes it. IAM reads a document without Version as 2008-10-17;
    moto refuses one, so it gets 2012-10-17 here (they differ only in policy variables)."""
    if isinstance(doc, str):
        return doc, []
    if isinstance(doc, dict) and "Version" not in doc:
        return json.dumps({"Version": "2012-10-17", **doc}), ["policy document without Version given 2012-10-17"]
    return json.dumps(doc), []


def _put_role_policy(iam: Any, role: str, name: str, doc: Any) -> list[str]:
    text, warnings = _policy_json(doc)
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=text)
    return [f"{name}: {w}" for w in warnings]


def _attach_managed(iam: Any, role: str, arn: str) -> list[str]:
    """Attaches a managed policy. moto loads AWS managed policies only with
    MOTO_IAM_LOAD_MANAGED_POLICIES=true; without them, an AWS managed policy moto knows is applied
    as an inline policy of the same document (named aws-managed-<name>), so its permissions hold."""
    try:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        return []
    except iam.exceptions.NoSuchEntityException:
        pass
    name = arn.rsplit("/", 1)[-1]
    known = _aws_managed_policies().get(name) if arn.startswith("arn:aws:iam::aws:policy/") else None
    if not known:
        return [f"managed policy {arn} not attached: it does not exist in the emulator"]
    iam.put_role_policy(RoleName=role, PolicyName=f"aws-managed-{name}",
                        PolicyDocument=json.dumps(known["Document"]))
    return [f"AWS managed policy {name} applied inline as aws-managed-{name} (the emulator does not load "
            "AWS managed policies)"]


# ----------------------------------------------------------------------------- handlers

def h_dynamodb_table(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    ddb = p.client("dynamodb")
    table = pr.get("TableName") or gen_name(p.stack, name, 255, r"[^A-Za-z0-9_.-]")
    billing = pr.get("BillingMode") or ("PROVISIONED" if pr.get("ProvisionedThroughput") else "PAY_PER_REQUEST")

    def throughput(t: dict | None) -> dict:
        t = t or {}
        return {"ReadCapacityUnits": int(t.get("ReadCapacityUnits", 5)),
                "WriteCapacityUnits": int(t.get("WriteCapacityUnits", 5))}

    args: dict[str, Any] = {"TableName": table, "KeySchema": pr["KeySchema"],
                            "AttributeDefinitions": pr["AttributeDefinitions"], "BillingMode": billing}
    if billing == "PROVISIONED":
        args["ProvisionedThroughput"] = throughput(pr.get("ProvisionedThroughput"))
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        idxs = []
        for gsi in pr.get(key) or []:
            item = {"IndexName": gsi["IndexName"], "KeySchema": gsi["KeySchema"],
                    "Projection": gsi.get("Projection") or {"ProjectionType": "ALL"}}
            if key == "GlobalSecondaryIndexes" and billing == "PROVISIONED":
                item["ProvisionedThroughput"] = throughput(gsi.get("ProvisionedThroughput"))
            idxs.append(item)
        if idxs:
            args[key] = idxs
    ss = pr.get("StreamSpecification")
    if ss:
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": ss["StreamViewType"]}
    sse = pr.get("SSESpecification")
    if sse and _as_bool(sse.get("SSEEnabled", False)):
        args["SSESpecification"] = _drop_none({"Enabled": True, "SSEType": sse.get("SSEType"),
                                               "KMSMasterKeyId": sse.get("KMSMasterKeyId")})
    if pr.get("TableClass"):
        args["TableClass"] = pr["TableClass"]
    if "DeletionProtectionEnabled" in pr:
        args["DeletionProtectionEnabled"] = _as_bool(pr["DeletionProtectionEnabled"])
    tags = _tags_list(pr.get("Tags"))
    if tags:
        args["Tags"] = tags
    desc = ddb.create_table(**args)["TableDescription"]
    warnings = []
    ttl = pr.get("TimeToLiveSpecification")
    if ttl and _as_bool(ttl.get("Enabled", False)):
        ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": ttl["AttributeName"]})
    pitr = pr.get("PointInTimeRecoverySpecification")
    if pitr and _as_bool(pitr.get("PointInTimeRecoveryEnabled", False)):
        try:
            ddb.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True})
        except Exception as e:
            warnings.append(f"PITR not set: {e}")
    desc = ddb.describe_table(TableName=table)["Table"]
    attrs = {"Arn": desc["TableArn"]}
    if desc.get("LatestStreamArn"):
        attrs["StreamArn"] = desc["LatestStreamArn"]
    return {"physical_id": table, "arn": desc["TableArn"], "attrs": attrs, "warnings": warnings}


def h_simple_table(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    pk = pr.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    t = {"S": "S", "String": "S", "Number": "N", "Binary": "B"}.get(pk.get("Type", "String"), "S")
    fake = {"Properties": {"TableName": pr.get("TableName") or gen_name(p.stack, name, 255, r"[^A-Za-z0-9_.-]"),
                           "KeySchema": [{"AttributeName": pk["Name"], "KeyType": "HASH"}],
                           "AttributeDefinitions": [{"AttributeName": pk["Name"], "AttributeType": t}],
                           "BillingMode": "PAY_PER_REQUEST", "Tags": pr.get("Tags"),
                           "SSESpecification": pr.get("SSESpecification")}}
    return h_dynamodb_table(p, name, fake)


def h_kms_key(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    kms = p.client("kms")
    args: dict[str, Any] = {}
    for k in ("Description", "KeyUsage", "KeySpec", "Origin"):
        if pr.get(k) is not None:
            args[k] = pr[k]
    if pr.get("MultiRegion") is not None:
        args["MultiRegion"] = _as_bool(pr["MultiRegion"])
    pol = pr.get("KeyPolicy")
    if pol:
        args["Policy"] = pol if isinstance(pol, str) else json.dumps(pol)
    tags = _tags_list(pr.get("Tags"), "TagKey", "TagValue")
    if tags:
        args["Tags"] = tags
    meta = kms.create_key(**args)["KeyMetadata"]
    key_id, arn = meta["KeyId"], meta["Arn"]
    warnings = []
    if _as_bool(pr.get("EnableKeyRotation", False)):
        kw = {"KeyId": key_id}
        if pr.get("RotationPeriodInDays"):
            kw["RotationPeriodInDays"] = int(pr["RotationPeriodInDays"])
        try:
            kms.enable_key_rotation(**kw)
        except Exception as e:
            warnings.append(f"key rotation not enabled: {e}")
    if "Enabled" in pr and not _as_bool(pr["Enabled"]):
        kms.disable_key(KeyId=key_id)
    return {"physical_id": key_id, "arn": arn, "attrs": {"Arn": arn, "KeyId": key_id}, "warnings": warnings}


def h_kms_alias(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    alias = pr["AliasName"]
    p.client("kms").create_alias(AliasName=alias, TargetKeyId=pr["TargetKeyId"])
    arn = f"arn:aws:kms:{p.region}:{p.account}:{alias}"
    return {"physical_id": alias, "arn": arn, "attrs": {}}


def _s3_lifecycle_rule(r: dict) -> dict:
    out: dict[str, Any] = {"ID": r.get("Id"), "Status": r.get("Status", "Enabled")}
    tags = r.get("TagFilters")
    prefix = r.get("Prefix")
    size_gt, size_lt = r.get("ObjectSizeGreaterThan"), r.get("ObjectSizeLessThan")
    if tags or size_gt is not None or size_lt is not None:
        and_ = _drop_none({"Prefix": prefix, "Tags": tags,
                           "ObjectSizeGreaterThan": int(size_gt) if size_gt is not None else None,
                           "ObjectSizeLessThan": int(size_lt) if size_lt is not None else None})
        out["Filter"] = {"And": and_}
    else:
        out["Filter"] = {"Prefix": prefix or ""}
    exp: dict[str, Any] = {}
    if r.get("ExpirationInDays") is not None:
        exp["Days"] = int(r["ExpirationInDays"])
    if r.get("ExpirationDate"):
        exp["Date"] = r["ExpirationDate"]
    if r.get("ExpiredObjectDeleteMarker") is not None:
        exp["ExpiredObjectDeleteMarker"] = _as_bool(r["ExpiredObjectDeleteMarker"])
    if exp:
        out["Expiration"] = exp
    nve = r.get("NoncurrentVersionExpiration")
    if nve:
        out["NoncurrentVersionExpiration"] = _drop_none({
            "NoncurrentDays": int(nve["NoncurrentDays"]) if nve.get("NoncurrentDays") is not None else None,
            "NewerNoncurrentVersions": int(nve["NewerNoncurrentVersions"]) if nve.get("NewerNoncurrentVersions") is not None else None})
    elif r.get("NoncurrentVersionExpirationInDays") is not None:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(r["NoncurrentVersionExpirationInDays"])}
    trans = list(r.get("Transitions") or []) + ([r["Transition"]] if r.get("Transition") else [])
    if trans:
        out["Transitions"] = [_drop_none({"StorageClass": t["StorageClass"],
                                          "Days": int(t["TransitionInDays"]) if t.get("TransitionInDays") is not None else None,
                                          "Date": t.get("TransitionDate")}) for t in trans]
    ntrans = list(r.get("NoncurrentVersionTransitions") or []) + (
        [r["NoncurrentVersionTransition"]] if r.get("NoncurrentVersionTransition") else [])
    if ntrans:
        out["NoncurrentVersionTransitions"] = [_drop_none({
            "StorageClass": t["StorageClass"], "NoncurrentDays": int(t["TransitionInDays"]),
            "NewerNoncurrentVersions": t.get("NewerNoncurrentVersions")}) for t in ntrans]
    if r.get("AbortIncompleteMultipartUpload"):
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])}
    return _drop_none(out)


def h_s3_bucket(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    s3 = p.client("s3")
    bucket = pr.get("BucketName") or bucket_name(p.stack, name)
    args: dict[str, Any] = {"Bucket": bucket}
    if p.region != "us-east-1":
        args["CreateBucketConfiguration"] = {"LocationConstraint": p.region}
    if _as_bool(pr.get("ObjectLockEnabled", False)):
        args["ObjectLockEnabledForBucket"] = True
    s3.create_bucket(**args)
    warnings: list[str] = []

    def attempt(what: str, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception as e:
            warnings.append(f"{what} not applied: {e}")

    enc = pr.get("BucketEncryption")
    if enc:
        rules = []
        for r in enc.get("ServerSideEncryptionConfiguration") or []:
            r = dict(r)
            if "ServerSideEncryptionByDefault" in r:
                r["ApplyServerSideEncryptionByDefault"] = r.pop("ServerSideEncryptionByDefault")
            if "BucketKeyEnabled" in r:
                r["BucketKeyEnabled"] = _as_bool(r["BucketKeyEnabled"])
            rules.append(r)
        attempt("BucketEncryption", lambda: s3.put_bucket_encryption(
            Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules}))
    ver = pr.get("VersioningConfiguration")
    if ver:
        attempt("VersioningConfiguration", lambda: s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": ver.get("Status", "Enabled")}))
    lc = pr.get("LifecycleConfiguration")
    if lc and lc.get("Rules"):
        rules = [_s3_lifecycle_rule(r) for r in lc["Rules"]]
        attempt("LifecycleConfiguration", lambda: s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": rules}))
    pab = pr.get("PublicAccessBlockConfiguration")
    if pab:
        conf = {k: _as_bool(v) for k, v in pab.items()}
        attempt("PublicAccessBlockConfiguration", lambda: s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=conf))
    own = pr.get("OwnershipControls")
    if own:
        attempt("OwnershipControls", lambda: s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": own.get("Rules") or []}))
    olc = pr.get("ObjectLockConfiguration")
    if olc:
        attempt("ObjectLockConfiguration", lambda: s3.put_object_lock_configuration(
            Bucket=bucket, ObjectLockConfiguration=olc))
    tags = _tags_list(pr.get("Tags"))
    if tags:
        attempt("Tags", lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags}))
    for unsupported in ("NotificationConfiguration", "ReplicationConfiguration", "WebsiteConfiguration",
                        "LoggingConfiguration", "CorsConfiguration", "InventoryConfigurations",
                        "MetricsConfigurations", "IntelligentTieringConfigurations", "AnalyticsConfigurations"):
        if pr.get(unsupported):
            warnings.append(f"{unsupported} ignored")
    arn = f"arn:aws:s3:::{bucket}"
    attrs = {"Arn": arn, "DomainName": f"{bucket}.s3.amazonaws.com",
             "RegionalDomainName": f"{bucket}.s3.{p.region}.amazonaws.com",
             "DualStackDomainName": f"{bucket}.s3.dualstack.{p.region}.amazonaws.com",
             "WebsiteURL": f"http://{bucket}.s3-website-{p.region}.amazonaws.com"}
    return {"physical_id": bucket, "arn": arn, "attrs": attrs, "warnings": warnings}


def _requires_tls(stmt: dict) -> bool:
    """A Deny conditioned on aws:SecureTransport=false (the usual TLS-only statement)."""
    if stmt.get("Effect") != "Deny":
        return False
    for cond in (stmt.get("Condition") or {}).values():
        if isinstance(cond, dict) and any(k.lower() == "aws:securetransport" for k in cond):
            return True
    return False


def h_s3_bucket_policy(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    doc = pr["PolicyDocument"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    warnings = []
    # moto enforces bucket policies, and the emulator serves plain HTTP: a TLS-only Deny would
    # refuse every request. Locally (only) such statements are left out, and said so.
    kept = [st for st in doc.get("Statement", []) if not _requires_tls(st)]
    if len(kept) != len(doc.get("Statement", [])):
        warnings.append("TLS-only Deny statement(s) not applied: the emulator serves plain HTTP")
        doc = {**doc, "Statement": kept}
    p.client("s3").put_bucket_policy(Bucket=pr["Bucket"], Policy=json.dumps(doc))
    return {"physical_id": pr["Bucket"], "arn": None, "warnings": warnings}


SQS_ATTRS = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
             "VisibilityTimeout", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled",
             "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")


def h_sqs_queue(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    sqs = p.client("sqs")
    fifo = _as_bool(pr.get("FifoQueue", False))
    qname = pr.get("QueueName") or gen_name(p.stack, name, 80, suffix=".fifo" if fifo else "")
    attrs = {k: _bool_str(pr[k]) for k in SQS_ATTRS if pr.get(k) is not None}
    for k in ("RedrivePolicy", "RedriveAllowPolicy"):
        if pr.get(k):
            attrs[k] = pr[k] if isinstance(pr[k], str) else json.dumps(pr[k])
    args: dict[str, Any] = {"QueueName": qname}
    if attrs:
        args["Attributes"] = attrs
    tags = _tags_map(pr.get("Tags"))
    if tags:
        args["tags"] = tags
    url = sqs.create_queue(**args)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"physical_id": url, "arn": arn, "attrs": {"Arn": arn, "QueueName": qname, "QueueUrl": url}}


def h_sqs_queue_policy(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    doc = pr["PolicyDocument"]
    for url in pr.get("Queues") or []:
        p.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={
            "Policy": doc if isinstance(doc, str) else json.dumps(doc)})
    return {"physical_id": gen_name(p.stack, name, 128), "arn": None}


def h_sns_topic(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    sns = p.client("sns")
    fifo = _as_bool(pr.get("FifoTopic", False))
    tname = pr.get("TopicName") or gen_name(p.stack, name, 256, suffix=".fifo" if fifo else "")
    attrs = {}
    for k in ("DisplayName", "KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication", "SignatureVersion",
              "TracingConfig"):
        if pr.get(k) is not None:
            attrs[k] = _bool_str(pr[k])
    args: dict[str, Any] = {"Name": tname}
    if attrs:
        args["Attributes"] = attrs
    tags = _tags_list(pr.get("Tags"))
    if tags:
        args["Tags"] = tags
    arn = sns.create_topic(**args)["TopicArn"]
    for sub in pr.get("Subscription") or []:
        sns.subscribe(TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])
    return {"physical_id": arn, "arn": arn, "attrs": {"TopicArn": arn, "TopicName": tname}}


def h_sns_subscription(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    attrs = {}
    for k in ("FilterPolicy", "RedrivePolicy", "DeliveryPolicy"):
        if pr.get(k):
            attrs[k] = pr[k] if isinstance(pr[k], str) else json.dumps(pr[k])
    for k in ("RawMessageDelivery", "FilterPolicyScope"):
        if pr.get(k) is not None:
            attrs[k] = _bool_str(pr[k])
    kw: dict[str, Any] = {"TopicArn": pr["TopicArn"], "Protocol": pr["Protocol"], "Endpoint": pr.get("Endpoint"),
                          "ReturnSubscriptionArn": True}
    if attrs:
        kw["Attributes"] = attrs
    arn = p.client("sns").subscribe(**_drop_none(kw))["SubscriptionArn"]
    return {"physical_id": arn, "arn": arn}


def h_iam_role(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    iam = p.client("iam")
    rname = pr.get("RoleName") or gen_name(p.stack, name, 64, r"[^A-Za-z0-9+=,.@_-]")
    doc = pr.get("AssumeRolePolicyDocument") or {}
    args: dict[str, Any] = {"RoleName": rname, "AssumeRolePolicyDocument": doc if isinstance(doc, str) else json.dumps(doc)}
    for k in ("Path", "Description", "PermissionsBoundary"):
        if pr.get(k):
            args[k] = pr[k]
    if pr.get("MaxSessionDuration"):
        args["MaxSessionDuration"] = int(pr["MaxSessionDuration"])
    tags = _tags_list(pr.get("Tags"))
    if tags:
        args["Tags"] = tags
    role = iam.create_role(**args)["Role"]
    warnings: list[str] = []
    for pol in pr.get("Policies") or []:
        warnings += _put_role_policy(iam, rname, pol["PolicyName"], pol["PolicyDocument"])
    for arn in pr.get("ManagedPolicyArns") or []:
        warnings += _attach_managed(iam, rname, arn)
    return {"physical_id": rname, "arn": role["Arn"], "attrs": {"Arn": role["Arn"], "RoleId": role["RoleId"]},
            "warnings": warnings}


def h_iam_managed_policy(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    iam = p.client("iam")
    pname = pr.get("ManagedPolicyName") or gen_name(p.stack, name, 128, r"[^A-Za-z0-9+=,.@_-]")
    kw = {"PolicyName": pname, "PolicyDocument": _policy_json(pr["PolicyDocument"])[0]}
    if pr.get("Path"):
        kw["Path"] = pr["Path"]
    if pr.get("Description"):
        kw["Description"] = pr["Description"]
    arn = iam.create_policy(**kw)["Policy"]["Arn"]
    for r in pr.get("Roles") or []:
        iam.attach_role_policy(RoleName=r, PolicyArn=arn)
    for u in pr.get("Users") or []:
        iam.attach_user_policy(UserName=u, PolicyArn=arn)
    for g in pr.get("Groups") or []:
        iam.attach_group_policy(GroupName=g, PolicyArn=arn)
    return {"physical_id": arn, "arn": arn, "attrs": {"PolicyArn": arn}}


def h_iam_policy(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    iam = p.client("iam")
    doc_s, warnings = _policy_json(pr["PolicyDocument"])
    for r in pr.get("Roles") or []:
        iam.put_role_policy(RoleName=r, PolicyName=pr["PolicyName"], PolicyDocument=doc_s)
    for u in pr.get("Users") or []:
        iam.put_user_policy(UserName=u, PolicyName=pr["PolicyName"], PolicyDocument=doc_s)
    for g in pr.get("Groups") or []:
        iam.put_group_policy(GroupName=g, PolicyName=pr["PolicyName"], PolicyDocument=doc_s)
    return {"physical_id": pr["PolicyName"], "arn": None, "warnings": warnings}


def _function(p: Provisioner, name: str, res: dict, serverless: bool) -> dict:
    raw = dict(res.get("Properties") or {})
    if serverless:
        g = dict((p.t.get("Globals") or {}).get("Function") or {})
        merged = dict(g)
        for k, v in raw.items():
            if k == "Environment" and isinstance(v, dict) and isinstance(g.get("Environment"), dict):
                merged["Environment"] = {"Variables": {**(g["Environment"].get("Variables") or {}),
                                                       **(v.get("Variables") or {})}}
            elif k == "Tags" and isinstance(v, dict) and isinstance(g.get("Tags"), dict):
                merged["Tags"] = {**g["Tags"], **v}
            else:
                merged[k] = v
        raw = merged
    pr = p.resolve(raw)
    if serverless and pr.get("Role"):
        pr.pop("Policies", None)  # SAM ignores Policies when the function names its role
    lam = p.client("lambda")
    fname = pr.get("FunctionName") or gen_name(p.stack, name, 64)
    meta = res.get("Metadata") or {}
    binary = ((meta.get("BuildProperties") or {}).get("Binary")) or fname
    env = {k: _bool_str(v) for k, v in ((pr.get("Environment") or {}).get("Variables") or {}).items()}
    env.setdefault("ROOTWARDEN_BINARY", binary)
    tags = _tags_map(pr.get("Tags")) if not serverless else {str(k): str(v) for k, v in (pr.get("Tags") or {}).items()}
    tags.setdefault("rootwarden:binary", env["ROOTWARDEN_BINARY"])
    extra: dict[str, dict] = {}
    warnings: list[str] = []
    if serverless and not pr.get("Role"):
        role_arn, implicit, warnings = p.sam_role(name, "function", raw, pr)
    else:
        role_arn, implicit = p.ensure_role(pr.get("Role"),
                                           gen_name(p.stack, name + "Role", 64, r"[^A-Za-z0-9+=,.@_-]"),
                                           "lambda.amazonaws.com")
    if implicit:
        extra[f"{name}Role"] = implicit
    p.role_users[name] = role_arn
    args: dict[str, Any] = {
        "FunctionName": fname,
        "Runtime": pr.get("Runtime") or "provided.al2023",
        "Role": role_arn,
        "Handler": pr.get("Handler") or "bootstrap",
        "Code": {"ZipFile": _dummy_zip()},
        "Timeout": int(pr.get("Timeout") or 3),
        "MemorySize": int(pr.get("MemorySize") or 128),
        "Architectures": pr.get("Architectures") or ["x86_64"],
        "Environment": {"Variables": env},
        "Tags": tags,
    }
    if pr.get("Description"):
        args["Description"] = pr["Description"]
    if pr.get("KmsKeyArn"):
        args["KMSKeyArn"] = pr["KmsKeyArn"]
    dlq = pr.get("DeadLetterQueue") or pr.get("DeadLetterConfig")
    if dlq and dlq.get("TargetArn"):
        args["DeadLetterConfig"] = {"TargetArn": dlq["TargetArn"]}
    if pr.get("EphemeralStorage"):
        args["EphemeralStorage"] = {"Size": int(pr["EphemeralStorage"]["Size"])}
    fn = lam.create_function(**args)
    arn = fn["FunctionArn"]
    if pr.get("ReservedConcurrentExecutions") is not None:
        try:
            lam.put_function_concurrency(FunctionName=fname,
                                         ReservedConcurrentExecutions=int(pr["ReservedConcurrentExecutions"]))
        except Exception as e:
            warnings.append(f"reserved concurrency not set: {e}")
    attrs = {"Arn": arn}
    alias = pr.get("AutoPublishAlias")
    if serverless and alias:
        ver = lam.publish_version(FunctionName=fname)["Version"]
        a = lam.create_alias(FunctionName=fname, Name=alias, FunctionVersion=ver)
        attrs["Alias"] = a["AliasArn"]
        extra[f"{name}Alias"] = {"type": "AWS::Lambda::Alias", "physical_id": a["AliasArn"],
                                 "arn": a["AliasArn"], "attrs": {}, "implicit": True}
        extra[f"{name}Version"] = {"type": "AWS::Lambda::Version", "physical_id": f"{arn}:{ver}",
                                   "arn": f"{arn}:{ver}", "attrs": {"Version": ver}, "implicit": True}
    url_cfg = pr.get("FunctionUrlConfig") if serverless else None
    if url_cfg:
        # SAM's generated AWS::Lambda::Url is `<Function>Url`; served by rootwarden_ext.function_urls
        from rootwarden_ext import function_urls

        out = lam.create_function_url_config(FunctionName=fname, AuthType=url_cfg.get("AuthType", "AWS_IAM"))
        local = function_urls.local_url(p.endpoint, out["FunctionUrl"])
        extra[f"{name}Url"] = {"type": "AWS::Lambda::Url", "physical_id": local, "arn": None,
                               "attrs": {"FunctionUrl": local, "FunctionArn": arn}, "implicit": True}
    for ev_name, ev in (pr.get("Events") or {}).items():
        warnings.append(f"event source {ev_name} ({(ev or {}).get('Type')}) not emulated")
    return {"physical_id": fname, "arn": arn, "attrs": attrs, "warnings": warnings, "extra_resources": extra}


def h_serverless_function(p: Provisioner, name: str, res: dict) -> dict:
    return _function(p, name, res, serverless=True)


def h_lambda_function(p: Provisioner, name: str, res: dict) -> dict:
    return _function(p, name, res, serverless=False)


def h_lambda_permission(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    kw = _drop_none({"FunctionName": pr["FunctionName"], "StatementId": gen_name(p.stack, name, 100),
                     "Action": pr["Action"], "Principal": pr["Principal"], "SourceArn": pr.get("SourceArn"),
                     "SourceAccount": pr.get("SourceAccount"),
                     "FunctionUrlAuthType": pr.get("FunctionUrlAuthType"),
                     "InvokedViaFunctionUrl": _as_bool(pr["InvokedViaFunctionUrl"])
                     if pr.get("InvokedViaFunctionUrl") is not None else None})
    warnings = []
    try:
        p.client("lambda").add_permission(**kw)
    except Exception as e:
        warnings.append(f"permission not added: {e}")
    return {"physical_id": kw["StatementId"], "arn": None, "warnings": warnings}


def _load_definition(p: Provisioner, pr: dict) -> str:
    if pr.get("Definition") is not None:
        d = pr["Definition"]
        return d if isinstance(d, str) else json.dumps(d)
    if pr.get("DefinitionString") is not None:
        return pr["DefinitionString"]
    uri = pr.get("DefinitionUri")
    if isinstance(uri, str) and not uri.startswith("s3://"):
        path = uri if os.path.isabs(uri) else os.path.join(p.dir, uri)
        with open(path) as f:
            text = f.read()
        if path.endswith((".yaml", ".yml")):
            return json.dumps(yaml.load(text, Loader=_Loader))  # noqa: S506
        json.loads(text)  # validate
        return text
    raise TemplateError("state machine definition must be Definition, DefinitionString or a local DefinitionUri")


def h_state_machine(p: Provisioner, name: str, res: dict) -> dict:
    serverless = res.get("Type") == "AWS::Serverless::StateMachine"
    pr = p.props(res)
    sfn = p.client("stepfunctions")
    smname = pr.get("Name") or pr.get("StateMachineName") or gen_name(p.stack, name, 80)
    definition = _load_definition(p, pr)
    for key, value in (pr.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + key + "}", _bool_str(value))
    left = re.findall(r"\$\{([A-Za-z0-9_.:]+)\}", definition)
    warnings = [f"unsubstituted placeholder ${{{x}}} in definition" for x in sorted(set(left))]
    role = pr.get("Role") or pr.get("RoleArn")
    extra = {}
    if serverless and not role:
        role_arn, implicit, role_warnings = p.sam_role(name, "statemachine", res.get("Properties") or {}, pr)
        warnings += role_warnings
    else:
        role_arn, implicit = p.ensure_role(role, gen_name(p.stack, name + "Role", 64, r"[^A-Za-z0-9+=,.@_-]"),
                                           "states.amazonaws.com")
    if implicit:
        extra[f"{name}Role"] = implicit
    p.role_users[name] = role_arn
    args: dict[str, Any] = {"name": smname, "definition": definition, "roleArn": role_arn}
    smtype = pr.get("Type") or pr.get("StateMachineType")
    if smtype:
        args["type"] = smtype
    tags = pr.get("Tags")
    if tags:
        args["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in _tags_list(tags)]
    arn = sfn.create_state_machine(**args)["stateMachineArn"]
    if serverless:
        for ev_name, ev in (pr.get("Events") or {}).items():
            warnings.append(f"event source {ev_name} ({(ev or {}).get('Type')}) not emulated")
    return {"physical_id": arn, "arn": arn, "attrs": {"Arn": arn, "Name": smname, "StateMachineName": smname},
            "warnings": warnings, "extra_resources": extra}


def h_schedule_group(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    gname = pr.get("Name") or gen_name(p.stack, name, 64, r"[^A-Za-z0-9_.-]")
    kw: dict[str, Any] = {"Name": gname}
    if pr.get("Tags"):
        kw["Tags"] = _tags_list(pr["Tags"])
    arn = p.client("scheduler").create_schedule_group(**kw)["ScheduleGroupArn"]
    return {"physical_id": gname, "arn": arn, "attrs": {"Arn": arn}}


def h_schedule(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    sname = pr.get("Name") or gen_name(p.stack, name, 64, r"[^A-Za-z0-9_.-]")
    target = dict(pr.get("Target") or {})
    if not target.get("RoleArn"):
        target["RoleArn"] = f"arn:aws:iam::{p.account}:role/{p.stack}-scheduler"
    p.role_users[name] = target["RoleArn"]
    for k in ("RetryPolicy",):
        if isinstance(target.get(k), dict):
            target[k] = {kk: int(vv) for kk, vv in target[k].items()}
    kw: dict[str, Any] = {
        "Name": sname, "ScheduleExpression": pr["ScheduleExpression"],
        "FlexibleTimeWindow": pr.get("FlexibleTimeWindow") or {"Mode": "OFF"}, "Target": target,
    }
    for k in ("GroupName", "ScheduleExpressionTimezone", "Description", "State", "StartDate", "EndDate",
              "KmsKeyArn", "ActionAfterCompletion"):
        if pr.get(k) is not None:
            kw[k] = pr[k]
    if "MaximumWindowInMinutes" in kw["FlexibleTimeWindow"]:
        kw["FlexibleTimeWindow"]["MaximumWindowInMinutes"] = int(kw["FlexibleTimeWindow"]["MaximumWindowInMinutes"])
    arn = p.client("scheduler").create_schedule(**kw)["ScheduleArn"]
    return {"physical_id": sname, "arn": arn, "attrs": {"Arn": arn},
            "warnings": ["schedules never fire in the emulator; invoke the target directly"]}


ALARM_KEYS = ("AlarmDescription", "ActionsEnabled", "AlarmActions", "OKActions", "InsufficientDataActions",
              "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
              "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
              "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId")


def h_alarm(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    aname = pr.get("AlarmName") or gen_name(p.stack, name, 255, r"[^A-Za-z0-9_.:/ -]")
    kw: dict[str, Any] = {"AlarmName": aname}
    for k in ALARM_KEYS:
        if pr.get(k) is not None:
            kw[k] = pr[k]
    for k in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if k in kw:
            kw[k] = int(kw[k])
    if "Threshold" in kw:
        kw["Threshold"] = float(kw["Threshold"])
    if "ActionsEnabled" in kw:
        kw["ActionsEnabled"] = _as_bool(kw["ActionsEnabled"])
    for m in kw.get("Metrics") or []:
        if isinstance(m.get("ReturnData"), str):
            m["ReturnData"] = _as_bool(m["ReturnData"])
        ms = m.get("MetricStat")
        if ms and ms.get("Period") is not None:
            ms["Period"] = int(ms["Period"])
        if m.get("Period") is not None:
            m["Period"] = int(m["Period"])
    if pr.get("Tags"):
        kw["Tags"] = _tags_list(pr["Tags"])
    cw = p.client("cloudwatch")
    cw.put_metric_alarm(**kw)
    arn = f"arn:aws:cloudwatch:{p.region}:{p.account}:alarm:{aname}"
    try:
        arn = cw.describe_alarms(AlarmNames=[aname])["MetricAlarms"][0]["AlarmArn"]
    except Exception:
        pass
    return {"physical_id": aname, "arn": arn, "attrs": {"Arn": arn}}


def h_log_group(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    logs = p.client("logs")
    gname = pr.get("LogGroupName") or f"/aws/{p.stack}/{name}"
    kw: dict[str, Any] = {"logGroupName": gname}
    if pr.get("KmsKeyId"):
        kw["kmsKeyId"] = pr["KmsKeyId"]
    if pr.get("Tags"):
        kw["tags"] = _tags_map(pr["Tags"])
    logs.create_log_group(**kw)
    if pr.get("RetentionInDays"):
        logs.put_retention_policy(logGroupName=gname, retentionInDays=int(pr["RetentionInDays"]))
    arn = f"arn:aws:logs:{p.region}:{p.account}:log-group:{gname}:*"
    return {"physical_id": gname, "arn": arn, "attrs": {"Arn": arn}}


def h_ses_rule_set(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    rs = pr.get("RuleSetName") or gen_name(p.stack, name, 64, r"[^A-Za-z0-9_.-]")
    p.client("ses").create_receipt_rule_set(RuleSetName=rs)
    return {"physical_id": rs, "arn": None}


def h_ses_rule(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    rule = dict(pr["Rule"])
    rule.setdefault("Name", gen_name(p.stack, name, 64, r"[^A-Za-z0-9_.-]"))
    for k in ("Enabled", "ScanEnabled"):
        if k in rule:
            rule[k] = _as_bool(rule[k])
    kw: dict[str, Any] = {"RuleSetName": pr["RuleSetName"], "Rule": rule}
    if pr.get("After"):
        kw["After"] = pr["After"]
    p.client("ses").create_receipt_rule(**kw)
    return {"physical_id": rule["Name"], "arn": None}


def h_ses_email_identity(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    ident = pr["EmailIdentity"]
    warnings = []
    try:
        p.client("sesv2").create_email_identity(EmailIdentity=ident)
    except Exception as e:
        warnings.append(f"sesv2 identity: {e}")
    ses = p.client("ses")
    if "@" in ident:
        ses.verify_email_identity(EmailAddress=ident)
    else:
        ses.verify_domain_identity(Domain=ident)
    return {"physical_id": ident, "arn": f"arn:aws:ses:{p.region}:{p.account}:identity/{ident}",
            "warnings": warnings}


def h_ses_configuration_set(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    cs = pr.get("Name") or gen_name(p.stack, name, 64)
    p.client("sesv2").create_configuration_set(ConfigurationSetName=cs)
    return {"physical_id": cs, "arn": None}


def h_secret(p: Provisioner, name: str, res: dict) -> dict:
    """AWS::SecretsManager::Secret: Ref is the secret's ARN (IAM policies name it)."""
    pr = p.props(res)
    sm = p.client("secretsmanager")
    sname = pr.get("Name") or gen_name(p.stack, name, 256, r"[^A-Za-z0-9/_+=.@-]")
    kw: dict[str, Any] = {"Name": sname}
    for k in ("Description", "KmsKeyId"):
        if pr.get(k):
            kw[k] = pr[k]
    gen = pr.get("GenerateSecretString")
    if pr.get("SecretString") is not None:
        kw["SecretString"] = pr["SecretString"]
    elif gen:
        args = {k: (int(v) if k == "PasswordLength" else _as_bool(v) if k.startswith(("Exclude", "Include", "Require"))
                    else v)
                for k, v in gen.items() if k in ("PasswordLength", "ExcludeCharacters", "ExcludeNumbers",
                                                "ExcludePunctuation", "ExcludeUppercase", "ExcludeLowercase",
                                                "IncludeSpace", "RequireEachIncludedType")}
        value = sm.get_random_password(**args)["RandomPassword"]
        if gen.get("SecretStringTemplate") and gen.get("GenerateStringKey"):
            doc = json.loads(gen["SecretStringTemplate"])
            doc[gen["GenerateStringKey"]] = value
            value = json.dumps(doc)
        kw["SecretString"] = value
    if pr.get("Tags"):
        kw["Tags"] = _tags_list(pr["Tags"])
    arn = sm.create_secret(**kw)["ARN"]
    return {"physical_id": arn, "arn": arn, "attrs": {"Id": arn}}


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


def parse_params(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit(f"--param expects Key=Value, got {item!r}")
        k, v = item.split("=", 1)
        out[k] = v
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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


if __name__ == "__main__":
    sys.exit(main())
