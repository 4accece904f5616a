#!/usr/bin/env python3
"""Root Warden local AWS emulator: moto 5.2.5 server + Root Warden extensions.

    .venv/bin/python emulator/launcher.py [--host 127.0.0.1] [--port 0] --ready-file PATH
        [--function-host --bin-dir DIR]
        [--provision TEMPLATE_YAML --stack-name NAME [--param Key=Value ...]]
        [--env-file PATH] [--verbose] [--no-iam]

When everything is up, PATH is written atomically with
    {"pid", "port", "endpoint", "function_host_port", "stack", "iam_enforced", "principals"}
IAM is enforced unless --no-iam: see principals.py for who acts as whom.
SIGTERM / SIGINT stop the function host and its handler processes and exit 0.
"""
from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from rootwarden_ext.common import log  # noqa: E402

_state: dict = {"host": None, "exiting": False}


def _shutdown(code: int = 0) -> None:
    if _state["exiting"]:
        return
    _state["exiting"] = True
    host = _state.get("host")
    if host is not None:
        try:
            host.stop()
        except Exception as e:  # pragma: no cover
            log(f"function host stop failed: {e}")
    log(f"stopped (exit {code})")
    try:
        sys.stderr.flush()
    finally:
        os._exit(code)


def _on_signal(signum, _frame) -> None:
    log(f"received {signal.Signals(signum).name}, shutting down")
    _shutdown(0)


def _write_atomic(path: str, text: str, mode: int | None = None) -> None:
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)


def _sh_quote(v: str) -> str:
    return "'" + str(v).replace("'", "'\"'\"'") + "'"


def env_file_text(env: dict[str, str]) -> str:
    lines = ["# written by emulator/launcher.py; load with: set -a; . THIS_FILE; set +a"]
    for k, v in env.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
            log(f"env-file: skipping invalid variable name {k!r}")
            continue
        lines.append(f"export {k}={_sh_quote(v)}")
    return "\n".join(lines) + "\n"


def _wait_http(url: str, timeout: float = 15.0) -> None:
    deadline = time.time() + timeout
    last: Exception | None = None
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception as e:
            last = e
        time.sleep(0.05)
    raise RuntimeError(f"server did not answer {url}: {last}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Root Warden local AWS emulator (moto + extensions)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = let the OS pick a free port")
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--function-host", action="store_true",
                    help="run real handler binaries for Lambda Invoke (needs --bin-dir)")
    ap.add_argument("--bin-dir", help="directory holding the handler binaries")
    ap.add_argument("--provision", metavar="TEMPLATE_YAML")
    ap.add_argument("--stack-name")
    ap.add_argument("--param", action="append", default=[], metavar="Key=Value")
    ap.add_argument("--env-file")
    ap.add_argument("--verbose", action="store_true", help="log every HTTP request")
    ap.add_argument("--no-iam", action="store_true",
                    help="do not enforce IAM (by default every call is checked against the caller's policies)")
    ap.add_argument("--iam", action="store_true", help=argparse.SUPPRESS)  # the default; kept for old callers
    a = ap.parse_args(argv)
    if a.function_host and not a.bin_dir:
        ap.error("--function-host needs --bin-dir")
    if a.provision and not a.stack_name:
        ap.error("--provision needs --stack-name")
    if a.param and not a.provision:
        ap.error("--param needs --provision")
    return a


def install_signals() -> None:
    signal.signal(signal.SIGTERM, _on_signal)
    # SIGUSR1 dumps every thread's stack to stderr: the test harness sends it when a request
    # gets no answer, so a hang shows where the emulator was.
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    signal.signal(signal.SIGINT, _on_signal)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _on_signal)


def prepare_process(verbose: bool = False):
    """Everything done once per process before the server exists: moto's configuration and our
    patches. Returns the WSGI app (moto plus the Root Warden middleware) and its info dict."""
    for var in ("NO_PROXY", "no_proxy"):  # never send loopback traffic through a proxy
        cur = os.environ.get(var, "")
        os.environ[var] = ",".join(x for x in (cur, "127.0.0.1", "localhost") if x)
    if not verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from rootwarden_ext import moto_patches

    moto_patches.configure_moto(function_host=True)  # before any state machine exists
    moto_version = moto_patches.check_version()
    moto_patches.patch_ses_lambda_validation()
    moto_patches.patch_model_data()
    moto_patches.patch_stop_execution()
    moto_patches.patch_dynamodb_item_rollback()
    moto_patches.patch_dynamodb_partition_query()
    moto_patches.patch_dynamodb_write_atomicity()  # the lock wraps the rollback too
    moto_patches.patch_iam_enforcement()  # retires moto's own checker; enforcement starts below
    from rootwarden_ext import member_roles

    member_roles.patch_create_account()  # new member accounts get the release member role
    from rootwarden_ext import service_credentials

    service_credentials.patch_step_functions_credentials()

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from rootwarden_ext.middleware import RootWardenMiddleware

    info: dict = {"moto": moto_version}
    moto_app = DomainDispatcherApplication(create_backend_app)
    app = RootWardenMiddleware(moto_app, info=lambda: info)
    return app, info


