from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .names import gen_name
from .util import _as_bool, _bool_str, _drop_none, _dummy_zip, _tags_map

if TYPE_CHECKING:
    from .provisioner import Provisioner

def _function(p: Provisioner, name: str, res: dict, serverless: bool) -> dict:
    raw = dict(res.get("Properties") or {})
    if serverless:
        g = dict((p.t.get("Globals") or {}).get("Function") or {})
        merged = dict(g)
        for k, v in raw.items():
            if k == "Environment" and isinstance(v, dict) and isinstance(g.get("Environment"), dict):
                merged["Environment"] = {"Variables": {**(g["Environment"].get("Variables") or {}),
                                                       **(v.get("Variables") or {})}}
            elif k == "Tags" and isinstance(v, dict) and isinstance(g.get("Tags"), dict):
                merged["Tags"] = {**g["Tags"], **v}
            else:
                merged[k] = v
        raw = merged
    pr = p.resolve(raw)
    if serverless and pr.get("Role"):
        pr.pop("Policies", None)  # SAM ignores Policies when the function names its role
    lam = p.client("lambda")
    fname = pr.get("FunctionName") or gen_name(p.stack, name, 64)
    meta = res.get("Metadata") or {}
    binary = ((meta.get("BuildProperties") or {}).get("Binary")) or fname
    env = {k: _bool_str(v) for k, v in ((pr.get("Environment") or {}).get("Variables") or {}).items()}
    env.setdefault("ROOTWARDEN_BINARY", binary)
    tags = _tags_map(pr.get("Tags")) if not serverless else {str(k): str(v) for k, v in (pr.get("Tags") or {}).items()}
    tags.setdefault("rootwarden:binary", env["ROOTWARDEN_BINARY"])
    extra: dict[str, dict] = {}
    warnings: list[str] = []
    if serverless and not pr.get("Role"):
        role_arn, implicit, warnings = p.sam_role(name, "function", raw, pr)
    else:
        role_arn, implicit = p.ensure_role(pr.get("Role"),
                                           gen_name(p.stack, name + "Role", 64, r"[^A-Za-z0-9+=,.@_-]"),
                                           "lambda.amazonaws.com")
    if implicit:
        extra[f"{name}Role"] = implicit
    p.role_users[name] = role_arn
    args: dict[str, Any] = {
        "FunctionName": fname,
        "Runtime": pr.get("Runtime") or "provided.al2023",
        "Role": role_arn,
        "Handler": pr.get("Handler") or "bootstrap",
        "Code": {"ZipFile": _dummy_zip()},
        "Timeout": int(pr.get("Timeout") or 3),
        "MemorySize": int(pr.get("MemorySize") or 128),
        "Architectures": pr.get("Architectures") or ["x86_64"],
        "Environment": {"Variables": env},
        "Tags": tags,
    }
    if pr.get("Description"):
        args["Description"] = pr["Description"]
    if pr.get("KmsKeyArn"):
        args["KMSKeyArn"] = pr["KmsKeyArn"]
    dlq = pr.get("DeadLetterQueue") or pr.get("DeadLetterConfig")
    if dlq and dlq.get("TargetArn"):
        args["DeadLetterConfig"] = {"TargetArn": dlq["TargetArn"]}
    if pr.get("EphemeralStorage"):
        args["EphemeralStorage"] = {"Size": int(pr["EphemeralStorage"]["Size"])}
    fn = lam.create_function(**args)
    arn = fn["FunctionArn"]
    if pr.get("ReservedConcurrentExecutions") is not None:
        try:
            lam.put_function_concurrency(FunctionName=fname,
                                         ReservedConcurrentExecutions=int(pr["ReservedConcurrentExecutions"]))
        except Exception as e:
            warnings.append(f"reserved concurrency not set: {e}")
    attrs = {"Arn": arn}
    alias = pr.get("AutoPublishAlias")
    if serverless and alias:
        ver = lam.publish_version(FunctionName=fname)["Version"]
        a = lam.create_alias(FunctionName=fname, Name=alias, FunctionVersion=ver)
        attrs["Alias"] = a["AliasArn"]
        extra[f"{name}Alias"] = {"type": "AWS::Lambda::Alias", "physical_id": a["AliasArn"],
                                 "arn": a["AliasArn"], "attrs": {}, "implicit": True}
        extra[f"{name}Version"] = {"type": "AWS::Lambda::Version", "physical_id": f"{arn}:{ver}",
                                   "arn": f"{arn}:{ver}", "attrs": {"Version": ver}, "implicit": True}
    url_cfg = pr.get("FunctionUrlConfig") if serverless else None
    if url_cfg:
        # SAM's generated AWS::Lambda::Url is `<Function>Url`; served by rootwarden_ext.function_urls
        from rootwarden_ext import function_urls

        out = lam.create_function_url_config(FunctionName=fname, AuthType=url_cfg.get("AuthType", "AWS_IAM"))
        local = function_urls.local_url(p.endpoint, out["FunctionUrl"])
        extra[f"{name}Url"] = {"type": "AWS::Lambda::Url", "physical_id": local, "arn": None,
                               "attrs": {"FunctionUrl": local, "FunctionArn": arn}, "implicit": True}
    for ev_name, ev in (pr.get("Events") or {}).items():
        warnings.append(f"event source {ev_name} ({(ev or {}).get('Type')}) not emulated")
    return {"physical_id": fname, "arn": arn, "attrs": attrs, "warnings": warnings, "extra_resources": extra}


def h_serverless_function(p: Provisioner, name: str, res: dict) -> dict:
    return _function(p, name, res, serverless=True)


def h_lambda_function(p: Provisioner, name: str, res: dict) -> dict:
    return _function(p, name, res, serverless=False)


def h_lambda_permission(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    kw = _drop_none({"FunctionName": pr["FunctionName"], "StatementId": gen_name(p.stack, name, 100),
                     "Action": pr["Action"], "Principal": pr["Principal"], "SourceArn": pr.get("SourceArn"),
                     "SourceAccount": pr.get("SourceAccount"),
                     "FunctionUrlAuthType": pr.get("FunctionUrlAuthType"),
                     "InvokedViaFunctionUrl": _as_bool(pr["InvokedViaFunctionUrl"])
                     if pr.get("InvokedViaFunctionUrl") is not None else None})
    warnings = []
    try:
        p.client("lambda").add_permission(**kw)
    except Exception as e:
        warnings.append(f"permission not added: {e}")
    return {"physical_id": kw["StatementId"], "arn": None, "warnings": warnings}
