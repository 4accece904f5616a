"""SES inbound receipt, the mail AWS sends (email-change OTP, reset link, password changed, MFA
added) and the console stand-ins, against one launcher (IAM enforced, function host on).

The stack (ses_receipt_stack.yaml) has the shape of the production mail path. Its functions run
a recorder, a Python Lambda runtime-API client written to a temporary bin dir, that appends
each event it receives to a file: so the test sees exactly what SES's Lambda action delivered.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
EMU = os.path.dirname(HERE)
REPO = os.path.dirname(EMU)
DOMAIN = "root.test.example"
ACCOUNT = "210987654321"
ROOTWARDEN = os.path.join(REPO, "target", "debug", "rootwarden")

RECORDER = r'''#!{python}
import json, os, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
api = api if api.startswith("http") else "http://" + api
while True:
    with urllib.request.urlopen(api + "/2018-06-01/runtime/invocation/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    with open({out!r}, "a") as f:
        f.write(json.dumps({{"function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"), "event": event}}) + "\n")
    req = urllib.request.Request(api + "/2018-06-01/runtime/invocation/" + rid + "/response",
                                 data=b"{{}}", method="POST")
    urllib.request.urlopen(req).read()
'''


@pytest.fixture(scope="module")
def emu():
    work = tempfile.mkdtemp(prefix="rw-ses-test-")
    bin_dir = os.path.join(work, "bin")
    os.makedirs(bin_dir)
    events = os.path.join(work, "events.jsonl")
    stub = os.path.join(bin_dir, "recorder")
    with open(stub, "w") as f:
        f.write(RECORDER.format(python=sys.executable, out=events))
    os.chmod(stub, 0o755)
    ready = os.path.join(work, "ready.json")
    log = open(os.path.join(work, "emulator.log"), "w")
    env = dict(os.environ, ROOTWARDEN_EMULATOR_FUNCTION_LOGS="0")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(EMU, "launcher.py"), "--ready-file", ready, "--function-host",
         "--bin-dir", bin_dir, "--provision", os.path.join(HERE, "ses_receipt_stack.yaml"),
         "--stack-name", "rws", "--param", f"RootMailDomain={DOMAIN}"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.time() + 60
        while not os.path.exists(ready):
            if proc.poll() is not None or time.time() > deadline:
                log.flush()
                raise RuntimeError("launcher failed:\n" + open(log.name).read()[-3000:])
            time.sleep(0.05)
        info = json.load(open(ready))
        info["events"] = events
        info["work"] = work
        yield info
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def http(emu, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(emu["endpoint"] + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def client(emu, service):
    import boto3

    h = emu["principals"]["harness"]
    return boto3.client(service, region_name="us-east-1", endpoint_url=emu["endpoint"],
                        aws_access_key_id=h["access_key_id"], aws_secret_access_key=h["secret_access_key"])


def bucket(emu):
    return emu["stack"]["resources"]["MailBucket"]["physical_id"]


def stored(emu, key):
    return client(emu, "s3").get_object(Bucket=bucket(emu), Key=key)["Body"].read()


def events(emu):
    if not os.path.exists(emu["events"]):
        return []
    with open(emu["events"]) as f:
        return [json.loads(line) for line in f if line.strip()]


def wait_for(fn, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return fn()


def received(emu, to, subject):
    """The receipts for `to` with `subject`."""
    _, got = http(emu, "GET", "/_rootwarden/ses/received")
    return [r for r in got if to in r["recipients"] and r["subject"] == subject]


def event_of(emu, message_id):
    return wait_for(lambda: next((e for e in events(emu)
                                  if e["event"]["Records"][0]["ses"]["mail"]["messageId"] == message_id), None))


def inject(emu, to, raw, **kw):
    return http(emu, "POST", "/_rootwarden/ses/receive",
                {"raw_b64": base64.b64encode(raw).decode(), "recipients": to if isinstance(to, list) else [to], **kw})


def inspect(raw: bytes, recipient: str) -> dict | None:
    """The project's classifier on a stored message (None without the CLI binary)."""
    if not os.access(ROOTWARDEN, os.X_OK):
        return None
    with tempfile.NamedTemporaryFile(suffix=".eml") as f:
        f.write(raw)
        f.flush()
        out = subprocess.run([ROOTWARDEN, "mail", "inspect", "--output", "json", "--recipient", recipient, f.name],
                             capture_output=True, timeout=20, check=True)
    return json.loads(out.stdout)


