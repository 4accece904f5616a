"""Run the workspace's test binaries side by side: `cargo test --workspace`, N binaries at a time.

Why not `cargo test` alone: it runs one test binary after another, and most of an integration
binary's time is spent waiting on emulators (Step Functions waits, function hosts, polling), so
two cores sit half idle. Why not cargo-nextest: it runs every test in its own process, and each
process would provision its own emulator zygote (tests/src/zygote.rs), seconds of CPU per test
instead of per binary.

Each binary runs as `cargo test` would run it: in its package's folder, with CARGO_MANIFEST_DIR
and CARGO set, and arguments after `--` passed on. The slowest binaries (by the times this script
kept from the last run in target/) start first. A passing binary prints its result line; a failing
one prints its whole output. Every binary runs even when one fails (like --no-fail-fast), and the
exit status is 1 if any failed, if any could not be started, or if there was none to run.

Doc tests are not run: every crate in the workspace sets `doctest = false` (their examples are
tested as unit tests instead). A crate that turns doc tests on must add `cargo test --doc` to the
Makefile's `test` target.
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

TIMES = Path("target/test-binary-seconds.json")


def test_binaries(cargo):
    """(name, executable, package folder) of every test binary `cargo test --workspace` runs."""
    out = subprocess.run(
        [cargo, "test", "--workspace", "--no-run", "--quiet", "--message-format=json-render-diagnostics"],
        stdout=subprocess.PIPE, check=True, text=True,
    ).stdout
    found = []
    for line in out.splitlines():
        if not line.strip():
            continue
        msg = json.loads(line)
        if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
            continue
        if not msg.get("profile", {}).get("test"):
            continue
        target = msg["target"]
        package = Path(msg["manifest_path"]).parent
        kind = "/".join(target["kind"])
        where = os.path.relpath(package)
        name = f"{where}: {target['name']}" if kind == "test" else f"{where} ({kind})"
        found.append((name, msg["executable"], package))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="test binaries at a time (default 2)")
    parser.add_argument("test_args", nargs="*", help="passed to every test binary (after --)")
    args = parser.parse_args()
    cargo = os.environ.get("CARGO", "cargo")
    binaries = test_binaries(cargo)
    if not binaries:
        print("cargo listed no test binary: nothing was tested", file=sys.stderr, flush=True)
        return 1
    try:
        last = json.loads(TIMES.read_text())
    except (OSError, ValueError):
        last = {}
    # Longest first; a binary never timed counts as long, so a new slow one is not left to last.
    binaries.sort(key=lambda b: -last.get(b[0], 1e9))

    lock = threading.Lock()
    queue = list(binaries)
    failed = []
    seconds = {}
    started = time.monotonic()

    def record(name, took, code, output):
        with lock:
            seconds[name] = round(took, 1)
            if code != 0:
                failed.append(name)
                print(f"\n---- {name}: FAILED ({code}, {took:.1f} s) ----", flush=True)
                print(output, flush=True)
            else:
                results = [ln for ln in output.splitlines() if ln.startswith("test result:")]
                print(f"{name}: {results[-1] if results else 'ok'} [{took:.1f} s]", flush=True)

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                name, exe, package = queue.pop(0)
            env = dict(os.environ, CARGO_MANIFEST_DIR=str(package), CARGO=cargo)
            t0 = time.monotonic()
            try:
                proc = subprocess.run([exe, *args.test_args], cwd=package, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                code = proc.returncode
                output = proc.stdout.decode("utf-8", "replace")
                outcome = (f"exit {code}" if code != 0 else 0, output)
            except BaseException as err:  # a binary that cannot start is a failure, never a skip
                outcome = (f"not run: {type(err).__name__}: {err}", "")
            record(name, time.monotonic() - t0, *outcome)

    threads = [threading.Thread(target=worker) for _ in range(max(1, args.jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    try:
        TIMES.write_text(json.dumps({**last, **seconds}, indent=1, sort_keys=True))
    except OSError:
        pass
    total = time.monotonic() - started
    unaccounted = [name for name, _, _ in binaries if name not in seconds]
    if unaccounted:  # a worker that died without a result: never report those as passed
        failed.extend(unaccounted)
        print("no result from: " + ", ".join(unaccounted), flush=True)
    print(f"\n{len(binaries)} test binaries, {args.jobs} at a time, in {total:.0f} s", flush=True)
    if failed:
        print("failed: " + ", ".join(failed), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
