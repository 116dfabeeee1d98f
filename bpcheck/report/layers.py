"""The report's layers section: manual_bp's conv2d, max-pool, batch norm, layer norm and dropout, each
against the long-double ground truth of its layer, beside torch, jax and finite differences.

Every layer kind of ``LAYER_SWEEP`` × dtype × its shapes (the first shape only in the quick sweep;
one larger shape more in the large sweep) in the "default" regime. A case is drawn by
``bpcheck.layers.cases.make_layer_case`` from ``np.random.default_rng(key)``, the key built from the
seed, the kind and the shape's position (not from the position in the sweep), and the float32 case is
the float64 draw rounded, so a float32 case and its twin measure the same layer call. Its id, e.g.

    layer:conv2d|float32|N2-C3-H5-W5-F4-HH3-WW3-s1-p1|default

A record (one element of report.json's ``"layers"``) has the keys of a network case's record (status,
input_digest, scale, backends, agreement: ``bpcheck.report.runner``'s docstring) with ``kind`` and
``shape`` in place of widths, batch, activations and loss; ``worst`` names an output instead of a
layer and parameter: {"output": "dx", "index": [...], "abs_err": …, "tau": …}. Each backend is
measured on all of the kind's outputs (out and every gradient) against the truth with the layer
tolerance model (``bpcheck.layers.tolerance``; finite differences get no margin: their error is
truncation). manual_bp's conv2d is measured twice: the naive loops ("manual_bp") and the vectorised
pair ("manual_bp_fast"). The baseline's regression rule applies to these records as to the network's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from bpcheck.layers.cases import LayerCase, make_layer_case
from bpcheck.layers.tolerance import LayerAnalysis, analyse
from bpcheck.report import measurement as msr
from bpcheck.tolerance import abs_error, compare_arrays, tolerance

KINDS: tuple[str, ...] = ("conv2d", "max_pool", "batchnorm", "layernorm", "dropout")
# Per kind: a small shape, a shape at a corner of the kind, a mid-sized one (the quick sweep runs the first).
LAYER_SWEEP: dict[str, tuple[dict[str, Any], ...]] = {
    "conv2d": ({"N": 2, "C": 3, "H": 5, "W": 5, "F": 4, "HH": 3, "WW": 3, "stride": 1, "pad": 1},
               {"N": 3, "C": 2, "H": 7, "W": 6, "F": 3, "HH": 3, "WW": 2, "stride": 2, "pad": 2},  # 7, 6 not ÷ 2
               {"N": 2, "C": 3, "H": 9, "W": 9, "F": 2, "HH": 1, "WW": 1, "stride": 2, "pad": 0}),  # 1×1 kernel
    "max_pool": ({"N": 2, "C": 3, "H": 4, "W": 4, "pool_height": 2, "pool_width": 2, "stride": 2},
                 {"N": 2, "C": 2, "H": 7, "W": 6, "pool_height": 3, "pool_width": 3, "stride": 2},  # overlapping
                 {"N": 1, "C": 1, "H": 5, "W": 5, "pool_height": 2, "pool_width": 3, "stride": 1}),
    "batchnorm": ({"N": 8, "D": 5}, {"N": 1, "D": 4}, {"N": 33, "D": 17}),   # batch 1: zero variance
    "layernorm": ({"N": 4, "D": 6}, {"N": 3, "D": 1}, {"N": 17, "D": 33}),   # D 1: zero variance
    "dropout": ({"N": 4, "D": 6, "p": 0.5}, {"N": 1, "D": 1, "p": 0.25}, {"N": 16, "D": 9, "p": 0.8}),
}
# The large sweep adds one shape per kind past common size thresholds (a batch > 64 not ÷ 16, a
# dimension ≥ 1024 elements, images larger than a 32-wide tile).
LAYER_LARGE: dict[str, dict[str, Any]] = {
    "conv2d": {"N": 2, "C": 3, "H": 33, "W": 35, "F": 4, "HH": 3, "WW": 3, "stride": 2, "pad": 1},
    "max_pool": {"N": 2, "C": 3, "H": 40, "W": 41, "pool_height": 3, "pool_width": 3, "stride": 2},
    "batchnorm": {"N": 75, "D": 70},
    "layernorm": {"N": 4, "D": 1030},
    "dropout": {"N": 75, "D": 70, "p": 0.5},
}
BACKENDS: tuple[str, ...] = ("manual_bp", "torch", "jax", "finite_diff")
REFERENCES = msr.REFERENCES
_KEY = 7_000  # keeps the layer cases' random streams apart from the network sweep's


def shapes(kind: str, sweep: str) -> tuple[dict[str, Any], ...]:
    base = LAYER_SWEEP[kind]
    if sweep == "quick":
        return base[:1]
    return base + ((LAYER_LARGE[kind],) if sweep == "large" else ())


def pick(layers: Iterable[str] | None) -> tuple[str, ...]:
    """The layer kinds asked for (None: all of them; an empty list: none), validated."""
    if layers is None:
        return KINDS
    chosen = tuple(dict.fromkeys(layers))
    bad = [k for k in chosen if k not in KINDS]
    if bad:
        raise ValueError(f"unknown layer kind {bad[0]!r} in --layers; valid: {', '.join(KINDS)} (or none)")
    return chosen


def shape_text(shape: dict[str, Any]) -> str:
    short = {"pool_height": "ph", "pool_width": "pw", "stride": "s", "pad": "p"}
    return "-".join(f"{short.get(k, k)}{v:g}" if isinstance(v, float) else f"{short.get(k, k)}{v}"
                    for k, v in shape.items())


def layer_id(kind: str, dtype: str, shape: dict[str, Any], regime: str = "default") -> str:
    return f"layer:{kind}|{dtype}|{shape_text(shape)}|{regime}"


def build(layers: Iterable[str] | None, sweep: str, dtypes: Sequence[str]) -> list[tuple[str, int, str]]:
    """(kind, shape index, dtype) of every layer case of ``sweep``, in report order."""
    return [(kind, s, dt) for kind in pick(layers) for s in range(len(shapes(kind, sweep))) for dt in dtypes]


def definition(layers: Iterable[str] | None, sweep: str) -> dict[str, Any]:
    """The layers section's part of the sweep definition (a baseline must share it)."""
    return {kind: [dict(s) for s in shapes(kind, sweep)] for kind in pick(layers)}


