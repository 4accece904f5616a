"""What a release needs from the emulator (IAM enforced, one launcher, boto3 over HTTP as the
harness): the member role in every created member account (and Control Tower's role while
enrolled), alternate contacts, the root-email-changed notice to the old address, the console's
forgot-password to the new address, the closure mail, and an account that left our organization
being out of reach of our management account (AssumeRoot, Account API, DescribeAccount)."""
from __future__ import annotations

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

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

EMU = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MGMT = "123456789012"
OURS = "root.release.example"
CUSTOMER = "customer.example"
BUCKET = "rw-release-mail"
MEMBER_ROLE = "RootWardenReleaseMember"
CHANGED = "The email address for your AWS account root user was changed"
CLOSED = "AWS Account Closure Confirmation"
RESET = "Amazon Web Services Password Assistance"
AUDIT_TASK = "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"
SECRETS: list[str] = []  # codes seen by the tests: never in the emulator log


@pytest.fixture(scope="module")
def emu():
    work = tempfile.mkdtemp(prefix="rw-release-test-")
    ready = os.path.join(work, "ready.json")
    env = dict(os.environ, ROOTWARDEN_EMULATOR_CLOSE_SECONDS="600")
    env.pop("MOTO_ACCOUNT_ID", None)
    log = open(os.path.join(work, "emulator.log"), "w")
    proc = subprocess.Popen([sys.executable, os.path.join(EMU, "launcher.py"), "--ready-file", ready],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.time() + 60
        while not (os.path.exists(ready) and os.path.getsize(ready)):
            assert proc.poll() is None and time.time() < deadline, open(log.name).read()[-3000:]
            time.sleep(0.05)
        info = json.load(open(ready))
        info["log"] = log.name
        setup_inbox(info)
        yield info
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def client(emu, service, creds=None):
    h = creds or {"aws_access_key_id": emu["principals"]["harness"]["access_key_id"],
                  "aws_secret_access_key": emu["principals"]["harness"]["secret_access_key"]}
    return boto3.client(service, region_name="us-east-1", endpoint_url=emu["endpoint"],
                        config=Config(retries={"max_attempts": 1}), **h)


def http(emu, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(emu["endpoint"] + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def setup_inbox(emu):
    """Our inbox and a customer's: one receipt rule storing mail for both domains in a bucket."""
    s3 = client(emu, "s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ses.amazonaws.com"}, "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*", "Condition": {"StringEquals": {"AWS:SourceAccount": MGMT}}}]}))
    ses = client(emu, "ses")
    ses.create_receipt_rule_set(RuleSetName="release")
    ses.create_receipt_rule(RuleSetName="release", Rule={
        "Name": "store", "Enabled": True, "Recipients": [OURS, CUSTOMER],
        "Actions": [{"S3Action": {"BucketName": BUCKET, "ObjectKeyPrefix": "inbound/"}}]})
    ses.set_active_receipt_rule_set(RuleSetName="release")


def received(emu, to, subject):
    _, got = http(emu, "GET", "/_rootwarden/ses/received")
    return [r for r in got if to in r["recipients"] and r["subject"] == subject]


