#!/usr/bin/env python3
"""Least privilege, checked: every action the template grants a role was used by that role.

While the test suite runs with ROOTWARDEN_IAM_CALL_LOG_DIR set (make test sets it), each emulator
writes to that directory:
  calls-<pid>.jsonl  every distinct (principal, action, resource, allowed) the IAM engine checked;
  roles-<pid>.json   the provisioned template roles: role ARN -> logical id and policy documents.

Afterwards

    .venv/bin/python emulator/iam_usage.py DIR [--allowlist infra/iam-unused-allowlist.yaml]
        [--template infra/template.yaml] [--report PATH]

derives, for each template role, the (action, resource) pairs it was allowed and used, and fails
(exit 1) when the template grants a role an action (or action pattern, such as kms:Describe*)
that no call of that role used, unless the allow-list names it with a reason (and an allow-list
entry for a grant the suite did use fails too, so the list stays true). Only runs that
provisioned `--template` count (a test may provision a modified copy). Denied calls are not use.
"""
from __future__ import annotations

import argparse
import fnmatch
import glob
import json
import os
import sys
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

# ----------------------------------------------------------------------------- writing (launcher)

def _role_documents(role_arn: str) -> list[dict]:
    """Inline and attached managed policy documents of a role, from moto's IAM backend."""
    from moto.iam.models import iam_backends

    account = role_arn.split(":")[4]
    docs: list[Any] = []
    for _, backend in list(iam_backends.get(account, {}).items()):
        try:
            role = backend.get_role_by_arn(role_arn)
        except Exception:
            continue
        docs.extend((getattr(role, "policies", None) or {}).values())
        for mp in (getattr(role, "managed_policies", None) or {}).values():
            for v in getattr(mp, "versions", []):
                if getattr(v, "is_default", False):
                    docs.append(v.document)
    out = []
    for d in docs:
        try:
            out.append(json.loads(d) if isinstance(d, str) else d)
        except ValueError:
            continue
    return out