def make(kind: str, s: int, dtype: str, sweep: str, seed: int) -> LayerCase:
    shape = shapes(kind, sweep)[s]
    rng = np.random.default_rng([seed, _KEY, KINDS.index(kind), s])
    case = make_layer_case(rng, kind, shape, dtype="float64", regime="default")
    return case if dtype == "float64" else case.astype(dtype)


def _manual_bp(case: LayerCase, fast: bool = False) -> dict[str, np.ndarray]:
    import manual_bp.layers as L
    from bpcheck.layers.api import call_layer

    pairs = {
        "conv2d": (L.conv_forward_fast, L.conv_backward_fast) if fast else (L.conv_forward_naive,
                                                                            L.conv_backward_naive),
        "max_pool": (L.max_pool_forward_naive, L.max_pool_backward_naive),
        "batchnorm": (L.batchnorm_forward, L.batchnorm_backward),
        "layernorm": (L.layernorm_forward, L.layernorm_backward),
        "dropout": (L.dropout_forward_masked, L.dropout_backward),
    }
    forward, backward = pairs[case.kind]
    with np.errstate(all="ignore"):
        return call_layer(case, forward, backward, masked=case.kind == "dropout")[0]


def _compute(backend: str, case: LayerCase, device: str, allow_tf32: bool) -> dict[str, np.ndarray]:
    if backend in ("manual_bp", "manual_bp_fast"):
        outputs = _manual_bp(case, fast=backend == "manual_bp_fast")
    else:
        import references.layers as RL

        kwargs = {"device": device, "allow_tf32": allow_tf32} if backend in REFERENCES else {}
        out, grads = RL.forward_and_vjp(case.kind, case.inputs, case.hyper, case.dout, backend=backend, **kwargs)
        outputs = {"out": out, **grads}
    want = np.dtype(np.float64) if backend == "finite_diff" else case.dtype
    for name in case.spec.outputs:
        if name not in outputs:
            raise ValueError(f"{backend} returned no {name}")
        value = np.asarray(outputs[name])
        truth_shape = case.inputs[name[1:]].shape if name != "out" else value.shape
        if value.shape != truth_shape or value.dtype != want:
            raise ValueError(f"{backend}'s {name} is {value.dtype}{value.shape}, expected {want}{truth_shape}")
    return {name: np.asarray(outputs[name]) for name in case.spec.outputs}


