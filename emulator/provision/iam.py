from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .names import gen_name
from .util import NO_VALUE, TemplateError, _as_bool, _tags_list

if TYPE_CHECKING:
    from .provisioner import Provisioner

class Roles:
    """Execution roles as SAM materialises them; mixed into Provisioner."""

    def ensure_role(self, role_arn_or_name: str | None, default_name: str,
                    service: str) -> tuple[str, dict | None]:
        """Return a role ARN that exists in the emulator's IAM (moto's Lambda checks it). A role the
        template does not define (an ARN from outside) is created empty, as a stand-in."""
        iam = self.client("iam")
        if role_arn_or_name:
            name = role_arn_or_name.split("/")[-1] if role_arn_or_name.startswith("arn:") else role_arn_or_name
        else:
            name = default_name
        try:
            return iam.get_role(RoleName=name)["Role"]["Arn"], None
        except iam.exceptions.NoSuchEntityException:
            pass
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service},
                                                        "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(doc))["Role"]
        extra = {"type": "AWS::IAM::Role", "physical_id": name, "arn": role["Arn"],
                 "attrs": {"Arn": role["Arn"], "RoleId": role["RoleId"]}, "implicit": True}
        return role["Arn"], extra

    def sam_role(self, owner: str, kind: str, raw: dict, pr: dict) -> tuple[str, dict, list[str]]:
        """SAM's implicit execution role of a Serverless Function (kind "function") or StateMachine
        (kind "statemachine") without `Role`, as samtranslator builds it
        (model/role_utils/role_constructor.py construct_role_for_resource, sam_resources.py
        SamFunction._construct_role, stepfunctions/generators.py _construct_role). `raw` holds the
        unresolved properties (policy templates are expanded before intrinsics resolve), `pr` the
        resolved ones. Returns (ARN, the `<owner>Role` resource entry, warnings)."""
        iam = self.client("iam")
        role_logical = f"{owner}Role"
        warnings: list[str] = []
        trust = pr.get("AssumeRolePolicyDocument") if kind == "function" else None
        if trust is None:
            svc = "lambda.amazonaws.com" if kind == "function" else "states.amazonaws.com"
            trust = {"Version": "2012-10-17",
                     "Statement": [{"Action": ["sts:AssumeRole"], "Effect": "Allow",
                                    "Principal": {"Service": [svc]}}]}
        managed: list[str] = []
        inline: list[tuple[str, Any]] = []
        raw_policies = raw.get("Policies")
        if raw_policies is None or raw_policies == []:
            raw_policies = []
        elif not isinstance(raw_policies, list):
            raw_policies = [raw_policies]
        if kind == "function":
            managed.append(_aws_managed_arn("AWSLambdaBasicExecutionRole"))
            tracing = pr.get("Tracing")
            if tracing and tracing != "Disabled":
                managed.append(_aws_managed_arn("AWSXrayWriteOnlyAccess"))
            if pr.get("VpcConfig"):
                managed.append(_aws_managed_arn("AWSLambdaVPCAccessExecutionRole"))
            dlq = pr.get("DeadLetterQueue")
            if dlq and dlq.get("TargetArn"):
                action = {"SQS": "sqs:SendMessage", "SNS": "sns:Publish"}.get(dlq.get("Type"))
                if action is None:
                    raise TemplateError(f"{owner}: DeadLetterQueue.Type must be SQS or SNS")
                inline.append(("DeadLetterQueuePolicy", {
                    "Version": "2012-10-17",
                    "Statement": [{"Action": action, "Resource": dlq["TargetArn"], "Effect": "Allow"}]}))
            for event, cfg in (((pr.get("EventInvokeConfig") or {}).get("DestinationConfig")) or {}).items():
                inline.append(_event_invoke_policy(owner, event, cfg or {}))
        else:
            tr = pr.get("Tracing") or {}
            if _as_bool(tr.get("Enabled", False)):
                raw_policies = raw_policies + ["AWSXrayWriteOnlyAccess"]
        for index, entry in enumerate(raw_policies):
            entry = _expand_policy_template(owner, entry)
            value = self.resolve(entry)
            if value is NO_VALUE:
                continue
            if isinstance(value, str):
                arn = value if value.startswith("arn:") else _aws_managed_arn(value)
                if arn not in managed:
                    managed.append(arn)
            elif isinstance(value, dict) and "Statement" in value:
                inline.append((f"{role_logical}Policy{index}", value))
            else:
                raise TemplateError(f"{owner}: Policies[{index}] is not a managed policy, a policy "
                                    f"document or a known SAM policy template: {entry!r}")
        rname = gen_name(self.stack, role_logical, 64, r"[^A-Za-z0-9+=,.@_-]")
        args: dict[str, Any] = {"RoleName": rname, "AssumeRolePolicyDocument": json.dumps(trust)}
        if pr.get("RolePath"):
            args["Path"] = pr["RolePath"]
        if pr.get("PermissionsBoundary"):
            args["PermissionsBoundary"] = pr["PermissionsBoundary"]
        tag_key = "lambda:createdBy" if kind == "function" else "stateMachine:createdBy"
        args["Tags"] = [{"Key": tag_key, "Value": "SAM"}] + _tags_list(pr.get("Tags"))
        role = iam.create_role(**args)["Role"]
        for pname, doc in inline:
            warnings += _put_role_policy(iam, rname, pname, doc)
        for arn in managed:
            warnings += _attach_managed(iam, rname, arn)
        extra = {"type": "AWS::IAM::Role", "physical_id": rname, "arn": role["Arn"],
                 "attrs": {"Arn": role["Arn"], "RoleId": role["RoleId"]}, "implicit": True,
                 "policies": [n for n, _ in inline], "managed_policies": managed}
        return role["Arn"], extra, [f"{role_logical}: {w}" for w in warnings]


