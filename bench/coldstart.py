"""`make bench-coldstart`: cold start and peak memory of every Lambda binary (issue 15).

Builds the release binaries of every `functions/*` crate (the workspace's [profile.release], which is
tuned for Lambda) and the bare `lambda_runtime` reference (bootstrap/benches/bare_runtime.rs), then
spawns each one RUNS times (interleaved, in a shuffled order per round) with the environment Lambda
would give it: the Runtime API on a free loopback port, region and session credentials in the
environment, the function's name, memory and version, and the variables infra/template.yaml sets on
it (Globals plus its own; a `Ref` to a parameter takes the parameter's default, other values are
stand-ins of the right shape). Init is the time from just before posix_spawn until its first
`GET /2018-06-01/runtime/invocation/next` has arrived; at that moment its peak RSS is read
(/proc/<pid>/status VmHWM) and the process is killed. The Python anchor (bench/coldstart_anchor.py, boto3 in
the project venv) is measured the same way. Writes target/bench/coldstart.json (bench/table.py).
"""

import argparse
import json
import os
import pathlib
import random
import select
import signal
import socket
import statistics
import subprocess
import sys
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
REGION = "eu-west-1"
ACCOUNT = "111122223333"
NEXT = b"GET /2018-06-01/runtime/invocation/next "

# Goals of issue 15.
GOAL_INIT_MS = 6.0
GOAL_BARE_FACTOR = 2.0
GOAL_ANCHOR_FACTOR = 80.0
GOAL_RSS_MIB = 10.0


def functions():
    return sorted(d.name for d in (ROOT / "functions").iterdir() if (d / "Cargo.toml").is_file())


