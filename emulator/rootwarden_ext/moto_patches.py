"""Every monkeypatch of moto internals lives here. They target moto 5.2.5 exactly
(see check_version); re-check each one when bumping moto.

  moto.ses.models.SESBackend._validate_lambda_action
      looked the function up in moto.awslambda.models.lambda_backends (the Docker backend);
      with Lambda Docker off functions live in moto.awslambda_simple lambda_simple_backends,
      so a receipt rule with a LambdaAction failed with InvalidLambdaFunction.
  moto.moto_api._internal.responses.MotoAPIResponse.model_data  (GET /moto-api/data.json)
      dumps every public attribute of every model; LambdaFunction.docker_client asks Docker
      for a client and raises DockerException, which it did not catch -> HTTP 500.
  moto.awslambda_simple.models.LambdaSimpleBackend.invoke and
  moto.awslambda.models.LambdaFunction.invoke        (only with --function-host)
      route every Invoke (Lambda API, Step Functions interpreter, other services) to the
      function host instead of moto's canned result / Docker.
  moto.stepfunctions.parser.backend.execution.Execution.stop and
  BaseExecutionWorkerCommunication._reflect_execution_status
      StopExecution only took effect when the interpreter's worker thread ended, which a task
      waiting for a task token does not do before its timeout: the execution stayed RUNNING
      and its token stayed valid. Now it is ABORTED at once, as in AWS, and stays ABORTED.
  moto.stepfunctions.responses.StepFunctionResponse.send_task_failure
      dropped the request's `cause`, so a Catch saw an empty Cause; it is passed on now.
  moto.core.authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action
  (patch_iam_enforcement)
      moto's own IAM check (actions on resource "*" only, no conditions or resource policies)
      is replaced by rootwarden_ext.iam, which checks every request in the middleware; moto's
      INITIAL_NO_AUTH_ACTION_COUNT is set to infinity so its checker never runs, and the hook
      (where moto has decided the action) only refuses, fail-closed, a request that reached a
      service without the middleware's check while enforcement is on.
  moto.iam.policy_validation.VALID_RESOURCE_PATH_STARTING_VALUES      (patch_iam_enforcement)
      refused the resource arn:aws:iam::*:root (sts:AssumeRoot's) in a policy document.
  moto.s3.models.FakeBucket.get_permission                             (patch_iam_enforcement)
      moto's S3 applied bucket policies on its own, ignoring their conditions (a TLS-only
      Deny refused every object request); with enforcement on the engine evaluates bucket
      policies and this returns NEUTRAL, so each request has exactly one check.
  moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for      (patch_iam_enforcement)
      the Step Functions interpreter called services with the fixed keys "ak"/"sk"; with
      enforcement on it signs with a session of the state machine's role (minted as the
      service would get it), so its Lambda / DynamoDB / SQS ... calls are checked against
      that role's policies, as in AWS.
  moto.dynamodb.models.DynamoDBBackend.{transact_write_items, put_item, update_item,
  delete_item, batch_write_item}
      TransactWriteItems snapshots each table it touches and, when a condition fails, puts the
      snapshot back. The server is threaded, so a concurrent write that landed in between (the
      winner of the race the condition was there to decide) was erased by the loser's rollback,
      which DynamoDB never does. Item writes now hold one lock, so a transaction is atomic with
      respect to every other write.
  moto.dynamodb.models.DynamoDBBackend.transact_write_items      (patch_dynamodb_item_rollback)
      the snapshot above was a copy.deepcopy of every whole table a transaction touched: a
      transaction against a table of n items cost O(n) time and memory, so 10,000 accounts
      each writing a posture with its audit record copied the 10k-item registry and the audit
      table 10,000 times (quadratic; the fleet bench's emulator was OOM-killed at 23.7 GB).
      Now the transaction backs up only the items it targets (a deep copy of each, or "absent")
      and puts exactly those back when it is cancelled. Tables with a stream keep moto's
      whole-table snapshot (the stream's records are part of what it restores).
  moto.dynamodb.models.table.Table.query / all_items        (patch_dynamodb_partition_query)
      a Query on the table's own key (no index) listed and sorted every item of the table to
      keep those of one partition: O(n log n) per query, so each audit append (a Query for its
      chain's head) got slower as the audit table grew (the fleet bench's enforcement slowed
      from ~390 to ~110 accounts a minute). Such a query now lists that partition only, which
      is what the comprehension kept anyway; index queries are unchanged.
"""
from __future__ import annotations

import json
from typing import Any

EXPECTED_MOTO = "5.2.5"
_host = None


def check_version() -> str:
    import moto

    v = getattr(moto, "__version__", "?")
    if v != EXPECTED_MOTO:
        from .common import log

        log(f"WARNING: moto {v} installed, patches were written for {EXPECTED_MOTO}")
    return v


