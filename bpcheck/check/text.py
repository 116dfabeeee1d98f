"""The human-readable verdict of ``manual-bp check``: a head line, the counterexample, its table."""

from __future__ import annotations

from bpcheck.check.verdict import Verdict


def format_verdict(verdict: Verdict, target: str, repro_path: str | None) -> str:
    head = (f"manual-bp check {target}: {'PASS' if verdict.passed else 'FAIL'} — "
            f"{verdict.examples} example{'s' if verdict.examples != 1 else ''} in {verdict.seconds:.1f} s "
            f"(seed {verdict.seed})")
    c = verdict.counterexample
    if c is None:
        return head + f"\nno disagreement found with the references in {' and '.join(verdict.dtypes)}."
    case = c.case
    lines = [
        head,
        "",
        f"minimal counterexample ({c.kind}): widths {case.widths}, activations {list(case.activations)}, "
        f"loss {case.loss}, batch {case.batch}, dtype {case.dtype}",
        f"  {c.message}",
    ]
    if c.table:
        refs = list(dict.fromkeys(row["reference"] for row in c.table))
        by_pair: dict[tuple[int, str], dict[str, dict]] = {}
        for row in c.table:
            by_pair.setdefault((row["layer"], row["param"]), {})[row["reference"]] = row
        lines += ["", "  max abs error against each reference (✗: beyond the tolerance)",
                  "  " + f"{'layer':>5}  {'param':<5}  {'tolerance':>10}" + "".join(f"  {r:>16}" for r in refs)]
        for (layer, param), rows in by_pair.items():
            first = rows[refs[0]] if refs[0] in rows else next(iter(rows.values()))
            cells = "".join(
                f"  {rows[r]['max_abs_err']:>15.3g}{' ' if rows[r]['agree'] else '✗'}" if r in rows else f"  {'-':>16}"
                for r in refs)
            lines.append(f"  {layer:>5}  {param:<5}  {first['tolerance']:>10.3g}{cells}")
    if c.mismatches:
        pairs = ", ".join(f"{m['param']}⁽{m['layer']}⁾" for m in c.mismatches)
        lines += ["", f"  wrong: {pairs} (against {c.mismatches[0]['reference']})"]
    if repro_path:
        lines += ["", f"  repro script (NumPy and your function only): {repro_path}"]
    return "\n".join(lines)
