"""The call log: one record per (action, resource) pair the engine checked.

Memory is capped by keeping each unique record once, with a count. With
ROOTWARDEN_IAM_CALL_LOG_DIR set, each NEW unique record is also appended as one JSON line to
$ROOTWARDEN_IAM_CALL_LOG_DIR/calls-<pid>.jsonl (flushed per line), so a later tool can derive
each role's used (action, resource) set across emulator processes.
"""
from __future__ import annotations

import json
import os
import threading
from typing import Any

FIELDS = ("principal_arn", "principal", "kind", "session", "action", "resource", "allowed", "decided_by")
ENV_DIR = "ROOTWARDEN_IAM_CALL_LOG_DIR"
MAX_UNIQUE = 200_000

_lock = threading.Lock()
_counts: dict[tuple, int] = {}
_file: Any = None
_file_dir: str | None = None


def _sink():
    global _file, _file_dir
    d = os.environ.get(ENV_DIR) or None
    if d != _file_dir:
        if _file is not None:
            try:
                _file.close()
            except OSError:
                pass
        _file, _file_dir = None, d
        if d:
            os.makedirs(d, exist_ok=True)
            _file = open(os.path.join(d, f"calls-{os.getpid()}.jsonl"), "a", buffering=1)
    return _file


def record(principal_arn: str, principal: str, kind: str, session: str | None, action: str,
           resource: str, allowed: bool, decided_by: str) -> None:
    key = (principal_arn, principal, kind, session, action, resource, allowed, decided_by)
    with _lock:
        n = _counts.get(key)
        if n is not None:
            _counts[key] = n + 1
            return
        if len(_counts) >= MAX_UNIQUE:
            return
        _counts[key] = 1
        try:
            f = _sink()
            if f is not None:
                f.write(json.dumps(dict(zip(FIELDS, key, strict=False))) + "\n")
                f.flush()
        except OSError:
            pass


def records() -> list[dict]:
    with _lock:
        items = list(_counts.items())
    return [{**dict(zip(FIELDS, k, strict=False)), "count": n} for k, n in items]


def clear() -> None:
    with _lock:
        _counts.clear()
