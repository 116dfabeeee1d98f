"""report.md: the sections of ``bpcheck.report.render.sections`` as Markdown, then the case table's worst rows."""

from __future__ import annotations

import re
from typing import Any

from bpcheck.report.render.sections import MARGIN_BACKENDS, Section, fmt, sections
from bpcheck.writing import number

CASE_ROWS = 20  # the full per-case table is in report.html and report.json


# The characters that can start Markdown markup in the middle of a line (CommonMark lets a backslash
# escape any of them): emphasis, code, links and images, raw HTML and entities, table cells, strike-
# through. "_" is left alone inside a word (manual_bp, max_rel_err), where it cannot start emphasis.
# Line starts are the sections' own text, never copied data.
_MARKUP = re.compile(r"[\\`*\[\]<>#|!&~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def escape(text: object) -> str:
    """``text`` as Markdown that shows exactly these characters: every markup character escaped and
    every line break a space, so no string copied into the report (a case id, an environment value, a
    baseline's contents) can add headings, links, HTML, table cells or list items."""
    return _MARKUP.sub(lambda m: "\\" + m.group(0), " ".join(str(text).splitlines()))


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(escape(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return out


def _line(line: str) -> str:
    """A section's line: its list marker kept (the sections' own), the rest escaped."""
    return "- " + escape(line[2:]) if line.startswith("- ") else escape(line)


def _section(sec: Section) -> list[str]:
    out = [f"## {escape(sec.title)}", ""]
    for i, line in enumerate(sec.lines):
        out.append(_line(line))
        after = sec.lines[i + 1] if i + 1 < len(sec.lines) else ""
        if not (line.startswith("- ") and after.startswith("- ")):
            out.append("")  # paragraphs apart, list items together
    if sec.table is not None:
        out += table(*sec.table) + [""]
    return out


def worst_case_margin(case: dict[str, Any]) -> float:
    ms = [number(case.get("backends", {}).get(b, {}).get("margin")) for b in MARGIN_BACKENDS]
    return max((m for m in ms if m is not None), default=0.0)


def case_rows(cases: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    headers = ["case"] + [f"{b} rel err / margin" for b in MARGIN_BACKENDS] + ["agree torch", "agree jax"]
    rows = []
    for c in cases:
        row = [c["id"]]
        for b in MARGIN_BACKENDS:
            e = c.get("backends", {}).get(b, {})
            row.append(f"{fmt(e.get('max_rel_err'))} / {fmt(e.get('margin'))}" if e.get("status") == "ok"
                       else e.get("status", "–"))
        for ref in ("torch", "jax"):
            a = c.get("agreement", {}).get(ref, {})
            if a.get("status") == "ok":
                row.append("yes" if a.get("agree") else "NO")
            else:
                row.append(a.get("status", "–"))
        rows.append(row)
    return headers, rows


def render_markdown(report: dict[str, Any], run: dict[str, Any]) -> str:
    out = ["# manual-bp accuracy report", ""]
    for sec in sections(report, run):
        out += _section(sec)
    worst = sorted(report["cases"], key=lambda c: (-worst_case_margin(c), c["id"]))[:CASE_ROWS]
    out += [f"## The {len(worst)} cases with the largest margins", "",
            "All cases, with every figure, are in report.json and report.html.", ""]
    out += table(*case_rows(worst)) + [""]
    return "\n".join(out)