def patch_ses_lambda_validation() -> None:
    from moto.ses import models as ses_models
    from moto.ses.exceptions import InvalidLambdaFunctionException

    def _validate_lambda_action(self, lambda_action: dict[str, str]) -> None:
        from moto.awslambda.utils import get_backend

        try:
            get_backend(self.account_id, self.region_name).get_function(lambda_action["FunctionArn"])
        except Exception:
            raise InvalidLambdaFunctionException(
                f"Invalid Lambda function: {lambda_action['FunctionArn']}") from None
        self._validate_sns_topic(lambda_action.get("TopicArn"))

    ses_models.SESBackend._validate_lambda_action = _validate_lambda_action


def patch_model_data() -> None:
    from moto.moto_api._internal.responses import MotoAPIResponse

    def model_data(self, request: Any, full_url: str, headers: Any):
        from moto.core.model_instances import model_data as all_models

        results: dict[str, dict[str, list[Any]]] = {}
        for service in sorted(all_models):
            models = all_models[service]
            results[service] = {}
            for name in sorted(models):
                model = models[name]
                results[service][name] = []
                for instance in list(model.instances_tracked):
                    inst_result = {}
                    for attr in dir(instance):
                        if attr.startswith("_") or attr == "docker_client":
                            continue
                        try:
                            value = getattr(instance, attr)
                            json.dumps(value)
                        except Exception:
                            continue
                        inst_result[attr] = value
                    results[service][name].append(inst_result)
        return 200, {"Content-Type": "application/javascript"}, json.dumps(results)

    MotoAPIResponse.model_data = model_data


def patch_lambda_invoke(host) -> None:
    """Send every Lambda invoke to the function host."""
    global _host
    _host = host
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def backend_invoke(self, function_name: str, qualifier: str | None, body: Any,
                       headers: Any, response_headers: Any):
        fn = self.get_function(function_name, qualifier)
        payload = _host.invoke(fn, qualifier, body, headers, response_headers)
        response_headers["Content-Length"] = str(len(payload))
        return payload

    def function_invoke(self, body: Any, request_headers: Any, response_headers: Any):
        return _host.invoke(self, None, body, request_headers, response_headers)

    LambdaSimpleBackend.invoke = backend_invoke
    LambdaFunction.invoke = function_invoke


def patch_stop_execution() -> None:
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution import (
        BaseExecutionWorkerCommunication,
        Execution,
    )

    original_stop = Execution.stop
    original_reflect = BaseExecutionWorkerCommunication._reflect_execution_status

    def stop(self, stop_date, error, cause):  # type: ignore[no-untyped-def]
        original_stop(self, stop_date, error, cause)
        if self.exec_status == ExecutionStatus.RUNNING:
            self.exec_status = ExecutionStatus.ABORTED
            self.stop_date = stop_date

    def reflect(self):  # type: ignore[no-untyped-def]
        if self.execution.exec_status == ExecutionStatus.ABORTED:
            return
        original_reflect(self)

    Execution.stop = stop
    BaseExecutionWorkerCommunication._reflect_execution_status = reflect

    from moto.stepfunctions.responses import StepFunctionResponse

    original_failure = StepFunctionResponse.send_task_failure

    def send_task_failure(self):  # type: ignore[no-untyped-def]
        backend = self.stepfunction_backend
        try:
            backend.send_task_failure(
                self._get_param("taskToken"),
                error=self._get_param("error"),
                cause=self._get_param("cause"),
            )
        except TypeError:
            return original_failure(self)
        from moto.core.responses import EmptyResult

        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure


def patch_dynamodb_write_atomicity() -> None:
    import functools
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()  # re-entrant: update_item and transactions call other writers

    def locked(original):
        @functools.wraps(original)
        def write(self, *args, **kwargs):
            with lock:
                return original(self, *args, **kwargs)

        return write

    for name in ("transact_write_items", "put_item", "update_item", "delete_item", "batch_write_item"):
        setattr(DynamoDBBackend, name, locked(getattr(DynamoDBBackend, name)))


