"""Request -> the IAM checks AWS would make: (action, resource, condition context, resource policy).

`classify(req, principal)` returns a list of Check. A Check whose resource is None could not
be classified: the engine denies it unless the caller's policies allow "*" on "*". This
module holds the dispatcher and the query/JSON services with simple resource rules (sts, iam,
sqs, sns, cloudwatch, logs, states, secretsmanager, organizations, account, ses v1);
services_data.py has DynamoDB and KMS, services_rest.py S3, Lambda, SES v2 and Scheduler.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..common import Req
from . import principals
from .policy import Policy, parse_policy

A = "arn:aws"


@dataclass
class Check:
    action: str
    resource: str | None                 # None: could not be determined (fail closed)
    context: dict[str, tuple[str, ...]] = field(default_factory=dict)
    policy: Policy | None = None         # the resource's own policy (key / bucket / function / trust)
    mode: str | None = None              # see policy.authorize: None | "resource" | "key"
    skip: str = ""                       # not authorized here: "always-allowed" (GetCallerIdentity),
    #                                      "resource-not-found" / "invalid-request" (the service refuses it)
    via: str = ""                        # implied call made by this service (kms:ViaService), e.g. "s3"
    why: str = ""                        # why it could not be classified


@dataclass
class Call:
    """What the dispatcher knows about a request, handed to the per-service classifiers."""
    req: Req
    service: str           # signing name / IAM prefix, e.g. dynamodb, states, monitoring
    op: str | None         # operation name (X-Amz-Target suffix, Action, or routed)
    params: dict           # JSON body or query/form parameters
    account: str
    region: str
    caller: principals.Principal

    def unclassified(self, why: str) -> list[Check]:
        prefix = PREFIX.get(self.service, self.service)
        return [Check(f"{prefix}:{self.op or 'Unknown'}", None, why=why)]


# signing name -> IAM action prefix
PREFIX = {"monitoring": "cloudwatch", "email": "ses", "execute-api": "execute-api"}


def ctx(**kv: Any) -> dict[str, tuple[str, ...]]:
    """Condition context entries (keys lower-cased; None values left out)."""
    out = {}
    for k, v in kv.items():
        if v is None:
            continue
        out[k.lower()] = tuple(str(x) for x in v) if isinstance(v, (list, tuple)) else (str(v),)
    return out


def _target_op(req: Req) -> str | None:
    t = req.target
    return t.split(".")[-1] if t else None


def _json_params(req: Req) -> dict:
    try:
        body = req.json_body()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# ---------------------------------------------------------------- dispatcher

def classify(req: Req, caller: principals.Principal) -> list[Check]:
    """The checks of one request: the service's own, then the KMS calls it implies."""
    from . import implied

    service = req.service or ""
    target = req.target or ""
    if target:
        op = _target_op(req)
        params = _json_params(req)
    elif req.is_form or "Action" in req.query:
        params = req.form()
        op = params.get("Action")
    else:
        op, params = None, {}
    call = Call(req, service, op, params, caller.account, req.region or "us-east-1", caller)
    checks = _dispatch(call)
    return checks + implied.kms_checks(call, checks)


def _dispatch(call: Call) -> list[Check]:
    from . import services_data, services_rest

    service = call.service
    handler: Callable[[Call], list[Check]] | None
    if service == "s3":
        return services_rest.s3(call)
    if service == "lambda":
        return services_rest.lambda_(call)
    if service == "scheduler":
        return services_rest.scheduler(call)
    if service == "account":
        return account(call)
    if service == "ses" and call.req.path.startswith("/v2/"):
        return services_rest.sesv2(call)
    handler = {"dynamodb": services_data.dynamodb, "kms": services_data.kms, "ses": ses_v1}.get(service) \
        or SIMPLE.get(service)
    if handler is None:
        return call.unclassified(f"the emulator does not classify requests to service {service or '?'}")
    if not call.op:
        return call.unclassified("no operation name (X-Amz-Target / Action) in the request")
    return handler(call)


# ---------------------------------------------------------------- sts

