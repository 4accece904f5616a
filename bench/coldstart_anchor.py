"""The Python anchor of `make bench-coldstart`: a Lambda bootstrap doing the init the heaviest Root
Warden function does (release: DynamoDB, KMS, Step Functions, Organizations, Account twice, STS
twice), with boto3, then asking the Runtime API for its first event. bench/coldstart.py spawns it
with the same environment as the Rust functions and stops it at that request."""

import http.client
import os

import boto3

session = boto3.session.Session()
clients = [
    session.client(service)
    for service in ("dynamodb", "kms", "stepfunctions", "organizations", "account", "account", "sts", "sts")
]
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port))
conn.request("GET", "/2018-06-01/runtime/invocation/next")
conn.getresponse()
