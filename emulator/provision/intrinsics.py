from __future__ import annotations

import base64
import json
import re
from typing import Any

from .util import NO_VALUE, TemplateError, _bool_str


class Intrinsics:
    """Parameters, conditions and intrinsic functions of a template; mixed into Provisioner."""

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
                    raise TemplateError(f"Fn::FindInMap {m}/{k1}/{k2} not found") from None
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
