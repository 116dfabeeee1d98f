"""The report's three files: report.json (strict JSON, see ``bpcheck.writing``), report.md and
report.html, each written atomically (``bpcheck.writing.write_atomic``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bpcheck.writing import dumps, write_atomic

FILES = ("report.json", "report.md", "report.html")


def dump_report(report: dict[str, Any]) -> str:
    """report.json's text."""
    return dumps(report, indent=1)


def write_all(out_dir: Path, files: dict[str, str]) -> dict[str, Path]:
    """Write every (name → text) into ``out_dir`` atomically, one file after the other."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in files.items():
        write_atomic(out_dir / name, text)
        paths[name] = out_dir / name
    return paths
