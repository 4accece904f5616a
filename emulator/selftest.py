#!/usr/bin/env python3
"""Smoke test of emulator/launcher.py (a few seconds once the tiny test lambda is built).

    .venv/bin/python emulator/selftest.py [--tiny-dir /tmp/rw-tiny-lambda] [--no-function-host] [--keep-logs] [--no-iam]

Starts the launcher on a free port with emulator/testdata/template.yaml provisioned and the function
host pointed at a tiny lambda_runtime binary. The binary is built OUTSIDE the repository: the
crate (Cargo.toml below + testdata/tiny_lambda_main.rs) is written to --tiny-dir and built there with
`cargo build` (about 15 s the first time). Exercises AssumeRoot and root-session IAM, the Account API
with the OTP endpoint, KMS key states, provisioning, Lambda Invoke through the function host and a
Step Functions Catch on the handler's errorType, then stops the launcher and checks that no child
process is left. The launcher enforces IAM (unless --no-iam): every check runs as the harness (an
admin user), then selftest_iam.py plays the attacker against the engine.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
for _v in ("NO_PROXY", "no_proxy"):
    os.environ[_v] = ",".join(x for x in (os.environ.get(_v, ""), "127.0.0.1", "localhost") if x)
TINY_CARGO_TOML = """[package]
name = "rw-tiny-lambda"
version = "0.1.0"
edition = "2021"
publish = false

[[bin]]
name = "tiny"
path = "src/main.rs"

[dependencies]
lambda_runtime = { version = "1.5", default-features = false }
tokio = { version = "1", features = ["macros", "rt"] }
serde_json = "1"

[profile.dev]
debug = false