def sts(call: Call) -> list[Check]:
    p, op = call.params, call.op
    if op == "GetCallerIdentity":
        return [Check("sts:GetCallerIdentity", "*", skip="always-allowed")]
    if op == "AssumeRole":
        arn = p.get("RoleArn")
        if not arn:
            return call.unclassified("AssumeRole without RoleArn")
        role = principals.role_by_arn(arn)
        doc = role.assume_role_policy_document if role is not None and role.arn == arn else None
        return [Check("sts:AssumeRole", arn, ctx(**{"sts:RoleSessionName": p.get("RoleSessionName"),
                                                     "sts:ExternalId": p.get("ExternalId")}),
                      parse_policy(doc) if doc else None, "key")]
    if op == "AssumeRoot":
        m = re.fullmatch(r"(\d{12})|arn:aws[\w-]*:iam::(\d{12}):root", p.get("TargetPrincipal") or "")
        if not m:  # root_sessions refuses it with ValidationError and issues nothing
            return [Check("sts:AssumeRoot", "*", skip="invalid-request")]
        target = m.group(1) or m.group(2)
        return [Check("sts:AssumeRoot", f"{A}:iam::{target}:root",
                      ctx(**{"sts:TaskPolicyArn": p.get("TaskPolicyArn.arn")}))]
    if op in ("GetSessionToken", "GetAccessKeyInfo", "DecodeAuthorizationMessage"):
        return [Check(f"sts:{op}", "*")]
    if op == "GetFederationToken" and p.get("Name"):
        return [Check("sts:GetFederationToken", f"{A}:sts::{call.account}:federated-user/{p['Name']}")]
    return call.unclassified(f"sts:{op} is not classified")


# ---------------------------------------------------------------- iam

IAM_NO_RESOURCE = {
    "ListUsers", "ListRoles", "ListGroups", "ListPolicies", "GetAccountSummary",
    "GetAccountAuthorizationDetails", "ListAccountAliases", "CreateAccountAlias", "DeleteAccountAlias",
    "GetAccountPasswordPolicy", "UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy",
    "ListVirtualMFADevices", "GetCredentialReport", "GenerateCredentialReport",
    "ListOpenIDConnectProviders", "ListSAMLProviders", "ListInstanceProfiles", "ListServerCertificates",
    "SetSecurityTokenServicePreferences", "ListPoliciesGrantingServiceAccess", "SimulateCustomPolicy",
    "GetContextKeysForCustomPolicy", "ListSTSRegionalEndpointsStatus",
}
IAM_SELF = {"GetUser", "ListAccessKeys", "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey",
            "ListMFADevices", "ListSigningCertificates", "DeleteSigningCertificate",
            "UploadSigningCertificate", "ChangePassword", "GetLoginProfile", "ListSSHPublicKeys",
            "ListServiceSpecificCredentials", "ListUserTags", "ListUserPolicies",
            "ListAttachedUserPolicies", "ListGroupsForUser"}


def _iam_user_arn(account: str, name: str, path: str | None = None) -> str:
    user = principals._iam(account).users.get(name)
    if user is not None:
        return user.arn
    return f"{A}:iam::{account}:user{path or '/'}{name}"