def serve(app, info: dict, host: str, port: int):
    """Starts the HTTP server on (host, port) in a thread; returns (server, port, endpoint)."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from rootwarden_ext import service_credentials
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    server.daemon_threads = True
    port = server.server_port
    os.environ["MOTO_PORT"] = str(port)  # the SFN interpreter calls back on localhost:$MOTO_PORT
    loop_host = "127.0.0.1" if host in ("0.0.0.0", "127.0.0.1", "", "::", "localhost") else host
    endpoint = f"http://{loop_host}:{port}"
    info.update(port=port, endpoint=endpoint)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                     name="moto-server", daemon=True).start()
    _wait_http(f"{endpoint}/_rootwarden/health")
    log(f"moto {info.get('moto')} listening on {endpoint} (pid {os.getpid()})")
    service_credentials.set_endpoint(endpoint)
    return server, port, endpoint


def start_function_host(bin_dir: str, port: int, info: dict) -> int:
    from rootwarden_ext import moto_patches
    from rootwarden_ext.function_host import FunctionHost

    host = FunctionHost(bin_dir, moto_port=port)
    _state["host"] = host
    try:
        host.start()
    except Exception as e:
        log(f"function host failed to start: {e}")
        _shutdown(1)
    moto_patches.patch_lambda_invoke(host)
    info["function_host_port"] = host.port
    return host.port


def provision_stack(template: str, stack_name: str, endpoint: str, params: list[str],
                    people: dict) -> dict:
    import provision as prov

    try:
        t1 = time.time()
        deployer = people["deployer"]
        stack = prov.provision(template, stack_name, endpoint, prov.parse_params(params),
                               log=lambda m: log(f"provision: {m}"),
                               aws_access_key_id=deployer["access_key_id"],
                               aws_secret_access_key=deployer["secret_access_key"])
        log(f"provisioned stack {stack_name}: {len(stack['resources'])} resources "
            f"in {time.time() - t1:.1f}s")
        if os.environ.get("ROOTWARDEN_IAM_CALL_LOG_DIR"):
            import iam_usage

            iam_usage.write_roles(os.environ["ROOTWARDEN_IAM_CALL_LOG_DIR"], stack, template)
    except Exception as e:
        log(f"provisioning {template} failed: {e}")
        _shutdown(1)
    return stack


def add_operators(people: dict, endpoint: str, stack: dict | None) -> None:
    import principals as local_principals

    try:
        people.update(local_principals.operators(endpoint, stack))
    except Exception as e:
        log(f"operator principals failed: {e}")
        _shutdown(1)


def write_ready(a: argparse.Namespace, t0: float, port: int, endpoint: str, fh_port: int | None,
                stack: dict | None, people: dict, iam_enforced: bool) -> None:
    import principals as local_principals

    if a.env_file:
        # what the CLI runs as: the operator alice's session of the stack's OperatorRole (else the harness)
        who = people.get("operators", {}).get("alice") or people["harness"]
        env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            **local_principals.env_of(who),
        }
        if stack:
            env.update(stack.get("env") or {})
            env.update(stack.get("client_env") or {})
        env["ROOTWARDEN_EMULATOR_PID"] = str(os.getpid())
        if fh_port:
            env["ROOTWARDEN_FUNCTION_HOST_PORT"] = str(fh_port)
        _write_atomic(a.env_file, env_file_text(env))

    ready = {"pid": os.getpid(), "port": port, "endpoint": endpoint,
             "function_host_port": fh_port, "stack": stack, "iam_enforced": iam_enforced,
             "principals": {k: v for k, v in people.items() if k != "deployer"}}
    _write_atomic(a.ready_file, json.dumps(ready, indent=2) + "\n")
    log(f"ready in {time.time() - t0:.2f}s -> {a.ready_file}")


def wait_forever() -> None:
    while True:  # signals interrupt this sleep and exit through _shutdown
        time.sleep(3600)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    t0 = time.time()
    install_signals()
    app, info = prepare_process(a.verbose)
    _server, port, endpoint = serve(app, info, a.host, a.port)
    import principals as local_principals

    people = local_principals.bootstrap(enforce=not a.no_iam)
    info["iam_enforced"] = not a.no_iam
    fh_port = start_function_host(a.bin_dir, port, info) if a.function_host else None
    stack = provision_stack(a.provision, a.stack_name, endpoint, a.param, people) if a.provision else None
    add_operators(people, endpoint, stack)
    write_ready(a, t0, port, endpoint, fh_port, stack, people, not a.no_iam)
    wait_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