def cargo_executables(args):
    """Runs `cargo build <args>` and returns {target name: executable path} of what it built."""
    out = subprocess.run(
        ["cargo", "build", "--message-format=json-render-diagnostics", *args],
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    exes = {}
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
            exes[msg["target"]["name"]] = msg["executable"]
    return exes


def build(fns, fn_dir=None):
    started = time.monotonic()
    # One cargo invocation: a second one selecting other packages would resolve other features
    # and rebuild the whole SDK stack.
    packages = [a for f in ([] if fn_dir else fns) for a in ("-p", f)]
    benches = ["--bench", "bare_runtime", "--bench", "init_steps"]  # not --benches: that builds every lib's harness
    exes = cargo_executables(["--release", *packages, "-p", "rootwarden-bootstrap", "--bins", *benches])
    if fn_dir:  # binaries built elsewhere (e.g. before a change), measured as they are
        exes.update({f: str(pathlib.Path(fn_dir).resolve() / f) for f in fns})
    missing = [f for f in [*fns, "bare_runtime", "init_steps"] if f not in exes]
    if missing:
        sys.exit(f"cargo built no executable for {missing}")
    return exes, time.monotonic() - started


def stand_in(name):
    """A value of the right shape for a template variable that is not a literal or a parameter."""
    lower = name.removeprefix("ROOTWARDEN_").lower().replace("_", "-")
    if name.endswith("_TABLE"):
        return f"rootwarden-bench-{lower}"
    if name.endswith("_STATE_MACHINE_ARN"):
        return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:rootwarden-bench-{lower}"
    if name.endswith("_KEY"):
        return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
    if name.endswith("_SECRET_ARN"):
        return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rootwarden-bench-{lower}-AbCdEf"
    if name.endswith("_BUCKET"):
        return f"rootwarden-bench-{lower}"
    sys.exit(f"bench/coldstart.py has no stand-in for template variable {name}: add one")


def template_env(template, binary):
    """The variables infra/template.yaml gives the function built from `binary`, and its memory."""
    params = {k: v.get("Default") for k, v in (template.get("Parameters") or {}).items()}
    glob = template["Globals"]["Function"]
    for res in template["Resources"].values():
        meta = res.get("Metadata") or {}
        if (
            res.get("Type") == "AWS::Serverless::Function"
            and (meta.get("BuildProperties") or {}).get("Binary") == binary
        ):
            props = res["Properties"]
            break
    else:
        sys.exit(f"infra/template.yaml has no function with BuildProperties.Binary {binary}")
    variables = {**glob["Environment"]["Variables"], **((props.get("Environment") or {}).get("Variables") or {})}
    env = {}
    for name, value in variables.items():
        if isinstance(value, (str, int, float)):
            env[name] = str(value)
        elif isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in params:
            env[name] = "" if params[value["Ref"]] is None else str(params[value["Ref"]])
        else:
            env[name] = stand_in(name)
    return env, props.get("MemorySize", glob.get("MemorySize", 128))


def lambda_env(port, name, memory, extra):
    """What the Lambda service sets in a provided.al2023 function's environment."""
    return {
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "ASIAQBENCHCOLDSTART1",
        "AWS_SECRET_ACCESS_KEY": "bench/cold/start/secret/access/key/0000",
        "AWS_SESSION_TOKEN": "bench-cold-start-session-token",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/02/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "_HANDLER": "bootstrap",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "LD_LIBRARY_PATH": "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        **extra,
    }


class Failed(Exception):
    pass


def log_tail(path):
    try:
        return pathlib.Path(path).read_text(errors="replace")[-2000:]
    except OSError:
        return ""


def spawn_once(argv, env, sock, log):
    """Spawn → first GET /next (ns), and peak RSS (KiB) when the process is killed at that request."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    started = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    reaped, conn = False, None
    try:
        deadline = time.monotonic() + 30
        while True:
            ready, _, _ = select.select([sock], [], [], 0.05)
            if ready:
                break
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                reaped = True
                raise Failed(f"{argv[0]} exited ({status}) before asking for an event:\n{log_tail(log)}")
            if time.monotonic() > deadline:
                raise Failed(f"{argv[0]} did not ask for an event within 30 s:\n{log_tail(log)}")
        conn, _ = sock.accept()
        conn.settimeout(10)
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(65536)
            if not chunk:
                break
            request += chunk
        arrived = time.perf_counter_ns()
        peak_kib = vm_hwm_kib(pid)
        if not request.startswith(NEXT):
            first = request.split(b"\r\n", 1)[0].decode(errors="replace")
            raise Failed(f"{argv[0]}'s first request was {first!r}, not GET …/invocation/next:\n{log_tail(log)}")
    finally:
        if not reaped:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, _, usage = os.wait4(pid, 0)
        if conn is not None:
            conn.close()
    # VmHWM, not wait4's ru_maxrss: Linux keeps ru_maxrss across execve, so a spawned child
    # reports at least the (Python) parent's RSS.
    return arrived - started, peak_kib if peak_kib is not None else usage.ru_maxrss


def vm_hwm_kib(pid):
    """Peak RSS of the process so far (kB), from /proc/<pid>/status."""
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


INIT_VARIANTS = ("default-chain", "lambda")


def init_steps(exe, env, runs):
    """Median ns of each init step per SDK-configuration variant (bootstrap/benches/init_steps.rs)."""
    env = {k: v for k, v in env.items() if k != "AWS_LAMBDA_RUNTIME_API"}
    samples = {v: [] for v in INIT_VARIANTS}
    for rnd in range(runs + 1):
        for variant in INIT_VARIANTS:
            done = subprocess.run([exe, variant], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"init_steps {variant} failed:\n{done.stdout}{done.stderr}")
            if rnd:
                samples[variant].append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {v: {step: statistics.median(s[step] for s in runs_) for step in runs_[0]} for v, runs_ in samples.items()}


def percentile(values, q):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))]


def fmt_ms(ns):
    return f"{ns / 1e6:.1f} ms"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=int(os.environ.get("COLDSTART_RUNS", "25")))
    ap.add_argument("--out", default=str(ROOT / "target/bench/coldstart.json"))
    ap.add_argument("--python", default=str(ROOT / ".venv/bin/python"))
    ap.add_argument("--only", help="comma-separated functions (default: all)")
    ap.add_argument("--fn-dir", help="measure the function binaries in this folder instead of building them")
    args = ap.parse_args()
    if args.runs < 20:
        sys.exit("issue 15 asks for at least 20 runs")
    part_started = time.monotonic()
    fns = args.only.split(",") if args.only else functions()
    exes, build_seconds = build(fns, args.fn_dir)
    template = yaml.safe_load((ROOT / "infra/template.yaml").read_text())

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    logs = ROOT / "target/bench/coldstart-logs"
    logs.mkdir(parents=True, exist_ok=True)

    targets = {}
    for fn in fns:
        extra, memory = template_env(template, fn)
        targets[fn] = ([exes[fn]], lambda_env(port, f"rootwarden-{fn}", memory, extra))
    # The references get the environment of the heaviest function (release: eight clients).
    release_extra, release_memory = template_env(template, "release")
    ref_env = lambda_env(port, "rootwarden-bench", release_memory, release_extra)
    targets["bare runtime"] = ([exes["bare_runtime"]], ref_env)
    targets["python anchor"] = ([args.python, str(ROOT / "bench/coldstart_anchor.py")], ref_env)

    for p in logs.glob("*.log"):
        p.unlink()
    results = {name: {"ns": [], "rss": []} for name in targets}
    rng = random.Random(15)
    order = list(targets)
    load_before = os.getloadavg()[0]
    for rnd in range(args.runs + 1):  # round 0 warms the page cache and is not counted
        rng.shuffle(order)
        for name in order:
            argv, env = targets[name]
            log = str(logs / f"{name.replace(' ', '-')}.log")
            try:
                ns, rss = spawn_once(argv, env, sock, log)
            except Failed as e:
                sys.exit(str(e))
            if rnd:
                results[name]["ns"].append(ns)
                results[name]["rss"].append(rss)
    load_after = os.getloadavg()[0]
    sock.close()
    steps = init_steps(exes["init_steps"], ref_env, args.runs)

    def med(name):
        return statistics.median(results[name]["ns"])

    def p90(name):
        return percentile(results[name]["ns"], 0.9)

    def rss_mib(name):
        return max(results[name]["rss"]) / 1024

    bare, anchor = med("bare runtime"), med("python anchor")
    rows = []
    for fn in fns:
        m, r = med(fn), rss_mib(fn)
        goal_ms = min(GOAL_INIT_MS, GOAL_BARE_FACTOR * bare / 1e6)
        rows.append(
            {
                "what": f"{fn}: median init (p90), peak RSS",
                "figure": f"{fmt_ms(m)} ({fmt_ms(p90(fn))}), {r:.1f} MiB",
                "goal": f"≤ {GOAL_INIT_MS:g} ms and ≤ {GOAL_BARE_FACTOR:g}× bare ({fmt_ms(GOAL_BARE_FACTOR * bare)}); "
                f"≤ {GOAL_RSS_MIB:g} MiB",
                "met": m / 1e6 <= goal_ms and r <= GOAL_RSS_MIB,
            }
        )
    slowest = max(fns, key=med)
    rows.append(
        {
            "what": "bare lambda_runtime: median init (p90), peak RSS",
            "figure": f"{fmt_ms(bare)} ({fmt_ms(p90('bare runtime'))}), {rss_mib('bare runtime'):.1f} MiB",
            "goal": None,
            "met": None,
        }
    )
    rows.append(
        {
            "what": "Python boto3 anchor (8 clients): median init (p90), peak RSS",
            "figure": f"{fmt_ms(anchor)} ({fmt_ms(p90('python anchor'))}), {rss_mib('python anchor'):.1f} MiB",
            "goal": None,
            "met": None,
        }
    )
    rows.append(
        {
            "what": f"anchor ÷ slowest function ({slowest}), median init",
            "figure": f"{anchor / med(slowest):.0f}×",
            "goal": f"≥ {GOAL_ANCHOR_FACTOR:g}×",
            "met": anchor / med(slowest) >= GOAL_ANCHOR_FACTOR,
        }
    )
    rows.append(
        {
            "what": "peak RSS, largest function ÷ anchor",
            "figure": f"{max(rss_mib(f) for f in fns) / rss_mib('python anchor'):.2f}",
            "goal": None,
            "met": None,
        }
    )
    sizes = {fn: os.path.getsize(exes[fn]) / 1e6 for fn in fns}
    notes = [
        f"Cold start: {args.runs} runs per binary after one warm-up round (page cache warm), interleaved; "
        f"release profile of the workspace (x86_64); load average {load_before:.1f} before, "
        f"{load_after:.1f} after; the release build took {build_seconds:.0f} s of this part.",
        "Cold start: unzipped release binaries (x86_64) " + ", ".join(f"{fn} {sizes[fn]:.1f} MB" for fn in fns) + ".",
    ]
    us = {v: {k: n / 1e3 for k, n in s.items()} for v, s in steps.items()}
    d, lam = us["default-chain"], us["lambda"]
    notes.append(
        f"Cold start, init steps of the heaviest function (release), median of {args.runs} processes: telemetry "
        f"{lam['telemetry']:.0f} µs, Config::from_env {lam['config']:.0f} µs, "
        f"SDK configuration {lam['sdk_config']:.0f} µs "
        f"with the Lambda loader (region and credentials from the environment only) against "
        f"{d['sdk_config']:.0f} µs with the default provider chain the CLI keeps, eight clients "
        f"{lam['eight_clients']:.0f} µs on the shared lazy HTTPS client against {d['eight_clients']:.0f} µs on the "
        "SDK's default one (a TLS connector and root store per client)."
    )
    notes.append(
        "Cold start, what was removed: (1) the default provider chain (profile files, SSO, web identity, ECS "
        "and IMDS providers built at init): bootstrap/src/sdk.rs reads region and credentials from the environment "
        "Lambda sets, and AWS_ENDPOINT_URL still applies; (2) the TLS set-up at every client construction: the SDK's "
        "default HTTPS client builds a rustls connector, re-parsing every native root certificate, in each "
        "Client::new (validate_base_client_config), eight times for release; the Lambdas now share one lazily built "
        "client, so the roots are loaded once, on the first request; (3) the second HTTP stack: the webhook "
        "(inbound-mail) posts with hyper over rustls, the SDK's own stack, not reqwest, and builds its client on "
        "the first notice (ROOTWARDEN_WEBHOOK_URL is unset by the template's default, as here)."
    )
    part = {
        "part": "coldstart",
        "title": "Cold start",
        "seconds": round(time.monotonic() - part_started, 1),
        "rows": rows,
        "notes": notes,
        "raw": {
            **{name: {"init_ns": r["ns"], "maxrss_kib": r["rss"]} for name, r in results.items()},
            "init_steps_median_ns": steps,
        },
    }
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(part, indent=1, ensure_ascii=False) + "\n")
    for n in notes:
        print(n)
    for r in rows:
        met = "" if r["met"] is None else ("  met" if r["met"] else "  NOT MET")
        print(f"{r['what']}: {r['figure']}  [{r['goal'] or ''}]{met}")


if __name__ == "__main__":
    main()