def write_roles(log_dir: str, stack: dict, template_path: str) -> None:
    """Record the stack's roles and their policies for the checker."""
    roles: dict[str, dict] = {}
    for logical, arn in (stack.get("roles") or {}).items():
        entry = roles.setdefault(arn, {"logical_ids": [], "policies": _role_documents(arn)})
        entry["logical_ids"].append(logical)
    for logical, res in (stack.get("resources") or {}).items():
        if res.get("type") == "AWS::IAM::Role" and res.get("arn"):
            entry = roles.setdefault(res["arn"], {"logical_ids": [], "policies": _role_documents(res["arn"])})
            if logical not in entry["logical_ids"]:
                entry["logical_ids"].insert(0, logical)
    os.makedirs(log_dir, exist_ok=True)
    path = os.path.join(log_dir, f"roles-{os.getpid()}.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"template": os.path.realpath(template_path), "stack": stack.get("name"), "roles": roles}, f)
    os.replace(path + ".tmp", path)


# ----------------------------------------------------------------------------- checking

def _as_list(v: Any) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def granted_actions(policies: Iterable[dict]) -> set[str]:
    """Action patterns the role's Allow statements grant (NotAction grants are reported as such)."""
    out: set[str] = set()
    for doc in policies:
        for st in _as_list(doc.get("Statement")):
            if st.get("Effect") != "Allow":
                continue
            for a in _as_list(st.get("Action")):
                out.add(str(a))
            for a in _as_list(st.get("NotAction")):
                out.add(f"NotAction:{a}")
    return out


def role_name(logical_ids: list[str]) -> str:
    """The role's own logical id when it has one (explicit AWS::IAM::Role), else its owner's."""
    roles = [x for x in logical_ids if x.endswith("Role")]
    return (roles or logical_ids or ["?"])[0]


def load(log_dir: str, template: str) -> tuple[dict[str, set[str]], dict[str, set[tuple[str, str]]], int]:
    """(granted action patterns per role, used (action, resource) per role, runs counted)."""
    template = os.path.realpath(template)
    arn_to_role: dict[str, str] = {}
    granted: dict[str, set[str]] = defaultdict(set)
    runs = 0
    counted_pids: set[str] = set()
    for path in sorted(glob.glob(os.path.join(log_dir, "roles-*.json"))):
        with open(path) as f:
            data = json.load(f)
        if os.path.realpath(data.get("template", "")) != template:
            continue
        runs += 1
        counted_pids.add(os.path.basename(path)[len("roles-"):-len(".json")])
        for arn, entry in data["roles"].items():
            name = role_name(entry["logical_ids"])
            arn_to_role[arn] = name
            granted[name] |= granted_actions(entry["policies"])
    used: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in sorted(glob.glob(os.path.join(log_dir, "calls-*.jsonl"))):
        pid = os.path.basename(path)[len("calls-"):-len(".jsonl")]
        if pid not in counted_pids:
            continue
        with open(path) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if not rec.get("allowed"):
                    continue
                role = arn_to_role.get(rec.get("principal") or "")
                if role:
                    used[role].add((str(rec.get("action")), str(rec.get("resource"))))
    return granted, used, runs


def load_allowlist(path: str | None) -> dict[tuple[str, str], str]:
    if not path or not os.path.exists(path):
        return {}
    import yaml

    with open(path) as f:
        data = yaml.safe_load(f) or []
    entries = data.get("unused", data) if isinstance(data, dict) else data
    out: dict[tuple[str, str], str] = {}
    for e in entries or []:
        reason = str(e.get("reason") or "").strip()
        if not reason:
            raise SystemExit(f"allow-list entry {e} has no reason")
        out[(str(e["role"]), str(e["action"]))] = reason
    return out


def unused_grants(granted: dict[str, set[str]], used: dict[str, set[tuple[str, str]]],
                  allow: dict[tuple[str, str], str]) -> list[tuple[str, str]]:
    bad = []
    for role, patterns in sorted(granted.items()):
        actions = {a.lower() for a, _ in used.get(role, set())}
        for pat in sorted(patterns):
            if (role, pat) in allow:
                continue
            if pat.startswith("NotAction:"):
                bad.append((role, pat))
                continue
            if not any(fnmatch.fnmatchcase(a, pat.lower()) for a in actions):
                bad.append((role, pat))
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("log_dir")
    ap.add_argument("--template", default="infra/template.yaml")
    ap.add_argument("--allowlist", default="infra/iam-unused-allowlist.yaml")
    ap.add_argument("--report", help="write the used (role, action, resource) set here as JSON")
    a = ap.parse_args(argv)
    granted, used, runs = load(a.log_dir, a.template)
    if runs == 0:
        print(f"iam-usage: no emulator run of {a.template} logged in {a.log_dir}", file=sys.stderr)
        return 2
    allow = load_allowlist(a.allowlist)
    if a.report:
        with open(a.report, "w") as f:
            json.dump({r: sorted([list(x) for x in s]) for r, s in sorted(used.items())}, f, indent=1)
    stale = sorted(k for k in allow if k[0] in granted and k[1] not in granted[k[0]])
    # an allow-listed grant the suite did use is not "never used": the entry must go
    used_listed = sorted(
        (role, pat) for role, pat in allow
        if any(fnmatch.fnmatchcase(a.lower(), pat.lower()) for a, _ in used.get(role, set())))
    bad = unused_grants(granted, used, allow)
    n_used = sum(len(s) for s in used.values())
    print(f"iam-usage: {runs} emulator runs, {len(granted)} template roles, "
          f"{n_used} distinct (role, action, resource) used, {len(allow)} allow-listed grants")
    for role in sorted(granted):
        acts = sorted({a for a, _ in used.get(role, set())})
        print(f"  {role}: {len(acts)} actions used: {', '.join(acts) if acts else '-'}")
    for role, action in stale:
        print(f"iam-usage: allow-list entry ({role}, {action}) names a grant the template no longer makes",
              file=sys.stderr)
    for role, action in used_listed:
        print(f"iam-usage: allow-list entry ({role}, {action}) says the grant is never used, but the "
              f"suite used it: remove the entry", file=sys.stderr)
    for role, action in bad:
        print(f"iam-usage: {role} is granted {action} but never used it (remove the grant, exercise it "
              f"in a test, or allow-list it with a reason)", file=sys.stderr)
    return 1 if bad or stale or used_listed else 0


if __name__ == "__main__":
    sys.exit(main())
