from __future__ import annotations

import hashlib
import re

# ----------------------------------------------------------------------------- name helpers

def _short_hash(s: str) -> str:
    return hashlib.sha1(s.encode()).hexdigest()[:8]


def gen_name(stack: str, logical_id: str, max_len: int, pattern: str = r"[^A-Za-z0-9_-]",
             lower: bool = False, suffix: str = "") -> str:
    base = f"{stack}-{logical_id}"
    if lower:
        base = base.lower()
    base = re.sub(pattern, "-", base)
    room = max_len - len(suffix)
    if len(base) > room:
        base = base[: room - 9].rstrip("-._") + "-" + _short_hash(f"{stack}/{logical_id}")
    return base + suffix


def bucket_name(stack: str, logical_id: str) -> str:
    name = re.sub(r"[^a-z0-9.-]", "-", f"{stack}-{logical_id}".lower())
    name = re.sub(r"-{2,}", "-", name).strip("-.")
    if len(name) > 63:
        name = name[:54].rstrip("-.") + "-" + _short_hash(f"{stack}/{logical_id}")
    if len(name) < 3:
        name = (name + "-bucket")[:63]
    return name