[workspace]
"""

# The checks come in sections, in this order (emulator/tests/test_selftest.py makes one pytest test of each).
SECTIONS = ("launcher", "ready file and env file", "provisioning", "AssumeRoot and root sessions", "Account API",
            "KMS key states", "Lambda Invoke through the function host", "Step Functions -> Lambda",
            "IAM enforcement", "shutdown")
FAILURES: list[str] = []
PASSES = 0
SECTION = SECTIONS[0]
# (section, check name, passed, detail when it failed)
RESULTS: list[tuple[str, str, bool, str]] = []


def reset() -> None:
    global PASSES, SECTION
    FAILURES.clear()
    RESULTS.clear()
    PASSES = 0
    SECTION = SECTIONS[0]


def section(name: str) -> None:
    global SECTION
    assert name in SECTIONS, name
    SECTION = name
    print(name)


def check(name: str, cond: bool, detail: object = "") -> bool:
    global PASSES
    if cond:
        PASSES += 1
        print(f"  ok   {name}")
    else:
        FAILURES.append(name)
        print(f"  FAIL {name} {detail}")
    RESULTS.append((SECTION, name, bool(cond), "" if cond else str(detail)[:2000]))
    return cond


def expect_error(name: str, fn, code: str, status: int | None = None) -> None:
    from botocore.exceptions import ClientError

    try:
        fn()
    except ClientError as e:
        got = e.response["Error"].get("Code")
        st = e.response["ResponseMetadata"]["HTTPStatusCode"]
        check(name, got == code and (status is None or st == status), f"got {got} {st}: {e}")
        return
    check(name, False, f"expected {code}, call succeeded")


def http(ep: str, method: str, path: str, body: object | None = None) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(ep + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def ensure_tiny(tiny_dir: str) -> str:
    binary = os.path.join(tiny_dir, "target", "debug", "tiny")
    src = os.path.join(HERE, "testdata", "tiny_lambda_main.rs")
    os.makedirs(os.path.join(tiny_dir, "src"), exist_ok=True)
    with open(os.path.join(tiny_dir, "Cargo.toml"), "w") as f:
        f.write(TINY_CARGO_TOML)
    dst = os.path.join(tiny_dir, "src", "main.rs")
    if not os.path.exists(dst) or open(dst).read() != open(src).read():
        shutil.copyfile(src, dst)
    if not os.path.exists(binary) or os.path.getmtime(binary) < os.path.getmtime(dst):
        print(f"building the tiny test lambda in {tiny_dir} ...")
        env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(tiny_dir, "target"))
        subprocess.run(["cargo", "build", "--quiet"], cwd=tiny_dir, env=env, check=True)
    return os.path.dirname(binary)


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2] != "Z"
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny-dir", default="/tmp/rw-tiny-lambda")
    ap.add_argument("--no-function-host", action="store_true")
    ap.add_argument("--keep-logs", action="store_true")
    ap.add_argument("--no-iam", action="store_true", help="launcher --no-iam, and no IAM enforcement checks")
    a = ap.parse_args(argv)
    return run(tiny_dir=a.tiny_dir, with_fh=not a.no_function_host, iam=not a.no_iam, keep_logs=a.keep_logs)


def run(tiny_dir: str = "/tmp/rw-tiny-lambda", with_fh: bool = True, iam: bool = True,
        keep_logs: bool = False) -> int:
    """Every section against one launcher; the results are in RESULTS (and FAILURES). 0 iff all passed."""
    import boto3
    from botocore.config import Config

    reset()
    bin_dir = ensure_tiny(tiny_dir) if with_fh else None

    work = tempfile.mkdtemp(prefix="rw-selftest-")
    ready, envf, logf = (os.path.join(work, n) for n in ("ready.json", "env.sh", "launcher.log"))
    stack = "st" + uuid.uuid4().hex[:6]
    cmd = [sys.executable, os.path.join(HERE, "launcher.py"), "--port", "0", "--ready-file", ready,
           "--env-file", envf, "--provision", os.path.join(HERE, "testdata", "template.yaml"),
           "--stack-name", stack, "--param", "Stage=test"]
    if with_fh:
        cmd += ["--function-host", "--bin-dir", bin_dir]
    if not iam:
        cmd += ["--no-iam"]
    t0 = time.time()
    log = open(logf, "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    while not os.path.exists(ready):
        if proc.poll() is not None or time.time() - t0 > 60:
            print(open(logf).read())
            print("launcher did not become ready")
            FAILURES.append("launcher did not become ready")
            RESULTS.append((SECTION, "launcher becomes ready", False, open(logf).read()[-2000:]))
            return 1
        time.sleep(0.05)
    startup = time.time() - t0
    info = json.load(open(ready))
    ep = info["endpoint"]
    print(f"launcher ready in {startup:.2f}s at {ep} (pid {info['pid']}, stack {stack})")

    try:
        # the harness: an IAM user allowed "*" on "*" (the launcher creates it)
        harness = info["principals"]["harness"]
        creds = {"aws_access_key_id": harness["access_key_id"],
                 "aws_secret_access_key": harness["secret_access_key"]}
        check("launcher reports IAM enforcement as configured", info.get("iam_enforced") == iam,
              info.get("iam_enforced"))
        run_checks(ep, info, stack, envf, with_fh, boto3, Config, creds, iam)
        if iam:
            import selftest_iam

            section("IAM enforcement")
            selftest_iam.run(ep, stack, info["stack"]["resources"], creds, http, check, boto3, Config)
    except Exception as e:  # keep going to the shutdown checks
        import traceback

        traceback.print_exc()
        FAILURES.append(f"exception: {e}")
        RESULTS.append((SECTION, f"exception: {e}", False, traceback.format_exc()[-2000:]))

    section("shutdown")
    kids = descendants(proc.pid)
    check("function host children were running", (len(kids) >= 2) if with_fh else True, kids)
    t1 = time.time()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = None
    took = time.time() - t1
    check(f"SIGTERM -> exit 0 in {took:.2f}s (< 2 s)", rc == 0 and took < 2.0, rc)
    time.sleep(0.2)
    left = [p for p in kids if alive(p)]
    check("no child process left", not left, left)
    for p in left:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    log.close()
    print(f"\n{PASSES} passed, {len(FAILURES)} failed; startup {startup:.2f}s; launcher log: {logf}")
    for f in FAILURES:
        print(f"  failed: {f}")
    if not FAILURES and not keep_logs:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if FAILURES else 0


def run_checks(ep: str, info: dict, stack: str, envf: str, with_fh: bool, boto3, Config,
               creds: dict, iam_on: bool) -> None:
    base = dict(endpoint_url=ep, region_name="us-east-1", **creds,
                config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))

    def client(svc: str, **creds):
        kw = dict(base)
        kw.update(creds)
        return boto3.client(svc, **kw)

    # ------------------------------------------------------------------ ready file / env file
    section("ready file and env file")
    st = info["stack"]
    check("ready file has pid/port/endpoint/stack", info["pid"] > 0 and info["port"] > 0 and st["name"] == stack)
    check("function_host_port set iff function host", (info["function_host_port"] is not None) == with_fh)
    env = st["env"]
    check("stack.env has resolved table name", env.get("ROOTWARDEN_AUDIT_TABLE") == f"{stack}-audit", env)
    check("stack.env FindInMap/Select/Split/Join", env.get("ROOTWARDEN_LOG_LEVEL") == "debug"
          and env.get("ROOTWARDEN_JOINED") == f"{stack}-b" and env.get("ROOTWARDEN_FIRST_AZ") == "us-east-1a", env)
    out = subprocess.run(["bash", "-c", f"set -a; . '{envf}'; set +a; env"], capture_output=True, text=True).stdout
    check("env file sources in bash", f"AWS_ENDPOINT_URL={ep}" in out and f"ROOTWARDEN_AUDIT_TABLE={stack}-audit" in out
          and "ROOTWARDEN_EMULATOR_PID=" in out, out[-300:])

    # ------------------------------------------------------------------ provisioning
    section("provisioning")
    res = st["resources"]
    ddb = client("dynamodb")
    t = ddb.describe_table(TableName=f"{stack}-audit")["Table"]
    check("table has GSI by-account", [g["IndexName"] for g in t.get("GlobalSecondaryIndexes", [])] == ["by-account"])
    check("table has a stream", bool(t.get("LatestStreamArn")))
    # Concurrent conditional transactions on one key: exactly one wins and its write stays (moto
    # rolled a failed transaction back to a snapshot, erasing a concurrent winner's write).
    race = f"{stack}-race"
    ddb.create_table(TableName=race, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    from concurrent.futures import ThreadPoolExecutor

    def contend(key: str, i: int) -> bool:
        try:
            ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": race, "Item": {"pk": {"S": key}, "by": {"S": str(i)}},
                         "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": race, "Item": {"pk": {"S": f"{key}/{i}"}}}},
            ])
            return True
        except ddb.exceptions.TransactionCanceledException:
            return False

    lost = []
    with ThreadPoolExecutor(8) as pool:
        for r in range(25):
            key = f"race-{r}"
            wins = list(pool.map(lambda i, key=key: contend(key, i), range(8)))
            if wins.count(True) != 1 or "Item" not in ddb.get_item(TableName=race, Key={"pk": {"S": key}}):
                lost.append((key, wins.count(True)))
    check("concurrent conditional transactions: one winner, its write kept", not lost, lost)
    ttl = ddb.describe_time_to_live(TableName=f"{stack}-audit")["TimeToLiveDescription"]
    check("table TTL enabled on expires_at",
          ttl.get("TimeToLiveStatus") == "ENABLED" and ttl.get("AttributeName") == "expires_at", ttl)
    kms = client("kms")
    meta = kms.describe_key(KeyId=f"alias/{stack}-audit")["KeyMetadata"]
    check("KMS alias -> key", meta["KeyId"] == res["AuditKey"]["physical_id"])
    check("KMS rotation enabled", kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"])
    check("SIGN_VERIFY key",
          kms.describe_key(KeyId=res["SigningKey"]["physical_id"])["KeyMetadata"]["KeyUsage"] == "SIGN_VERIFY")
    s3 = client("s3")
    bucket = res["EvidenceBucket"]["physical_id"]
    enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    check("bucket SSE-KMS", enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", enc)
    check("bucket versioning", s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled")
    check("bucket policy", "ses.amazonaws.com" in s3.get_bucket_policy(Bucket=bucket)["Policy"])
    check("bucket lifecycle",
          s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["Expiration"]["Days"] == 30)
    sfn = client("stepfunctions")
    sm_arn = res["TinyStateMachine"]["physical_id"]
    definition = sfn.describe_state_machine(stateMachineArn=sm_arn)["definition"]
    check("state machine substitution", res["TinyFunction"]["arn"] in definition and "${" not in definition)
    check("condition false -> not created", "ProdOnlyQueue" not in res)
    check("unsupported type recorded as skipped", res.get("NotEmulated", {}).get("skipped") is True)
    rule = client("ses").describe_receipt_rule(RuleSetName=f"{stack}-inbound", RuleName=f"{stack}-InboundRule")["Rule"]
    check("SES receipt rule with S3 + Lambda actions", len(rule["Actions"]) == 2)
    check("schedule created",
          client("scheduler").get_schedule(Name=f"{stack}-NightlySchedule")["Name"] == f"{stack}-NightlySchedule")
    check("outputs resolved", st.get("outputs", {}).get("IfValue") == "test-mode", st.get("outputs"))

    # ------------------------------------------------------------------ AssumeRoot + root sessions
    section("AssumeRoot and root sessions")
    acct = "111122223333"
    seed = {"access_keys": [{"id": "AKIAROOTKEY000000001", "status": "Active"},
                            {"id": "AKIAROOTKEY000000002", "status": "Inactive"}],
            "signing_certificates": [{"id": "CERTIFICATEID0000000000001", "status": "Active"}],
            "mfa_devices": [{"serial": f"arn:aws:iam::{acct}:mfa/root-account-mfa-device"}],
            "login_profile": True}
    code, body = http(ep, "PUT", f"/_rootwarden/root-state/{acct}", seed)
    check("seed root state", code == 200 and body == seed, body)
    sts = client("sts")

    def root(policy: str, duration: int = 900) -> dict:
        c = sts.assume_root(TargetPrincipal=acct, DurationSeconds=duration,
                            TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/" + policy})["Credentials"]
        return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
                "aws_session_token": c["SessionToken"]}

    audit = root("IAMAuditRootUserCredentials")
    check("AssumeRoot returns ASIA key", audit["aws_access_key_id"].startswith("ASIA"))
    iam = client("iam", **audit)
    keys = iam.list_access_keys()["AccessKeyMetadata"]
    check("audit: ListAccessKeys",
          [k["AccessKeyId"] for k in keys] == ["AKIAROOTKEY000000001", "AKIAROOTKEY000000002"], keys)
    check("audit: ListMFADevices", len(iam.list_mfa_devices()["MFADevices"]) == 1)
    check("audit: ListSigningCertificates", len(iam.list_signing_certificates()["Certificates"]) == 1)
    check("audit: GetLoginProfile", iam.get_login_profile()["LoginProfile"]["UserName"] == "<root_account>")
    check("audit: GetAccountSummary", iam.get_account_summary()["SummaryMap"]["AccountMFAEnabled"] == 1)
    check("root session GetCallerIdentity",
          client("sts", **audit).get_caller_identity()["Arn"] == f"arn:aws:iam::{acct}:root")
    expect_error("audit: DeleteAccessKey denied",
                 lambda: iam.delete_access_key(AccessKeyId="AKIAROOTKEY000000001"), "AccessDenied", 403)
    expect_error("audit: UserName given denied", lambda: iam.list_access_keys(UserName="alice"), "AccessDenied", 403)
    expect_error("root session: S3 denied", lambda: client("s3", **audit).list_buckets(), "AccessDenied", 403)
    expect_error("root session: KMS (JSON) denied",
                 lambda: client("kms", **audit).list_keys(), "AccessDeniedException", 400)
    expect_error("root session: STS AssumeRoot denied", lambda: client("sts", **audit).assume_root(
        TargetPrincipal=acct, TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"}),
        "AccessDenied", 403)

    delete = client("iam", **root("IAMDeleteRootUserCredentials"))
    for k in delete.list_access_keys()["AccessKeyMetadata"]:
        delete.delete_access_key(AccessKeyId=k["AccessKeyId"])
    for c in delete.list_signing_certificates()["Certificates"]:
        delete.delete_signing_certificate(CertificateId=c["CertificateId"])
    for d in delete.list_mfa_devices()["MFADevices"]:
        delete.deactivate_mfa_device(SerialNumber=d["SerialNumber"])
        delete.delete_virtual_mfa_device(SerialNumber=d["SerialNumber"])
    delete.delete_login_profile()
    code, body = http(ep, "GET", f"/_rootwarden/root-state/{acct}")
    check("delete: root state emptied", body == {"access_keys": [], "signing_certificates": [], "mfa_devices": [],
                                                 "login_profile": False}, body)
    expect_error("delete: GetLoginProfile -> NoSuchEntity", delete.get_login_profile, "NoSuchEntity", 404)
    expect_error("delete: unknown key -> NoSuchEntity",
                 lambda: delete.delete_access_key(AccessKeyId="AKIAUNKNOWN000000000"),
                 "NoSuchEntity", 404)
    expect_error("delete: CreateLoginProfile denied", delete.create_login_profile, "AccessDenied", 403)

    pw = client("iam", **root("IAMCreateRootUserPassword"))
    check("password: CreateLoginProfile", pw.create_login_profile()["LoginProfile"]["UserName"] == "<root_account>")
    expect_error("password: second CreateLoginProfile -> EntityAlreadyExists",
                 pw.create_login_profile, "EntityAlreadyExists", 409)
    check("password: state shows login profile",
          http(ep, "GET", f"/_rootwarden/root-state/{acct}")[1]["login_profile"] is True)

    expect_error("AssumeRoot bad task policy -> ValidationError", lambda: sts.assume_root(
        TargetPrincipal=acct, TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        "ValidationError", 400)
    expect_error("AssumeRoot DurationSeconds 901 -> ValidationError", lambda: sts.assume_root(
        TargetPrincipal=acct, DurationSeconds=901,
        TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"}), "ValidationError", 400)
    expect_error("AssumeRoot bad TargetPrincipal -> ValidationError", lambda: sts.assume_root(
        TargetPrincipal="not-an-account",
        TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"}),
        "ValidationError", 400)
    outsider = "999988887777"
    http(ep, "PUT", f"/_rootwarden/root-state/{outsider}", {"assume_root_denied": True})
    expect_error("AssumeRoot into a non-member account -> AccessDenied", lambda: sts.assume_root(
        TargetPrincipal=outsider,
        TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"}),
        "AccessDenied", 403)
    short = root("IAMAuditRootUserCredentials", duration=1)
    time.sleep(1.1)
    expect_error("expired root session -> ExpiredToken",
                 lambda: client("iam", **short).list_access_keys(), "ExpiredToken", 403)

    # ------------------------------------------------------------------ Account API
    section("Account API")
    acc = client("account")
    member = "444455556666"
    http(ep, "PUT", f"/_rootwarden/primary-email/{member}", {"email": "old-root@example.com"})
    check("GetPrimaryEmail (seeded)", acc.get_primary_email(AccountId=member)["PrimaryEmail"] == "old-root@example.com")
    expect_error("GetPrimaryEmail unknown -> ResourceNotFoundException",
                 lambda: acc.get_primary_email(AccountId="999999999999"), "ResourceNotFoundException", 404)
    expect_error("StartPrimaryEmailUpdate bad email -> ValidationException",
                 lambda: acc.start_primary_email_update(AccountId=member, PrimaryEmail="not-an-email"),
                 "ValidationException", 400)
    check("StartPrimaryEmailUpdate -> PENDING",
          acc.start_primary_email_update(AccountId=member, PrimaryEmail="new-root@example.com")["Status"] == "PENDING")
    code, otp = http(ep, "GET", f"/_rootwarden/primary-email/{member}/otp")
    check("OTP endpoint", code == 200 and otp["email"] == "new-root@example.com" and len(otp["otp"]) == 6, otp)
    wrong = "000000" if otp["otp"] != "000000" else "111111"
    expect_error("Accept wrong OTP -> ValidationException", lambda: acc.accept_primary_email_update(
        AccountId=member, Otp=wrong, PrimaryEmail="new-root@example.com"), "ValidationException", 400)
    expect_error("Accept other email -> ValidationException", lambda: acc.accept_primary_email_update(
        AccountId=member, Otp=otp["otp"], PrimaryEmail="other@example.com"), "ValidationException", 400)
    check("Accept -> ACCEPTED", acc.accept_primary_email_update(
        AccountId=member, Otp=otp["otp"], PrimaryEmail="new-root@example.com")["Status"] == "ACCEPTED")
    check("GetPrimaryEmail after accept",
          acc.get_primary_email(AccountId=member)["PrimaryEmail"] == "new-root@example.com")
    check("OTP endpoint 404 when none pending", http(ep, "GET", f"/_rootwarden/primary-email/{member}/otp")[0] == 404)
    acc.start_primary_email_update(AccountId=member, PrimaryEmail="third@example.com")
    otp2 = http(ep, "GET", f"/_rootwarden/primary-email/{member}/otp")[1]["otp"]
    http(ep, "POST", f"/_rootwarden/primary-email/{member}/otp/expire")
    expect_error("Accept expired OTP -> ValidationException", lambda: acc.accept_primary_email_update(
        AccountId=member, Otp=otp2, PrimaryEmail="third@example.com"), "ValidationException", 400)
    http(ep, "POST", f"/_rootwarden/primary-email/{member}/propagation", {"mode": "hold"})
    acc.start_primary_email_update(AccountId=member, PrimaryEmail="fourth@example.com")
    otp3 = http(ep, "GET", f"/_rootwarden/primary-email/{member}/otp")[1]["otp"]
    acc.accept_primary_email_update(AccountId=member, Otp=otp3, PrimaryEmail="fourth@example.com")
    check("propagation held: GetPrimaryEmail says the previous address",
          acc.get_primary_email(AccountId=member)["PrimaryEmail"] == "new-root@example.com")
    check("propagation held: update status ACCEPTED",
          acc.get_primary_email_update_status(AccountId=member)["Status"] == "ACCEPTED")
    http(ep, "POST", f"/_rootwarden/primary-email/{member}/propagation", {"mode": "now"})
    check("propagated: GetPrimaryEmail says the new address",
          acc.get_primary_email(AccountId=member)["PrimaryEmail"] == "fourth@example.com")
    check("propagated: update status COMPLETED",
          acc.get_primary_email_update_status(AccountId=member)["Status"] == "COMPLETED")
    orgs = client("organizations")
    try:
        orgs.create_organization(FeatureSet="ALL")
    except Exception:
        pass
    status = orgs.create_account(Email=f"{stack}-member@example.com",
                                 AccountName=f"{stack}-member")["CreateAccountStatus"]
    org_acct = status.get("AccountId") or orgs.describe_create_account_status(
        CreateAccountRequestId=status["Id"])["CreateAccountStatus"]["AccountId"]
    check("GetPrimaryEmail from Organizations",
          acc.get_primary_email(AccountId=org_acct)["PrimaryEmail"] == f"{stack}-member@example.com")
    expect_error("Start with email in use -> ConflictException", lambda: acc.start_primary_email_update(
        AccountId=member, PrimaryEmail=f"{stack}-member@example.com"), "ConflictException", 409)

    # ------------------------------------------------------------------ KMS key state
    section("KMS key states")
    key = kms.create_key(Description="selftest")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=f"alias/{stack}-state", TargetKeyId=key)
    blob = kms.encrypt(KeyId=key, Plaintext=b"secret", EncryptionContext={"a": "b"})["CiphertextBlob"]
    kms.disable_key(KeyId=key)
    expect_error("Encrypt on Disabled -> DisabledException",
                 lambda: kms.encrypt(KeyId=key, Plaintext=b"x"), "DisabledException", 400)
    expect_error("Encrypt via alias on Disabled",
                 lambda: kms.encrypt(KeyId=f"alias/{stack}-state", Plaintext=b"x"), "DisabledException", 400)
    expect_error("Decrypt (key from ciphertext) on Disabled",
                 lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"}),
                 "DisabledException", 400)
    expect_error("GenerateDataKey on Disabled",
                 lambda: kms.generate_data_key(KeyId=key, KeySpec="AES_256"), "DisabledException", 400)
    kms.enable_key(KeyId=key)
    check("Decrypt after EnableKey",
          kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == b"secret")
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    expect_error("Decrypt on PendingDeletion -> KMSInvalidStateException",
                 lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"}),
                 "KMSInvalidStateException", 400)
    expect_error("ReEncrypt on PendingDeletion", lambda: kms.re_encrypt(
        CiphertextBlob=blob, SourceEncryptionContext={"a": "b"}, DestinationKeyId=res["AuditKey"]["physical_id"]),
        "KMSInvalidStateException", 400)
    kms.cancel_key_deletion(KeyId=key)
    expect_error("after CancelKeyDeletion the key is Disabled",
                 lambda: kms.encrypt(KeyId=key, Plaintext=b"x"), "DisabledException", 400)
    sign_key, mac_key = res["SigningKey"]["physical_id"], res["MacKey"]["physical_id"]
    sig = kms.sign(KeyId=sign_key, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    kms.disable_key(KeyId=sign_key)
    expect_error("Verify on Disabled", lambda: kms.verify(KeyId=sign_key, Message=b"m", Signature=sig,
                                                          SigningAlgorithm="ECDSA_SHA_256"), "DisabledException", 400)
    kms.enable_key(KeyId=sign_key)
    kms.disable_key(KeyId=mac_key)
    expect_error("GenerateMac on Disabled",
                 lambda: kms.generate_mac(KeyId=mac_key, Message=b"m", MacAlgorithm="HMAC_SHA_256"),
                 "DisabledException", 400)
    kms.enable_key(KeyId=mac_key)

    # ------------------------------------------------------------------ Lambda via the function host
    lam = client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=60))
    fn = res["TinyFunction"]["physical_id"]
    code, _ = http(ep, "GET", "/moto-api/data.json")
    check("/moto-api/data.json answers 200 with functions present", code == 200, code)
    if not with_fh:
        return
    section("Lambda Invoke through the function host")
    r = lam.invoke(FunctionName=fn, Payload=json.dumps({"mode": "ok", "n": 1}))
    p1 = json.loads(r["Payload"].read())
    check("Invoke ok", r["StatusCode"] == 200 and "FunctionError" not in r and p1.get("ok") is True, p1)
    e = p1.get("env", {})
    check("function env: globals + own + AWS_*", e.get("ROOTWARDEN_AUDIT_TABLE") == f"{stack}-audit"
          and e.get("TINY_X") == "from-template" and e.get("AWS_LAMBDA_FUNCTION_NAME") == fn
          and e.get("AWS_ENDPOINT_URL") == ep and e.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") == "256"
          and e.get("AWS_LAMBDA_LOG_FORMAT") == "JSON" and e.get("ROOTWARDEN_BINARY") == "tiny", e)
    p2 = json.loads(lam.invoke(FunctionName=res["TinyFunction"]["arn"], Payload=b'{"mode":"ok"}')["Payload"].read())
    check("warm process reused (same pid), invoke by ARN",
          p2.get("pid") == p1.get("pid"), (p1.get("pid"), p2.get("pid")))
    r = lam.invoke(FunctionName=fn, Payload=json.dumps({"mode": "error", "errorType": "BoomError"}))
    perr = json.loads(r["Payload"].read())
    check("handler error -> 200 + X-Amz-Function-Error: Unhandled + errorType",
          r["StatusCode"] == 200 and r.get("FunctionError") == "Unhandled" and perr.get("errorType") == "BoomError",
          (r.get("FunctionError"), perr))
    r = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b'{"mode":"ok"}')
    check("InvocationType=Event -> 202", r["StatusCode"] == 202)
    lam.create_function(FunctionName=f"{stack}-nobinary", Runtime="provided.al2023", Handler="bootstrap",
                        Role=res["TinyFunctionRole"]["arn"], Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
                        Environment={"Variables": {"ROOTWARDEN_BINARY": "does-not-exist"}})
    r = lam.invoke(FunctionName=f"{stack}-nobinary", Payload=b"{}")
    pnb = json.loads(r["Payload"].read())
    check("missing binary -> FunctionHostError",
          r.get("FunctionError") == "Unhandled" and pnb.get("errorType") == "FunctionHostError", pnb)

    lam.create_function(FunctionName=f"{stack}-slow", Runtime="provided.al2023", Handler="bootstrap", Timeout=1,
                        Role=res["TinyFunctionRole"]["arn"], Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
                        Tags={"rootwarden:binary": "tiny"})
    r = lam.invoke(FunctionName=f"{stack}-slow", Payload=b'{"mode":"sleep","ms":200}')
    check("binary from tag rootwarden:binary", json.loads(r["Payload"].read()).get("slept") == 200)
    t = time.time()
    r = lam.invoke(FunctionName=f"{stack}-slow", Payload=b'{"mode":"sleep","ms":4000}')
    pto = json.loads(r["Payload"].read())
    check("Timeout -> Sandbox.Timedout after ~1 s", r.get("FunctionError") == "Unhandled"
          and pto.get("errorType") == "Sandbox.Timedout" and time.time() - t < 3.5, (pto, time.time() - t))
    r = lam.invoke(FunctionName=f"{stack}-slow", Payload=b'{"mode":"sleep","ms":10}')
    check("fresh sandbox after a timeout", json.loads(r["Payload"].read()).get("slept") == 10)
    from concurrent.futures import ThreadPoolExecutor

    t = time.time()
    with ThreadPoolExecutor(3) as pool:
        outs = list(pool.map(lambda _: json.loads(lam.invoke(FunctionName=f"{stack}-slow",
                             Payload=b'{"mode":"sleep","ms":700}')["Payload"].read()), range(3)))
    check("3 concurrent invokes run in parallel sandboxes", all(o.get("slept") == 700 for o in outs)
          and time.time() - t < 2.0, (outs, time.time() - t))

    section("Step Functions -> Lambda")
    if iam_on:  # the interpreter calls Lambda as the state machine's role, which needs the grant
        client("iam").put_role_policy(RoleName=res["TinyStateMachineRole"]["physical_id"], PolicyName="invoke",
                                      PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                                          "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}]}))

    def run(name: str, payload: dict) -> dict:
        arn = sfn.start_execution(stateMachineArn=sm_arn, name=name, input=json.dumps(payload))["executionArn"]
        deadline = time.time() + 30
        while time.time() < deadline:
            d = sfn.describe_execution(executionArn=arn)
            if d["status"] != "RUNNING":
                return d
            time.sleep(0.1)
        return d

    d = run(f"ok-{uuid.uuid4().hex[:6]}", {"mode": "ok"})
    outp = json.loads(d.get("output") or "{}")
    check("execution SUCCEEDED via function ARN + lambda:invoke tasks", d["status"] == "SUCCEEDED"
          and outp.get("outcome") == "done" and outp.get("invoke", {}).get("fn") == fn, d.get("output", d))
    d = run(f"err-{uuid.uuid4().hex[:6]}", {"mode": "error", "errorType": "BoomError"})
    outp = json.loads(d.get("output") or "{}")
    check("Catch routes on the handler's errorType", d["status"] == "SUCCEEDED" and outp.get("outcome") == "caught"
          and outp.get("error", {}).get("Error") == "BoomError", d.get("output", d))
    d = run(f"unc-{uuid.uuid4().hex[:6]}", {"mode": "error", "errorType": "OtherError"})
    check("uncaught errorType -> FAILED with that error", d["status"] == "FAILED" and d.get("error") == "OtherError", d)


if __name__ == "__main__":
    sys.exit(main())
