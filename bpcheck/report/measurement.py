"""Measure one case: every backend's gradient against the long-double ground truth.

For a case with truth T = (∂J/∂W⁽ˡ⁾, ∂J/∂b⁽ˡ⁾)_l from ``references`` backend "ground_truth" (forward-mode
tangents in x87 long double) and a backend's gradient G in the case's dtype, per parameter array P:

    max_abs_err = max_P max_entries |G_P − T_P|
    max_rel_err = max_P (max_entries |G_P − T_P| / max_entries |T_P|)     (a normwise max-relative error;
                  an array whose truth is all zero is scaled by the largest |T| of the whole gradient)
    margin      = max_P max_entries |G_P − T_P| / τ_P,   τ_P = tolerance(bound_P, u, 0)

with the elementwise running-error bound of ``bpcheck.tolerance.analyse(case)`` (u the case dtype's
unit roundoff; the truth adds no roundoff of its own). Differences are taken in long double and only
the results rounded to float64. margin ≤ 1 is what every correct implementation achieves.

Agreement of manual_bp with a reference R (torch, jax): margin of |G − R| against
τ = tolerance(bound, u, u_R), u_R the reference's unit roundoff; ``agree`` is margin ≤ 1.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bpcheck.cases import Case
from bpcheck.tolerance import Analysis, abs_error, analyse, compare_arrays, tolerance, unit_roundoff

BACKENDS: tuple[str, ...] = ("manual_bp", "torch", "jax", "finite_diff")
REFERENCES: tuple[str, ...] = ("torch", "jax")  # the ones manual_bp must agree with
TF32_UNIT_ROUNDOFF = 2.0 ** -11  # a 10-bit stored significand: what reduced-precision float32 matmuls keep
Grads = list[tuple[np.ndarray, np.ndarray]]


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:300]


def unavailable(backend: str, device: str) -> str | None:
    """Why ``backend`` cannot run here, or None. manual_bp and the NumPy references run on the CPU."""
    import references

    if backend == "manual_bp":
        return None
    return references.unavailable_reason(backend, device if backend in REFERENCES else "cpu")


def compute(backend: str, case: Case, device: str, allow_tf32: bool) -> Grads:
    import references

    if backend == "manual_bp":
        import manual_bp

        return manual_bp.gradients(*case)
    kwargs: dict[str, Any] = {"backend": backend}
    if backend in REFERENCES:
        kwargs["device"] = device
        if "allow_tf32" in inspect.signature(references.gradients).parameters:
            kwargs["allow_tf32"] = allow_tf32
    return references.gradients(*case, **kwargs)


def _check_shapes(G: Grads, case: Case, dtype: np.dtype) -> None:
    if len(G) != case.depth:
        raise ValueError(f"returned {len(G)} layers, expected {case.depth}")
    for l, ((dW, db), (W, b)) in enumerate(zip(G, case.params, strict=True), start=1):
        for name, g, p in (("dW", dW, W), ("db", db, b)):
            g = np.asarray(g)
            if g.shape != p.shape:
                raise ValueError(f"{name}⁽{l}⁾ has shape {g.shape}, expected {p.shape}")
            if g.dtype != dtype:
                raise ValueError(f"{name}⁽{l}⁾ has dtype {g.dtype}, expected {dtype}")


def _max_abs(G: np.ndarray, T: np.ndarray) -> float:
    """max |G − T|, the difference taken in long double, NaN counted as +inf."""
    return float(np.max(abs_error(G, T, wide=np.longdouble))) if G.size else 0.0


def scale(T: np.ndarray) -> float:
    """max |T| as a float64 (0 for an empty array), without overflow or underflow warnings."""
    with np.errstate(over="ignore", under="ignore"):
        return float(np.max(np.abs(T)).astype(np.float64)) if T.size else 0.0


def _ratio(err: float, scale: float) -> float:
    if err == 0.0:
        return 0.0
    return err / scale if scale > 0.0 else float("inf")


def figures(G: Grads, T: Grads, analysis: Analysis | None, u_ref: float, *, relative: bool) -> dict[str, Any]:
    """max_abs_err (or max_abs_diff), max_rel_err and margin of G against T, plus where the margin peaks.

    ``analysis`` None gives no margin (a backend the tolerance model does not describe).
    """
    total = max((scale(t) for pair in T for t in pair), default=0.0)
    abs_err, rel_err, margin, worst = 0.0, 0.0, 0.0, None
    bounds = analysis.grad_bounds if analysis is not None else [(None, None)] * len(T)
    for l, ((gW, gb), (tW, tb), (eW, eb)) in enumerate(zip(G, T, bounds, strict=True), start=1):
        for name, g, t, e in (("W", gW, tW, eW), ("b", gb, tb, eb)):
            err = _max_abs(g, t)
            abs_err = max(abs_err, err)
            s = scale(t)
            rel_err = max(rel_err, _ratio(err, s if s > 0.0 else total))
            if analysis is not None:
                _, at_err, at_tau, m, idx = compare_arrays(g, t, tolerance(e, analysis.u, u_ref))
                if worst is None or m > margin:
                    margin, worst = m, {"layer": l, "param": name, "index": list(idx), "abs_err": at_err,
                                        "tau": at_tau}
    key = "max_abs_err" if relative else "max_abs_diff"
    out: dict[str, Any] = {key: abs_err}
    if relative:
        out["max_rel_err"] = rel_err
    if analysis is not None:
        out["margin"] = margin
        out["worst"] = worst
    return out


FINITE_DIFF_MAX_PARAMS = 1000  # two long-double forward passes per parameter: 5–50 s a case at 3,000–11,000


def finite_diff_skip(case: Case, regime: str) -> str | None:
    """Why finite differences are not measured on this case, or None."""
    if case.dtype != np.float64:
        return "finite differences run in float64 only (measured on float64 cases)"
    if regime == "kinks":
        return "kinks regime: a central difference across a kink is not the contract's subgradient"
    n = sum(W.size + b.size for W, b in case.params)
    if n > FINITE_DIFF_MAX_PARAMS:
        return (f"finite differences cost two long-double forward passes per parameter: run on nets of at most "
                f"{FINITE_DIFF_MAX_PARAMS:,} parameters (this one has {n:,})")
    return None


def measure_case(case: Case, *, case_id: str, regime: str, device: str = "cpu", allow_tf32: bool = False,
                 backends: Sequence[str] = BACKENDS, skip: dict[str, str] | None = None) -> dict[str, Any]:
    """The report record of one case (see ``bpcheck.report`` for the format).

    ``skip`` maps backends known to be unavailable to the reason; they are recorded as skipped.
    """
    skip = dict(skip or {})
    record: dict[str, Any] = {
        "id": case_id, "widths": case.widths, "batch": case.batch, "activations": list(case.activations),
        "loss": case.loss, "dtype": str(case.dtype), "regime": regime, "status": "ok",
        "input_digest": case.digest(),
    }
    try:
        T = compute("ground_truth", case, "cpu", False)
        analysis = analyse(case)
    except Exception as exc:  # the truth failed: nothing can be measured
        record |= {"status": "error", "message": f"ground truth: {one_line(exc)}", "backends": {},
                   "agreement": {}}
        return record
    record["scale"] = max(scale(t) for pair in T for t in pair)
    record["resolution"] = analysis.resolution
    results: dict[str, Grads] = {}
    entries: dict[str, dict[str, Any]] = {}
    for backend in backends:
        reason = skip.get(backend) or (finite_diff_skip(case, regime) if backend == "finite_diff" else None)
        if reason is not None:
            entries[backend] = {"status": "skipped", "reason": reason}
            continue
        try:
            G = compute(backend, case, device, allow_tf32)
            _check_shapes(G, case, np.dtype(np.float64) if backend == "finite_diff" else case.dtype)
        except Exception as exc:
            entries[backend] = {"status": "error", "message": one_line(exc)}
            continue
        results[backend] = G
        model = None if backend == "finite_diff" else analysis  # FD has truncation error, not roundoff
        entries[backend] = {"status": "ok", **figures(G, T, model, 0.0, relative=True)}
    record["backends"] = entries
    record["agreement"] = _agreement(results, entries, analysis, case, device, allow_tf32)
    return record


def _agreement(results: dict[str, Grads], entries: dict[str, dict[str, Any]], analysis: Analysis, case: Case,
               device: str, allow_tf32: bool) -> dict[str, Any]:
    return agreement(results, entries, case.dtype, device, allow_tf32,
                     lambda mine, theirs, u_ref: figures(mine, theirs, analysis, u_ref, relative=False))


def agreement(results: dict[str, Any], entries: dict[str, dict[str, Any]], dtype: np.dtype, device: str,
              allow_tf32: bool, compare: Callable[[Any, Any, float], dict[str, Any]]) -> dict[str, Any]:
    """manual_bp's agreement with each reference that ran (``results``: its outputs by backend, in the
    case's ``dtype``; ``entries``: every backend's entry), judged by ``compare(mine, theirs, u_ref)``,
    which returns the figures with "margin" and "worst" (the network's or a layer's)."""
    out: dict[str, Any] = {}
    for ref in REFERENCES:
        if ref not in entries or "manual_bp" not in entries:
            continue
        if "manual_bp" not in results or ref not in results:
            why = [f"{b} {entries[b]['status']}" for b in ("manual_bp", ref) if b not in results]
            out[ref] = {"status": "skipped", "reason": ", ".join(why)}
            continue
        u_ref = unit_roundoff(dtype)   # the references compute in the case's dtype (checked)
        if allow_tf32 and device == "cuda" and dtype == np.float32:
            u_ref = TF32_UNIT_ROUNDOFF
        fig = compare(results["manual_bp"], results[ref], u_ref)
        agree = bool(fig["margin"] <= 1.0)
        out[ref] = {"status": "ok", **fig, "u_ref": u_ref, "agree": agree}
        if not agree:  # a difference below the smallest normal number: a flush-to-zero engine, most likely
            out[ref]["subnormal"] = bool(fig["worst"]["abs_err"] < float(np.finfo(dtype).tiny))
    return out


def measure_group(group: Sequence[tuple[int, Any]], seed: int, device: str, allow_tf32: bool,
                  backends: Sequence[str], skip: dict[str, str]) -> list[tuple[int, dict[str, Any]]]:
    """Measure (index, Spec) pairs; a unit of work for the process pool (specs sharing a jax compile)."""
    return [(i, measure_case(spec.case(seed), case_id=spec.id, regime=spec.regime, device=device,
                             allow_tf32=allow_tf32, backends=backends, skip=skip)) for i, spec in group]
