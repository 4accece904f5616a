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


def register(account, email):
    import os

    boto3.resource("dynamodb").Table(os.environ["ROOTWARDEN_ACCOUNTS_TABLE"]).put_item(
        Item={"account_id": account, "root_email": email.lower(), "status": "active"}
    )
    print(f"  registry: {email} -> {account}")


def deliver(path, recipient, ses_id):
    """What SES does: store the raw message in S3, then invoke the function with the receipt event."""
    import datetime
    import os

    bucket, prefix = os.environ["ROOTWARDEN_MAIL_BUCKET"], os.environ.get("ROOTWARDEN_MAIL_PREFIX", "")
    boto3.client("s3").put_object(Bucket=bucket, Key=prefix + ses_id, Body=open(path, "rb").read())
    event = json.load(open("tests/fixtures/ses/lambda-event.json"))
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    rec = event["Records"][0]["ses"]
    rec["mail"]["messageId"] = ses_id
    rec["mail"]["timestamp"] = rec["receipt"]["timestamp"] = now
    rec["receipt"]["recipients"] = [recipient]
    ready = json.load(open(".local/ready.json"))
    fn = ready["stack"]["resources"]["InboundMailFunction"]["physical_id"]
    out = boto3.client("lambda").invoke(FunctionName=fn, Payload=json.dumps(event).encode())
    body = json.loads(out["Payload"].read())
    if out.get("FunctionError"):
        sys.exit(f"  inbound-mail failed: {body}")
    for p in body["processed"]:
        flags = " QUARANTINED" if p["quarantined"] else ""
        vaulted = f", {p['secrets_vaulted']} secret(s) vaulted" if p["secrets_vaulted"] else ""
        print(f"  {os.path.basename(path)} -> {p['outcome']} {p['ticket_id']} [{p['category']}, {p['priority']}{vaulted}]{flags}")
        with open(".local/last-ticket", "w") as f:
            f.write(p["ticket_id"])


def vault_summary():
    import os

    items = boto3.resource("dynamodb").Table(os.environ["ROOTWARDEN_VAULT_TABLE"]).scan()["Items"]
    for it in items:
        print(f"  {it['pk']}  {it['kind']:<20} expires {it['expires_at']}  ciphertext {len(it['ciphertext'].value)} bytes (KMS)")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "stack":
        stack()
    elif cmd == "run-integrity":
        run_integrity(args[0], expect_failure="--expect-failure" in args)
    elif cmd == "tamper":
        tamper(args[0], args[1])
    elif cmd == "register":
        register(args[0], args[1])
    elif cmd == "deliver":
        deliver(args[0], args[1], args[2])
    elif cmd == "vault":
        vault_summary()
    else:
        sys.exit(f"unknown command {cmd}")
