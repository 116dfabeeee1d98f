"""The report's sections as plain data, rendered the same way into report.md and report.html.

A ``Section`` is a title, lines of text and optionally a table (headers, rows of strings); the
Markdown and HTML renderers only lay them out, so both files always say the same thing.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from bpcheck.cases import ACTIVATIONS, LOSSES
from bpcheck.writing import number

LIST_LIMIT = 50   # ids listed per unmatched side (report.json has them all)
SUBJECT = "manual_bp"
MARGIN_BACKENDS = ("manual_bp", "torch", "jax")


class Section(NamedTuple):
    title: str
    lines: list[str]
    table: tuple[list[str], list[list[str]]] | None = None


def fmt(value: Any, digits: int = 2) -> str:
    """A figure for a table: 0, 1.2e-07, inf, or – when absent."""
    v = number(value)
    if v is None:
        return "–"
    if v == 0:
        return "0"
    if v != v or v in (float("inf"), float("-inf")):
        return str(v)
    return f"{v:.{digits}e}"


def where(entry: dict[str, Any]) -> str:
    """The entry of the largest margin, with its |Δ| and τ: dW⁽2⁾[4,3]: 5.4e-40 vs τ 1.8e-41."""
    idx = ",".join(str(i) for i in entry.get("index", []))
    if "output" in entry:   # a layer case: the output named as check-layer names it
        at = f"{entry['output']}[{idx}]"
    elif "layer" in entry:
        at = f"d{entry['param']}⁽{entry['layer']}⁾[{idx}]"
    else:
        return ""
    if "abs_err" in entry:
        at += f": {fmt(entry['abs_err'], 1)} vs τ {fmt(entry.get('tau'), 1)}"
    return at + (" (subnormal)" if entry.get("subnormal") else "")


def _precision(env: dict[str, Any]) -> str:
    if env.get("allow_tf32"):
        return ("torch ran with TF32 switched on and jax at its default float32 matmul precision "
                "(--allow-tf32): REDUCED PRECISION allowed (TF32 on recent GPUs; a CPU has none)")
    return "torch and jax ran at pinned full float32 precision"


def headline(report: dict[str, Any], run: dict[str, Any]) -> Section:
    s, env = report["summary"], report["environment"]
    by_dt = ", ".join(f"{n} {dt}" for dt, n in sorted(s["cases_by_dtype"].items()))
    n_layers = (s.get("layers") or {}).get("cases", 0)
    lines = [f"Verdict: {s['verdict'].upper()} (exit status {s['exit_status']}): {s['cases']} cases "
             f"({by_dt}){f' and {n_layers} layer cases' if n_layers else ''}; sweep {env.get('sweep')}, "
             f"seed {env.get('seed')}, device {env.get('device')}.",
             f"{_precision(env)}."]
    if run.get("elapsed_s") is not None:
        on = f" on {run['engine']}" if run.get("engine") else ""
        lines.append(f"Measured in {run['elapsed_s']} s{on}.")
    tail = "."
    if s.get("baseline"):
        base = s["baseline"]
        tail = (f", {len(base['baseline_only'])} + {len(base['current_only'])} unmatched cases "
                "(baseline only + current only).")
    lines.append(f"{len(s['disagreements'])} disagreements, {len(s['errors'])} backend errors, "
                 f"{len(s['regressions'])} regressions{tail}")
    return Section("Summary", lines)


def most_accurate(report: dict[str, Any]) -> Section:
    s = report["summary"]
    rows = []
    for dt, best in s["most_accurate"].items():
        low = s["lowest_err"].get(dt, {})
        rows.append([dt, best["by_median"], best["by_max"], best.get("by_worst_margin") or "–",
                     ", ".join(f"{b} {n}" for b, n in sorted(low.items(), key=lambda t: -t[1]))])
    return Section("Most accurate backend", [
        "Ranked by max_rel_err against the long-double ground truth (max over parameter arrays of "
        "max|G − T| / max|T|): its median over the cases, its max (dominated by arrays whose true "
        "gradient is negligible), and by the worst margin (error / tolerance). 'Lowest error in' "
        "counts the cases where each backend's max_rel_err is the smallest (ties count for each)."],
        (["dtype", "by median max_rel_err", "by max max_rel_err", "by worst margin",
          "lowest error in (cases)"], rows))


def accuracy(report: dict[str, Any]) -> Section:
    rows = [[dt, b, str(st["cases"]), fmt(st.get("median_max_rel_err")), fmt(st.get("max_max_rel_err")),
             fmt(st.get("median_margin")), fmt(st.get("max_margin"))]
            for dt, per in report["summary"]["accuracy"].items() for b, st in per.items()]
    return Section("Accuracy per backend", [
        "margin = max |G − T| / τ with τ the running-error tolerance of bpcheck.tolerance (≤ 1 for every "
        "correct implementation); finite_diff has truncation error, so no margin."],
        (["dtype", "backend", "cases", "median max_rel_err", "max max_rel_err", "median margin",
          "max margin"], rows))


def _times(ratio: float | None) -> str:
    if ratio is None:
        return "–"
    return f"{ratio:.2g}×" if ratio < 10 else f"{ratio:,.0f}×"


def precision(report: dict[str, Any]) -> Section | None:
    """The GPU precision section (reports run with --device cuda): pinned against TF32, side by side."""
    p = report.get("precision")
    if not p:
        return None
    rows_in = p.get("rows", [])
    pinned = {r["backend"]: number(r.get("max_rel_err")) for r in rows_in
              if r.get("status") == "ok" and not r.get("allow_tf32")}
    rows, moved = [], []
    for r in rows_in:
        if r.get("status") != "ok":
            rows.append([r["backend"], r["device"], r["setting"], r.get("status", "–"), "", "", "",
                         r.get("reason") or r.get("message", "")])
            continue
        base, err = pinned.get(r["backend"]), number(r.get("max_rel_err"))
        ratio = err / base if base and err is not None and base > 0 else None
        rows.append([r["backend"], r["device"], r["setting"], fmt(r["max_rel_err"]),
                     _times(ratio), fmt(r.get("margin"), 3),
                     fmt(r.get("manual_bp_margin"), 3), ""])
        if r.get("allow_tf32") and ratio is not None:
            moved.append(f"{r['backend']} {_times(ratio)} (manual_bp margin {fmt(r.get('manual_bp_margin'), 3)})")
    c = p["case"]
    lines = [f"One fixed float32 case, {' → '.join(c['activations'])} MLP {'-'.join(map(str, c['widths']))}, batch "
             f"{c['batch']}, {c['loss']}: relative error of each result against the long-double ground truth "
             "(max over parameter arrays of max|G − T| / max|T|), its margin against the float32 tolerance "
             "model, and the margin of correct manual_bp against that result judged as a float32 reference "
             "(above 1: the false alarm that reduced precision would raise).",
             "pinned: what the references run by default (torch fp32_precision 'ieee', jax precision HIGHEST). "
             "allow_tf32: torch with TF32 switched on for cuBLAS and cuDNN, jax at its default precision."]
    if moved:
        lines.append("Allowing TF32 moved the error by " + "; ".join(moved) + ".")
    if report.get("environment", {}).get("allow_tf32"):
        worst = [f"{b} {fmt(st.get('max_margin'), 3)}" for b, st in
                 report.get("summary", {}).get("accuracy", {}).get("float32", {}).items() if b in ("torch", "jax")]
        if worst:
            lines.append("This report's sweep ran with TF32 allowed; the worst float32 margins against the truth: "
                         + ", ".join(worst) + " (above 1: what a float32 reference may not err by, so "
                         "judged as float32 such a reference false-alarms; its agreement with manual_bp is "
                         "judged with TF32's unit roundoff 2⁻¹¹ instead).")
    headers = ["backend", "device", "setting", "max_rel_err", "vs pinned", "margin vs truth",
               "manual_bp margin as a float32 reference", "note"]
    if all(r.get("status") == "ok" for r in rows_in):
        headers, rows = headers[:-1], [row[:-1] for row in rows]
    return Section("GPU precision: what TF32 does to the references", lines, (headers, rows))


def worst_margins(report: dict[str, Any]) -> Section:
    rows = [[m["id"], m["backend"], fmt(m["margin"], 3), where(m)]
            for m in report["summary"]["worst_margins"]]
    return Section("Worst margins against the ground truth", [], (["case", "backend", "margin", "worst entry"], rows))


def disagreements(report: dict[str, Any]) -> Section:
    d = report["summary"]["disagreements"]
    if not d:
        return Section("Disagreements with manual_bp", [
            "None: manual_bp agrees with every reference that ran, within tolerance, on every case."])
    rows = [[x["id"], x["reference"], fmt(x["margin"], 3), fmt(x["max_abs_diff"]), where(x),
             fmt(x.get("manual_bp_margin"), 3), fmt(x.get("reference_margin"), 3)] for x in d]
    return Section("Disagreements with manual_bp", [
        f"{len(d)} (reference, case) pairs beyond tolerance. The last two columns say which side is off: "
        "each one's margin against the ground truth (above 1: beyond what a correct result may err by). "
        "'subnormal': the difference is below the dtype's smallest normal number, as when an engine "
        "flushes subnormal results to zero (XLA on the CPU does)."],
        (["case", "reference", "margin", "max |manual − ref|", "worst entry", "manual_bp vs truth",
          "reference vs truth"], rows))


def regressions(report: dict[str, Any]) -> Section:
    s = report["summary"]
    base = s.get("baseline")
    if not base:
        return Section("Regressions", ["No baseline given (--baseline FILE)."])
    lines = [f"Baseline {base['path']} (schema {base.get('schema')}): {base['matched']} cases matched (the same "
             f"id and the same inputs), {len(s['regressions'])} regressions."]
    if base.get("different_sweep"):
        lines.append("The baseline was made with another sweep (--allow-different-sweep): only the cases whose "
                     "inputs are identical were compared.")
    versions = base.get("version_changes") or []
    if versions:
        lines.append("Package versions changed since the baseline: "
                     + ", ".join(f"{c['key']} {c['baseline']} → {c['current']}" for c in versions) + ".")
    if not s["regressions"]:
        return Section("Regressions", lines)
    rows = [[r["id"], r["backend"], fmt(r["old_max_abs_err"]), fmt(r.get("new_max_abs_err")),
             fmt(r.get("growth")), fmt(r.get("new_margin"), 3), r["reason"]] for r in s["regressions"]]
    return Section("Regressions", lines, (["case", "backend", "old max_abs_err", "new max_abs_err", "growth",
                                           "new margin", "why"], rows))


def _ids(ids: list[str]) -> list[str]:
    more = [f"… and {len(ids) - LIST_LIMIT} more (all listed in report.json)"]
    if len(ids) <= LIST_LIMIT:
        more = []
    return [f"- {i}" for i in ids[:LIST_LIMIT]] + more


def unmatched(report: dict[str, Any]) -> Section | None:
    base = report["summary"].get("baseline")
    if not base:
        return None
    lines = [f"In the baseline only: {len(base['baseline_only'])}.", *_ids(base["baseline_only"]),
             f"In this run only: {len(base['current_only'])}.", *_ids(base["current_only"])]
    differ = base.get("inputs_differ") or []
    lines += [f"The same id with other inputs (not compared): {len(differ)}.", *_ids(differ)]
    changes = base.get("environment_changes", [])
    lines.append(f"Environment settings changed since the baseline: {len(changes)}.")
    lines += [f"- {c['key']}: {c['baseline']!r} → {c['current']!r}" for c in changes[:LIST_LIMIT]]
    return Section("Unmatched cases and environment changes", lines)


def problems(report: dict[str, Any]) -> Section | None:
    s = report["summary"]
    lines = [f"- error: {e['backend']} on {e['id']}: {e['message']}" for e in s["errors"][:LIST_LIMIT]]
    lines += [f"- skipped: {b} on {n} cases: {reason}" for b, reasons in s["skipped"].items()
              for reason, n in reasons.items()]
    return Section("Errors and skipped backends", lines) if lines else None


def environment(report: dict[str, Any]) -> Section:
    env = report["environment"]
    keys = ("python", "numpy", "torch", "jax", "jaxlib", "cpu", "cpu_count", "platform")
    lines = [f"- {k}: {env.get(k)}" for k in keys if k in env]
    for k in ("torch_settings", "jax_settings", "longdouble"):
        if isinstance(env.get(k), dict):
            lines.append(f"- {k}: " + ", ".join(f"{a}={b}" for a, b in env[k].items()))
    lines.append(f"- reduced_precision: {env.get('reduced_precision')}")
    return Section("Environment", lines)


def grid(cases: list[dict[str, Any]], dtype: str, backend: str) -> dict[tuple[str, str], float]:
    """(output activation, loss) → the worst margin of ``backend`` over the ``dtype`` cases."""
    out: dict[tuple[str, str], float] = {}
    for c in cases:
        m = number(c.get("backends", {}).get(backend, {}).get("margin"))
        if c["dtype"] == dtype and m is not None:
            key = (c["activations"][-1], c["loss"])
            out[key] = max(out.get(key, 0.0), m)
    return out


def margin_tables(report: dict[str, Any]) -> list[Section]:
    out = []
    for dt in sorted(report["summary"]["cases_by_dtype"]):
        g = grid(report["cases"], dt, SUBJECT)
        acts = [a for a in ACTIVATIONS if any((a, loss) in g for loss in LOSSES)]
        rows = [[a, *(fmt(g.get((a, loss)), 1) for loss in LOSSES)] for a in acts]
        out.append(Section(f"Worst margin of {SUBJECT} by output activation × loss ({dt})", [],
                           (["activation", *LOSSES], rows)))
    return out


LAYER_BACKENDS = ("manual_bp", "manual_bp_fast", "torch", "jax")


def layers(report: dict[str, Any]) -> Section | None:
    """The layers section: per layer kind and dtype, each backend's worst margin against the layer's
    ground truth, manual_bp's worst agreement margin with torch and jax, finite differences' worst
    relative error."""
    records = report.get("layers") or []
    if not records:
        return None
    summ = report["summary"].get("layers") or {}
    worst, agree = summ.get("worst", {}), summ.get("agreement", {})
    rows = []
    for kind, by_dtype in worst.items():
        for dt in sorted(by_dtype):
            n = sum(1 for c in records if c["kind"] == kind and c["dtype"] == dt)
            rows.append([kind, dt, str(n), *(fmt(by_dtype[dt].get(b), 2) for b in LAYER_BACKENDS),
                         *(fmt(agree.get(kind, {}).get(dt, {}).get(r), 2) for r in ("torch", "jax")),
                         fmt(by_dtype[dt].get("finite_diff"), 1)])
    shapes = "; ".join(f"{kind}: " + ", ".join(sorted({c["id"].split("|")[2] for c in records if c["kind"] == kind}))
                       for kind in worst)
    lines = [f"{len(records)} layer cases (conv2d, max-pool, batch norm, layer norm, dropout: manual_bp.layers, in "
             "the CS231n API), each backend against the layer's long-double ground truth with the layer tolerance "
             "model (margin ≤ 1 is what a correct result achieves; manual_bp_fast is the vectorised conv2d). "
             "'agree' columns: manual_bp against torch and jax. Finite differences: worst max_rel_err.",
             f"Shapes: {shapes}."]
    headers = ["layer", "dtype", "cases", *(f"{b} margin" for b in LAYER_BACKENDS), "agree torch", "agree jax",
               "finite_diff rel err"]
    return Section("Layers: worst margins against the ground truth", lines, (headers, rows))


def sections(report: dict[str, Any], run: dict[str, Any]) -> list[Section]:
    """Everything a reader wants first, in order; the per-case tables are the renderers' own."""
    parts = [headline(report, run), most_accurate(report), disagreements(report), regressions(report),
             unmatched(report), worst_margins(report), accuracy(report), precision(report), problems(report),
             *margin_tables(report), layers(report), environment(report)]
    return [p for p in parts if p is not None]
