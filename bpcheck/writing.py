"""Every file the project writes goes through here: atomically, with an ordinary file's mode, and
JSON with non-finite numbers spelled out.

``write_atomic`` writes into a temporary file in the target's directory, flushes and fsyncs it, gives
it the mode a plain ``open()`` would (0666 less the umask: mkstemp makes it 0600), then
``os.replace``s it over the target: a reader, or an interrupted run, sees the old file or the new one,
never half of one. ``manual-bp check`` (verdict JSON, repro script), ``manual-bp report`` (its three
files, baselines) and the benchmarks all use it.

JSON has no inf or NaN, so a non-finite float is written as the string "inf", "-inf" or "nan"
(``jsonable``) and read back by ``number``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from bpcheck.errors import UsageError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _probe(directory: Path) -> str | None:
    """Why nothing can be written into ``directory`` (an existing one), or None: tried, not guessed
    from permission bits (which root ignores)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".manual-bp-probe.")
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    os.unlink(tmp)
    return None


def check_output_file(option: str, path: str | Path) -> Path:
    """The absolute path of a file an option will write, checked before any work: not a directory,
    in an existing directory that can be written. UsageError (one line) otherwise."""
    target = Path(path).expanduser().absolute()
    if target.is_dir():
        raise UsageError(f"{option} {str(path)!r} is a directory; expected the path of a file to write")
    parent = target.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {str(path)!r}: directory {parent} does not exist")
    why = _probe(parent)
    if why is not None:
        raise UsageError(f"{option} {str(path)!r}: cannot write into {parent}: {why}")
    return target


def check_output_dir(option: str, path: str | Path) -> Path:
    """The absolute path of a directory an option will write into (made if missing), checked before any
    work: a directory, or creatable in the nearest existing one, and writable. UsageError otherwise."""
    target = Path(path).expanduser().absolute()
    existing = target
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        what = "exists and is not a directory" if existing == target else f"is inside {existing}, which is a file"
        raise UsageError(f"{option} {str(path)!r} {what}")
    why = _probe(existing)
    if why is not None:
        raise UsageError(f"{option} {str(path)!r}: cannot write into {existing}: {why}")
    return target


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old content or the new, nothing between.

    The parent directory must exist (callers check it before any work starts).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
    """A figure read from JSON we wrote: a float (inf/nan from their strings), or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    return None


def dumps(data: Any, *, indent: int = 1) -> str:
    """``data`` as strict JSON text (see ``jsonable``), UTF-8 characters kept, with a final newline."""
    return json.dumps(jsonable(data), indent=indent, allow_nan=False, ensure_ascii=False) + "\n"


def write_json(path: str | Path, data: Any, *, indent: int = 1) -> None:
    """``dumps(data)`` written atomically to ``path``."""
    write_atomic(path, dumps(data, indent=indent))