def iam(call: Call) -> list[Check]:
    p, op, acct = call.params, call.op, call.account
    action = f"iam:{op}"
    extra = ctx(**{"iam:PolicyARN": p.get("PolicyArn")})
    if p.get("UserName"):
        res = _iam_user_arn(acct, p["UserName"], p.get("Path"))
    elif p.get("RoleName"):
        role = principals.role_by_arn(f"{A}:iam::{acct}:role/{p['RoleName']}", acct)
        res = role.arn if role is not None and role.name == p["RoleName"] else \
            f"{A}:iam::{acct}:role{p.get('Path') or '/'}{p['RoleName']}"
    elif p.get("GroupName"):
        res = f"{A}:iam::{acct}:group{p.get('Path') or '/'}{p['GroupName']}"
    elif p.get("PolicyArn"):
        res = p["PolicyArn"]
    elif op == "CreatePolicy" and p.get("PolicyName"):
        res = f"{A}:iam::{acct}:policy{p.get('Path') or '/'}{p['PolicyName']}"
    elif p.get("InstanceProfileName"):
        res = f"{A}:iam::{acct}:instance-profile{p.get('Path') or '/'}{p['InstanceProfileName']}"
    elif p.get("VirtualMFADeviceName"):
        res = f"{A}:iam::{acct}:mfa{p.get('Path') or '/'}{p['VirtualMFADeviceName']}"
    elif p.get("SerialNumber", "").startswith("arn:"):
        res = p["SerialNumber"]
    elif p.get("OpenIDConnectProviderArn") or p.get("SAMLProviderArn"):
        res = p.get("OpenIDConnectProviderArn") or p.get("SAMLProviderArn")
    elif op in IAM_NO_RESOURCE:
        res = "*"
    elif op == "GetAccessKeyLastUsed":
        key = principals._iam(acct).access_keys.get(p.get("AccessKeyId", ""))
        if key is None or key.user_name is None:
            return call.unclassified("GetAccessKeyLastUsed of a key the emulator does not know")
        res = _iam_user_arn(acct, key.user_name)
    elif op in IAM_SELF and call.caller.kind == "user":
        res = call.caller.arn
    else:
        return call.unclassified(f"iam:{op} without a resource the emulator can name")
    return [Check(action, res, extra)]


# ---------------------------------------------------------------- sqs / sns / cloudwatch / logs

def _sqs_policy(call: Call, name: str) -> Policy | None:
    try:
        from moto.sqs.models import sqs_backends

        q = sqs_backends[call.account][call.region].queues.get(name)
    except Exception:
        return None
    pol = getattr(q, "policy", None) if q is not None else None
    return parse_policy(pol) if pol else None


def sqs(call: Call) -> list[Check]:
    p, op = call.params, call.op
    name = None
    if p.get("QueueUrl"):
        name = p["QueueUrl"].rstrip("/").split("/")[-1]
    elif p.get("QueueName"):
        name = p["QueueName"]
    if name:
        return [Check(f"sqs:{op}", f"{A}:sqs:{call.region}:{call.account}:{name}",
                      policy=_sqs_policy(call, name), mode="resource")]
    if op in ("ListQueues",):
        return [Check("sqs:ListQueues", "*")]
    return call.unclassified(f"sqs:{op} without QueueUrl")


def sns(call: Call) -> list[Check]:
    p, op = call.params, call.op
    arn = p.get("TopicArn") or p.get("ResourceArn")
    if not arn and p.get("SubscriptionArn", "").count(":") >= 6:
        arn = p["SubscriptionArn"].rsplit(":", 1)[0]
    if not arn and op == "CreateTopic" and p.get("Name"):
        arn = f"{A}:sns:{call.region}:{call.account}:{p['Name']}"
    if not arn and op == "Publish" and p.get("TargetArn"):
        arn = p["TargetArn"]
    if not arn and (op.startswith("List") or op in ("Publish", "CheckIfPhoneNumberIsOptedOut",
                                                    "GetSMSAttributes", "SetSMSAttributes")):
        arn = "*"
    if not arn:
        return call.unclassified(f"sns:{op} without a topic")
    return [Check(f"sns:{op}", arn)]


def _members(p: dict, name: str) -> list[str]:
    if isinstance(p.get(name), list):
        return [str(x) for x in p[name]]
    out, i = [], 1
    while f"{name}.member.{i}" in p:
        out.append(p[f"{name}.member.{i}"])
        i += 1
    return out


