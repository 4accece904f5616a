"""Who acts as whom on the local stack (IAM is enforced: see rootwarden_ext/iam).

- `rootwarden-deployer`: an IAM user allowed everything, as a CloudFormation deployment role is.
  The provisioner signs with it. It administers the KMS keys through the key policies' account
  delegation, and, like any administrator, cannot use the vault or digest keys.
- `rootwarden-harness`: the tests and the demo's "outside world" (SES storing mail, a person
  editing a table): also allowed everything in IAM, and equally unable to use the keys.
- operators alice and bob: IAM users `operator-alice`, `operator-bob` allowed only to assume the
  stack's `OperatorRole`; each has a 12-hour session of it named after them (alice, bob), which is
  what the CLI runs as (`.local/env` holds alice's). No template role trusts either user directly.
- Each Lambda function, state machine and schedule acts as its own template role (function host,
  Step Functions interpreter, schedule firing: rootwarden_ext/service_credentials.py).
"""
from __future__ import annotations

from typing import Any

ADMIN = {"Version": "2012-10-17",
         "Statement": [{"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}]}
OPERATORS = ("alice", "bob")
SESSION_SECONDS = 43200


def _user(name: str, policy: dict) -> dict:
    from rootwarden_ext.iam.principals import create_user

    arn, key, secret = create_user(name, policy)
    return {"arn": arn, "access_key_id": key, "secret_access_key": secret}


def bootstrap(enforce: bool) -> dict[str, Any]:
    """The deployer and the harness, then enforcement on (before anything is provisioned)."""
    people = {"deployer": _user("rootwarden-deployer", ADMIN), "harness": _user("rootwarden-harness", ADMIN)}
    if enforce:
        from rootwarden_ext.iam import enforce as enforcement

        enforcement.enable()
    return people


def operator_role_arn(stack: dict | None) -> str | None:
    if not stack:
        return None
    arn = (stack.get("outputs") or {}).get("OperatorRoleArn")
    if arn:
        return arn
    res = (stack.get("resources") or {}).get("OperatorRole") or {}
    return res.get("arn")


def operators(endpoint: str, stack: dict | None) -> dict[str, Any]:
    """alice and bob, each with a session of the stack's OperatorRole named after them."""
    role = operator_role_arn(stack)
    if not role:
        return {}
    import boto3

    out: dict[str, Any] = {}
    for name in OPERATORS:
        user = _user(f"operator-{name}", {"Version": "2012-10-17", "Statement": [
            {"Sid": "OperateRootWarden", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}]})
        sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id=user["access_key_id"],
                           aws_secret_access_key=user["secret_access_key"])
        c = sts.assume_role(RoleArn=role, RoleSessionName=name, DurationSeconds=SESSION_SECONDS)
        creds = c["Credentials"]
        out[name] = {"arn": c["AssumedRoleUser"]["Arn"], "user": user, "access_key_id": creds["AccessKeyId"],
                     "secret_access_key": creds["SecretAccessKey"], "session_token": creds["SessionToken"]}
    return {"operators": out}


def env_of(who: dict) -> dict[str, str]:
    env = {"AWS_ACCESS_KEY_ID": who["access_key_id"], "AWS_SECRET_ACCESS_KEY": who["secret_access_key"]}
    if who.get("session_token"):
        env["AWS_SESSION_TOKEN"] = who["session_token"]
    return env
