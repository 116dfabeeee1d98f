"""Judging a layer's outputs against the truth: the faults that the numbers alone can show.

    judge_outputs(outputs, analysis, *, u_ref=unit_roundoff(float64), reference=None) -> LayerFault | None

The faults, in the order they are looked for (the first found is the verdict's ``kind``; the names
are the contract's, so ``check-layer`` can report them as ``check`` does):

| kind | the outputs … |
|---|---|
| ``shape`` | lack an output of the kind, or have one of another shape than the truth's |
| ``dtype`` | have an array of another dtype than the case's (a loss value: any float of another dtype) |
| ``non_finite`` | hold NaN or inf where the truth is finite |
| ``mismatch`` | differ from the truth beyond the tolerance model (``tolerance.compare``) |

Every fault names the outputs it concerns ("out", "dx", "dw", "db", "dgamma", "dbeta"). Calling the
candidate (exceptions, time limits, inputs modified in place, consistency) is the checker's part.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bpcheck.layers.tolerance import LayerAnalysis, LayerMismatch, compare
from bpcheck.tolerance import unit_roundoff

U64 = unit_roundoff(np.float64)


class LayerFault(NamedTuple):
    kind: str                        # shape, dtype, non_finite, mismatch
    outputs: tuple[str, ...]         # the outputs at fault
    message: str
    mismatches: list[LayerMismatch]  # for kind "mismatch"


def judge_outputs(outputs: dict[str, Any], analysis: LayerAnalysis, *, u_ref: float = U64,
                  reference: dict[str, np.ndarray] | None = None) -> LayerFault | None:
    """The first fault of ``outputs`` (the candidate's, by name) against ``analysis``, or None."""
    names = analysis.outputs
    arrays: dict[str, np.ndarray] = {}
    bad = []
    for name in names:
        value = outputs.get(name)
        arr = np.asarray(value) if isinstance(value, (np.ndarray, np.generic, float, int)) else None
        if arr is None or arr.shape != analysis.truth[name].shape:
            bad.append(f"{name}: {'missing' if value is None else getattr(value, 'shape', type(value).__name__)} "
                       f"(expected shape {analysis.truth[name].shape})")
        else:
            arrays[name] = arr
    if bad:
        return LayerFault("shape", tuple(b.split(":")[0] for b in bad), "wrong shape: " + "; ".join(bad), [])
    wrong = [n for n in names if arrays[n].dtype != analysis.dtype and not (
        arrays[n].ndim == 0 and isinstance(outputs[n], float) and analysis.dtype == np.float64)]
    if wrong:
        return LayerFault("dtype", tuple(wrong), "wrong dtype: " + ", ".join(
            f"{n} is {arrays[n].dtype}, expected {analysis.dtype}" for n in wrong), [])
    with np.errstate(invalid="ignore"):
        nonfinite = [n for n in names if not np.isfinite(arrays[n].astype(np.float64)).all()]
    if nonfinite:
        return LayerFault("non_finite", tuple(nonfinite), "NaN or inf in " + ", ".join(nonfinite), [])
    mismatches, _ = compare(arrays, analysis, u_ref=u_ref, reference=reference)
    if mismatches:
        text = "; ".join(f"{m.output}{list(m.entry)}: error {m.max_abs_err:.3g} > tolerance {m.tolerance:.3g}"
                         for m in mismatches)
        return LayerFault("mismatch", tuple(m.output for m in mismatches), text, mismatches)
    return None
