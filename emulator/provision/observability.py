from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .names import gen_name
from .util import _as_bool, _tags_list, _tags_map

if TYPE_CHECKING:
    from .provisioner import Provisioner

ALARM_KEYS = ("AlarmDescription", "ActionsEnabled", "AlarmActions", "OKActions", "InsufficientDataActions",
              "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
              "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
              "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId")


def h_alarm(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    aname = pr.get("AlarmName") or gen_name(p.stack, name, 255, r"[^A-Za-z0-9_.:/ -]")
    kw: dict[str, Any] = {"AlarmName": aname}
    for k in ALARM_KEYS:
        if pr.get(k) is not None:
            kw[k] = pr[k]
    for k in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if k in kw:
            kw[k] = int(kw[k])
    if "Threshold" in kw:
        kw["Threshold"] = float(kw["Threshold"])
    if "ActionsEnabled" in kw:
        kw["ActionsEnabled"] = _as_bool(kw["ActionsEnabled"])
    for m in kw.get("Metrics") or []:
        if isinstance(m.get("ReturnData"), str):
            m["ReturnData"] = _as_bool(m["ReturnData"])
        ms = m.get("MetricStat")
        if ms and ms.get("Period") is not None:
            ms["Period"] = int(ms["Period"])
        if m.get("Period") is not None:
            m["Period"] = int(m["Period"])
    if pr.get("Tags"):
        kw["Tags"] = _tags_list(pr["Tags"])
    cw = p.client("cloudwatch")
    cw.put_metric_alarm(**kw)
    arn = f"arn:aws:cloudwatch:{p.region}:{p.account}:alarm:{aname}"
    try:
        arn = cw.describe_alarms(AlarmNames=[aname])["MetricAlarms"][0]["AlarmArn"]
    except Exception:
        pass
    return {"physical_id": aname, "arn": arn, "attrs": {"Arn": arn}}


def h_log_group(p: Provisioner, name: str, res: dict) -> dict:
    pr = p.props(res)
    logs = p.client("logs")
    gname = pr.get("LogGroupName") or f"/aws/{p.stack}/{name}"
    kw: dict[str, Any] = {"logGroupName": gname}
    if pr.get("KmsKeyId"):
        kw["kmsKeyId"] = pr["KmsKeyId"]
    if pr.get("Tags"):
        kw["tags"] = _tags_map(pr["Tags"])
    logs.create_log_group(**kw)
    if pr.get("RetentionInDays"):
        logs.put_retention_policy(logGroupName=gname, retentionInDays=int(pr["RetentionInDays"]))
    arn = f"arn:aws:logs:{p.region}:{p.account}:log-group:{gname}:*"
    return {"physical_id": gname, "arn": arn, "attrs": {"Arn": arn}}
