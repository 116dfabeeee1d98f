"""The verdict as people read it: the command line's text, and Markdown and HTML for notebooks.

All three say the same thing, built from one ``Report``: the head line, the coverage line, the
counterexample (its case, message, table against every reference, the wrong pairs) and the repro path.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, NamedTuple

from bpcheck.check.coverage import is_partial, summary_line
from bpcheck.report.render.markdown import escape, table

if TYPE_CHECKING:  # for annotations only: verdict.py imports this module
    from bpcheck.check.verdict import Verdict


class Report(NamedTuple):
    head: str
    coverage: str
    case: str                          # "" when the verdict passed
    message: str
    table: tuple[list[str], list[list[str]]] | None
    wrong: str
    repro: str


def report(verdict: Verdict, target: str, repro_path: str | None) -> Report:
    word = "PASS" if verdict.passed else "FAIL"
    if verdict.coverage and verdict.layer is None and is_partial(verdict.coverage):
        word += " (partial)"
    command = f"check-layer {verdict.layer}" if verdict.layer is not None else "check"
    head = (f"manual-bp {command} {target}: {word} — {verdict.examples} example{'s' if verdict.examples != 1 else ''}"
            f" in {verdict.seconds:.1f} s (seed {verdict.seed})")
    coverage = ""
    if verdict.coverage and verdict.layer is None:
        coverage = f"coverage: {summary_line(verdict.coverage)}"
    c = verdict.counterexample
    if c is None:
        return Report(head, coverage, "", f"no disagreement found with the references in "
                                          f"{' and '.join(verdict.dtypes)}.", None, "", "")
    described = f"minimal counterexample ({c.kind}): {c.describe()}"
    table = None
    if c.table:
        refs = list(dict.fromkeys(row["reference"] for row in c.table))
        keys = ("output",) if c.layer is not None else ("layer", "param")
        by_key: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
        for row in c.table:
            by_key.setdefault(tuple(row[k] for k in keys), {})[row["reference"]] = row
        rows = []
        for key, found in by_key.items():
            first = found[refs[0]] if refs[0] in found else next(iter(found.values()))
            rows.append([*(str(k) for k in key), f"{first['tolerance']:.3g}",
                         *(f"{found[r]['max_abs_err']:.3g}{'' if found[r]['agree'] else '✗'}" if r in found else "-"
                           for r in refs)])
        table = ([*keys, "tolerance", *refs], rows)
    wrong = ""
    if c.mismatches:
        if c.layer is not None:
            pairs = ", ".join(m["output"] for m in c.mismatches)
        else:
            pairs = ", ".join(f"{m['param']}⁽{m['layer']}⁾" for m in c.mismatches)
        wrong = f"wrong: {pairs} (against {c.mismatches[0]['reference']})"
    repro = f"repro script (NumPy and your function only): {repro_path}" if repro_path else ""
    return Report(head, coverage, described, c.message, table, wrong, repro)


def format_verdict(verdict: Verdict, target: str, repro_path: str | None) -> str:
    """The command line's text."""
    r = report(verdict, target, repro_path)
    lines = [r.head] + ([r.coverage] if r.coverage else [])
    if not r.case:
        return "\n".join([*lines, r.message])
    lines += ["", r.case, f"  {r.message}"]
    if r.table is not None:
        headers, rows = r.table
        k = headers.index("tolerance")  # the key columns before it: layer and param, or output

        def keys(cells: list[str]) -> str:
            return ("" if k == 1 else f"{cells[0]:>5}  ") + f"{cells[k - 1]:<6} {cells[k]:>10}"

        lines += ["", "  max abs error against each reference (✗: beyond the tolerance)",
                  "  " + keys(headers) + "".join(f"  {h:>16}" for h in headers[k + 1:])]
        for row in rows:
            lines.append("  " + keys(row)
                         + "".join(f"  {cell.rstrip('✗'):>15}{'✗' if cell.endswith('✗') else ' '}"
                                   for cell in row[k + 1:]))
    if r.wrong:
        lines += ["", f"  {r.wrong}"]
    if r.repro:
        lines += ["", f"  {r.repro}"]
    return "\n".join(lines)


def format_markdown(verdict: Verdict, target: str, repro_path: str | None) -> str:
    """The same content as Markdown (a notebook's ``_repr_markdown_``)."""
    r = report(verdict, target, repro_path)
    out = [f"**{escape(r.head)}**", ""] + ([escape(r.coverage), ""] if r.coverage else [])
    if r.case:
        out += [escape(r.case), "", escape(r.message), ""]
        if r.table is not None:
            out += [*table(*r.table), ""]
        out += [escape(line) for line in (r.wrong, r.repro) if line]
    else:
        out.append(escape(r.message))
    return "\n".join(out) + "\n"


def format_html(verdict: Verdict, target: str, repro_path: str | None) -> str:
    """The same content as HTML (a notebook's ``_repr_html_``): self-contained, everything escaped."""
    r = report(verdict, target, repro_path)
    e = html.escape
    color = "#1a7f37" if verdict.passed else "#cf222e"
    out = [f'<div class="manual-bp-verdict"><p style="color:{color}"><b>{e(r.head)}</b></p>']
    if r.coverage:
        out.append(f"<p>{e(r.coverage)}</p>")
    if r.case:
        out.append(f"<p>{e(r.case)}</p><p>{e(r.message)}</p>")
        if r.table is not None:
            headers, rows = r.table
            out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
                       + "</table>")
        out += [f"<p>{e(line)}</p>" for line in (r.wrong, r.repro) if line]
    else:
        out.append(f"<p>{e(r.message)}</p>")
    return "\n".join(out) + "</div>"