MAIL = (b"From: Mallory <security@aws-account-verify.example>\r\nTo: {to}\r\nSubject: Urgent\r\n"
        b"Message-ID: <1@aws-account-verify.example>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\nhello\r\n")


# ---------------------------------------------------------------- SES receipt

def test_receive_stores_as_ses_and_invokes_the_lambda(emu):
    to = f"aws-{ACCOUNT}-abcd2345@{DOMAIN}"
    raw = MAIL.replace(b"{to}", to.encode())
    # an attacker with his own lookalike domain: SPF and DKIM pass for HIS domain
    status, out = inject(emu, to, raw, dkim_domain="aws-account-verify.example",
                         mail_from="bounce@aws-account-verify.example")
    assert status == 200, out
    mid = out["message_id"]
    assert re.fullmatch(r"[a-z0-9]{40}", mid)
    assert out["rules"] == ["rws-MailReceiptRule"]
    s3, lam = out["actions"]
    assert (s3["type"], s3["status"], s3["key"]) == ("S3", "stored", f"inbound/{mid}")
    assert (lam["type"], lam["status"], lam["invocation_type"]) == ("Lambda", "invoked", "Event")
    body = stored(emu, f"inbound/{mid}")
    head = body.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("Return-Path: <bounce@aws-account-verify.example>\r\nReceived: from ")
    assert f"with SMTP id {mid}\r\n for {to};" in head
    assert "X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\nReceived-SPF: pass" in head
    assert "Authentication-Results: amazonses.com;" in head
    assert "dkim=pass header.i=@aws-account-verify.example;" in head
    assert "dmarc=pass header.from=aws-account-verify.example;" in head
    assert body.endswith(raw)
    ev = event_of(emu, mid)
    assert ev, "the Lambda action's event never reached the function"
    rec = ev["event"]["Records"][0]
    assert rec["eventSource"] == "aws:ses"
    mail, receipt = rec["ses"]["mail"], rec["ses"]["receipt"]
    assert mail["destination"] == [to] and mail["source"] == "bounce@aws-account-verify.example"
    assert mail["commonHeaders"]["subject"] == "Urgent"
    assert mail["commonHeaders"]["from"] == ["Mallory <security@aws-account-verify.example>"]
    assert receipt["recipients"] == [to]
    assert {k: receipt[k]["status"] for k in ("spamVerdict", "virusVerdict", "spfVerdict", "dkimVerdict",
                                               "dmarcVerdict")} == dict.fromkeys(
        ("spamVerdict", "virusVerdict", "spfVerdict", "dkimVerdict", "dmarcVerdict"), "PASS")
    assert receipt["action"] == {"type": "Lambda", "invocationType": "Event",
                                 "functionArn": emu["stack"]["resources"]["RecorderFunction"]["arn"]}
    assert isinstance(receipt["processingTimeMillis"], int)
    _, got = http(emu, "GET", "/_rootwarden/ses/received")
    mine = [r for r in got if r["message_id"] == mid]
    assert mine and mine[0]["from"] == "security@aws-account-verify.example" and mine[0]["subject"] == "Urgent"


def test_forged_aws_sender_gets_the_verdicts_its_sender_can_achieve(emu):
    to = f"aws-{ACCOUNT}-abcd2345@{DOMAIN}"
    raw = (b"From: Amazon Web Services <no-reply@signin.aws>\r\nTo: " + to.encode() +
           b"\r\nSubject: Amazon Web Services Password Assistance\r\n\r\nreset\r\n")
    status, out = inject(emu, to, raw, dkim_domain="evil.example", mail_from="x@evil.example")
    assert status == 200, out
    head = stored(emu, f"inbound/{out['message_id']}").split(b"\r\n\r\n", 1)[0].decode()
    assert "dkim=pass header.i=@evil.example;" in head and "dmarc=fail header.from=signin.aws;" in head
    ev = event_of(emu, out["message_id"])
    assert ev["event"]["Records"][0]["ses"]["receipt"]["dmarcVerdict"] == {"status": "FAIL"}
    assert ev["event"]["Records"][0]["ses"]["receipt"]["dmarcPolicy"] == "reject"


