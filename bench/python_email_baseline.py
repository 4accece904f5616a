"""Baseline for `make bench-mail`: Python's stdlib `email` parser over the same files as the Rust
bench, doing comparable work (parse, read the headers the pipeline reads, walk every part, decode
every body). Usage: python_email_baseline.py SECONDS_PER_ROUND FILE...; runs three rounds of as
many passes as fit SECONDS_PER_ROUND and prints one JSON line with the best round."""

import email
import email.policy
import json
import platform
import sys
import time


def one_pass(files):
    for raw in files:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        _ = msg["subject"], msg["from"], msg["message-id"]
        for part in msg.walk():
            if part.is_multipart():
                continue
            try:
                part.get_content()
            except Exception:
                part.get_payload(decode=True)


def main():
    budget = float(sys.argv[1])
    files = [open(p, "rb").read() for p in sys.argv[2:]]
    t = time.perf_counter()
    one_pass(files)
    one = max(time.perf_counter() - t, 1e-6)
    passes = max(1, int(budget / one))
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(passes):
            one_pass(files)
        best = min(best, time.perf_counter() - t)
    size = sum(len(f) for f in files)
    print(json.dumps({
        "python": platform.python_version(),
        "passes": passes,
        "seconds": best,
        "bytes": size * passes,
        "messages": len(files) * passes,
        "mb_per_s": size * passes / best / 1e6,
        "messages_per_s": len(files) * passes / best,
    }))


if __name__ == "__main__":
    main()
