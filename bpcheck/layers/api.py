"""Calling a layer written in the CS231n API on a case: the mapping from a case to the calls, and from
the calls' results to the named outputs that ``tolerance.compare`` judges.

| kind | forward call | backward call → named outputs |
|---|---|---|
| affine | ``forward(x, w, b) -> (out, cache)`` | ``backward(dout, cache) -> (dx, dw, db)`` |
| an activation | ``forward(x)`` | ``backward(dout, cache) -> dx`` |
| a loss, softmax_loss, svm_loss | ``forward(x, y) -> (loss, dx)`` | none: out is the loss |
| conv2d | ``forward(x, w, b, {"stride", "pad"})`` | ``-> (dx, dw, db)`` |
| max_pool | ``forward(x, {"pool_height", "pool_width", "stride"})`` | ``-> dx`` |
| batchnorm | ``forward(x, gamma, beta, {"mode": "train", "eps", "momentum"})`` | ``-> (dx, dgamma, dbeta)`` |
| layernorm | ``forward(x, gamma, beta, {"eps"})`` | ``-> (dx, dgamma, dbeta)`` |
| dropout | ``forward(x, {"p", "mode": "train", "seed"})``; ``masked=True``: ``forward(x, mask, p)`` | ``-> dx`` |

A dropout forward that draws its own mask answers for *its* mask: ``call_layer`` recovers it from the
output (m = out ≠ 0; the cases' x has no zero) and returns the case with that mask, which is the
case to analyse. Every array passed is a fresh copy of the case's. Nothing here catches the
candidate's exceptions or checks its results' shapes: that is the caller's (the checker's) job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bpcheck.layers.cases import LayerCase

Array = np.ndarray


def arguments(case: LayerCase, masked: bool = False) -> tuple[Any, ...]:
    """The forward call's arguments for ``case``, fresh copies, in the CS231n API (the table above)."""
    a = {k: v.copy() for k, v in case.inputs.items()}
    h = case.hyper
    fam = case.spec.family
    if fam in ("affine", "conv2d"):
        extra = ({"stride": h["stride"], "pad": h["pad"]},) if fam == "conv2d" else ()
        return (a["x"], a["w"], a["b"]) + extra
    if fam in ("loss", "label_loss"):
        return a["x"], a["y"]
    if fam == "max_pool":
        return a["x"], {k: h[k] for k in ("pool_height", "pool_width", "stride")}
    if fam == "norm":
        param = {"mode": "train", "eps": h["eps"], "momentum": h.get("momentum", 0.9)} \
            if case.kind == "batchnorm" else {"eps": h["eps"]}
        return a["x"], a["gamma"], a["beta"], param
    if fam == "dropout":
        return (a["x"], a["mask"], h["p"]) if masked else (a["x"], {"p": h["p"], "mode": "train",
                                                                    "seed": h.get("seed", 0)})
    return (a["x"],)


def call_layer(case: LayerCase, forward: Callable[..., Any], backward: Callable[..., Any] | None = None, *,
               masked: bool = False) -> tuple[dict[str, Any], LayerCase]:
    """The candidate's outputs by name ("out", "dx", …: ``case.spec.outputs``) and the case they answer."""
    spec = case.spec
    result = forward(*arguments(case, masked))
    if spec.scalar:
        loss, dx = result
        return {"out": loss, "dx": dx}, case
    out, cache = result
    if spec.family == "dropout" and not masked:
        mask = np.asarray(out) != 0
        case = case._replace(inputs={**case.inputs, "mask": mask})
    if backward is None:
        raise ValueError(f"a {case.kind} layer needs its backward function")
    grads = backward(case.dout.copy() if case.dout is not None else None, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    return {"out": out, **dict(zip(spec.grads, grads, strict=False))}, case
