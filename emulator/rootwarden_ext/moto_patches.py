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
  moto.dynamodb.models.DynamoDBBackend.{transact_write_items, put_item, update_item,
  delete_item, batch_write_item}
      TransactWriteItems snapshots each table it touches and, when a condition fails, puts the
      snapshot back. The server is threaded, so a concurrent write that landed in between (the
      winner of the race the condition was there to decide) was erased by the loser's rollback,
      which DynamoDB never does. Item writes now hold one lock, so a transaction is atomic with
      respect to every other write.
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
                f"Invalid Lambda function: {lambda_action['FunctionArn']}")
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


def configure_moto(function_host: bool) -> None:
    """In-process moto config: SFN interpreter on, Lambda Docker off. Must run before the
    first state machine is created."""
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    default_user_config.setdefault("lambda", {})["use_docker"] = False
    default_user_config.setdefault("batch", {})["use_docker"] = False
