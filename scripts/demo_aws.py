"""Small AWS helpers for scripts/demo.sh (boto3 from the emulator venv, env from .local/env)."""
import json
import sys
import time

import boto3

_session = []


def _aws():
    """boto3 as the harness (the demo's outside world: SES storing mail, a scheduler, a person
    editing a table). The CLI runs as the operator alice (.local/env); IAM is enforced."""
    if not _session:
        who = json.load(open(".local/ready.json"))["principals"]["harness"]
        _session.append(boto3.Session(aws_access_key_id=who["access_key_id"],
                                      aws_secret_access_key=who["secret_access_key"]))
    return _session[0]


def principals():
    """IAM users on the emulator, each with its own keys (.local/principals/<name>.env), and an
    access policy naming them (.local/access-policy.json), set on the access function."""
    import os

    iam = _aws().client("iam")
    os.makedirs(".local/principals", exist_ok=True)
    arns = {}
    for name in ("alice", "bob", "mallory"):
        try:
            iam.create_user(UserName=name)
        except iam.exceptions.EntityAlreadyExistsException:
            pass
        # What a person needs for break-glass access: the access function's URL, and
        # lambda:InvokeFunction only through it (a direct invoke could forge the URL event's
        # identity), as OperatorRole holds them. The function decides who may request or approve.
        fn_arn = json.load(open(".local/ready.json"))["stack"]["resources"]["AccessFunction"]["arn"]
        iam.put_user_policy(UserName=name, PolicyName="break-glass-access", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "lambda:InvokeFunctionUrl", "Resource": fn_arn,
                 "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}},
                {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": fn_arn,
                 "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}}]}))
        k = iam.create_access_key(UserName=name)["AccessKey"]
        with open(f".local/principals/{name}.env", "w") as f:
            f.write(f"AWS_ACCESS_KEY_ID={k['AccessKeyId']}\nAWS_SECRET_ACCESS_KEY={k['SecretAccessKey']}\n")
        arns[name] = boto3.client("sts", aws_access_key_id=k["AccessKeyId"],
                                  aws_secret_access_key=k["SecretAccessKey"]).get_caller_identity()["Arn"]
    policy = {
        "principals": [
            {"arn": arns["alice"], "roles": ["requester", "approver"]},
            {"arn": arns["bob"], "roles": ["approver", "admin"]},
        ],
        "approvals_required": 1,
        "ticket_pattern": "^INC-[0-9]+$",
    }
    json.dump(policy, open(".local/access-policy.json", "w"))
    # The policy is the access function's (a deployment sets the template's AccessPolicy).
    ready = json.load(open(".local/ready.json"))
    fn = ready["stack"]["resources"]["AccessFunction"]["physical_id"]
    lam = _aws().client("lambda")
    env = lam.get_function_configuration(FunctionName=fn).get("Environment", {}).get("Variables", {})
    env["ROOTWARDEN_ACCESS_POLICY"] = json.dumps(policy)
    lam.update_function_configuration(FunctionName=fn, Environment={"Variables": env})
    print(f"  requester, approver: {arns['alice']}\n  approver, admin: {arns['bob']}\n"
          f"  not in the policy: {arns['mallory']}")
    print("  reasons: billing-issue, root-only-task, account-recovery, release, security-incident, "
          "rotation-apply, takeover")


def stack():
    ready = json.load(open(".local/ready.json"))
    for logical, res in sorted(ready["stack"]["resources"].items()):
        note = " (not emulated)" if res.get("skipped") else ""
        print(f"  {res['type']:<34} {logical:<28} {res.get('physical_id') or ''}{note}")


def run_integrity(name, expect_failure=False, machine="AuditIntegrityStateMachine"):
    ready = json.load(open(".local/ready.json"))
    arn = ready["stack"]["resources"][machine]["arn"]
    sfn = _aws().client("stepfunctions")
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

    table = _aws().resource("dynamodb").Table(os.environ["ROOTWARDEN_AUDIT_TABLE"])
    key = {"stream": f"account/{account}", "seq": int(seq)}
    before = table.get_item(Key=key)["Item"]["reason"]
    table.update_item(Key=key, UpdateExpression="SET reason = :r",
                      ExpressionAttributeValues={":r": "nothing happened here"})
    print(f"  record {seq} reason: {before!r} -> 'nothing happened here'")


def register(account, email):
    import os

    _aws().resource("dynamodb").Table(os.environ["ROOTWARDEN_ACCOUNTS_TABLE"]).put_item(
        Item={"account_id": account, "root_email": email.lower(), "status": "active"}
    )
    print(f"  registry: {email} -> {account}")


def readdressed(raw: bytes, to: str) -> bytes:
    """The fixture as AWS would have sent it to `to`: its To header names `to` (mail drives the
    vault or a workflow only when its own, DKIM-signed, To names the account's root address)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    eol = b"\r\n"
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
        eol = b"\n"
    out, skipping = [], False
    for line in head.split(eol):
        if skipping and line[:1] in (b" ", b"\t"):
            continue
        skipping = False
        if line[:3].lower() == b"to:":
            out.append(b"To: " + to.encode())
            skipping = True
            continue
        out.append(line)
    return eol.join(out) + sep + body


def deliver(path, recipient, ses_id):
    """What SES does: store the raw message in S3, then invoke the function with the receipt event."""
    import datetime
    import os

    bucket, prefix = os.environ["ROOTWARDEN_MAIL_BUCKET"], os.environ.get("ROOTWARDEN_MAIL_PREFIX", "")
    import urllib.request

    # SES writes as its service principal (the emulator checks the bucket and key policies)
    url = f"{os.environ['AWS_ENDPOINT_URL']}/_rootwarden/ses/store/{bucket}/{prefix}{ses_id}"
    raw = readdressed(open(path, "rb").read(), recipient)
    urllib.request.urlopen(urllib.request.Request(url, data=raw, method="PUT")).read()
    event = json.load(open("tests/fixtures/ses/lambda-event.json"))
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    rec = event["Records"][0]["ses"]
    rec["mail"]["messageId"] = ses_id
    rec["mail"]["timestamp"] = rec["receipt"]["timestamp"] = now
    rec["receipt"]["recipients"] = [recipient]
    ready = json.load(open(".local/ready.json"))
    fn = ready["stack"]["resources"]["InboundMailFunction"]["physical_id"]
    out = _aws().client("lambda").invoke(FunctionName=fn, Payload=json.dumps(event).encode())
    body = json.loads(out["Payload"].read())
    if out.get("FunctionError"):
        sys.exit(f"  inbound-mail failed: {body}")
    for p in body["processed"]:
        flags = " QUARANTINED" if p["quarantined"] else ""
        vaulted = f", {p['secrets_vaulted']} secret(s) vaulted" if p["secrets_vaulted"] else ""
        print(f"  {os.path.basename(path)} -> {p['outcome']} {p['ticket_id']} "
              f"[{p['category']}, {p['priority']}{vaulted}]{flags}")
        with open(".local/last-ticket", "w") as f:
            f.write(p["ticket_id"])


def vault_summary():
    import os

    items = _aws().resource("dynamodb").Table(os.environ["ROOTWARDEN_VAULT_TABLE"]).scan()["Items"]
    for it in items:
        if not it["pk"].startswith("transient#"):
            continue
        print(f"  {it['pk']}  {it['kind']:<20} expires {it['expires_at']}  "
              f"ciphertext {len(it['ciphertext'].value)} bytes (KMS)")


def make_due(account):
    """Pretend the account's current root password reached its maximum age yesterday."""
    import datetime
    import os

    due = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _aws().resource("dynamodb").Table(os.environ["ROOTWARDEN_ACCOUNTS_TABLE"]).update_item(
        Key={"account_id": account}, UpdateExpression="SET rotation_due = :d", ExpressionAttributeValues={":d": due}
    )
    print(f"  {account}: rotation due {due} (maximum age reached)")


def invoke(logical, payload="{}"):
    """Invokes a stack function the way its schedule does; prints and returns its output."""
    ready = json.load(open(".local/ready.json"))
    fn = ready["stack"]["resources"][logical]["physical_id"]
    out = _aws().client("lambda").invoke(FunctionName=fn, Payload=payload.encode())
    body = json.loads(out["Payload"].read())
    print(f"  {logical}: {json.dumps(body)}")
    if out.get("FunctionError"):
        sys.exit(f"  {logical} failed")
    return body


def wait_rotation(account, stage, timeout=60):
    """Waits until the account's newest rotation reaches `stage` (awaiting-apply needs its token)."""
    import os

    table = _aws().resource("dynamodb").Table(os.environ["ROOTWARDEN_WORKFLOWS_TABLE"])
    deadline = time.time() + timeout
    while time.time() < deadline:
        items = table.query(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"rotation#{account}"}
        )["Items"]
        items.sort(key=lambda i: i.get("started_at", ""), reverse=True)
        if items and items[0]["stage"] == stage and (stage != "awaiting-apply" or "task_token" in items[0]):
            print(f"  rotation {items[0]['execution']}: {stage}")
            return
        time.sleep(0.2)
    sys.exit(f"  rotation of {account} did not reach {stage}")


def root_state(account, seed=None):
    """Reads (or seeds: "key" adds a root access key as a careless admin would, "normal" is a
    root user with password and MFA, or a JSON state) the emulator's root-credential state."""
    import os
    import urllib.request

    url = f"{os.environ['AWS_ENDPOINT_URL']}/_rootwarden/root-state/{account}"
    normal = {
        "access_keys": [],
        "signing_certificates": [],
        "mfa_devices": [{"serial": f"arn:aws:iam::{account}:mfa/root-account-mfa-device"}],
        "login_profile": True,
    }
    if seed == "key":
        seed = dict(normal, access_keys=[{"id": "AKIAROOTDEMO00000001", "status": "Active"}])
    elif seed == "normal":
        seed = normal
    elif seed is not None:
        seed = json.loads(seed)
    if seed is not None:
        body = json.dumps(seed).encode()
        urllib.request.urlopen(urllib.request.Request(url, data=body, method="PUT")).read()
    state = json.loads(urllib.request.urlopen(url).read())
    keys = [k["id"] for k in state.get("access_keys", [])]
    print(f"  {account} root: access keys {keys or 'none'}, MFA devices {len(state.get('mfa_devices', []))}, "
          f"login profile {'yes' if state.get('login_profile') else 'no'}")


def _endpoint(method, path, body=None):
    """A test-only endpoint of the emulator (the stand-ins for AWS's side and for a browser)."""
    import os
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{os.environ['AWS_ENDPOINT_URL']}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        return json.loads(urllib.request.urlopen(req).read() or b"{}")
    except urllib.error.HTTPError as e:
        sys.exit(f"  {method} {path}: HTTP {e.code} {e.read().decode(errors='replace')}")


def _account_item(account):
    import os

    return _aws().resource("dynamodb").Table(os.environ["ROOTWARDEN_ACCOUNTS_TABLE"]).get_item(
        Key={"account_id": account}).get("Item") or {}


def customer(account, email):
    """The account as a customer hands it over: its own root address, a password, an MFA device
    and a root access key someone created."""
    _endpoint("PUT", f"/_rootwarden/primary-email/{account}", {"email": email})
    _endpoint("PUT", f"/_rootwarden/root-state/{account}", {
        "access_keys": [{"id": "AKIAFOUNDER000000001", "status": "Active"}],
        "signing_certificates": [],
        "mfa_devices": [{"serial": f"arn:aws:iam::{account}:mfa/root-account-mfa-device"}],
        "login_profile": True,
    })
    print(f"  {account}: root email {email}, password and MFA (the founder's), one root access key")


def root_email(account):
    print(_account_item(account)["root_email"])


def wait_takeover(account, step, timeout=90):
    """Waits until the takeover of `account` has done `step` (`active`: completed)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        item = _account_item(account)
        if (step == "active" and item.get("status") == "active") or item.get("takeover_step") == step:
            print(f"  takeover of {account}: {step}")
            return
        if item.get("takeover_stopped"):
            sys.exit(f"  takeover of {account} stopped: {item['takeover_stopped']}")
        time.sleep(0.3)
    sys.exit(f"  takeover of {account} did not reach {step}")


def wait_for_wait(account, kind, timeout=60):
    """Waits until a workflow waits for mail of `kind` for `account`."""
    import os

    table = _aws().resource("dynamodb").Table(os.environ["ROOTWARDEN_WORKFLOWS_TABLE"])
    deadline = time.time() + timeout
    while time.time() < deadline:
        items = table.query(KeyConditionExpression="pk = :pk AND begins_with(sk, :k)",
                            ExpressionAttributeValues={":pk": f"wait#{account}", ":k": f"{kind}#"})["Items"]
        if items:
            print(f"  the workflow now waits for {kind} mail")
            return
        time.sleep(0.3)
    sys.exit(f"  nothing waits for {kind} mail of {account}")


def console(account, action, checkout=None):
    """A person in a browser on the root sign-in page (the emulator's stand-ins)."""
    shown = json.load(open(checkout)) if checkout else {}
    pending = ((shown.get("pending") or {}).get("password")) if shown else None
    if action == "forgot-password":
        email = _account_item(account)["root_email"]
        out = _endpoint("POST", f"/_rootwarden/console/{account}/forgot-password", {"email": email})
        print(f"  Forgot password for {email}: AWS {'mailed a reset link' if out.get('sent') else 'sent nothing'}")
    elif action == "reset-password":
        link = shown["reset_links"][0]
        _endpoint("POST", f"/_rootwarden/console/{account}/reset-password", {"link": link, "password": pending})
        print("  the reset link opened, the pending password set: AWS mails \"password changed\"")
    elif action == "mfa":
        out = _endpoint("POST", f"/_rootwarden/console/{account}/mfa", {"password": pending})
        print(f"  virtual MFA device {out['serial']} enrolled (AWS mails \"MFA device added\")",
              file=sys.stderr)
        print(out["seed"])  # for the pipe into `account mfa-seed`, never a terminal
    else:
        sys.exit(f"unknown console action {action}")


# --- release (close, hand back, transfer) ---------------------------------------------------
def member(name):
    """A customer account in our organization (created on first use, managed from the stack's
    account) as the release tests set one up: its root address at our mail domain, in our
    organization for a month (a transfer needs 7 days), our MFA device and a root access key
    someone created, and the primary contact every AWS account has (ours). Prints its id."""
    import os

    orgs = _aws().client("organizations")
    try:
        orgs.create_organization(FeatureSet="ALL")
    except orgs.exceptions.AlreadyInOrganizationException:
        pass
    email = f"aws-{name.lower()}@{os.environ['ROOTWARDEN_ROOT_MAIL_DOMAIN']}"
    out = orgs.create_account(AccountName=f"Customer {name}", Email=email)
    aid = out["CreateAccountStatus"]["AccountId"]
    _endpoint("PUT", f"/_rootwarden/primary-email/{aid}", {"email": email})
    _endpoint("PUT", f"/_rootwarden/organizations/accounts/{aid}", {"created_days_ago": 30})
    _endpoint("PUT", f"/_rootwarden/root-state/{aid}", {
        "access_keys": [{"id": f"AKIA{aid}", "status": "Active"}],
        "signing_certificates": [],
        "mfa_devices": [{"serial": f"arn:aws:iam::{aid}:mfa/root-account-mfa-device"}],
        "login_profile": True,
    })
    _aws().client("account").put_contact_information(AccountId=aid, ContactInformation={
        "FullName": "Provider Operations", "AddressLine1": "1 Custody Street", "City": "Dublin",
        "CountryCode": "IE", "PostalCode": "D01", "PhoneNumber": "+35315550000"})
    print(f"  Customer {name}: {aid}, root {email}, in our organization for 30 days, "
          "our contacts", file=sys.stderr)
    print(aid)


def close_advance(account):
    """AWS finishes a pending closure now (it takes AWS up to hours; the emulator waits seconds)."""
    _endpoint("POST", f"/_rootwarden/organizations/accounts/{account}/close/advance")
    print(f"  {account}: SUSPENDED (closed)")


def control_tower(account):
    _endpoint("PUT", f"/_rootwarden/organizations/accounts/{account}", {"control_tower": True})
    print(f"  {account} is enrolled in Control Tower (its AWSControlTowerExecution role exists)")


def customer_org(account):
    """The customer's own organization invites the account (their management account's
    InviteAccountToOrganization). Prints the organization's id."""
    out = _endpoint("POST", "/_rootwarden/organizations/customer-org", {"account_id": account})
    print(f"  the customer's organization {out['organization_id']} (management account "
          f"{out['management_account_id']}) invites {account}: handshake {out['handshake_id']}",
          file=sys.stderr)
    print(out["organization_id"])


def otp(account, wrong=False):
    """The code AWS mailed to the customer's address, for the pipe into `release otp` (never a
    terminal, never an argument). `wrong`: a code of the same shape that is not it."""
    import os
    import urllib.error
    import urllib.request

    url = f"{os.environ['AWS_ENDPOINT_URL']}/_rootwarden/primary-email/{account}/otp"
    deadline = time.time() + 30
    while True:
        try:
            code = json.loads(urllib.request.urlopen(url).read())["otp"]
            break
        except urllib.error.HTTPError as e:
            if e.code != 404 or time.time() > deadline:
                sys.exit(f"  no code pending for {account}: HTTP {e.code}")
            time.sleep(0.1)
    if wrong:
        code = "".join(str((int(c) + 1) % 10) if c.isdigit() else "A" for c in code)
    print(code)


def wait_release(account, step, resends=0, timeout=90):
    """Waits until the release of `account` has done `step` (and asked AWS for a new code
    `resends` times); stops the demo if the release stopped."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        item = _account_item(account)
        if item.get("release_stopped"):
            sys.exit(f"  release of {account} stopped: {item['release_stopped']}")
        if item.get("release_step") == step and int(item.get("release_resends", 0)) >= resends:
            print(f"  release of {account}: {step}")
            return
        time.sleep(0.1)
    sys.exit(f"  release of {account} did not reach {step}")


def wait_execution(exit_, account, request, want, timeout=90):
    """Waits until the release execution of `request` ends with status `want`."""
    import os

    machine = os.environ[f"ROOTWARDEN_RELEASE_{exit_.upper()}_STATE_MACHINE_ARN"]
    arn = f"{machine.replace(':stateMachine:', ':execution:', 1)}:release-{account}-{request}"
    sfn = _aws().client("stepfunctions")
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            break
        time.sleep(0.1)
    print(f"  execution release-{account}-{request}: {d['status']}"
          + (f" ({d.get('error')})" if d["status"] == "FAILED" else ""))
    if d["status"] != want:
        sys.exit(f"  expected {want}")


def fire_schedule(logical):
    """What EventBridge Scheduler does when the schedule fires: invoke its target with its input."""
    ready = json.load(open(".local/ready.json"))
    name = ready["stack"]["resources"][logical]["physical_id"]
    target = _aws().client("scheduler").get_schedule(Name=name)["Target"]
    print(f"  schedule {name} fires: {target['Arn'].split(':')[-1]} {target['Input']}")
    out = _aws().client("lambda").invoke(FunctionName=target["Arn"], Payload=target["Input"].encode())
    body = json.loads(out["Payload"].read())
    print(f"  report: {json.dumps(body)}")
    if out.get("FunctionError"):
        sys.exit("  the run failed")


def vault_count(account):
    """How many vaulted credential versions the account still has (ciphertexts, KMS)."""
    import os

    table = _aws().resource("dynamodb").Table(os.environ["ROOTWARDEN_VAULT_TABLE"])
    n = 0
    for kind in ("root-password", "mfa-seed"):
        n += len(table.query(KeyConditionExpression="pk = :pk",
                             ExpressionAttributeValues={":pk": f"cred#{account}#{kind}"})["Items"])
    print(f"  {account}: {n} vaulted credential version(s)" + (" (sealed)" if n else " (shredded)"))


def forgot_password(account, email):
    out = _endpoint("POST", f"/_rootwarden/console/{account}/forgot-password", {"email": email})
    print(f"  Forgot password for {email}: AWS {'mailed a reset link' if out.get('sent') else 'sent nothing'}")


def primary_email(account):
    print(f"  {account} root email: {_endpoint('GET', f'/_rootwarden/primary-email/{account}')['email']}")


def org_member(account):
    """Whether our organization still has the account (DescribeAccount from our management account)."""
    orgs = _aws().client("organizations")
    try:
        a = orgs.describe_account(AccountId=account)["Account"]
        print(f"  {account}: in our organization, {a['Status']}")
    except orgs.exceptions.AccountNotFoundException:
        print(f"  {account}: not in our organization any more (AccountNotFoundException)")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "stack":
        stack()
    elif cmd == "run-digest":
        run_integrity(args[0], machine="AuditDigestStateMachine")
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
    elif cmd == "principals":
        principals()
    elif cmd == "make-due":
        make_due(args[0])
    elif cmd == "invoke":
        invoke(args[0], *(args[1:2]))
    elif cmd == "wait-rotation":
        wait_rotation(args[0], args[1])
    elif cmd == "customer":
        customer(args[0], args[1])
    elif cmd == "root-email":
        root_email(args[0])
    elif cmd == "wait-takeover":
        wait_takeover(args[0], args[1])
    elif cmd == "wait-for-wait":
        wait_for_wait(args[0], args[1])
    elif cmd == "console":
        console(args[0], args[1], args[2] if len(args) > 2 else None)
    elif cmd == "root-state":
        root_state(args[0], args[1] if len(args) > 1 else None)
    elif cmd == "member":
        member(args[0])
    elif cmd == "close-advance":
        close_advance(args[0])
    elif cmd == "control-tower":
        control_tower(args[0])
    elif cmd == "customer-org":
        customer_org(args[0])
    elif cmd == "otp":
        otp(args[0], wrong="--wrong" in args)
    elif cmd == "wait-release":
        wait_release(args[0], args[1], int(args[2]) if len(args) > 2 else 0)
    elif cmd == "wait-execution":
        wait_execution(args[0], args[1], args[2], args[3])
    elif cmd == "fire-schedule":
        fire_schedule(args[0])
    elif cmd == "vault-count":
        vault_count(args[0])
    elif cmd == "forgot-password":
        forgot_password(args[0], args[1])
    elif cmd == "primary-email":
        primary_email(args[0])
    elif cmd == "org-member":
        org_member(args[0])
    else:
        sys.exit(f"unknown command {cmd}")