def wait_for(fn, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return fn()


def body_of(emu, receipt):
    key = f"inbound/{receipt['message_id']}"
    return client(emu, "s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def code(e: pytest.ExceptionInfo) -> str:
    return e.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def org(emu):
    orgs = client(emu, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    ids = []
    for i in range(4):
        st = orgs.create_account(AccountName=f"m{i}", Email=f"aws-m{i}@{OURS}")
        ids.append(st["CreateAccountStatus"]["AccountId"])
    return orgs, ids


def member_session(emu, account, creds=None):
    c = client(emu, "sts", creds).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{MEMBER_ROLE}", RoleSessionName="rootwarden-release")
    k = c["Credentials"]
    return {"aws_access_key_id": k["AccessKeyId"], "aws_secret_access_key": k["SecretAccessKey"],
            "aws_session_token": k["SessionToken"]}


def test_member_accounts_have_the_release_member_role_and_control_tower_its_own(emu, org):
    _, ids = org
    member = ids[0]
    session = member_session(emu, member)
    who = client(emu, "sts", session).get_caller_identity()
    assert who["Account"] == member and f":assumed-role/{MEMBER_ROLE}/rootwarden-release" in who["Arn"]
    iam = client(emu, "iam", session)
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName="AWSControlTowerExecution")
    assert code(e) == "NoSuchEntity"
    assert http(emu, "PUT", f"/_rootwarden/organizations/accounts/{member}", {"control_tower": True})[0] == 200
    assert iam.get_role(RoleName="AWSControlTowerExecution")["Role"]["RoleName"] == "AWSControlTowerExecution"
    http(emu, "PUT", f"/_rootwarden/organizations/accounts/{member}", {"control_tower": False})
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName="AWSControlTowerExecution")
    assert code(e) == "NoSuchEntity"
    # exactly what the release does inside the account, nothing else
    assert client(emu, "organizations", session).list_handshakes_for_account()["Handshakes"] == []
    with pytest.raises(ClientError) as e:
        iam.list_roles()
    assert code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        client(emu, "organizations", session).leave_organization()
    assert code(e) == "AccessDeniedException"
    # trusts our management account only
    _, outsider = http(emu, "POST", "/_rootwarden/iam/users", {"name": "outsider", "account": "999911112222",
                       "policy": {"Version": "2012-10-17", "Statement": [
                           {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}})
    with pytest.raises(ClientError) as e:
        member_session(emu, member, {"aws_access_key_id": outsider["access_key_id"],
                                     "aws_secret_access_key": outsider["secret_access_key"]})
    assert code(e) == "AccessDenied"


def test_alternate_contacts_of_a_member_from_the_management_account(emu, org):
    _, ids = org
    member = ids[1]
    acc = client(emu, "account")
    for kind in ("BILLING", "OPERATIONS", "SECURITY"):
        with pytest.raises(ClientError) as e:
            acc.get_alternate_contact(AccountId=member, AlternateContactType=kind)
        assert code(e) == "ResourceNotFoundException"
    c = {"Name": "Customer Ltd", "Title": "Account owner", "EmailAddress": f"owner@{CUSTOMER}",
         "PhoneNumber": "+15550100"}
    acc.put_alternate_contact(AccountId=member, AlternateContactType="BILLING", **c)
    got = acc.get_alternate_contact(AccountId=member, AlternateContactType="BILLING")["AlternateContact"]
    assert got == {"AlternateContactType": "BILLING", **c}
    with pytest.raises(ClientError) as e:  # one type set, not the others
        acc.get_alternate_contact(AccountId=member, AlternateContactType="SECURITY")
    assert code(e) == "ResourceNotFoundException"
    acc.put_alternate_contact(AccountId=member, AlternateContactType="BILLING", **{**c, "Name": "New"})
    got = acc.get_alternate_contact(AccountId=member, AlternateContactType="BILLING")["AlternateContact"]
    assert got["Name"] == "New"
    with pytest.raises(ClientError) as e:
        acc.put_alternate_contact(AccountId=member, AlternateContactType="BILLING", **{**c, "PhoneNumber": "call me"})
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        acc.put_alternate_contact(AccountId=member, AlternateContactType="BILLING", **{**c, "Title": "x" * 51})
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        acc.get_alternate_contact(AccountId=MGMT, AlternateContactType="BILLING")
    assert code(e) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:  # not a member of our organization
        acc.get_alternate_contact(AccountId="555566667777", AlternateContactType="BILLING")
    assert code(e) == "AccessDeniedException"
    acc.delete_alternate_contact(AccountId=member, AlternateContactType="BILLING")
    with pytest.raises(ClientError) as e:
        acc.delete_alternate_contact(AccountId=member, AlternateContactType="BILLING")
    assert code(e) == "ResourceNotFoundException"


def test_handback_mail_then_departure_puts_the_account_out_of_reach(emu, org):
    orgs, ids = org
    member = ids[2]
    old, new = f"aws-m2@{OURS}", f"owner@{CUSTOMER}"
    acc = client(emu, "account")
    assert http(emu, "PUT", f"/_rootwarden/root-state/{member}", {"login_profile": True})[0] == 200
    acc.start_primary_email_update(AccountId=member, PrimaryEmail=new)
    otp = http(emu, "GET", f"/_rootwarden/primary-email/{member}/otp")[1]["otp"]
    SECRETS.append(otp)
    assert received(emu, old, CHANGED) == []
    acc.accept_primary_email_update(AccountId=member, PrimaryEmail=new, Otp=otp)
    # AWS's notice goes to the previous address, the new one masked
    got = wait_for(lambda: received(emu, old, CHANGED))
    assert len(got) == 1 and got[0]["from"] == "no-reply@signin.aws", got
    text = body_of(emu, got[0])
    assert f"AWS Account ID: {member}\r\n" in text
    assert f"Previous email address: {old}\r\n" in text and f"New email address: o***@{CUSTOMER}\r\n" in text
    assert received(emu, new, CHANGED) == []
    # forgot password: only the new address gets the reset link
    assert http(emu, "POST", f"/_rootwarden/console/{member}/forgot-password", {"email": old})[1]["sent"] is False
    assert http(emu, "POST", f"/_rootwarden/console/{member}/forgot-password", {"email": new})[1]["sent"] is True
    assert wait_for(lambda: received(emu, new, RESET))
    assert received(emu, old, RESET) == []

    # the customer's organization invites; the account accepts through the member role
    st, inv = http(emu, "POST", "/_rootwarden/organizations/customer-org",
                   {"account_id": member, "management_account_id": "999988887777"})
    assert st == 200, inv
    http(emu, "PUT", f"/_rootwarden/organizations/accounts/{member}", {"created_days_ago": 8})
    inside = client(emu, "organizations", member_session(emu, member))
    assert inside.accept_handshake(HandshakeId=inv["handshake_id"])["Handshake"]["State"] == "ACCEPTED"

    with pytest.raises(ClientError) as e:
        orgs.describe_account(AccountId=member)
    assert code(e) == "AccountNotFoundException"
    with pytest.raises(ClientError) as e:
        client(emu, "sts").assume_root(TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT_TASK})
    assert code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        acc.get_primary_email(AccountId=member)
    assert code(e) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        acc.start_primary_email_update(AccountId=member, PrimaryEmail=old)
    assert code(e) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        acc.get_contact_information(AccountId=member)
    assert code(e) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        acc.put_alternate_contact(AccountId=member, AlternateContactType="SECURITY", Name="x", Title="x",
                                  EmailAddress=old, PhoneNumber="+15550100")
    assert code(e) == "AccessDeniedException"
    # still a member of ours: AssumeRoot works
    client(emu, "sts").assume_root(TargetPrincipal=ids[3], TaskPolicyArn={"arn": AUDIT_TASK})


def test_closure_mails_the_root_address_from_aws(emu, org):
    orgs, ids = org
    member = ids[3]
    orgs.close_account(AccountId=member)
    assert received(emu, f"aws-m3@{OURS}", CLOSED) == []
    assert http(emu, "POST", f"/_rootwarden/organizations/accounts/{member}/close/advance")[0] == 200
    got = wait_for(lambda: received(emu, f"aws-m3@{OURS}", CLOSED))
    assert len(got) == 1 and got[0]["from"] == "no-reply-aws@amazon.com", got
    acct = f"{member[0:4]}-{member[4:8]}-{member[8:12]}"
    assert f"Account ID: {acct}\r\n" in body_of(emu, got[0])
    assert orgs.describe_account(AccountId=member)["Account"]["Status"] == "SUSPENDED"


def test_no_secret_in_the_emulator_log(emu, org):
    assert SECRETS, "the hand-back test ran first and kept its code"
    text = open(emu["log"]).read()
    assert all(s not in text for s in SECRETS)
    assert "token=" not in text
