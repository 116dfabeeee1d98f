"""Reading a baseline report and finding regressions against it.

A baseline is an earlier ``report.json``: a JSON object with a ``"cases"`` list of objects, each with a
string ``"id"``. It is comparable when it was made with the same sweep definition (sweep, seed,
activations, losses, dtypes, shapes: ``environment.definition``, or for a schema-1 report its sweep,
seed and filters): then cases are matched by id, and a case whose inputs differ nonetheless (its
``input_digest``, when both sides have one) is listed as unmatched, not compared. A baseline made
with another definition is refused (``differences`` says what differs; the command exits 2) unless
the caller allows it, and then only cases with the same id and the same input digest are compared.
Cases found on one side only are listed as unmatched (that alone fails nothing). Package versions
may differ: finding what a new version changed is what a baseline is for; they are listed. Figures
are read by key, so a baseline missing a backend or a figure simply is not compared there.

The regression rule (docs/report.md explains the numbers). For a backend measured in both reports,
with errors e_old, e_new (``max_abs_err``) and the new margin m_new = error / tolerance τ:

    regressed  ⇔  (e_new > GROWTH · e_old      and  m_new > MARGIN_FLOOR)          a real loss:
                                                     beyond the running-error bound itself (τ/4)
               or (e_new > BIG_GROWTH · e_old  and  m_new > BIG_MARGIN_FLOOR)      a jump by orders
                                                     of magnitude to a non-negligible level

finite_diff has no margin (its error is truncation, not rounding); for it the two levels are
e_new > FD_FLOOR · scale and e_new > FD_BIG_FLOOR · scale, scale = max |T| of the case's gradient.
The run is deterministic, so equal errors never regress; a few roundoffs of growth, which another
BLAS or summation order can cause, stay below both levels; a 1000-fold growth of any error that
is not negligible regresses. A backend that was measured and now fails (an exception, a wrong
shape or dtype) regresses too; one that is now skipped is not compared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bpcheck.errors import UsageError
from bpcheck.writing import number

GROWTH = 4.0
MARGIN_FLOOR = 0.25
BIG_GROWTH = 64.0
BIG_MARGIN_FLOOR = 2.0 ** -10
FD_FLOOR = 1e-9
FD_BIG_FLOOR = 1e-14


def load_baseline(path: str | Path) -> dict[str, Any]:
    """The baseline report at ``path``, checked to be a report; UsageError (one line) otherwise."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read baseline {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"baseline {str(path)!r} is not a report.json: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = ""
        if isinstance(exc, json.JSONDecodeError):
            where = f" (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        raise UsageError(f"baseline {str(path)!r} is not valid JSON{where}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise UsageError(f"baseline {str(path)!r} is not a manual-bp report: it has no \"cases\" list")
    if not isinstance(data.get("layers", []), list):
        raise UsageError(f"baseline {str(path)!r} is not a manual-bp report: its \"layers\" is not a list")
    seen: set[str] = set()
    for where, records in (("case", data["cases"]), ("layer case", data.get("layers", []))):
        for i, case in enumerate(records):
            if not isinstance(case, dict) or not isinstance(case.get("id"), str):
                raise UsageError(f"baseline {str(path)!r} is not a manual-bp report: {where} {i} has no string \"id\"")
            if case["id"] in seen:
                raise UsageError(f"baseline {str(path)!r} has the case id {case['id']!r} twice")
            seen.add(case["id"])
    return data


def _entries(case: dict[str, Any]) -> dict[str, Any]:
    backends = case.get("backends")
    return backends if isinstance(backends, dict) else {}


def regression(backend: str, old: Any, new: dict[str, Any], scale: float | None = None) -> dict[str, Any] | None:
    """The regression of one backend on one case, or None (see the module docstring for the rule).

    ``scale`` is the case's max |T| (only finite_diff, which has no margin, needs it).
    """
    if not isinstance(old, dict) or old.get("status", "ok") != "ok":
        return None
    e_old = number(old.get("max_abs_err"))
    if e_old is None:
        return None
    base = {"backend": backend, "old_max_abs_err": e_old}
    if new.get("status") == "error":
        return base | {"new_max_abs_err": None, "reason": f"now fails: {new.get('message', '')}"}
    e_new = number(new.get("max_abs_err"))
    if new.get("status") != "ok" or e_new is None:
        return None
    growth = e_new / e_old if e_old > 0 else float("inf")
    if not e_new > GROWTH * e_old:  # also false for NaN: NaN errors are stored as inf
        return None
    margin = number(new.get("margin"))
    if margin is not None:
        level, floors, what = margin, (MARGIN_FLOOR, BIG_MARGIN_FLOOR), f"margin {margin:.3g}"
    elif scale is not None and scale > 0:
        level, floors, what = e_new / scale, (FD_FLOOR, FD_BIG_FLOOR), f"{e_new / scale:.3g} of the scale"
    else:
        return None
    if not ((level > floors[0]) or (e_new > BIG_GROWTH * e_old and level > floors[1])):
        return None
    why = f"max_abs_err grew {growth:.3g}× to {what}"
    return base | {"new_max_abs_err": e_new, "growth": growth, "new_margin": margin, "reason": why}


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out |= _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return {prefix: value}