# ----------------------------------------------------------------------------- IAM helpers

# SAM policy templates this provisioner expands, copied verbatim from samtranslator's
# policy_templates_data/policy_templates.json (aws-sam-translator 1.115.0). A template not listed
# here is refused rather than guessed.
SAM_POLICY_TEMPLATES: dict[str, dict] = {
    "LambdaInvokePolicy": {
        "Parameters": {"FunctionName": {}},
        "Definition": {"Statement": [{
            "Action": ["lambda:InvokeFunction"], "Effect": "Allow",
            "Resource": {"Fn::Sub": [
                "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${functionName}*",
                {"functionName": {"Ref": "FunctionName"}}]}}]},
    },
    "StepFunctionsExecutionPolicy": {
        "Parameters": {"StateMachineName": {}},
        "Definition": {"Statement": [{
            "Effect": "Allow", "Action": ["states:StartExecution"],
            "Resource": {"Fn::Sub": [
                "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${stateMachineName}",
                {"stateMachineName": {"Ref": "StateMachineName"}}]}}]},
    },
    "SQSSendMessagePolicy": {
        "Parameters": {"QueueName": {}},
        "Definition": {"Statement": [{
            "Effect": "Allow", "Action": ["sqs:SendMessage*"],
            "Resource": {"Fn::Sub": [
                "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${queueName}",
                {"queueName": {"Ref": "QueueName"}}]}}]},
    },
}


