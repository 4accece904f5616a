#!/usr/bin/env python3
"""A fork server for the test harness: one provisioned emulator, copied per test in milliseconds.

Starting an emulator costs seconds of CPU (importing moto and its Step Functions parser, then
provisioning infra/template.yaml's 114 resources through the API with IAM enforced), and the
integration tests start about a hundred. This process does that work once, stops its HTTP
server, and then forks a copy of the provisioned state for every test that asks: the copy
starts its own server on a free port (and the function host, if asked), rewrites the old
endpoint in the stack description, and writes the same ready file as `launcher.py`. Each copy
is its own process group, so the harness stops it exactly as a launched emulator.

    .venv/bin/python emulator/zygote.py --provision TEMPLATE --stack-name NAME

Prints one JSON line on stdout, {"socket": PATH, "pid": PID} when it serves (or {"error": ...}),
then takes one JSON request per connection on the Unix socket PATH:
    {"ready_file", "stdout", "stderr", "function_host": bool, "bin_dir"} -> {"pid": PID}
It lives as long as its stdin: when the test process that started it exits (the pipe closes),
it stops every copy it made, removes its folder and exits.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

import launcher
from rootwarden_ext.common import log

_children: list[int] = []
_dir: dict[str, str] = {}


def _stop_everything() -> None:
    for pid in _children:
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError:
            pass
    shutil.rmtree(_dir.get("path", ""), ignore_errors=True)
    os._exit(0)


def _watch_stdin() -> None:
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        _stop_everything()


def _quiesce(server, timeout: float = 5.0) -> None:
    """Stops the server and waits for its handler threads: fork copies only the calling thread,
    so nothing may hold a lock when it happens."""
    server.shutdown()
    server.server_close()
    gc.collect()  # provisioning's boto3 clients: their closed sockets end the handler threads
    deadline = time.time() + timeout
    while time.time() < deadline:
        others = [t for t in threading.enumerate()
                  if t is not threading.current_thread() and t.name != "stdin-watch"]
        if not others:
            return
        time.sleep(0.02)
    raise RuntimeError(f"threads still running: {[t.name for t in others]}")


def _copy(req: dict, app, info: dict, stack: dict, people: dict, old_endpoint: str,
          template: str) -> None:
    """In the forked child: become a standalone emulator. Never returns."""
    t0 = time.time()
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        out = os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        err = os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        for fd in (out, err, devnull):
            os.close(fd)
        launcher.install_signals()
        from rootwarden_ext.iam import calllog

        calllog._file, calllog._file_dir = None, None  # this process's own calls-<pid>.jsonl
        if os.environ.get(calllog.ENV_DIR):
            import iam_usage

            # iam_usage.py pairs calls-<pid>.jsonl with roles-<pid>.json: this copy's roles.
            iam_usage.write_roles(os.environ[calllog.ENV_DIR], stack, template)
        _server, port, endpoint = launcher.serve(app, info, "127.0.0.1", 0)
        stack = json.loads(json.dumps(stack).replace(old_endpoint, endpoint))
        fh_port = None
        if req.get("function_host"):
            fh_port = launcher.start_function_host(req["bin_dir"], port, info)
        a = argparse.Namespace(env_file=None, ready_file=req["ready_file"])
        log(f"copy of the provisioned zygote (stack {stack.get('name')})")
        launcher.write_ready(a, t0, port, endpoint, fh_port, stack, people, True)
        launcher.wait_forever()
    except Exception as e:  # the harness sees the exit and prints stderr
        log(f"zygote copy failed: {e!r}")
        os._exit(1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--provision", required=True, metavar="TEMPLATE_YAML")
    ap.add_argument("--stack-name", required=True)
    a = ap.parse_args()
    out = sys.stdout
    try:
        _dir["path"] = tempfile.mkdtemp(prefix="rootwarden-zygote-")
        # Our own log: the harness reads only the first stdout line.
        err = os.open(os.path.join(_dir["path"], "zygote.err"), os.O_WRONLY | os.O_CREAT, 0o600)
        os.dup2(err, 2)
        os.close(err)
        watcher = threading.Thread(target=_watch_stdin, name="stdin-watch", daemon=True)
        watcher.start()
        signal.signal(signal.SIGTERM, lambda *_: _stop_everything())
        app, info = launcher.prepare_process()
        server, port, endpoint = launcher.serve(app, info, "127.0.0.1", 0)
        import principals as local_principals

        people = local_principals.bootstrap(enforce=True)
        info["iam_enforced"] = True
        stack = launcher.provision_stack(a.provision, a.stack_name, endpoint, [], people)
        launcher.add_operators(people, endpoint, stack)
        _quiesce(server)
        path = os.path.join(_dir["path"], "fork.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(16)
    except BaseException as e:
        log_path = os.path.join(_dir.get("path", ""), "zygote.err")
        tail = open(log_path).read()[-4000:] if os.path.exists(log_path) else ""
        out.write(json.dumps({"error": f"{e!r}", "log": tail}) + "\n")
        out.flush()
        _stop_everything()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # copies are reaped by the kernel
    out.write(json.dumps({"socket": path, "pid": os.getpid()}) + "\n")
    out.flush()
    while True:
        conn, _ = listener.accept()
        with conn:
            try:
                req = json.loads(conn.makefile("rb").readline())
            except ValueError:
                continue
            pid = os.fork()
            if pid == 0:
                listener.close()
                conn.close()
                _copy(req, app, info, stack, people, endpoint, a.provision)
            _children.append(pid)
            conn.sendall((json.dumps({"pid": pid}) + "\n").encode())


if __name__ == "__main__":
    sys.exit(main())
