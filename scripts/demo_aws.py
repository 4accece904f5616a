"""Small AWS helpers for scripts/demo.sh (boto3 from the emulator venv, env from .local/env)."""
import json
import sys
import time

import boto3


def stack():
    ready = json.load(open(".local/ready.json"))
    for logical, res in sorted(ready["stack"]["resources"].items()):
        note = " (not emulated)" if res.get("skipped") else ""
        print(f"  {res['type']:<34} {logical:<28} {res.get('physical_id') or ''}{note}")


def run_integrity(name, expect_failure=False):
    ready = json.load(open(".local/ready.json"))
    arn = ready["stack"]["resources"]["AuditIntegrityStateMachine"]["arn"]
    sfn = boto3.client("stepfunctions")
    ex = sfn.start_execution(stateMachineArn=arn, name=name, input="{}")["executionArn"]
    while True:
        d = sfn.describe_execution(executionArn=ex)
        if d["status"] != "RUNNING":
            break
        time.sleep(0.2)
    print(f"  execution {name}: {d['status']}")
    if d["status"] == "SUCCEEDED":
        print(f"  output: {d['output']}")
    else:
        print(f"  error: {d.get('error')}")
        for e in sfn.get_execution_history(executionArn=ex)["events"]:
            if "taskFailedEventDetails" in e:
                print(f"  task failure: {e['taskFailedEventDetails'].get('cause')}")
    ok = (d["status"] == "FAILED") if expect_failure else (d["status"] == "SUCCEEDED")
    if not ok:
        sys.exit(f"unexpected execution status {d['status']}")


def tamper(account, seq):
    import os

    table = boto3.resource("dynamodb").Table(os.environ["ROOTWARDEN_AUDIT_TABLE"])
    key = {"stream": f"account/{account}", "seq": int(seq)}
    before = table.get_item(Key=key)["Item"]["reason"]
    table.update_item(Key=key, UpdateExpression="SET reason = :r", ExpressionAttributeValues={":r": "nothing happened here"})
    print(f"  record {seq} reason: {before!r} -> 'nothing happened here'")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "stack":
        stack()
    elif cmd == "run-integrity":
        run_integrity(args[0], expect_failure="--expect-failure" in args)
    elif cmd == "tamper":
        tamper(args[0], args[1])
    else:
        sys.exit(f"unknown command {cmd}")