def test_policy_refusals_and_recipient_matching(emu):
    raw = MAIL.replace(b"{to}", b"x")
    # the bucket policy of ClosedBucket does not let SES write: refused, the rule stops there
    status, out = inject(emu, "a@mx.closed.test.example", raw)
    assert status == 403, out
    assert [(a["type"], a["status"]) for a in out["actions"]] == [("S3", "refused")]
    assert "bucket policy" in out["actions"][0]["error"]
    # ".closed.test.example" matches subdomains only
    status, out = inject(emu, "a@closed.test.example", raw)
    assert status == 400 and "no receipt rule matches" in out["error"]
    # a function whose resource policy does not name SES is not invoked
    status, out = inject(emu, "nolambda@other.test.example", raw)
    assert status == 403, out
    assert [(a["type"], a["status"]) for a in out["actions"]] == [("S3", "stored"), ("Lambda", "refused")]
    # a disabled rule, an unknown domain, a subdomain of an address-form domain: SES refuses at SMTP time
    for to in ("x@disabled.test.example", "x@customer.example", f"x@sub.{DOMAIN}"):
        status, out = inject(emu, to, raw)
        assert status == 400 and "no receipt rule matches" in out["error"], (to, out)
    # only matching recipients are received
    status, out = inject(emu, [f"A@{DOMAIN.upper()}", "x@customer.example"], raw)
    assert status == 200 and out["recipients"] == [f"A@{DOMAIN.upper()}"]
    status, out = inject(emu, "x@" + DOMAIN, raw, verdicts={"spam": "MAYBE"})
    assert status == 400


# ---------------------------------------------------------------- AWS mails the OTP

SUBJECT_OTP = "AWS Account Email Change Verification"


def seed(emu, account, email):
    assert http(emu, "PUT", f"/_rootwarden/primary-email/{account}", {"email": email})[0] == 200


def test_otp_is_mailed_through_ses_and_a_resend_invalidates_the_old_code(emu):
    acct = "111122223333"
    seed(emu, acct, "owner@customer.example")
    new = f"aws-{acct}-otpq2345@{DOMAIN}"
    api = client(emu, "account")
    assert api.start_primary_email_update(AccountId=acct, PrimaryEmail=new)["Status"] == "PENDING"
    first = http(emu, "GET", f"/_rootwarden/primary-email/{acct}/otp")[1]["otp"]
    got = wait_for(lambda: received(emu, new, SUBJECT_OTP))
    assert len(got) == 1, got
    assert got[0]["from"] == "no-reply@verify.signin.aws"
    mid = got[0]["message_id"]
    body = stored(emu, f"inbound/{mid}")
    text = body.decode()
    assert f"Your AWS verification code is: {first}\r\n" in text
    assert "dkim=pass header.i=@verify.signin.aws;" in text and "dmarc=pass header.from=verify.signin.aws;" in text
    assert "From: Amazon Web Services <no-reply@verify.signin.aws>\r\n" in text
    assert event_of(emu, mid), "the inbound Lambda was not invoked for the OTP mail"
    verdict = inspect(body, new)
    if verdict is not None:
        assert verdict["category"] == "verification-code", verdict
        assert verdict["redactions"] == ["verification-code"] and not verdict["quarantined"], verdict

    # resend: a new code in a new mail (new Message-ID); the old code no longer works
    api.start_primary_email_update(AccountId=acct, PrimaryEmail=new)
    second = http(emu, "GET", f"/_rootwarden/primary-email/{acct}/otp")[1]["otp"]
    got2 = wait_for(lambda: len(received(emu, new, SUBJECT_OTP)) == 2 and received(emu, new, SUBJECT_OTP))
    assert got2, "the resend was not mailed"
    ids = [re.search(rb"Message-ID: (<[^>]+>)", stored(emu, f"inbound/{r['message_id']}")).group(1) for r in got2]
    assert ids[0] != ids[1]
    assert f"Your AWS verification code is: {second}".encode() in stored(emu, f"inbound/{got2[1]['message_id']}")
    assert api.get_primary_email_update_status(AccountId=acct)["Status"] == "PENDING"
    if first != second:
        with pytest.raises(api.exceptions.ValidationException):
            api.accept_primary_email_update(AccountId=acct, PrimaryEmail=new, Otp=first)
    assert api.accept_primary_email_update(AccountId=acct, PrimaryEmail=new, Otp=second)["Status"] == "ACCEPTED"
    assert api.get_primary_email(AccountId=acct)["PrimaryEmail"] == new
    assert api.get_primary_email_update_status(AccountId=acct)["Status"] == "COMPLETED"