def figures(G: dict[str, np.ndarray], T: dict[str, np.ndarray], analysis: LayerAnalysis | None, u_ref: float, *,
            relative: bool) -> dict[str, Any]:
    """max_abs_err (max_abs_diff), max_rel_err and margin of G against T over every output (``analysis``
    None: no margin), and where the margin peaks."""
    total = max((msr.scale(t) for t in T.values()), default=0.0)
    abs_err, rel_err, margin, worst = 0.0, 0.0, 0.0, None
    for name in T:
        err = float(np.max(abs_error(G[name], T[name]))) if T[name].size else 0.0
        abs_err = max(abs_err, err)
        s = msr.scale(T[name]) or total
        rel_err = max(rel_err, 0.0 if err == 0.0 else err / s if s > 0.0 else float("inf"))
        if analysis is not None:
            _, at_err, at_tau, m, idx = compare_arrays(G[name], T[name],
                                                       tolerance(analysis.bounds[name], analysis.u, u_ref))
            if worst is None or m > margin:
                margin, worst = m, {"output": name, "index": list(idx), "abs_err": at_err, "tau": at_tau}
    out: dict[str, Any] = {"max_abs_err" if relative else "max_abs_diff": abs_err}
    if relative:
        out["max_rel_err"] = rel_err
    if analysis is not None:
        out |= {"margin": margin, "worst": worst}
    return out


def measure(kind: str, s: int, dtype: str, *, sweep: str, seed: int, device: str = "cpu",
            allow_tf32: bool = False, backends: Sequence[str] = BACKENDS,
            skip: dict[str, str] | None = None) -> dict[str, Any]:
    """The record of one layer case (the module docstring's format)."""
    skip = dict(skip or {})
    case = make(kind, s, dtype, sweep, seed)
    shape = shapes(kind, sweep)[s]
    record: dict[str, Any] = {"id": layer_id(kind, dtype, shape), "kind": kind, "shape": dict(shape),
                              "dtype": dtype, "regime": "default", "status": "ok", "input_digest": case.digest()}
    try:
        import references.layers as RL

        out, grads = RL.forward_and_vjp(kind, case.inputs, case.hyper, case.dout, backend="ground_truth")
        T = {"out": np.asarray(out), **grads}
        analysis = analyse(case)
    except Exception as exc:  # the truth failed: nothing can be measured
        return record | {"status": "error", "message": f"ground truth: {msr.one_line(exc)}", "backends": {},
                         "agreement": {}}
    record["scale"] = max(msr.scale(t) for t in T.values())
    record["resolution"] = analysis.resolution
    names = [b for b in backends if b != "manual_bp"]
    if "manual_bp" in backends:
        names = ["manual_bp", *(["manual_bp_fast"] if kind == "conv2d" else []), *names]
    results: dict[str, dict[str, np.ndarray]] = {}
    entries: dict[str, dict[str, Any]] = {}
    for backend in names:
        if backend in skip:
            entries[backend] = {"status": "skipped", "reason": skip[backend]}
            continue
        try:
            results[backend] = _compute(backend, case, device, allow_tf32)
        except Exception as exc:
            entries[backend] = {"status": "error", "message": msr.one_line(exc)}
            continue
        model = None if backend == "finite_diff" else analysis
        entries[backend] = {"status": "ok", **figures(results[backend], T, model, 0.0, relative=True)}
    record["backends"] = entries
    agreement = msr.agreement(results, entries, case.dtype, device, allow_tf32,
                              lambda mine, theirs, u_ref: figures(mine, theirs, analysis, u_ref, relative=False))
    record["agreement"] = agreement
    return record


def measure_group(group: Sequence[tuple[int, tuple[str, int, str]]], sweep: str, seed: int, device: str,
                  allow_tf32: bool, backends: Sequence[str], skip: dict[str, str]) -> list[tuple[int, dict[str, Any]]]:
    """Measure (index, (kind, shape index, dtype)) pairs: one unit of work (one kind's cases)."""
    return [(i, measure(kind, s, dt, sweep=sweep, seed=seed, device=device, allow_tf32=allow_tf32,
                        backends=backends, skip=skip)) for i, (kind, s, dt) in group]


def groups(items: Sequence[tuple[str, int, str]]) -> list[list[tuple[int, tuple[str, int, str]]]]:
    """(index, item) pairs grouped by kind, in first-seen order."""
    out: dict[str, list[tuple[int, tuple[str, int, str]]]] = {}
    for i, item in enumerate(items):
        out.setdefault(item[0], []).append((i, item))
    return list(out.values())
