"""Account release in the emulator (org_lifecycle): CloseAccount's states, quota and mail-less
path; contact information and alternate contacts for a member account; an invitation from a
second organization accepted from inside the account. One launcher (--no-iam), boto3 over HTTP."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

EMU = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MGMT = "123456789012"


@pytest.fixture(scope="module")
def endpoint():
    work = tempfile.mkdtemp(prefix="rw-org-test-")
    ready = os.path.join(work, "ready.json")
    env = dict(os.environ, ROOTWARDEN_EMULATOR_CLOSE_SECONDS="0.5", AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing")
    env.pop("MOTO_ACCOUNT_ID", None)
    log = open(os.path.join(work, "emulator.log"), "w")
    proc = subprocess.Popen([sys.executable, os.path.join(EMU, "launcher.py"), "--no-iam",
                             "--ready-file", ready], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        for _ in range(300):
            if os.path.exists(ready) and os.path.getsize(ready):
                break
            assert proc.poll() is None, open(log.name).read()
            time.sleep(0.05)
        yield json.load(open(ready))["endpoint"]
    finally:
        proc.terminate()
        proc.wait(10)


def client(endpoint, service, account=MGMT):
    c = boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing",
                     config=Config(retries={"max_attempts": 1}))
    c.meta.events.register("before-sign.*.*",
                           lambda request, **_: request.headers.__setitem__("X-Moto-Account-Id", account))
    return c


def test_endpoint(endpoint, path, body=None, method="POST"):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(endpoint + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


test_endpoint.__test__ = False


def code(e: pytest.ExceptionInfo) -> tuple[str, str | None]:
    err = e.value.response["Error"]
    return err["Code"], e.value.response.get("Reason") or err.get("Reason")


@pytest.fixture(scope="module")
def org(endpoint):
    orgs = client(endpoint, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    ids = []
    for i in range(12):
        st = orgs.create_account(AccountName=f"m{i}", Email=f"aws-root+m{i}@provider.example")
        ids.append(st["CreateAccountStatus"]["AccountId"])
    return orgs, ids


def test_close_account_states_quota_reinstate(endpoint, org):
    orgs, ids = org
    a = ids[0]
    orgs.close_account(AccountId=a)
    acct = orgs.describe_account(AccountId=a)["Account"]
    assert (acct["Status"], acct["State"]) == ("PENDING_CLOSURE", "PENDING_CLOSURE")
    with pytest.raises(ClientError) as e:
        orgs.close_account(AccountId=a)
    assert code(e)[0] == "ConflictException"
    for _ in range(60):
        if orgs.describe_account(AccountId=a)["Account"]["Status"] == "SUSPENDED":
            break
        time.sleep(0.05)
    listed = {x["Id"]: x for x in orgs.list_accounts()["Accounts"]}
    assert (listed[a]["Status"], listed[a]["State"]) == ("SUSPENDED", "SUSPENDED")
    with pytest.raises(ClientError) as e:
        orgs.close_account(AccountId=a)
    assert code(e)[0] == "AccountAlreadyClosedException"
    with pytest.raises(ClientError) as e:
        orgs.close_account(AccountId=MGMT)
    assert code(e) == ("ConstraintViolationException", "CANNOT_CLOSE_MANAGEMENT_ACCOUNT")
    with pytest.raises(ClientError) as e:
        client(endpoint, "organizations", ids[1]).close_account(AccountId=ids[2])
    assert code(e)[0] == "AccessDeniedException"
    # 12 members: the quota is the minimum, 10 per rolling 30 days
    for x in ids[1:10]:
        orgs.close_account(AccountId=x)
    with pytest.raises(ClientError) as e:
        orgs.close_account(AccountId=ids[10])
    assert code(e) == ("ConstraintViolationException", "CLOSE_ACCOUNT_QUOTA_EXCEEDED")
    assert "You can close another account after" in e.value.response["Error"]["Message"]
    st, out = test_endpoint(endpoint, f"/_rootwarden/organizations/accounts/{ids[1]}/close/advance")
    assert (st, out["status"]) == (200, "SUSPENDED")
    st, _ = test_endpoint(endpoint, f"/_rootwarden/organizations/accounts/{a}/reinstate")
    assert st == 200
    assert orgs.describe_account(AccountId=a)["Account"]["State"] == "ACTIVE"
    st, _ = test_endpoint(endpoint, f"/_rootwarden/organizations/accounts/{ids[1]}",
                          {"closed_days_ago": 91}, "PUT")
    assert orgs.describe_account(AccountId=ids[1])["Account"]["State"] == "CLOSED"
    st, out = test_endpoint(endpoint, f"/_rootwarden/organizations/accounts/{ids[1]}/reinstate")
    assert st == 409 and "permanent" in out["error"]


def test_contact_information_and_alternate_contacts(endpoint, org):
    _, ids = org
    member = ids[11]
    acc = client(endpoint, "account")
    ci = {"FullName": "Customer Ltd", "AddressLine1": "1 Main St", "City": "Springfield",
          "StateOrRegion": "IL", "PostalCode": "62701", "CountryCode": "US",
          "PhoneNumber": "+1 555 0100"}
    with pytest.raises(ClientError) as e:
        acc.get_contact_information(AccountId=member)
    assert code(e)[0] == "ResourceNotFoundException"
    acc.put_contact_information(AccountId=member, ContactInformation=ci)
    assert acc.get_contact_information(AccountId=member)["ContactInformation"] == ci
    with pytest.raises(ClientError) as e:
        acc.put_contact_information(AccountId=member, ContactInformation={**ci, "PhoneNumber": "abc"})
    assert code(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        acc.get_contact_information(AccountId=MGMT)
    assert code(e)[0] == "AccessDeniedException"
    # the member's own view (no AccountId) is the same record
    assert client(endpoint, "account", member).get_contact_information()["ContactInformation"] == ci
    acc.put_alternate_contact(AccountId=member, AlternateContactType="SECURITY", Name="Sec",
                              Title="CISO", EmailAddress="sec@customer.example",
                              PhoneNumber="+1 555 0101")
    got = acc.get_alternate_contact(AccountId=member, AlternateContactType="SECURITY")
    assert got["AlternateContact"]["EmailAddress"] == "sec@customer.example"
    acc.delete_alternate_contact(AccountId=member, AlternateContactType="SECURITY")
    with pytest.raises(ClientError) as e:
        acc.get_alternate_contact(AccountId=member, AlternateContactType="SECURITY")
    assert code(e)[0] == "ResourceNotFoundException"


def test_transfer_to_customer_organization(endpoint, org):
    orgs, ids = org
    member = ids[11]
    me = client(endpoint, "organizations", member)
    st, out = test_endpoint(endpoint, "/_rootwarden/organizations/customer-org",
                            {"account_id": member, "management_account_id": "999988887777"})
    assert st == 200, out
    hid = out["handshake_id"]
    hs = me.list_handshakes_for_account(Filter={"ActionType": "INVITE"})["Handshakes"]
    assert [h["Id"] for h in hs] == [hid] and hs[0]["State"] == "REQUESTED"
    assert {"Id": out["organization_id"], "Type": "ORGANIZATION"} in hs[0]["Parties"]
    # too young: created in the organization a moment ago
    with pytest.raises(ClientError) as e:
        me.accept_handshake(HandshakeId=hid)
    assert code(e) == ("HandshakeConstraintViolationException",
                       "ORGANIZATION_MEMBERSHIP_CHANGE_RATE_LIMIT_EXCEEDED")
    test_endpoint(endpoint, f"/_rootwarden/organizations/accounts/{member}",
                  {"created_days_ago": 8, "control_tower": True}, "PUT")
    with pytest.raises(ClientError) as e:
        me.accept_handshake(HandshakeId=hid)
    assert code(e)[0] == "AccessDeniedException"
    test_endpoint(endpoint, f"/_rootwarden/organizations/accounts/{member}", {"control_tower": False}, "PUT")
    with pytest.raises(ClientError) as e:  # someone else cannot accept it
        client(endpoint, "organizations", ids[5]).accept_handshake(HandshakeId=hid)
    assert code(e)[0] == "HandshakeNotFoundException"
    assert me.accept_handshake(HandshakeId=hid)["Handshake"]["State"] == "ACCEPTED"
    with pytest.raises(ClientError) as e:
        me.accept_handshake(HandshakeId=hid)
    assert code(e)[0] == "HandshakeAlreadyInStateException"
    assert member not in {a["Id"] for a in orgs.list_accounts()["Accounts"]}
    with pytest.raises(ClientError) as e:
        orgs.describe_account(AccountId=member)
    assert code(e)[0] == "AccountNotFoundException"
    theirs = client(endpoint, "organizations", "999988887777")
    acct = theirs.describe_account(AccountId=member)["Account"]
    assert acct["JoinedMethod"] == "INVITED"
    assert me.describe_organization()["Organization"]["MasterAccountId"] == "999988887777"


def test_closure_mail_matches_the_fixture():
    import email

    sys.path.insert(0, EMU)
    from rootwarden_ext import aws_mail

    fixture = os.path.join(os.path.dirname(EMU), "tests", "fixtures", "mail",
                           "account-01-closure-confirmation.eml")
    want = email.message_from_bytes(open(fixture, "rb").read())
    got = email.message_from_bytes(aws_mail.account_closed("aws-root+222233334444@provider.example",
                                                           "222233334444"))
    for h in ("From", "To", "Subject"):
        assert got[h] == want[h]
    assert got.get_payload().replace("\r\n", "\n") == want.get_payload().replace("\r\n", "\n")