def test_hold_release_and_drop(emu):
    acct = "111122224444"
    seed(emu, acct, "owner@customer.example")
    new = f"aws-{acct}-holdq234@{DOMAIN}"
    api = client(emu, "account")
    assert http(emu, "POST", f"/_rootwarden/primary-email/{acct}/mail", {"mode": "hold"})[1]["mode"] == "hold"
    api.start_primary_email_update(AccountId=acct, PrimaryEmail=new)
    time.sleep(0.3)
    assert received(emu, new, SUBJECT_OTP) == []
    assert http(emu, "POST", f"/_rootwarden/primary-email/{acct}/mail/release")[1] == {"released": 1}
    assert wait_for(lambda: received(emu, new, SUBJECT_OTP)), "the held mail was not sent on release"
    assert http(emu, "POST", f"/_rootwarden/primary-email/{acct}/mail", {"mode": "drop"})[0] == 200
    api.start_primary_email_update(AccountId=acct, PrimaryEmail=new)
    time.sleep(0.3)
    assert len(received(emu, new, SUBJECT_OTP)) == 1
    assert http(emu, "POST", f"/_rootwarden/primary-email/{acct}/mail/release")[1] == {"released": 0}
    assert http(emu, "POST", f"/_rootwarden/primary-email/{acct}/mail", {"mode": "later"})[0] == 400
    # back to deliver: the next Start is mailed at once
    http(emu, "POST", f"/_rootwarden/primary-email/{acct}/mail", {"mode": "deliver"})
    api.start_primary_email_update(AccountId=acct, PrimaryEmail=new)
    assert wait_for(lambda: len(received(emu, new, SUBJECT_OTP)) == 2)


def test_a_customer_address_is_not_our_inbox_and_conflicts(emu):
    acct = "111122225555"
    seed(emu, acct, "owner@customer.example")
    api = client(emu, "account")
    api.start_primary_email_update(AccountId=acct, PrimaryEmail="someone@customer.example")
    time.sleep(0.3)
    assert received(emu, "someone@customer.example", SUBJECT_OTP) == []
    taken = f"aws-{acct}-takenq23@{DOMAIN}"
    assert http(emu, "PUT", "/_rootwarden/primary-email/conflicts", {"emails": [taken]})[0] == 200
    with pytest.raises(api.exceptions.ConflictException):
        api.start_primary_email_update(AccountId=acct, PrimaryEmail=taken)
    assert http(emu, "PUT", "/_rootwarden/primary-email/conflicts", {"emails": []})[1] == {"emails": []}


# ---------------------------------------------------------------- console stand-ins