def _expand_policy_template(owner: str, entry: Any) -> Any:
    """A `{TemplateName: {Param: value}}` Policies entry -> SAM's statement document (every
    `{"Ref": Param}` in the template's definition replaced by the given value, as samtranslator's
    PolicyTemplate.to_statement does); anything else unchanged. Fn::If branches are expanded too."""
    if isinstance(entry, dict) and len(entry) == 1 and "Fn::If" in entry:
        cond, a, b = entry["Fn::If"]
        return {"Fn::If": [cond, _expand_policy_template(owner, a), _expand_policy_template(owner, b)]}
    if not (isinstance(entry, dict) and len(entry) == 1):
        return entry
    (name, params), = entry.items()
    if name == "Statement" or name.startswith("Fn::") or name == "Ref":
        return entry
    spec = SAM_POLICY_TEMPLATES.get(name)
    if spec is None:
        raise TemplateError(f"{owner}: SAM policy template {name} is not known to the local provisioner")
    params = params or {}
    missing = [k for k in spec["Parameters"] if k not in params]
    if missing:
        raise TemplateError(f"{owner}: policy template {name} needs {', '.join(missing)}")

    def subst(x: Any) -> Any:
        if isinstance(x, dict):
            if len(x) == 1 and "Ref" in x and x["Ref"] in spec["Parameters"]:
                return params[x["Ref"]]
            return {k: subst(v) for k, v in x.items()}
        if isinstance(x, list):
            return [subst(v) for v in x]
        return x

    return subst(spec["Definition"])


def _event_invoke_policy(owner: str, event: str, cfg: dict) -> tuple[str, dict]:
    """SAM's policy for an EventInvokeConfig destination with an explicit ARN
    (SamFunction._add_event_invoke_managed_policy); SAM's auto-created queues/topics are not."""
    dest, kind = cfg.get("Destination"), cfg.get("Type")
    logical = f"{owner}EventInvokeConfig{event}"
    if not dest:
        raise TemplateError(f"{owner}: EventInvokeConfig {event} without Destination is not supported locally")
    if kind == "S3Bucket":
        return f"{logical}S3Policy", {"Statement": [
            {"Action": "s3:PutObject", "Effect": "Allow", "Resource": f"{dest}/*"},
            {"Action": "s3:ListBucket", "Effect": "Allow", "Resource": dest}]}
    action, suffix = {"SQS": ("sqs:SendMessage", "SQSPolicy"), "SNS": ("sns:publish", "SNSPolicy"),
                      "EventBridge": ("events:PutEvents", "EventBridgePolicy"),
                      "Lambda": ("lambda:InvokeFunction", "LambdaPolicy")}.get(kind, (None, None))
    if action is None:
        raise TemplateError(f"{owner}: EventInvokeConfig {event} Type {kind!r} is not supported")
    return f"{logical}{suffix}", {"Statement": [{"Action": action, "Effect": "Allow", "Resource": dest}]}


def _aws_managed_policies() -> dict:
    """AWS managed policies (name -> {Path, Document, ...}) as moto bundles them."""
    global _AWS_MANAGED
    if _AWS_MANAGED is None:
        try:
            from moto.iam.aws_managed_policies import aws_managed_policies_data
            _AWS_MANAGED = json.loads(aws_managed_policies_data)
        except Exception:
            _AWS_MANAGED = {}
    return _AWS_MANAGED


_AWS_MANAGED: dict | None = None


def _aws_managed_arn(name: str) -> str:
    """A managed policy name (as SAM's Policies take it) -> its AWS managed policy ARN, path
    included (service-role/AWSLambdaBasicExecutionRole), as SAM's bundled map resolves it."""
    path = (_aws_managed_policies().get(name) or {}).get("Path") or "/"
    return f"arn:aws:iam::aws:policy{path}{name}"


def _policy_json(doc: Any) -> tuple[str, list[str]]:
    """A policy document as IAM takes it. IAM reads a document without Version as 2008-10-17;
    moto refuses one, so it gets 2012-10-17 here (they differ only in policy variables)."""
    if isinstance(doc, str):
        return doc, []
    if isinstance(doc, dict) and "Version" not in doc:
        return json.dumps({"Version": "2012-10-17", **doc}), ["policy document without Version given 2012-10-17"]
    return json.dumps(doc), []


def _put_role_policy(iam: Any, role: str, name: str, doc: Any) -> list[str]:
    text, warnings = _policy_json(doc)
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=text)
    return [f"{name}: {w}" for w in warnings]


