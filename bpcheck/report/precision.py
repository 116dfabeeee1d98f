"""The report's GPU precision section: how far reduced float32 matmul precision (TF32) moves the references.

On recent NVIDIA GPUs (compute capability 8.0 and newer) a float32 matmul may run on TF32 tensor
cores, which round each input to a 10-bit significand (unit roundoff 2⁻¹¹ instead of 2⁻²⁴). torch
keeps its matmuls at full precision unless told otherwise; jax's default float32 precision on such a
GPU is TF32. A reference in that mode drifts ~1000× from the float32 truth, so judged as a float32
result it would false-alarm on correct code, or force a tolerance that hides real bugs: this is why
the references pin full precision, and this section shows, remeasured on the machine at hand, what
they pin away.

One fixed float32 case, the tanh MLP 64-256-256-10 with batch 128 (half_sse), is measured for

    manual_bp (NumPy, on the CPU) | torch and jax on the device: pinned and with ``allow_tf32=True``

against the long-double ground truth: ``max_rel_err`` and ``margin`` as in the rest of the report
(margin ≤ 1: within what a correct float32 computation may err), and ``manual_bp_margin``, the
agreement margin of manual_bp with that result under the float32 tolerance model, i.e. what a
float32 reference run in this mode would report about correct code (above 1: a false alarm).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bpcheck.cases import Case, make_case
from bpcheck.report import measurement as msr
from bpcheck.tolerance import Analysis, analyse, unit_roundoff

WIDTHS = [64, 256, 256, 10]
LAYER_ACTIVATIONS = ["tanh", "tanh", "identity"]  # the drift case's one network, layer by layer
LOSS = "half_sse"
BATCH = 128
SETTINGS = {False: "pinned (full float32)", True: "allow_tf32 (TF32 allowed)"}


def drift_case() -> Case:
    """The section's fixed float32 case (the same on every machine)."""
    return make_case(np.random.default_rng(0), WIDTHS, LAYER_ACTIVATIONS, LOSS, batch=BATCH, dtype="float32")


def _row(head: dict[str, Any], G: msr.Grads, T: msr.Grads, analysis: Analysis,
         mine: msr.Grads | None) -> dict[str, Any]:
    fig = msr.figures(G, T, analysis, 0.0, relative=True)
    row = head | {"status": "ok", "max_rel_err": fig["max_rel_err"], "margin": fig["margin"]}
    if mine is not None and head["backend"] != "manual_bp":
        row["manual_bp_margin"] = msr.figures(mine, G, analysis, unit_roundoff(np.float32), relative=False)["margin"]
    return row


def measure_precision(device: str, skip: dict[str, str] | None = None) -> dict[str, Any]:
    """The section's figures (report.json's ``"precision"``): the case and one row per configuration.

    Each row: backend, device, setting, allow_tf32, status ("ok" | "error" | "skipped"), and for "ok" max_rel_err,
    margin and (references) manual_bp_margin; a reference that cannot run is "skipped" with the reason.
    """
    skip = dict(skip or {})
    case = drift_case()
    out: dict[str, Any] = {"case": {"widths": WIDTHS, "activations": LAYER_ACTIVATIONS, "loss": LOSS, "batch": BATCH,
                                    "dtype": "float32", "seed": 0}, "device": device, "rows": []}
    T, analysis = msr.compute("ground_truth", case, "cpu", False), analyse(case)
    runs: list[tuple[str, str, str, bool]] = [("manual_bp", "cpu", "NumPy float32", False)]
    for backend in msr.REFERENCES:
        runs += [(backend, device, SETTINGS[tf32], tf32) for tf32 in (False, True)]
    mine: msr.Grads | None = None
    for backend, where, setting, tf32 in runs:
        head = {"backend": backend, "device": where, "setting": setting, "allow_tf32": tf32}
        if backend in skip:
            out["rows"].append(head | {"status": "skipped", "reason": skip[backend]})
            continue
        try:
            G = msr.compute(backend, case, where, tf32)
        except Exception as exc:  # a framework that fails here fails the row, not the report
            out["rows"].append(head | {"status": "error", "message": msr.one_line(exc)})
            continue
        if backend == "manual_bp":
            mine = G
        out["rows"].append(_row(head, G, T, analysis, mine))
    return out
