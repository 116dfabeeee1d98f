"""The tolerance model for layers: the float64 truth of a layer case and an elementwise bound on how far
a correct implementation computing in the tested dtype can be from it (docs/tolerance.md, "Layers").

    analyse(case, dtype=None) -> LayerAnalysis
    compare(outputs, analysis, *, u_ref) -> (list[LayerMismatch], worst margin)

``LayerAnalysis.truth`` and ``.bounds`` map every output of the case's kind to a float64 array:
"out" (the layer's output; a 0-d array holding the loss for the loss kinds) and "d" + each
differentiable input ("dx", "dw", "db", "dgamma", "dbeta"), in the order of
``references.layers.KINDS[kind].outputs``. The truth is this package's own float64 computation
(independent of manual_bp's code and of the references'); the bound is derived step by step like
``bpcheck.tolerance``'s (componentwise, Higham style; the rules in ``_bounds``), exact where the
arithmetic is exact, so the conventions at ties and kinks are checked with a bound of 0.

A candidate's output G passes against a reference R of unit roundoff u_ref when |G − R| ≤ τ entrywise,
τ = SAFETY · bound · (1 + u_ref/u) (``bpcheck.tolerance.tolerance``): u_ref = 0 for the long-double
ground truth, u of float64 for the analysis' own float64 truth, u for a reference in the same dtype.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bpcheck.layers import _linear, _norm, _pointwise
from bpcheck.layers._bounds import compare_arrays, tolerance, unit_roundoff
from bpcheck.layers.cases import LayerCase

Array = np.ndarray


class LayerAnalysis(NamedTuple):
    """The float64 truth of one layer case and its error bounds for a candidate in ``dtype``."""

    kind: str
    dtype: np.dtype
    u: float
    truth: dict[str, Array]    # "out", "dx", … in float64
    bounds: dict[str, Array]   # elementwise bound of a correct result (before SAFETY)

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(self.truth)

    @property
    def resolution(self) -> float:
        """The largest bound relative to its output's scale: what a comparison can still resolve.

        Above ~1e-2 a float32 comparison can prove little (the bound is as large as the signal)."""
        worst = 0.0
        for name, value in self.truth.items():
            scale = float(np.max(np.abs(value))) if value.size else 0.0
            if scale > 0:
                worst = max(worst, float(np.max(self.bounds[name])) / scale)
        return worst


class LayerMismatch(NamedTuple):
    output: str           # "out", "dx", "dw", "db", "dgamma" or "dbeta"
    max_abs_err: float
    tolerance: float      # τ at the worst entry
    margin: float         # max |G − R|/τ over the entries
    entry: tuple[int, ...]   # the worst entry (not "index": that would shadow tuple.index)


def analyse(case: LayerCase, dtype: np.dtype | type | str | None = None) -> LayerAnalysis:
    """The float64 truth of ``case`` and the bounds of a correct candidate computing in ``dtype``.

    ``dtype`` defaults to the case's own; it may be wider (a float32 case judged for a float64
    candidate: the values widen exactly), not narrower (the inputs themselves would round)."""
    dt = np.dtype(dtype if dtype is not None else case.dtype)
    if np.finfo(dt).eps > np.finfo(case.dtype).eps:
        raise ValueError(f"a {case.dtype} case cannot be analysed for {dt}: cast the case first (case.astype)")
    u = unit_roundoff(dt)
    tiny = float(np.finfo(dt).tiny)
    spec = case.spec
    a = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in case.inputs.items()}
    dout = None if case.dout is None else case.dout.astype(np.float64)
    with np.errstate(under="ignore"):
        if spec.family in ("activation", "loss", "label_loss"):
            outputs = _pointwise.layer(case.kind, spec.family, a, case.hyper, dout, u, tiny)
        elif dout is None:
            raise ValueError(f"a {case.kind} case needs dout, the upstream gradient of its output")
        elif spec.family == "norm":
            outputs = _norm.normalise(a, case.hyper, dout, u, tiny, dt, 0 if case.kind == "batchnorm" else 1)
        elif spec.family == "dropout":
            outputs = _linear.dropout(a, case.hyper, dout, u, tiny, dt)
        else:
            outputs = getattr(_linear, spec.family)(a, case.hyper, dout, u, tiny)
    return LayerAnalysis(case.kind, dt, u, {k: outputs[k][0] for k in spec.outputs},
                         {k: outputs[k][1] for k in spec.outputs})


def compare(outputs: dict[str, Array], analysis: LayerAnalysis, *, u_ref: float,
            reference: dict[str, Array] | None = None) -> tuple[list[LayerMismatch], float]:
    """Every output of ``outputs`` that disagrees beyond the tolerance, and the worst margin.

    ``outputs`` maps the kind's output names to the candidate's arrays (shapes already checked);
    they are compared with ``reference`` (same names; default: the analysis' own float64 truth,
    then pass u_ref = unit_roundoff(float64)) under the tolerance of the analysis' dtype and the
    reference's unit roundoff ``u_ref`` (0 for an exact truth). A missing name raises KeyError, a
    shape other than the truth's ValueError (``judge.judge_outputs`` reports both as faults first)."""
    ref = analysis.truth if reference is None else reference
    mismatches: list[LayerMismatch] = []
    worst = 0.0
    for name in analysis.outputs:
        G, R = np.asarray(outputs[name]), np.asarray(ref[name])
        if G.shape != R.shape:
            raise ValueError(f"outputs[{name!r}] has shape {G.shape}, the truth {R.shape}: judge shapes first")
        ok, err, tau, margin, idx = compare_arrays(G, R, tolerance(analysis.bounds[name], analysis.u, u_ref))
        worst = max(worst, margin)
        if not ok:
            mismatches.append(LayerMismatch(name, err, tau, margin, idx))
    return mismatches, worst
