"""Baseline for `cargo bench --bench mail_throughput`: Python's stdlib `email` parser over the same
files, doing comparable work (parse, walk every part, decode every body). Prints one JSON line."""
import email
import email.policy
import json
import sys
import time

files = [open(p, "rb").read() for p in sys.argv[2:]]
rounds = int(sys.argv[1])
total = sum(len(f) for f in files) * rounds
start = time.perf_counter()
for _ in range(rounds):
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
elapsed = time.perf_counter() - start
print(json.dumps({"bytes": total, "messages": len(files) * rounds, "seconds": elapsed}))
