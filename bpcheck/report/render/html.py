"""report.html: one self-contained file (inline CSS, plots as base64 PNG data URIs, no scripts)."""

from __future__ import annotations

import base64
import html
from typing import Any

from bpcheck.report.render import plots as figures
from bpcheck.report.render.markdown import case_rows
from bpcheck.report.render.sections import Section, sections

# the sections shown above the plots: what a reader wants first
LEAD = ("Summary", "Most accurate backend", "Disagreements with manual_bp", "Regressions",
        "Unmatched cases and environment changes")
CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; }
th { background: #f0f0f0; } tr:nth-child(even) td { background: #fafafa; }
td.bad { background: #fdd !important; }
.pass { color: #060; font-weight: bold; } .fail { color: #a00; font-weight: bold; }
img { max-width: 100%; } p { margin: 0.3em 0; }
"""


def _td(cell: str) -> str:
    bad = ' class="bad"' if cell in ("NO", "error") else ""
    return f"<td{bad}>{html.escape(cell)}</td>"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_td(c) for c in row) + "</tr>\n" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"


def _lines(lines: list[str]) -> str:
    out, items = [], []
    for line in lines:
        if line.startswith("- "):
            items.append(f"<li>{html.escape(line[2:])}</li>")
            continue
        if items:
            out.append("<ul>" + "".join(items) + "</ul>")
            items = []
        text = html.escape(line)
        for word, cls in (("Verdict: PASS", "pass"), ("Verdict: FAIL", "fail")):
            text = text.replace(word, f'<span class="{cls}">{word}</span>')
        out.append(f"<p>{text}</p>")
    if items:
        out.append("<ul>" + "".join(items) + "</ul>")
    return "\n".join(out)


def _section(sec: Section) -> str:
    parts = [f"<h2>{html.escape(sec.title)}</h2>", _lines(sec.lines)]
    if sec.table is not None:
        parts.append(_table(*sec.table))
    return "\n".join(parts)


def _image(png: bytes | None, alt: str) -> str:
    if not png:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _plots(report: dict[str, Any]) -> str:
    cases = report["cases"]
    if not any(c.get("status") == "ok" for c in cases):
        return ""
    return "\n".join([
        "<h2>Error distributions</h2>", _image(figures.error_distributions(cases), "error distributions"),
        "<h2>Worst margins by output activation × loss</h2>",
        _image(figures.margin_heatmaps(cases), "worst-margin heat maps"),
        "<h2>manual_bp against each reference, case by case (margins)</h2>", _image(figures.pairs(cases), "pairs"),
    ])


def render_html(report: dict[str, Any], run: dict[str, Any], *, plots: bool = True) -> str:
    secs = sections(report, run)
    lead = [s for s in secs if s.title in LEAD]
    body = [_section(s) for s in lead]
    body.append(_plots(report) if plots else "<p>(plots left out: --no-plots)</p>")
    body += [_section(s) for s in secs if s.title not in LEAD]
    body += ["<h2>Every case</h2>",
             "<p>max_rel_err / margin against the ground truth; agreement of manual_bp with each "
             "reference.</p>",
             _table(*case_rows(report["cases"]))]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>manual-bp accuracy report</title>"
            f"<style>{CSS}</style></head>\n<body>\n<h1>manual-bp accuracy report</h1>\n"
            + "\n".join(body) + "\n</body></html>\n")