def patch_dynamodb_item_rollback() -> None:
    import copy
    import threading

    from moto.dynamodb import models as ddb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    if getattr(DynamoDBBackend.transact_write_items, "_rootwarden_item_rollback", False):
        return
    original = DynamoDBBackend.transact_write_items
    inside = threading.local()

    class _TableCopyIsItemBackup:
        """moto's module-level `copy` inside transact_write_items: a Table is not copied there
        (its rollback is then a no-op assignment); the items are backed up below instead."""

        def __getattr__(self, name):
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value, memo=None):
            if getattr(inside, "active", False) and isinstance(value, Table):
                return value
            return copy.deepcopy(value, memo)

    ddb_models.copy = _TableCopyIsItemBackup()

    def target(self, op_type: str, op: dict):
        """(table, hash, range) of one transaction operation, or None when moto will refuse it
        before writing (unknown table, missing key)."""
        table = self.tables.get(op.get("TableName"))
        if table is None:
            return None
        attrs = op.get("Item") if op_type == "Put" else op.get("Key")
        if not isinstance(attrs, dict) or table.hash_key_attr not in attrs:
            return None
        try:
            hash_value = DynamoType(attrs[table.hash_key_attr])
            range_value = None
            if table.range_key_attr is not None:
                if table.range_key_attr not in attrs:
                    return None
                range_value = DynamoType(attrs[table.range_key_attr])
        except Exception:
            return None
        return table, hash_value, range_value

    def transact_write_items(self, transact_items):
        ops = []
        for entry in transact_items if isinstance(transact_items, list) else []:
            if isinstance(entry, dict) and len(entry) == 1:
                ops.append(next(iter(entry.items())))
        tables = {op.get("TableName") for _, op in ops if isinstance(op, dict)}
        if any(getattr(self.tables.get(t), "stream_shard", None) is not None for t in tables):
            return original(self, transact_items)
        backups = []
        for op_type, op in ops:
            found = target(self, op_type, op) if isinstance(op, dict) else None
            if found is None:
                continue
            table, hash_value, range_value = found
            try:
                current = table.get_item(hash_value, range_value)
            except Exception:
                continue
            backups.append((table, hash_value, range_value, copy.deepcopy(current)))
        inside.active = True
        try:
            return original(self, transact_items)
        except BaseException:
            for table, hash_value, range_value, saved in reversed(backups):
                if range_value is not None:
                    if saved is None:
                        table.items.get(hash_value, {}).pop(range_value, None)
                    else:
                        table.items[hash_value][range_value] = saved
                elif saved is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = saved
            raise
        finally:
            inside.active = False

    transact_write_items._rootwarden_item_rollback = True
    DynamoDBBackend.transact_write_items = transact_write_items


def patch_dynamodb_partition_query() -> None:
    import threading

    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "_rootwarden_partition", False):
        return
    original_query = Table.query
    original_all_items = Table.all_items
    partition = threading.local()

    def query(self, hash_key, *args, **kwargs):
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        partition.of = (self, hash_key)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            partition.of = None

    def all_items(self):
        wanted = getattr(partition, "of", None)
        if wanted is None or wanted[0] is not self:
            return original_all_items(self)
        hash_set = self.items.get(wanted[1])
        if hash_set is None:
            return []
        items = list(hash_set.values()) if self.range_key_attr else [hash_set]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    query._rootwarden_partition = True
    Table.query = query
    Table.all_items = all_items


def configure_moto(function_host: bool) -> None:
    """In-process moto config: SFN interpreter on, Lambda Docker off. Must run before the
    first state machine is created."""
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    default_user_config.setdefault("lambda", {})["use_docker"] = False
    default_user_config.setdefault("batch", {})["use_docker"] = False


def patch_iam_enforcement() -> None:
    """Replace moto's IAM checker with rootwarden_ext.iam (see the module docstring)."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    from .iam import enforce

    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")

    # IAM accepts arn:aws:iam::ACCT:root as a policy resource (sts:AssumeRoot's resource type);
    # moto's policy validator refused it (MalformedPolicyDocument).
    from moto.iam import policy_validation

    starts = policy_validation.VALID_RESOURCE_PATH_STARTING_VALUES["iam"]["values"]
    if "root" not in starts:
        starts.append("root")

    def guard(self, iam_request_cls, resource: str = "*") -> None:  # type: ignore[no-untyped-def]
        if not enforce.enabled():
            return
        environ = getattr(getattr(self, "normalized_request", None), "environ", None)
        if environ is not None and environ.get(enforce.MARK):
            return
        from moto.core.exceptions import AccessDeniedError

        action = "unknown"
        try:
            action = f"{getattr(self, 'service_name', '?')}:{self._get_action()}"
        except Exception:
            pass
        raise AccessDeniedError(user_arn="(request not checked by the emulator's IAM engine)",
                                action=action)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = guard

    # moto's S3 also applies bucket policies itself (conditions ignored, so a TLS-only Deny
    # refused everything): with enforcement on, the engine's bucket-policy evaluation is the one.
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    original_permission = FakeBucket.get_permission

    def get_permission(self, action: str, resource: str):  # type: ignore[no-untyped-def]
        if enforce.enabled():
            return PermissionResult.NEUTRAL
        return original_permission(self, action, resource)

    FakeBucket.get_permission = get_permission

    # Step Functions service calls sign as the state machine's role: service_credentials.py

