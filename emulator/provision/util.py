from __future__ import annotations

import io
import sys
import zipfile
from typing import Any

DEFAULT_ACCOUNT = "123456789012"


class TemplateError(Exception):
    pass


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


def _log(msg: str) -> None:
    sys.stderr.write(f"[provision] {msg}\n")
    sys.stderr.flush()


def _dummy_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\necho 'placeholder: the emulator runs the real binary'\n")
    return buf.getvalue()


def _tags_list(tags: Any, key: str = "Key", value: str = "Value") -> list[dict]:
    """CFN tags (list of {Key, Value} or SAM map) -> list with the given field names."""
    if not tags:
        return []
    if isinstance(tags, dict):
        return [{key: str(k), value: str(v)} for k, v in tags.items()]
    return [{key: str(t["Key"]), value: str(t["Value"])} for t in tags]


def _tags_map(tags: Any) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in _tags_list(tags)}


def _bool_str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _as_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    return str(v).lower() == "true"


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}