def test_forgot_and_reset_password_then_mfa(emu):
    acct = "111122226666"
    email = f"aws-{acct}-consoleq@{DOMAIN}"
    seed(emu, acct, email)
    http(emu, "PUT", f"/_rootwarden/root-state/{acct}", {"login_profile": False})
    base = f"/_rootwarden/console/{acct}"
    # no login profile: password recovery is off, AWS sends nothing
    status, out = http(emu, "POST", base + "/forgot-password", {"email": email})
    assert status == 200 and out["sent"] is False and "login profile" in out["why"]
    status, out = http(emu, "POST", base + "/forgot-password", {"email": "other@customer.example"})
    assert out["sent"] is False
    http(emu, "PUT", f"/_rootwarden/root-state/{acct}", {"login_profile": True})
    status, out = http(emu, "POST", base + "/forgot-password", {"email": email.upper()})
    assert (status, out) == (200, {"sent": True})
    got = wait_for(lambda: received(emu, email, "Amazon Web Services Password Assistance"))
    assert got and got[0]["from"] == "no-reply@signin.aws"
    body = stored(emu, f"inbound/{got[0]['message_id']}")
    link = re.search(rb"https://signin\.aws\.amazon\.com/resetpassword\?token=[A-Za-z0-9_-]+&type=ROOT_USER",
                     body).group(0).decode()
    verdict = inspect(body, email)
    if verdict is not None:
        assert verdict["category"] == "password-reset" and verdict["redactions"] == ["password-reset-link"]
        assert not verdict["quarantined"], verdict
    status, out = http(emu, "POST", base + "/reset-password", {"link": link, "password": "alllowercase"})
    assert status == 400 and "three" in out["error"]
    bad = link.replace("signin.aws.amazon.com", "signin.aws.amazon.com.evil.example")
    assert http(emu, "POST", base + "/reset-password", {"link": bad, "password": "Str0ng-Passw0rd!"})[0] == 400
    status, out = http(emu, "POST", base + "/reset-password", {"link": link, "password": "Str0ng-Passw0rd!"})
    assert (status, out) == (200, {"reset": True})
    status, out = http(emu, "POST", base + "/reset-password", {"link": link, "password": "An0ther-Passw0rd!"})
    assert status == 400 and "not valid" in out["error"]
    assert wait_for(lambda: received(emu, email, "Your AWS password has been changed"))
    state = http(emu, "GET", base)[1]
    assert state == {"primary_email": email, "has_password": True, "mfa_devices": 0}

    # MFA: sign-in with the current password only
    assert http(emu, "POST", base + "/mfa", {"password": "wrong-Passw0rd!"})[0] == 403
    status, out = http(emu, "POST", base + "/mfa", {"password": "Str0ng-Passw0rd!"})
    assert status == 200, out
    assert out["serial"] == f"arn:aws:iam::{acct}:mfa/root-account-mfa-device"
    assert re.fullmatch(r"[A-Z2-7]{32}", out["seed"])
    root = http(emu, "GET", f"/_rootwarden/root-state/{acct}")[1]
    assert root["mfa_devices"] == [{"serial": out["serial"]}] and root["login_profile"] is True
    assert http(emu, "GET", base)[1]["mfa_devices"] == 1
    # what the takeover's verify-mfa step sees: iam:ListMFADevices in an audit root session
    import boto3

    c = client(emu, "sts").assume_root(
        TargetPrincipal=acct, TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"},
        DurationSeconds=900)["Credentials"]
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=emu["endpoint"],
                       aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                       aws_session_token=c["SessionToken"])
    assert [d["SerialNumber"] for d in iam.list_mfa_devices()["MFADevices"]] == [out["serial"]]
    assert wait_for(lambda: received(emu, email, "MFA device added to your AWS account root user"))
    assert http(emu, "POST", base + "/mfa", {"password": "Str0ng-Passw0rd!"})[0] == 400  # same name again


def test_no_secret_in_the_emulator_log(emu):
    """OTPs, reset tokens, passwords and seeds reach only the test-only endpoints that reveal them."""
    log = open(os.path.join(emu["work"], "emulator.log")).read()
    assert "Str0ng-Passw0rd!" not in log and "token=" not in log
    assert not re.search(r"verification code is", log)
    for acct in ("111122223333", "111122224444"):
        status, out = http(emu, "GET", f"/_rootwarden/primary-email/{acct}/otp")
        if status == 200:
            assert out["otp"] not in log
