#!/usr/bin/env python3
"""Write a copy of the SAM template with one action taken away from one role.

    .venv/bin/python emulator/template_edit.py remove-action --role ROLE_LOGICAL_ID --action ACTION IN OUT

ROLE_LOGICAL_ID is an AWS::IAM::Role (its inline Policies, and every AWS::IAM::Policy or
ManagedPolicy attached to it by Ref), or `<Function>Role` for a SAM function or state machine
without an explicit Role (its Policies statements). Statements left with no action are dropped.
Exits 2 if the role was never granted ACTION, so a test cannot pass by removing nothing.
Used by the test that proves IAM enforcement can fail.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from provision import load_template  # noqa: E402


def _documents(t: dict, role: str) -> list[dict]:
    res = t.get("Resources") or {}
    docs: list[dict] = []
    r = res.get(role) or {}
    if r.get("Type") == "AWS::IAM::Role":
        docs += [p.get("PolicyDocument") or {} for p in (r.get("Properties") or {}).get("Policies") or []]
    for other in res.values():
        if other.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            roles = (other.get("Properties") or {}).get("Roles") or []
            if {"Ref": role} in roles or role in roles:
                docs.append((other.get("Properties") or {}).get("PolicyDocument") or {})
    if role.endswith("Role"):
        owner = res.get(role[: -len("Role")]) or {}
        if owner.get("Type") in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine") \
                and not (owner.get("Properties") or {}).get("Role"):
            docs += [p for p in (owner.get("Properties") or {}).get("Policies") or []
                     if isinstance(p, dict) and "Statement" in p]
    return docs


def remove_action(t: dict, role: str, action: str) -> int:
    removed = 0
    for doc in _documents(t, role):
        sts = doc.get("Statement")
        if isinstance(sts, dict):
            sts = doc["Statement"] = [sts]
        keep = []
        for st in sts or []:
            acts = st.get("Action")
            if acts is not None:
                acts = acts if isinstance(acts, list) else [acts]
                left = [a for a in acts if str(a).lower() != action.lower()]
                removed += len(acts) - len(left)
                if not left:
                    continue
                st["Action"] = left
            keep.append(st)
        doc["Statement"] = keep
    return removed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    ra = sub.add_parser("remove-action")
    ra.add_argument("--role", required=True)
    ra.add_argument("--action", required=True)
    ra.add_argument("src")
    ra.add_argument("dst")
    a = ap.parse_args(argv)
    t = load_template(a.src)
    if remove_action(t, a.role, a.action) == 0:
        print(f"template_edit: {a.role} is not granted {a.action} in {a.src}", file=sys.stderr)
        return 2
    # the copy lives elsewhere: definition files stay where the original's are
    here = os.path.dirname(os.path.abspath(a.src))
    for r in (t.get("Resources") or {}).values():
        uri = (r.get("Properties") or {}).get("DefinitionUri")
        if isinstance(uri, str) and not os.path.isabs(uri):
            r["Properties"]["DefinitionUri"] = os.path.join(here, uri)
    # JSON is YAML: the provisioner reads it, and nothing depends on the template's file name
    with open(a.dst, "w") as f:
        json.dump(t, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
