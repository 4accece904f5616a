from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any

import yaml

from .loader import _Loader
from .names import gen_name
from .util import TemplateError, _bool_str, _tags_list

if TYPE_CHECKING:
    from .provisioner import Provisioner

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
