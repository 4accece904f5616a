"""IAM enforcement checks for `selftest.py --iam` (the launcher runs with --iam).

Plays the attacker against the engine in rootwarden_ext/iam: scoped users and role sessions
try what their policies do not allow, and every refusal must be AWS's error naming the action.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid

ACCT = "123456789012"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


class Harness:
    def __init__(self, ep: str, stack: str, http, check, boto3, Config):
        self.ep, self.stack, self.http, self.check = ep, stack, http, check
        self.boto3, self.Config = boto3, Config

    def user(self, name: str, pol: dict) -> dict:
        code, body = self.http(self.ep, "POST", "/_rootwarden/iam/users", {"name": name, "policy": pol})
        assert code == 200, body
        return {"aws_access_key_id": body["access_key_id"], "aws_secret_access_key": body["secret_access_key"],
                "arn": body["arn"]}

    def session(self, role_arn: str, name: str, duration: int = 3600) -> dict:
        code, body = self.http(self.ep, "POST", "/_rootwarden/iam/credentials",
                               {"role_arn": role_arn, "session_name": name, "duration_seconds": duration})
        assert code == 200, body
        return {"aws_access_key_id": body["AccessKeyId"], "aws_secret_access_key": body["SecretAccessKey"],
                "aws_session_token": body["SessionToken"]}

    def client(self, svc: str, creds: dict):
        creds = {k: v for k, v in creds.items() if k.startswith("aws_")}
        return self.boto3.client(svc, endpoint_url=self.ep, region_name="us-east-1",
                                 config=self.Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
                                 **creds)

    def denied(self, name: str, fn, code: str, *needles: str, status: int | None = None) -> None:
        from botocore.exceptions import ClientError

        try:
            fn()
        except ClientError as e:
            got = e.response["Error"].get("Code")
            msg = e.response["Error"].get("Message", "")
            st = e.response["ResponseMetadata"]["HTTPStatusCode"]
            ok = got == code and all(n in msg for n in needles) and (status is None or st == status)
            self.check(name, ok, f"got {got} {st}: {msg}")
            return
        self.check(name, False, f"expected {code}, the call succeeded")


def run(ep: str, stack: str, res: dict, admin: dict, http, check, boto3, Config) -> None:
    h = Harness(ep, stack, http, check, boto3, Config)
    check("status endpoint says enforced", http(ep, "GET", "/_rootwarden/iam/status") == (200, {"enforced": True}))
    req = urllib.request.Request(ep + "/", data=b"{}", method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables"})
    try:
        urllib.request.urlopen(req)
        check("unsigned request refused", False, "accepted")
    except urllib.error.HTTPError as e:
        body = json.loads(e.read() or b"{}")
        check("unsigned request -> MissingAuthenticationTokenException",
              e.code == 400 and body.get("__type", "").endswith("MissingAuthenticationTokenException"), body)

    ddb = h.client("dynamodb", admin)
    tables = {}
    for t in ("a", "b"):
        tables[t] = f"{stack}-iam-{t}"
        ddb.create_table(TableName=tables[t], BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    arn_a = f"arn:aws:dynamodb:us-east-1:{ACCT}:table/{tables['a']}"
    ddb.put_item(TableName=tables["a"], Item={"pk": {"S": "k"}})

    # ---- a user allowed only dynamodb:GetItem on table A
    reader = h.user(f"{stack}-reader", policy(allow("dynamodb:GetItem", arn_a)))
    rd = h.client("dynamodb", reader)
    check("reader: GetItem on A allowed",
          rd.get_item(TableName=tables["a"], Key={"pk": {"S": "k"}}).get("Item") is not None)
    h.denied("reader: PutItem on A -> AccessDeniedException naming dynamodb:PutItem",
             lambda: rd.put_item(TableName=tables["a"], Item={"pk": {"S": "x"}}), "AccessDeniedException",
             "dynamodb:PutItem", reader["arn"], "no identity-based policy allows", status=400)
    h.denied("reader: GetItem on B -> AccessDeniedException naming dynamodb:GetItem and table B",
             lambda: rd.get_item(TableName=tables["b"], Key={"pk": {"S": "k"}}), "AccessDeniedException",
             "dynamodb:GetItem", f"table/{tables['b']}", status=400)
    h.denied("reader: TransactWriteItems checked per item as dynamodb:PutItem",
             lambda: rd.transact_write_items(
                 TransactItems=[{"Put": {"TableName": tables["a"], "Item": {"pk": {"S": "y"}}}}]),
             "AccessDeniedException", "dynamodb:PutItem")
    h.denied("reader: sts:AssumeRole without permission", lambda: h.client("sts", reader).assume_role(
        RoleArn=res["TinyFunctionRole"]["arn"], RoleSessionName="attacker"),
        "AccessDenied", "sts:AssumeRole", status=403)
    h.denied("reader: Account API GetPrimaryEmail (rest-json 403)",
             lambda: h.client("account", reader).get_primary_email(
        AccountId=ACCT), "AccessDeniedException", "account:GetPrimaryEmail", status=403)
    check("reader: GetCallerIdentity needs no permission",
          h.client("sts", reader).get_caller_identity()["Arn"] == reader["arn"])

    # ---- authentication
    h.denied("unknown access key (JSON) -> UnrecognizedClientException", lambda: h.client("dynamodb", {
        "aws_access_key_id": "AKIAUNKNOWNKEY000000", "aws_secret_access_key": "x"}).list_tables(),
        "UnrecognizedClientException", status=400)
    h.denied("unknown access key (query) -> InvalidClientTokenId", lambda: h.client("sts", {
        "aws_access_key_id": "AKIAUNKNOWNKEY000000", "aws_secret_access_key": "x"}).get_caller_identity(),
        "InvalidClientTokenId", status=403)
    bad = dict(reader, aws_secret_access_key="not-the-secret")
    h.denied("bad signature (JSON) -> InvalidSignatureException",
             lambda: h.client("dynamodb", bad).get_item(TableName=tables["a"], Key={"pk": {"S": "k"}}),
             "InvalidSignatureException", status=400)
    h.denied("bad signature (query) -> SignatureDoesNotMatch",
             lambda: h.client("sts", bad).get_caller_identity(), "SignatureDoesNotMatch", status=403)
    h.denied("bad signature (S3) -> SignatureDoesNotMatch",
             lambda: h.client("s3", bad).list_buckets(), "SignatureDoesNotMatch", status=403)

    # ---- a role session with a LeadingKeys condition and an encryption-context condition
    iam = h.client("iam", admin)
    kms = h.client("kms", admin)
    key = kms.create_key(Description="iam selftest")["KeyMetadata"]["Arn"]
    role = iam.create_role(RoleName=f"{stack}-tenant-a", AssumeRolePolicyDocument=json.dumps(policy(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
         "Action": "sts:AssumeRole"})))["Role"]["Arn"]
    iam.put_role_policy(RoleName=f"{stack}-tenant-a", PolicyName="scoped", PolicyDocument=json.dumps(policy(
        allow(["dynamodb:PutItem", "dynamodb:Query"], arn_a,
              Condition={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["tenant-a#*"]}}),
        allow("kms:Encrypt", key, Condition={"StringEquals": {"kms:EncryptionContext:purpose": "vault"}}))))
    sess = h.session(role, "selftest")
    tdb = h.client("dynamodb", sess)
    tdb.put_item(TableName=tables["a"], Item={"pk": {"S": "tenant-a#1"}})
    check("session: PutItem in its own partition (tenant-a#) allowed", True)
    h.denied("LeadingKeys: PutItem into another tenant's partition denied",
             lambda: tdb.put_item(TableName=tables["a"], Item={"pk": {"S": "tenant-b#1"}}),
             "AccessDeniedException", "dynamodb:PutItem", f"assumed-role/{stack}-tenant-a/selftest")
    h.denied("LeadingKeys: Query of another tenant's partition denied", lambda: tdb.query(
        TableName=tables["a"], KeyConditionExpression="#p = :v", ExpressionAttributeNames={"#p": "pk"},
        ExpressionAttributeValues={":v": {"S": "tenant-b#1"}}), "AccessDeniedException", "dynamodb:Query")
    check("LeadingKeys: Query of its own partition allowed", tdb.query(
        TableName=tables["a"], KeyConditionExpression="pk = :v",
        ExpressionAttributeValues={":v": {"S": "tenant-a#1"}})["Count"] == 1)
    tkms = h.client("kms", sess)
    check("KMS: Encrypt with the allowed encryption context",
          bool(tkms.encrypt(KeyId=key, Plaintext=b"s", EncryptionContext={"purpose": "vault"})["CiphertextBlob"]))
    h.denied("KMS: Encrypt with the wrong encryption context denied by the condition",
             lambda: tkms.encrypt(KeyId=key, Plaintext=b"s", EncryptionContext={"purpose": "other"}),
             "AccessDeniedException", "kms:Encrypt", key)
    h.denied("KMS: Encrypt without an encryption context denied",
             lambda: tkms.encrypt(KeyId=key, Plaintext=b"s"), "AccessDeniedException", "kms:Encrypt")
    h.denied("session with a wrong token -> UnrecognizedClientException", lambda: h.client("dynamodb", dict(
        sess, aws_session_token=sess["aws_session_token"][:-4] + "AAAA")).list_tables(), "UnrecognizedClientException")
    short = h.session(role, "short", duration=1)
    time.sleep(1.2)
    h.denied("expired minted session -> ExpiredTokenException",
             lambda: h.client("dynamodb", short).list_tables(), "ExpiredTokenException", status=400)
    h.denied("expired minted session (query) -> ExpiredToken",
             lambda: h.client("sts", short).get_caller_identity(), "ExpiredToken", status=403)

    # ---- a key whose policy does not delegate to the account
    locked = kms.create_key(Description="not delegated", BypassPolicyLockoutSafetyCheck=True, Policy=json.dumps(policy(
        {"Effect": "Allow", "Principal": {"AWS": role}, "Action": "kms:*", "Resource": "*"})))["KeyMetadata"]["Arn"]
    h.denied("KMS: key policy without account delegation denies an admin with *",
             lambda: kms.encrypt(KeyId=locked, Plaintext=b"x"), "AccessDeniedException", "kms:Encrypt",
             "no resource-based policy allows")
    check("KMS: the role the key policy names directly may use it without an identity grant",
          bool(tkms.generate_data_key(KeyId=locked, KeySpec="AES_256")["CiphertextBlob"]))

    # ---- S3 bucket policies
    s3 = h.client("s3", admin)
    bucket = f"{stack}-iam-bucket"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="shared/x", Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy(
        {"Effect": "Allow", "Principal": {"AWS": reader["arn"]}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/shared/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{bucket}",
                                                                          f"arn:aws:s3:::{bucket}/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}})))
    rs3 = h.client("s3", reader)
    check("S3: bucket policy naming the user grants GetObject without an identity policy",
          rs3.get_object(Bucket=bucket, Key="shared/x")["Body"].read() == b"x")
    h.denied("S3: PutObject not granted -> AccessDenied naming s3:PutObject",
             lambda: rs3.put_object(Bucket=bucket, Key="shared/y", Body=b"y"),
             "AccessDenied", "s3:PutObject", status=403)
    h.denied("S3: explicit Deny in the bucket policy beats an admin's Allow",
             lambda: s3.delete_object(Bucket=bucket, Key="shared/x"), "AccessDenied", "s3:DeleteObject",
             "explicit deny in a resource-based policy", status=403)

    s3.put_object(Bucket=bucket, Key="shared/sealed", Body=b"s", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    h.denied("S3: GetObject of an SSE-KMS object needs kms:Decrypt (via s3) too",
             lambda: rs3.get_object(Bucket=bucket, Key="shared/sealed"), "AccessDenied", "kms:Decrypt", key)

    # ---- STS AssumeRoot checks the task policy condition
    root_caller = h.user(f"{stack}-root-auditor", policy(allow("sts:AssumeRoot", "arn:aws:iam::*:root", Condition={
        "StringEquals": {"sts:TaskPolicyArn": "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"}})))
    rsts = h.client("sts", root_caller)
    check("AssumeRoot allowed for the task policy the condition names", rsts.assume_root(
        TargetPrincipal="111122223333",
        TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"})
        ["Credentials"]["AccessKeyId"].startswith("ASIA"))
    h.denied("AssumeRoot with another task policy denied by sts:TaskPolicyArn", lambda: rsts.assume_root(
        TargetPrincipal="111122223333",
        TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"}),
        "AccessDenied", "sts:AssumeRoot", "arn:aws:iam::111122223333:root", status=403)

    # ---- Step Functions runs as the state machine's role
    sfn = h.client("stepfunctions", admin)
    bare = iam.create_role(RoleName=f"{stack}-bare-sm", AssumeRolePolicyDocument=json.dumps(policy(
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
         "Action": "sts:AssumeRole"})))["Role"]["Arn"]
    fn_arn = res["TinyFunction"]["arn"]
    sm = sfn.create_state_machine(name=f"{stack}-bare", roleArn=bare, definition=json.dumps({
        "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                          "Parameters": {"FunctionName": fn_arn, "Payload": {}}, "End": True}}}))
    ex = sfn.start_execution(stateMachineArn=sm["stateMachineArn"], name=f"bare-{uuid.uuid4().hex[:6]}")["executionArn"]
    deadline, d = time.time() + 20, {}
    while time.time() < deadline:
        d = sfn.describe_execution(executionArn=ex)
        if d["status"] != "RUNNING":
            break
        time.sleep(0.1)
    check("Step Functions: a role without lambda:InvokeFunction fails the Lambda task with AccessDenied",
          d.get("status") == "FAILED" and "AccessDenied" in (str(d.get("error")) + str(d.get("cause"))), d)

    # ---- call log
    code, body = http(ep, "GET", "/_rootwarden/iam/calls")
    calls = body.get("calls", []) if isinstance(body, dict) else []
    check("call log records the reader's denied PutItem", any(
        c["principal"] == reader["arn"] and c["action"] == "dynamodb:PutItem" and c["allowed"] is False
        for c in calls), len(calls))
    check("call log records the state machine role's Lambda invoke", any(
        c["principal"] == bare and c["action"] == "lambda:InvokeFunction" and c["kind"] == "role" for c in calls))
    odd = sorted({f"{c['action']} {c['resource']}" for c in calls if c["decided_by"].startswith("unclassified")})
    check("every request of the selftest was classified (no admin-only fallback)", not odd, odd)