def cloudwatch(call: Call) -> list[Check]:
    p, op, acct, reg = call.params, call.op, call.account, call.region
    action = f"cloudwatch:{op}"
    if op in ("PutMetricAlarm", "SetAlarmState", "PutCompositeAlarm") and p.get("AlarmName"):
        return [Check(action, f"{A}:cloudwatch:{reg}:{acct}:alarm:{p['AlarmName']}")]
    if op in ("DeleteAlarms", "EnableAlarmActions", "DisableAlarmActions"):
        return [Check(action, f"{A}:cloudwatch:{reg}:{acct}:alarm:{n}") for n in _members(p, "AlarmNames")] \
            or call.unclassified(f"{op} without AlarmNames")
    if op in ("PutDashboard", "GetDashboard") and p.get("DashboardName"):
        return [Check(action, f"{A}:cloudwatch::{acct}:dashboard/{p['DashboardName']}")]
    if op in ("TagResource", "UntagResource", "ListTagsForResource") and p.get("ResourceARN"):
        return [Check(action, p["ResourceARN"])]
    if op.startswith(("Describe", "List", "Get", "PutMetricData")) or op == "PutMetricData":
        return [Check(action, "*")]
    return call.unclassified(f"{action} is not classified")


def logs(call: Call) -> list[Check]:
    p, op = call.params, call.op
    base = f"{A}:logs:{call.region}:{call.account}:log-group:"
    action = f"logs:{op}"
    ident = p.get("logGroupIdentifier") or ""
    group = p.get("logGroupName") or (ident.split(":log-group:")[-1].removesuffix(":*") if ident else None)
    if group:
        if p.get("logStreamName") and op in ("CreateLogStream", "DeleteLogStream", "PutLogEvents",
                                              "GetLogEvents"):
            return [Check(action, f"{base}{group}:log-stream:{p['logStreamName']}")]
        return [Check(action, base + group)]
    if isinstance(p.get("logGroupNames"), list) and p["logGroupNames"]:
        return [Check(action, base + g) for g in p["logGroupNames"]]
    if isinstance(p.get("logGroupIdentifiers"), list) and p["logGroupIdentifiers"]:
        return [Check(action, base + str(g).split(":log-group:")[-1].removesuffix(":*"))
                for g in p["logGroupIdentifiers"]]
    if p.get("resourceArn"):
        return [Check(action, p["resourceArn"])]
    if op.startswith(("Describe", "List")) or op in ("PutResourcePolicy", "DeleteResourcePolicy",
                                                      "StopQuery", "GetQueryResults"):
        return [Check(action, "*")]
    return call.unclassified(f"{action} without a log group")


# ---------------------------------------------------------------- states / secretsmanager / orgs

STATES_STAR = {"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat", "ListStateMachines",
               "ListActivities", "ValidateStateMachineDefinition", "TestState"}


def pass_role(role_arn: str | None, service: str) -> list[Check]:
    if not role_arn:
        return []
    return [Check("iam:PassRole", role_arn, ctx(**{"iam:PassedToService": f"{service}.amazonaws.com"}))]


def states(call: Call) -> list[Check]:
    p, op = call.params, call.op
    action = f"states:{op}"
    for key in ("executionArn", "stateMachineArn", "stateMachineAliasArn", "stateMachineVersionArn",
                "resourceArn", "activityArn", "mapRunArn"):
        if p.get(key):
            return [Check(action, p[key])] + (pass_role(p.get("roleArn"), "states")
                                              if op == "UpdateStateMachine" else [])
    if op == "CreateStateMachine" and p.get("name"):
        res = f"{A}:states:{call.region}:{call.account}:stateMachine:{p['name']}"
        return [Check(action, res)] + pass_role(p.get("roleArn"), "states")
    if op == "CreateActivity" and p.get("name"):
        return [Check(action, f"{A}:states:{call.region}:{call.account}:activity:{p['name']}")]
    if op in STATES_STAR:
        return [Check(action, "*")]
    return call.unclassified(f"{action} without a state machine or execution ARN")


def _secret(call: Call, secret_id: str) -> tuple[str, Policy | None]:
    try:
        from moto.secretsmanager.models import secretsmanager_backends

        s = secretsmanager_backends[call.account][call.region].secrets.get(secret_id)
    except Exception:
        s = None
    if s is not None:
        pol = getattr(s, "policy", None)
        return s.arn, (parse_policy(pol) if pol else None)
    if secret_id.startswith("arn:"):
        return secret_id, None
    return f"{A}:secretsmanager:{call.region}:{call.account}:secret:{secret_id}", None


