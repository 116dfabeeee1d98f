"""Files of the report: JSON with non-finite numbers spelled out, and atomic writes.

JSON has no inf or NaN, so a non-finite float is written as the string "inf", "-inf" or "nan"
(``jsonable``) and read back by ``number``. Every file is written atomically: into a temporary file
in the same directory, flushed and fsynced, then ``os.replace``d over the target, so an interrupted
run leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any


def jsonable(value: Any) -> Any:
    """A copy with non-finite floats as strings and tuples as lists (numpy scalars as Python numbers)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if hasattr(value, "item"):  # numpy scalar
        return jsonable(value.item())
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return float(value)
    return str(value)


def number(value: Any) -> float | None:
    """A figure read from a report: a float (inf/nan from their strings), or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    return None


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(jsonable(report), indent=1, allow_nan=False, ensure_ascii=False) + "\n"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old content or the new, nothing between."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes it 0600; give it an ordinary file's mode
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_all(out_dir: Path, files: dict[str, str]) -> dict[str, Path]:
    """Write every (name → text) into ``out_dir`` atomically, one file after the other."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in files.items():
        write_atomic(out_dir / name, text)
        paths[name] = out_dir / name
    return paths