def environment_changes(old: Any, new: dict[str, Any]) -> list[dict[str, Any]]:
    """Settings that differ between the baseline's environment and this one (flattened keys)."""
    a, b = _flatten(old if isinstance(old, dict) else {}), _flatten(new)
    return [{"key": k, "baseline": a.get(k), "current": b.get(k)}
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


DEFINITION_KEYS = ("sweep", "seed", "activations", "losses", "dtypes", "shapes", "pairing", "layers")


def _definition(environment: Any) -> dict[str, Any]:
    """What defines a report's cases, read from its environment (older reports: sweep, seed, filters)."""
    env = environment if isinstance(environment, dict) else {}
    if isinstance(env.get("definition"), dict):
        return {k: env["definition"].get(k) for k in DEFINITION_KEYS}
    filters = env.get("filters") if isinstance(env.get("filters"), dict) else {}
    return {"sweep": env.get("sweep"), "seed": env.get("seed"), **{k: filters.get(k) for k in
                                                                    ("activations", "losses", "dtypes")}}


def differences(baseline: dict[str, Any], definition: dict[str, Any]) -> list[str]:
    """How the baseline's sweep definition differs from this run's, one phrase each ([]: comparable)."""
    old = _definition(baseline.get("environment"))
    out = []
    for key in DEFINITION_KEYS:
        if key in old and key in definition and old[key] != definition[key]:
            out.append(f"{key} {_short(old[key])} (baseline) vs {_short(definition[key])}")
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "…"


def _same_inputs(old: dict[str, Any], new: dict[str, Any], strict: bool) -> bool:
    a, b = old.get("input_digest"), new.get("input_digest")
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return not strict  # unknown: trusted only when the sweep definitions are the same


def compare(baseline: dict[str, Any], cases: list[dict[str, Any]], environment: dict[str, Any],
            path: str, *, different_sweep: bool = False, layers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Regressions, unmatched cases and environment changes of ``cases`` (and of the layers section's
    records ``layers``, matched with the baseline's ``"layers"`` the same way) against ``baseline``.

    ``different_sweep``: the definitions differ (allowed by the caller), so a case is compared only when
    both sides have an input digest and it is the same.
    """
    cases = [*cases, *(layers or [])]
    baseline = {**baseline, "cases": [*baseline["cases"], *baseline.get("layers", [])]}
    old_by_id = {c["id"]: c for c in baseline["cases"]}
    new_ids = {c["id"] for c in cases}
    regressions = []
    inputs_differ = []
    matched = 0
    for case in cases:
        old = old_by_id.get(case["id"])
        if old is None:
            continue
        if not _same_inputs(old, case, different_sweep):
            inputs_differ.append(case["id"])
            continue
        matched += 1
        old_entries = _entries(old)
        for backend, entry in case.get("backends", {}).items():
            found = regression(backend, old_entries.get(backend), entry, number(case.get("scale")))
            if found is not None:
                regressions.append({"id": case["id"], **found})
    changes = environment_changes(baseline.get("environment"), environment)
    return {
        "path": path,
        "schema": baseline.get("schema"),
        "different_sweep": different_sweep,
        "matched": matched,
        "baseline_only": [c["id"] for c in baseline["cases"] if c["id"] not in new_ids],
        "current_only": [c["id"] for c in cases if c["id"] not in old_by_id],
        "inputs_differ": inputs_differ,
        "regressions": regressions,
        "environment_changes": changes,
        "version_changes": [c for c in changes if c["key"] in VERSION_KEYS],
    }


VERSION_KEYS = ("python", "numpy", "torch", "jax", "jaxlib", "mpmath", "manual_bp")
