"""Run real Lambda handler binaries for moto's Lambda Invoke.

`cargo lambda watch --only-lambda-apis` serves the Lambda Runtime API and the Invoke API.
How it routes (cargo-lambda 1.9.2, crates/cargo-lambda-watch): a runtime whose
AWS_LAMBDA_RUNTIME_API is http://HOST:PORT/.rt/NAME polls /.rt/NAME/2018-06-01/runtime/invocation/next
and receives the invokes POSTed to /2015-03-31/functions/NAME/invocations. NAME must be a
binary target of the Cargo project watch runs in (checked on each invoke; names outside the
set read at start-up cost a `cargo metadata` run per invoke). So watch runs in a stub Cargo
project whose [[bin]] targets are "slot" names (all pointing at one dummy main.rs); each
function configuration gets a slot, and its processes are started with the slot's runtime URL.
A handler error comes back from watch as HTTP 500 {"errorType", "errorMessage"}.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .common import log
from .service_credentials import function_credentials

INITIAL_SLOTS = 128
SLOT_GROWTH = 64
MAX_PROCS_PER_FUNCTION = 8
INIT_GRACE_SECONDS = 2.0  # extra time on a cold start (process start + runtime init)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _hget(headers: Any, name: str, default: str | None = None) -> str | None:
    if headers is None:
        return default
    try:
        v = headers.get(name)
        if v is not None:
            return v
    except Exception:
        pass
    try:
        low = name.lower()
        for k, v in dict(headers).items():
            if k.lower() == low:
                return v
    except Exception:
        pass
    return default


@dataclass
class Pool:
    key: str
    slot: str
    function_arn: str
    function_name: str
    binary: str
    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)
    inflight: int = 0

    def alive(self) -> list[subprocess.Popen]:
        self.procs = [p for p in self.procs if p.poll() is None]
        return self.procs


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class FunctionHost:
    def __init__(self, bin_dir: str, moto_port: int, region: str = "us-east-1",
                 cargo_lambda: str | None = None) -> None:
        self.bin_dir = os.path.abspath(bin_dir)
        self.moto_port = moto_port
        self.region = region
        self.cargo_lambda = cargo_lambda or self._find_cargo_lambda()
        self.lock = threading.RLock()
        self.pools: dict[str, Pool] = {}          # key -> pool
        self.slots: dict[str, str] = {}           # key -> slot name
        self.declared_slots = 0
        self.next_slot = 0
        self.stub_dir: str | None = None
        self.watch: subprocess.Popen | None = None
        self.port: int | None = None
        self.stopping = False
        self.forward_logs = os.environ.get("ROOTWARDEN_EMULATOR_FUNCTION_LOGS", "1") != "0"
        try:
            self.timeout_factor = float(os.environ.get("ROOTWARDEN_EMULATOR_TIMEOUT_FACTOR", "1"))
        except ValueError:
            self.timeout_factor = 1.0

    # ------------------------------------------------------------------ lifecycle
    @staticmethod
    def _find_cargo_lambda() -> str:
        import sys

        cand = os.path.join(os.path.dirname(sys.executable), "cargo-lambda")
        if os.access(cand, os.X_OK):
            return cand
        found = shutil.which("cargo-lambda")
        if found:
            return found
        raise RuntimeError("cargo-lambda not found (pip install cargo-lambda==1.9.2 into the venv)")

    def _write_manifest(self, n_slots: int) -> None:
        assert self.stub_dir
        lines = ["[package]", 'name = "rootwarden-function-host-stub"', 'version = "0.0.0"',
                 'edition = "2021"', "publish = false", "autobins = false", "", "[workspace]", ""]
        for i in range(n_slots):
            lines += ["[[bin]]", f'name = "rwslot{i:04d}"', 'path = "src/main.rs"', ""]
        tmp = os.path.join(self.stub_dir, "Cargo.toml.tmp")
        with open(tmp, "w") as f:
            f.write("\n".join(lines))
        os.replace(tmp, os.path.join(self.stub_dir, "Cargo.toml"))
        self.declared_slots = n_slots

    def start(self, timeout: float = 30.0) -> None:
        self.stub_dir = tempfile.mkdtemp(prefix="rootwarden-fnhost-")
        os.makedirs(os.path.join(self.stub_dir, "src"))
        with open(os.path.join(self.stub_dir, "src", "main.rs"), "w") as f:
            f.write("fn main() {}\n")
        self._write_manifest(INITIAL_SLOTS)
        self.port = free_port()
        env = dict(os.environ)
        cargo_bin = os.path.expanduser("~/.cargo/bin")
        if cargo_bin not in env.get("PATH", "").split(os.pathsep):
            env["PATH"] = env.get("PATH", "") + os.pathsep + cargo_bin
        env["RUST_LOG"] = os.environ.get("ROOTWARDEN_EMULATOR_WATCH_LOG", "warn")
        cmd = [self.cargo_lambda, "lambda", "watch", "--only-lambda-apis", "--ignore-changes",
               "-A", "127.0.0.1", "-P", str(self.port)]
        self.watch = subprocess.Popen(cmd, cwd=self.stub_dir, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._pump, args=(self.watch, "cargo-lambda", True),
                         daemon=True).start()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.watch.poll() is not None:
                raise RuntimeError(f"cargo lambda watch exited with {self.watch.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("cargo lambda watch did not start listening in time")
        log(f"function host: cargo lambda watch on 127.0.0.1:{self.port}, binaries from {self.bin_dir}")

    def stop(self) -> None:
        self.stopping = True
        procs: list[subprocess.Popen] = []
        with self.lock:
            for pool in self.pools.values():
                procs.extend(pool.procs)
            self.pools.clear()
        if self.watch is not None:
            procs.append(self.watch)
        for p in procs:
            if p.poll() is None:
                try:
                    p.terminate()
                except Exception:
                    pass
        deadline = time.time() + 0.7
        for p in procs:
            try:
                p.wait(timeout=max(0.01, deadline - time.time()))
            except Exception:
                try:
                    p.kill()
                    p.wait(timeout=0.3)
                except Exception:
                    pass
        if self.stub_dir:
            shutil.rmtree(self.stub_dir, ignore_errors=True)

    def child_pids(self) -> list[int]:
        with self.lock:
            pids = [p.pid for pool in self.pools.values() for p in pool.alive()]
        if self.watch is not None and self.watch.poll() is None:
            pids.append(self.watch.pid)
        return pids

    def _pump(self, proc: subprocess.Popen, label: str, watch: bool = False) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            if not line:
                continue
            if watch:
                # watch prints an INFO banner about env vars we set ourselves, and an ERROR line
                # for every handler error (HTTP 500 to us); keep the rest
                if line.lstrip().startswith("INFO") or "response failed classification" in line:
                    continue
            elif not self.forward_logs:
                continue
            log(f"[{label}] {line}")

    # ------------------------------------------------------------------ helpers
    def _slot_for(self, key: str) -> str:
        with self.lock:
            slot = self.slots.get(key)
            if slot is None:
                i = self.next_slot
                self.next_slot += 1
                if i >= self.declared_slots:
                    self._write_manifest(self.declared_slots + SLOT_GROWTH)
                slot = f"rwslot{i:04d}"
                self.slots[key] = slot
            return slot

    def binary_name(self, fn) -> str:
        env = getattr(fn, "environment_vars", None) or {}
        tags = getattr(fn, "tags", None) or {}
        return env.get("ROOTWARDEN_BINARY") or tags.get("rootwarden:binary") or fn.function_name

    def function_env(self, fn, version: str) -> dict[str, str]:
        name = fn.function_name
        env: dict[str, str] = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "en_US.UTF-8", "TZ": ":UTC"}
        for k in ("RUST_LOG", "RUST_BACKTRACE", "AWS_LAMBDA_LOG_LEVEL", "RUST_LIB_BACKTRACE"):
            if k in os.environ:
                env[k] = os.environ[k]
        for k, v in (getattr(fn, "environment_vars", None) or {}).items():
            env[str(k)] = str(v)
        env.update({
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.moto_port}",
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(getattr(fn, "memory_size", 128) or 128),
            "AWS_LAMBDA_FUNCTION_VERSION": version,
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_" + str(getattr(fn, "run_time", None) or "provided.al2023"),
            "_HANDLER": str(getattr(fn, "handler", None) or "bootstrap"),
            "LAMBDA_TASK_ROOT": self.bin_dir,
        })
        env.setdefault("AWS_LAMBDA_LOG_LEVEL", "INFO")
        # the function's own execution role, as Lambda gives it (the IAM engine checks every call)
        env.update(function_credentials(fn))
        return env

    def _ensure_process(self, pool: Pool) -> bool:
        """Make sure an idle process can take the next invoke. Returns True if one was spawned."""
        alive = pool.alive()
        if len(alive) > pool.inflight or len(alive) >= MAX_PROCS_PER_FUNCTION:
            return False
        env = dict(pool.env)
        env["AWS_LAMBDA_RUNTIME_API"] = f"http://127.0.0.1:{self.port}/.rt/{pool.slot}"
        version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = time.strftime("%Y/%m/%d/") + f"[{version}]" + uuid.uuid4().hex
        proc = subprocess.Popen([pool.binary], env=env, cwd=self.bin_dir, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        pool.procs.append(proc)
        threading.Thread(target=self._pump, args=(proc, pool.function_name), daemon=True).start()
        log(f"function host: started {os.path.basename(pool.binary)} for {pool.function_name} "
            f"(pid {proc.pid}, {pool.slot})")
        return True

    def _kill_pool(self, pool: Pool) -> None:
        for p in pool.procs:
            if p.poll() is None:
                try:
                    p.kill()
                except Exception:
                    pass

    # ------------------------------------------------------------------ invoke
    def invoke(self, fn, qualifier: str | None, body: Any, request_headers: Any,
               response_headers: dict) -> bytes:
        inv_type = _hget(request_headers, "X-Amz-Invocation-Type", "RequestResponse") or "RequestResponse"
        version = qualifier if qualifier and qualifier != "$LATEST" and str(qualifier).isdigit() else "$LATEST"
        response_headers["X-Amz-Executed-Version"] = version
        if isinstance(body, str):
            payload = body.encode("utf-8")
        elif isinstance(body, (bytes, bytearray)):
            payload = bytes(body)
        elif body is None:
            payload = b""
        else:
            payload = json.dumps(body).encode()
        if not payload.strip():
            payload = b"{}"
        if inv_type == "DryRun":
            return b""
        if inv_type == "Event":
            def bg() -> None:
                ok, data = self._invoke_sync(fn, version, payload)
                if not ok:
                    log(f"function host: async invoke of {fn.function_name} failed: "
                        f"{data.decode('utf-8', 'replace')[:500]}")
            threading.Thread(target=bg, daemon=True).start()
            return b""
        ok, data = self._invoke_sync(fn, version, payload)
        if not ok:
            response_headers["x-amz-function-error"] = "Unhandled"
        return data

    def _invoke_sync(self, fn, version: str, payload: bytes) -> tuple[bool, bytes]:
        if self.stopping or self.port is None:
            return False, error_payload("FunctionHostError", "the function host is stopping")
        name = fn.function_name
        binary = os.path.join(self.bin_dir, self.binary_name(fn))
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            return False, error_payload(
                "FunctionHostError",
                f"No executable handler binary for function {name}: {binary} does not exist. Build "
                "it, or point the function at another binary with its ROOTWARDEN_BINARY environment "
                "variable or its rootwarden:binary tag.")
        try:
            env = self.function_env(fn, version)
        except Exception as e:  # no role, or the role is gone: Lambda cannot start the sandbox
            return False, error_payload("FunctionHostError", f"cannot give {name} its execution role: {e}")
        try:
            mtime = os.stat(binary).st_mtime_ns
        except OSError:
            mtime = 0
        key = hashlib.sha256(json.dumps(
            [fn.function_arn, version, binary, mtime, env], sort_keys=True).encode()).hexdigest()[:20]
        timeout = float(getattr(fn, "timeout", 3) or 3) * self.timeout_factor

        with self.lock:
            pool = self.pools.get(key)
            if pool is None:
                # configuration or binary changed: retire the previous sandboxes of this function
                for k, old in list(self.pools.items()):
                    if old.function_arn == fn.function_arn and old.env.get("AWS_LAMBDA_FUNCTION_VERSION") == version:
                        self._kill_pool(old)
                        del self.pools[k]
                pool = Pool(key=key, slot=self._slot_for(key), function_arn=fn.function_arn,
                            function_name=name, binary=binary, env=env)
                self.pools[key] = pool
            try:
                spawned = self._ensure_process(pool)
            except OSError as e:
                return False, error_payload("FunctionHostError", f"cannot start {binary}: {e}")
            pool.inflight += 1

        request_id = str(uuid.uuid4())
        result: dict[str, Any] = {}
        done = threading.Event()
        deadline = time.time() + timeout + (INIT_GRACE_SECONDS if spawned else 0.0)

        def post() -> None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                  timeout=timeout + INIT_GRACE_SECONDS + 30)
                conn.request("POST", f"/2015-03-31/functions/{pool.slot}/invocations", body=payload,
                             headers={"Content-Type": "application/json",
                                      "lambda-runtime-aws-request-id": request_id})
                resp = conn.getresponse()
                result["status"] = resp.status
                result["body"] = resp.read()
                conn.close()
            except Exception as e:  # connection refused, watch gone, ...
                result["exc"] = e
            finally:
                done.set()

        threading.Thread(target=post, daemon=True).start()
        try:
            while not done.wait(0.05):
                with self.lock:
                    alive = pool.alive()
                if not alive and not done.is_set():
                    done.wait(0.2)  # the response may be on its way
                    if done.is_set():
                        break
                    codes = ", ".join(str(p.returncode) for p in pool.procs) or "unknown"
                    return False, error_payload(
                        "Runtime.ExitError",
                        f"RequestId: {request_id} Error: Runtime exited with error: exit status {codes}")
                if time.time() >= deadline:
                    with self.lock:
                        self._kill_pool(pool)
                        self.pools.pop(key, None)
                    log(f"function host: {name} timed out after {timeout:.0f}s; sandbox killed")
                    return False, error_payload(
                        "Sandbox.Timedout",
                        f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds")
        finally:
            with self.lock:
                pool.inflight = max(0, pool.inflight - 1)

        if "exc" in result:
            return False, error_payload("FunctionHostError", f"invoke via cargo lambda watch failed: {result['exc']}")
        status, data = result.get("status"), result.get("body", b"")
        if status == 200:
            return True, data
        if status == 500:
            try:
                err = json.loads(data)
                if isinstance(err, dict) and "errorType" in err:
                    return False, json.dumps({"errorType": err.get("errorType"),
                                              "errorMessage": err.get("errorMessage", "")}).encode()
            except ValueError:
                pass
            return False, error_payload("Runtime.Unknown", data.decode("utf-8", "replace"))
        body = data.decode("utf-8", "replace")[:500]
        return False, error_payload("FunctionHostError", f"cargo lambda watch answered HTTP {status}: {body}")
