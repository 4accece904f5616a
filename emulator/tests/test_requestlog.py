"""The request log (requestlog.py, used by `make bench-calls`): off by default; once on, one record
per AWS request with its caller and operation, whatever the protocol; test endpoints are not AWS
requests. One launcher (--no-iam), boto3 over HTTP."""
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

EMU = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def endpoint():
    work = tempfile.mkdtemp(prefix="rw-requestlog-test-")
    ready = os.path.join(work, "ready.json")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    log = open(os.path.join(work, "emulator.log"), "w")
    proc = subprocess.Popen([sys.executable, os.path.join(EMU, "launcher.py"), "--no-iam",
                             "--ready-file", ready], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        for _ in range(1200):  # up to a minute on a loaded machine
            if os.path.exists(ready) and os.path.getsize(ready):
                break
            assert proc.poll() is None, open(log.name).read()
            time.sleep(0.05)
        yield json.load(open(ready))["endpoint"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def call(endpoint, method, body=None, query=""):
    req = urllib.request.Request(f"{endpoint}/_rootwarden/requests{query}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def client(endpoint, service):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_off_by_default_then_one_record_per_request(endpoint):
    ddb, s3 = client(endpoint, "dynamodb"), client(endpoint, "s3")
    ddb.list_tables()
    assert call(endpoint, "GET")["records"] == []
    start = call(endpoint, "POST", {"enabled": True})["last"]
    ddb.list_tables()
    s3.create_bucket(Bucket="requestlog-test")
    s3.head_bucket(Bucket="requestlog-test")
    call(endpoint, "GET", query="?after=0")  # a test endpoint: not logged
    got = call(endpoint, "GET", query=f"?after={start}")["records"]
    assert [(r["service"], r["op"], r["status"]) for r in got] == [
        ("dynamodb", "ListTables", 200), ("s3", "CreateBucket", 200), ("s3", "HeadBucket", 200)]
    assert all(r["caller"] for r in got)
    assert [r["seq"] for r in got] == sorted(r["seq"] for r in got)
    call(endpoint, "DELETE")
    assert call(endpoint, "GET")["records"] == []
    call(endpoint, "POST", {"enabled": False})
    ddb.list_tables()
    assert call(endpoint, "GET")["records"] == []


def test_bad_requests_are_refused(endpoint):
    with pytest.raises(urllib.error.HTTPError) as e:
        call(endpoint, "POST", {"enabled": "yes"})
    assert e.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as e:
        call(endpoint, "GET", query="?after=x")
    assert e.value.code == 400
