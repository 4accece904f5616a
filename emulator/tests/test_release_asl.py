"""The release state machines (infra/statemachines/release-*.asl.json) on moto's Step Functions
interpreter: which steps run, in which order, for each path the design names (skip-on-resume
flags, polls and their waits, the closure mail, WrongCode -> resend, the code timeout, Cancelled
before and after the point of no return, a retried transient error, terminal failures).

One launcher (--no-iam, function host on) provisioned with release_asl_stack.yaml, whose state
machines load the production ASL files. The release function is a scripted stand-in (a Python
Lambda runtime-API client in a temporary bin dir): per action it answers the next scripted result
or error, and it records every payload, so the test sees exactly the steps an execution invoked.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
EMU = os.path.dirname(HERE)
ACCOUNT = "111122223333"

STAND_IN = r'''#!{python}
import json, os, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
api = (api if api.startswith("http") else "http://" + api) + "/2018-06-01/runtime/invocation"
work = {work!r}
while True:
    with urllib.request.urlopen(api + "/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    with open(os.path.join(work, "events.jsonl"), "a") as f:
        f.write(json.dumps(event) + "\n")
    script = json.load(open(os.path.join(work, "script.json")))
    counts_file = os.path.join(work, "counts.json")
    counts = json.load(open(counts_file)) if os.path.exists(counts_file) else {{}}
    action = event.get("action")
    answers = script.get(action) or [{{"ok": {{}}}}]
    n = counts.get(action, 0)
    answer = answers[min(n, len(answers) - 1)]
    counts[action] = n + 1
    json.dump(counts, open(counts_file, "w"))
    if "error" in answer:
        body, path = {{"errorType": answer["error"], "errorMessage": "scripted"}}, "/error"
    else:
        body, path = answer["ok"], "/response"
    req = urllib.request.Request(api + "/" + rid + path, data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(req).read()
'''


@pytest.fixture(scope="module")
def emu():
    work = tempfile.mkdtemp(prefix="rw-release-asl-")
    bin_dir = os.path.join(work, "bin")
    os.makedirs(bin_dir)
    stub = os.path.join(bin_dir, "release")
    with open(stub, "w") as f:
        f.write(STAND_IN.format(python=sys.executable, work=work))
    os.chmod(stub, 0o755)
    ready = os.path.join(work, "ready.json")
    log = open(os.path.join(work, "emulator.log"), "w")
    env = dict(os.environ, ROOTWARDEN_EMULATOR_FUNCTION_LOGS="0")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(EMU, "launcher.py"), "--no-iam", "--ready-file", ready,
         "--function-host", "--bin-dir", bin_dir, "--provision", os.path.join(HERE, "release_asl_stack.yaml"),
         "--stack-name", "rwa"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.time() + 60
        while not (os.path.exists(ready) and os.path.getsize(ready)):
            if proc.poll() is not None or time.time() > deadline:
                log.flush()
                raise RuntimeError("launcher failed:\n" + open(log.name).read()[-3000:])
            time.sleep(0.05)
        info = json.load(open(ready))
        info["work"] = work
        yield info
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def sfn(emu):
    import boto3

    return boto3.client("stepfunctions", region_name="us-east-1", endpoint_url=emu["endpoint"],
                        aws_access_key_id="testing", aws_secret_access_key="testing")


BEGUN = {"exit": "-", "keep_email": False, "close_requested": False, "email_accepted": False,
         "handshake_accepted": False, "shredded": False, "poll_seconds": 1, "code_timeout_seconds": 2,
         "invitation_timeout_seconds": 60}


def begun(**flags):
    return [{"ok": {**BEGUN, **flags}}]


def polls(not_done: int, key: str = "done"):
    return [{"ok": {key: False, "wait_seconds": 1}}] * not_done + [{"ok": {key: True, "wait_seconds": 1}}]


def error(kind):
    return [{"error": kind}]


EMAIL = {"start-email-update": [{"ok": {"already_customers": False}}]}
HANDOVER = ["put-contacts", "remove-root-credentials", "create-login-profile"]
END = ["shred", "certify"]


def run(emu, sfn, exit_, script, tokens=(), timeout=60):
    """Runs one execution to its end: `tokens` says what happens to each task token, in order
    ("success", "timeout": nothing, or an error name for SendTaskFailure). Returns the status and
    the actions the stand-in was invoked with."""
    work = emu["work"]
    for name in ("events.jsonl", "counts.json"):
        if os.path.exists(os.path.join(work, name)):
            os.remove(os.path.join(work, name))
    with open(os.path.join(work, "script.json"), "w") as f:
        json.dump(script, f)
    arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:rwa-release-{exit_}"
    execution = sfn.start_execution(
        stateMachineArn=arn, name=f"release-{ACCOUNT}-{time.time_ns()}",
        input=json.dumps({"account_id": ACCOUNT, "exit": exit_, "request_id": "req-1"}))["executionArn"]
    tokens, seen, events = list(tokens), 0, []
    deadline = time.time() + timeout
    while True:
        status = sfn.describe_execution(executionArn=execution)["status"]
        path = os.path.join(work, "events.jsonl")
        events = [json.loads(line) for line in open(path)] if os.path.exists(path) else []
        if status != "RUNNING":
            break
        assert time.time() < deadline, f"still running: {[e['action'] for e in events]}"
        for e in events[seen:]:
            if "task_token" in e:
                assert tokens, f"unexpected wait {e['action']}"
                how = tokens.pop(0)
                if how == "success":
                    sfn.send_task_success(taskToken=e["task_token"], output="{}")
                elif how != "timeout":
                    sfn.send_task_failure(taskToken=e["task_token"], error=how, cause="test")
        seen = len(events)
        time.sleep(0.2)
    assert not tokens, f"waits not reached: {tokens}"
    for e in events:
        if e["action"] != "begin":
            assert e["account_id"] == ACCOUNT and e["execution"].startswith("release-"), e
    return status, [e["action"] for e in events], events


def test_begin_receives_the_execution_and_its_input(emu, sfn):
    _, _, events = run(emu, sfn, "close", {"begin": begun(close_requested=True), "check-closure": polls(0)})
    first = events[0]
    assert first["action"] == "begin"
    assert first["input"] == {"account_id": ACCOUNT, "exit": "close", "request_id": "req-1"}
    assert first["execution"].startswith(f"release-{ACCOUNT}-")
    assert first["execution_arn"].endswith(":" + first["execution"])


@pytest.mark.parametrize("wait_ends", ["timeout", "success"])
def test_closure_polls_and_waits_on_the_closure_mail(emu, sfn, wait_ends):
    status, actions, events = run(emu, sfn, "close", {"begin": begun(), "check-closure": polls(1)},
                                  tokens=[wait_ends])
    assert status == "SUCCEEDED"
    assert actions == ["begin", "close-account", "check-closure", "await-closure-mail", "check-closure", "closed"]
    wait = events[3]
    assert wait["timeout_seconds"] == 1 and wait["task_token"]


def test_a_resumed_closure_skips_close_account(emu, sfn):
    status, actions, _ = run(emu, sfn, "close", {"begin": begun(close_requested=True), "check-closure": polls(0)})
    assert (status, actions) == ("SUCCEEDED", ["begin", "check-closure", "closed"])


def test_a_transient_error_is_retried(emu, sfn):
    script = {"begin": begun(), "close-account": [{"error": "TransientAwsError"}, {"ok": {}}],
              "check-closure": polls(0)}
    status, actions, _ = run(emu, sfn, "close", script)
    assert (status, actions) == ("SUCCEEDED", ["begin", "close-account", "close-account", "check-closure", "closed"])


@pytest.mark.parametrize("how", ["Sandbox.Timedout", "Runtime.ExitError"])
def test_a_timed_out_or_crashed_step_is_retried(emu, sfn, how):
    # Lambda's own names for a function that ran out of time or whose process died: the step
    # is idempotent, so it is retried like a transient error instead of stopping the release.
    script = {"begin": begun(), "close-account": [{"error": how}, {"ok": {}}],
              "check-closure": polls(0)}
    status, actions, _ = run(emu, sfn, "close", script)
    assert (status, actions) == ("SUCCEEDED", ["begin", "close-account", "close-account", "check-closure", "closed"])


def test_every_lambda_task_of_the_custody_workflows_retries_timeouts_and_crashes():
    # The test above runs one state; this holds every Lambda task of every workflow that can
    # strand an account (rotation, takeover, release) to the same list.
    for name in ("rotation", "takeover", "release-close", "release-handback", "release-transfer"):
        with open(os.path.join(EMU, "..", "infra", "statemachines", f"{name}.asl.json")) as f:
            machine = json.load(f)
        for state, body in machine["States"].items():
            if body.get("Type") != "Task" or "lambda:invoke" not in body.get("Resource", ""):
                continue
            retried = {e for r in body.get("Retry", []) for e in r["ErrorEquals"]}
            missing = {"Sandbox.Timedout", "Runtime.ExitError", "TransientAwsError"} - retried
            assert not missing, f"{name}.{state} does not retry {sorted(missing)}"


@pytest.mark.parametrize("kind", ["CloseQuotaExceeded", "StillPending"])
def test_a_closure_failure_is_recorded_and_stops(emu, sfn, kind):
    script = {"begin": begun(), "close-account": error(kind)} if kind == "CloseQuotaExceeded" else \
        {"begin": begun(), "check-closure": error(kind)}
    status, actions, events = run(emu, sfn, "close", script)
    assert status == "FAILED"
    assert actions[-1] == "fail" and events[-1]["error"]["Error"] == kind
    assert "cancel" not in actions


def test_cancelled_before_the_point_of_no_return_restores_custody(emu, sfn):
    status, actions, events = run(emu, sfn, "close", {"begin": begun(), "close-account": error("Cancelled")})
    assert (status, actions) == ("SUCCEEDED", ["begin", "close-account", "cancel"])
    assert events[-1]["error"]["Error"] == "Cancelled"


def test_handback_with_a_wrong_code_resends_then_hands_over(emu, sfn):
    script = {"begin": begun(), **EMAIL, "accept-email-update": [{"error": "WrongCode"}, {"ok": {}}],
              "check-email": polls(1)}
    status, actions, events = run(emu, sfn, "handback", script, tokens=["success", "success"])
    assert status == "SUCCEEDED"
    assert actions == ["begin", "start-email-update", "await-code", "accept-email-update", "resend", "await-code",
                       "accept-email-update", "check-email", "check-email", *HANDOVER, *END]
    assert events[2]["timeout_seconds"] == 2


def test_handback_code_timeout_stops_the_release(emu, sfn):
    status, actions, events = run(emu, sfn, "handback", {"begin": begun(), **EMAIL}, tokens=["timeout"])
    assert (status, actions) == ("FAILED", ["begin", "start-email-update", "await-code", "fail"])
    assert events[-1]["error"]["Error"] == "States.Timeout"


def test_operator_cancel_fails_the_code_wait_and_cancels(emu, sfn):
    status, actions, _ = run(emu, sfn, "handback", {"begin": begun(), **EMAIL}, tokens=["Cancelled"])
    assert (status, actions) == ("SUCCEEDED", ["begin", "start-email-update", "await-code", "cancel"])


def test_email_conflict_is_terminal(emu, sfn):
    script = {"begin": begun(), **EMAIL, "accept-email-update": error("EmailConflict")}
    status, actions, _ = run(emu, sfn, "handback", script, tokens=["success"])
    assert (status, actions) == ("FAILED", ["begin", "start-email-update", "await-code", "accept-email-update", "fail"])


@pytest.mark.parametrize("how", ["resumed", "already"])
def test_handback_skips_the_code_once_the_email_is_the_customers(emu, sfn, how):
    script = {"begin": begun(email_accepted=how == "resumed"), "check-email": polls(0),
              "start-email-update": [{"ok": {"already_customers": True}}]}
    status, actions, _ = run(emu, sfn, "handback", script)
    skipped = ["start-email-update"] if how == "already" else []
    assert (status, actions) == ("SUCCEEDED", ["begin", *skipped, "check-email", *HANDOVER, *END])


def test_cancelled_after_the_point_of_no_return_is_a_failure(emu, sfn):
    script = {"begin": begun(email_accepted=True), "check-email": polls(0), "put-contacts": error("Cancelled")}
    status, actions, _ = run(emu, sfn, "handback", script)
    assert (status, actions) == ("FAILED", ["begin", "check-email", "put-contacts", "fail"])


TRANSFER = {"begin": begun(), **EMAIL, "check-email": polls(0), "check-invitation": polls(1, "found"),
            "check-departure": polls(1)}
AFTER_HANDOVER = ["check-invitation", "check-invitation", "accept-invitation", "check-departure", "check-departure",
                  *END]


def test_transfer_hands_over_before_the_account_leaves(emu, sfn):
    status, actions, _ = run(emu, sfn, "transfer", TRANSFER, tokens=["success"])
    assert status == "SUCCEEDED"
    assert actions == ["begin", "check-transfer", "start-email-update", "await-code", "accept-email-update",
                       "check-email", *HANDOVER, *AFTER_HANDOVER]


def test_transfer_keeping_the_email_skips_the_email_phase(emu, sfn):
    status, actions, _ = run(emu, sfn, "transfer", {**TRANSFER, "begin": begun(keep_email=True)})
    assert (status, actions) == ("SUCCEEDED", ["begin", "check-transfer", *HANDOVER, *AFTER_HANDOVER])


def test_transfer_keeping_the_email_can_be_cancelled_at_put_contacts(emu, sfn):
    script = {**TRANSFER, "begin": begun(keep_email=True), "put-contacts": error("Cancelled")}
    status, actions, _ = run(emu, sfn, "transfer", script)
    assert (status, actions) == ("SUCCEEDED", ["begin", "check-transfer", "put-contacts", "cancel"])


def test_transfer_precondition_fails_early(emu, sfn):
    status, actions, _ = run(emu, sfn, "transfer", {**TRANSFER, "check-transfer": error("TransferPreconditionFailed")})
    assert (status, actions) == ("FAILED", ["begin", "check-transfer", "fail"])


def test_transfer_resumes_after_the_email_or_the_handshake(emu, sfn):
    status, actions, _ = run(emu, sfn, "transfer", {**TRANSFER, "begin": begun(email_accepted=True)})
    assert (status, actions) == ("SUCCEEDED", ["begin", "check-transfer", "check-email", *HANDOVER, *AFTER_HANDOVER])
    status, actions, _ = run(emu, sfn, "transfer", {**TRANSFER, "begin": begun(handshake_accepted=True)})
    assert (status, actions) == ("SUCCEEDED", ["begin", "check-departure", "check-departure", *END])


@pytest.mark.parametrize("exit_", ["handback", "transfer"])
def test_a_release_stopped_after_shred_only_certifies(emu, sfn, exit_):
    script = {**(TRANSFER if exit_ == "transfer" else {}), "begin": begun(shredded=True, handshake_accepted=True,
                                                                         email_accepted=True)}
    status, actions, _ = run(emu, sfn, exit_, script)
    assert (status, actions) == ("SUCCEEDED", ["begin", "certify"]), actions


def test_an_invitation_that_never_comes_stops_the_transfer(emu, sfn):
    script = {**TRANSFER, "begin": begun(keep_email=True), "check-invitation": error("StillPending")}
    status, actions, _ = run(emu, sfn, "transfer", script)
    assert (status, actions) == ("FAILED", ["begin", "check-transfer", *HANDOVER, "check-invitation", "fail"])
