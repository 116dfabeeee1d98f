"""The summary of a report: accuracy per backend and dtype, worst margins, failures, the verdict.

Accuracy statistics are taken over the cases where a backend produced a result (status "ok"):
median and max of ``max_rel_err`` and of ``margin``. The most accurate backend of a dtype is the one
with the smallest median max_rel_err (ties broken by the max), among the backends measured on every
case of that dtype (finite_diff runs on a subset, so it is tabulated but not ranked); also given:
the smallest max max_rel_err (dominated by parameter arrays whose true gradient is negligible, where
a correct result may be 100 % off) and the smallest worst margin (errors in units of what the dtype
allows: the robust "worst case" ranking). ``lowest_err``
counts, per dtype, the cases in which each backend's max_rel_err is the smallest (ties count for
every backend that shares the minimum).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bpcheck.writing import number

WORST = 10  # how many worst margins the summary lists


def _median(values: list[float]) -> float:
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def _ok_entries(cases: Iterable[dict[str, Any]]):
    for case in cases:
        for backend, entry in case.get("backends", {}).items():
            if entry.get("status") == "ok":
                yield case, backend, entry


def accuracy(cases: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """dtype → backend → {cases, median/max of max_rel_err, max_abs_err and margin}."""
    values: dict[tuple[str, str], dict[str, list[float]]] = {}
    for case, backend, entry in _ok_entries(cases):
        slot = values.setdefault((case["dtype"], backend), {})
        for key in ("max_rel_err", "max_abs_err", "margin"):
            v = number(entry.get(key))
            if v is not None:
                slot.setdefault(key, []).append(v)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (dtype, backend), slot in sorted(values.items()):
        stats: dict[str, Any] = {"cases": len(slot.get("max_rel_err", []))}
        for key, vs in slot.items():
            stats[f"median_{key}"] = _median(vs)
            stats[f"max_{key}"] = max(vs)
        out.setdefault(dtype, {})[backend] = stats
    return out


def _lowest_err(cases: list[dict[str, Any]], ranked: dict[str, list[str]]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {dt: dict.fromkeys(names, 0) for dt, names in ranked.items()}
    for case in cases:
        names = ranked.get(case["dtype"], [])
        errs = {b: number(case["backends"].get(b, {}).get("max_rel_err")) for b in names}
        errs = {b: e for b, e in errs.items() if e is not None}
        if len(errs) < len(names) or not errs:
            continue
        best = min(errs.values())
        for b, e in errs.items():
            if e == best:
                counts[case["dtype"]][b] += 1
    return counts


def most_accurate(acc: dict[str, dict[str, dict[str, Any]]], totals: dict[str, int]) -> dict[str, Any]:
    out = {}
    for dtype, per in acc.items():
        full = {b: s for b, s in per.items() if s["cases"] == totals.get(dtype) and "median_max_rel_err" in s}
        if not full:
            continue
        by_median = min(full, key=lambda b: (full[b]["median_max_rel_err"], full[b]["max_max_rel_err"], b))
        by_max = min(full, key=lambda b: (full[b]["max_max_rel_err"], full[b]["median_max_rel_err"], b))
        margins = {b: s["max_margin"] for b, s in full.items() if "max_margin" in s}
        by_margin = min(margins, key=lambda b: (margins[b], b)) if margins else None
        out[dtype] = {"by_median": by_median, "by_max": by_max, "by_worst_margin": by_margin,
                      "ranked": sorted(full)}
    return out


def _disagreements(cases: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": c["id"], "reference": ref, "margin": number(a.get("margin")),
             "max_abs_diff": number(a.get("max_abs_diff")), **(a.get("worst") or {}),
             "subnormal": bool(a.get("subnormal")),
             "manual_bp_margin": number(c["backends"].get("manual_bp", {}).get("margin")),
             "reference_margin": number(c["backends"].get(ref, {}).get("margin"))}
            for c in cases for ref, a in c.get("agreement", {}).items()
            if a.get("status") == "ok" and not a.get("agree")]


def _errors(cases: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    cases = list(cases)
    errors = [{"id": c["id"], "backend": "ground_truth", "message": c.get("message", "")}
              for c in cases if c.get("status") == "error"]
    return errors + [{"id": c["id"], "backend": b, "message": e.get("message", "")}
                     for c in cases for b, e in c.get("backends", {}).items() if e.get("status") == "error"]


def layers_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The layers section's figures: per kind, dtype and backend the worst margin against the truth
    (finite_diff: the worst max_rel_err), and per kind and dtype the worst agreement margin of
    manual_bp with torch and with jax."""
    worst: dict[str, dict[str, dict[str, float]]] = {}
    agree: dict[str, dict[str, dict[str, float]]] = {}
    for c in records:
        slot = worst.setdefault(c["kind"], {}).setdefault(c["dtype"], {})
        for backend, e in c.get("backends", {}).items():
            value = number(e.get("margin" if backend != "finite_diff" else "max_rel_err"))
            if e.get("status") == "ok" and value is not None:
                slot[backend] = max(slot.get(backend, 0.0), value)
        aslot = agree.setdefault(c["kind"], {}).setdefault(c["dtype"], {})
        for ref, a in c.get("agreement", {}).items():
            if a.get("status") == "ok" and number(a.get("margin")) is not None:
                aslot[ref] = max(aslot.get(ref, 0.0), number(a.get("margin")) or 0.0)
    return {"cases": len(records), "worst": worst, "agreement": agree}


def summarise(cases: list[dict[str, Any]], baseline: dict[str, Any] | None,
              layers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ``"summary"`` object of report.json; its ``exit_status`` is the command's. ``layers``: the
    layers section's records, whose disagreements and errors count like the network cases'."""
    layers = layers or []
    totals: dict[str, int] = {}
    for case in cases:
        if case.get("status") == "ok":
            totals[case["dtype"]] = totals.get(case["dtype"], 0) + 1
    acc = accuracy(cases)
    best = most_accurate(acc, totals)
    margins = [{"id": c["id"], "backend": b, "margin": number(e.get("margin")), **(e.get("worst") or {})}
               for c, b, e in _ok_entries(cases) if number(e.get("margin")) is not None]
    margins.sort(key=lambda m: (-m["margin"], m["id"], m["backend"]))
    disagreements = _disagreements([*cases, *layers])
    errors = _errors([*cases, *layers])
    skipped: dict[str, dict[str, int]] = {}
    for c in cases:
        for b, e in c.get("backends", {}).items():
            if e.get("status") == "skipped":
                slot = skipped.setdefault(b, {})
                slot[e.get("reason", "")] = slot.get(e.get("reason", ""), 0) + 1
    regressions = baseline["regressions"] if baseline else []
    failed = bool(disagreements or errors or regressions)
    return {
        "verdict": "fail" if failed else "pass",
        "exit_status": 1 if failed else 0,
        "cases": len(cases),
        "cases_by_dtype": totals,
        "most_accurate": best,
        "accuracy": acc,
        "lowest_err": _lowest_err(cases, {dt: v["ranked"] for dt, v in best.items()}),
        "worst_margins": margins[:WORST],
        "disagreements": disagreements,
        "errors": errors,
        "skipped": skipped,
        "regressions": regressions,
        "baseline": {k: v for k, v in baseline.items() if k != "regressions"} if baseline else None,
        "layers": layers_summary(layers),
    }