def secretsmanager(call: Call) -> list[Check]:
    p, op = call.params, call.op
    action = f"secretsmanager:{op}"
    if p.get("SecretId"):
        arn, pol = _secret(call, p["SecretId"])
        return [Check(action, arn, policy=pol, mode="resource")]
    if op == "CreateSecret" and p.get("Name"):
        return [Check(action, f"{A}:secretsmanager:{call.region}:{call.account}:secret:{p['Name']}-??????")]
    if op == "BatchGetSecretValue" and isinstance(p.get("SecretIdList"), list):
        out = [Check(action, "*")]
        for sid in p["SecretIdList"]:
            arn, pol = _secret(call, str(sid))
            out.append(Check("secretsmanager:GetSecretValue", arn, policy=pol, mode="resource"))
        return out
    if op in ("ListSecrets", "GetRandomPassword", "BatchGetSecretValue"):
        return [Check(action, "*")]
    return call.unclassified(f"{action} without SecretId")


def organizations(call: Call) -> list[Check]:
    return [Check(f"organizations:{call.op}", "*")]


# ---------------------------------------------------------------- ses v1, account API

def ses_identity(call: Call, address: str) -> str:
    """The identity SES authorizes a send against: the address if it is itself a verified
    identity, else its domain."""
    from email.utils import parseaddr

    addr = parseaddr(address)[1] or address
    ident = addr.split("@", 1)[-1].lower()
    try:
        from moto.ses.models import ses_backends

        if addr in ses_backends[call.account][call.region].email_identities:
            ident = addr
    except Exception:
        pass
    return f"{A}:ses:{call.region}:{call.account}:identity/{ident}"


SES_SEND = {"SendEmail", "SendRawEmail", "SendTemplatedEmail", "SendBulkTemplatedEmail"}


def ses_v1(call: Call) -> list[Check]:
    from email.utils import parseaddr

    p, op = call.params, call.op
    action = f"ses:{op}"
    if op in SES_SEND:
        source = p.get("Source") or ""
        if not source:
            return call.unclassified(f"{action} without Source")
        recipients = [v for k, v in p.items() if k.startswith("Destination.") or k.startswith("Destinations.")]
        return [Check(action, ses_identity(call, source),
                      ctx(**{"ses:FromAddress": parseaddr(source)[1] or source,
                             "ses:Recipients": recipients or None, "ses:ApiVersion": "1"}))]
    if p.get("Identity"):
        return [Check(action, f"{A}:ses:{call.region}:{call.account}:identity/{p['Identity']}")]
    return [Check(action, "*")]


PLACEHOLDER_ORG_ID = "o-rootwardenemu"


def _org_id(account_id: str) -> str | None:
    try:
        from moto.organizations.models import organizations_backends
    except Exception:  # pragma: no cover
        return None
    for _acct, parts in list(organizations_backends.items()):
        for _p, be in list(parts.items()):
            org = getattr(be, "org", None)
            if org is None:
                continue
            if getattr(org, "master_account_id", None) == account_id:
                return org.id
    return None


def account(call: Call) -> list[Check]:
    path = call.req.path.rstrip("/")
    m = re.fullmatch(r"/([a-z][A-Za-z]+)", path)
    if not m:
        return call.unclassified(f"account API path {path} is not classified")
    op = m.group(1)[0].upper() + m.group(1)[1:]
    call.op = op
    body = _json_params(call.req)
    target = body.get("AccountId")
    if not target or target == call.account:
        res = f"{A}:account::{call.account}:account"
    else:
        # The Account API extension serves seeded member accounts with or without a moto
        # Organization; without one, their ARNs carry the placeholder organization id.
        org = _org_id(call.account) or PLACEHOLDER_ORG_ID
        res = f"{A}:account::{call.account}:account/{org}/{target}"
    return [Check(f"account:{op}", res)]


SIMPLE: dict[str, Callable[[Call], list[Check]]] = {
    "sts": sts, "iam": iam, "sqs": sqs, "sns": sns, "monitoring": cloudwatch, "logs": logs,
    "states": states, "secretsmanager": secretsmanager, "organizations": organizations,
}