def _attach_managed(iam: Any, role: str, arn: str) -> list[str]:
    """Attaches a managed policy. moto loads AWS managed policies only with
    MOTO_IAM_LOAD_MANAGED_POLICIES=true; without them, an AWS managed policy moto knows is applied
    as an inline policy of the same document (named aws-managed-<name>), so its permissions hold."""
    try:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        return []
    except iam.exceptions.NoSuchEntityException:
        pass
    name = arn.rsplit("/", 1)[-1]
    known = _aws_managed_policies().get(name) if arn.startswith("arn:aws:iam::aws:policy/") else None
    if not known:
        return [f"managed policy {arn} not attached: it does not exist in the emulator"]
    iam.put_role_policy(RoleName=role, PolicyName=f"aws-managed-{name}",
                        PolicyDocument=json.dumps(known["Document"]))
    return [f"AWS managed policy {name} applied inline as aws-managed-{name} (the emulator does not load "
            "AWS managed policies)"]


def h_iam_role(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    iam = p.client("iam")
    rname = pr.get("RoleName") or gen_name(p.stack, name, 64, r"[^A-Za-z0-9+=,.@_-]")
    doc = pr.get("AssumeRolePolicyDocument") or {}
    args: dict[str, Any] = {"RoleName": rname,
                            "AssumeRolePolicyDocument": doc if isinstance(doc, str) else json.dumps(doc)}
    for k in ("Path", "Description", "PermissionsBoundary"):
        if pr.get(k):
            args[k] = pr[k]
    if pr.get("MaxSessionDuration"):
        args["MaxSessionDuration"] = int(pr["MaxSessionDuration"])
    tags = _tags_list(pr.get("Tags"))
    if tags:
        args["Tags"] = tags
    role = iam.create_role(**args)["Role"]
    warnings: list[str] = []
    for pol in pr.get("Policies") or []:
        warnings += _put_role_policy(iam, rname, pol["PolicyName"], pol["PolicyDocument"])
    for arn in pr.get("ManagedPolicyArns") or []:
        warnings += _attach_managed(iam, rname, arn)
    return {"physical_id": rname, "arn": role["Arn"], "attrs": {"Arn": role["Arn"], "RoleId": role["RoleId"]},
            "warnings": warnings}


def h_iam_managed_policy(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    iam = p.client("iam")
    pname = pr.get("ManagedPolicyName") or gen_name(p.stack, name, 128, r"[^A-Za-z0-9+=,.@_-]")
    kw = {"PolicyName": pname, "PolicyDocument": _policy_json(pr["PolicyDocument"])[0]}
    if pr.get("Path"):
        kw["Path"] = pr["Path"]
    if pr.get("Description"):
        kw["Description"] = pr["Description"]
    arn = iam.create_policy(**kw)["Policy"]["Arn"]
    for r in pr.get("Roles") or []:
        iam.attach_role_policy(RoleName=r, PolicyArn=arn)
    for u in pr.get("Users") or []:
        iam.attach_user_policy(UserName=u, PolicyArn=arn)
    for g in pr.get("Groups") or []:
        iam.attach_group_policy(GroupName=g, PolicyArn=arn)
    return {"physical_id": arn, "arn": arn, "attrs": {"PolicyArn": arn}}


def h_iam_policy(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    iam = p.client("iam")
    doc_s, warnings = _policy_json(pr["PolicyDocument"])
    for r in pr.get("Roles") or []:
        iam.put_role_policy(RoleName=r, PolicyName=pr["PolicyName"], PolicyDocument=doc_s)
    for u in pr.get("Users") or []:
        iam.put_user_policy(UserName=u, PolicyName=pr["PolicyName"], PolicyDocument=doc_s)
    for g in pr.get("Groups") or []:
        iam.put_group_policy(GroupName=g, PolicyName=pr["PolicyName"], PolicyDocument=doc_s)
    return {"physical_id": pr["PolicyName"], "arn": None, "warnings": warnings}
