"""Explaining a layer counterexample: every output against every reference, a convention note where
one explains the mismatch, and a repro script that needs only NumPy and the candidate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bpcheck.check.layer.judge import LayerFault, call_args
from bpcheck.check.repro import _literal
from bpcheck.check.target import Target
from bpcheck.check.verdict import Counterexample
from bpcheck.layers.cases import LayerCase
from bpcheck.layers.tolerance import LayerAnalysis, analyse
from bpcheck.tolerance import SAFETY, compare_arrays, tolerance, unit_roundoff

PRIMARY_ORDER = ("ground_truth", "torch", "jax")
U64 = unit_roundoff(np.float64)
_U_REF = {"ground_truth": 0.0, "torch": U64, "jax": U64, "bpcheck_float64": U64}
_KINK_SLOPES = {"relu": 0.0, "leaky_relu": 0.01, "elu": 1.0}


def _references(case: LayerCase, analysis: LayerAnalysis, names: Sequence[str] | None,
                device: str) -> list[tuple[str, dict[str, np.ndarray]]]:
    """Each available reference's outputs on the case widened to float64, then the analysis' own truth."""
    import references
    import references.layers as layers

    wide = case.astype(np.float64)
    out: list[tuple[str, dict[str, np.ndarray]]] = []
    for name in names if names is not None else PRIMARY_ORDER:
        where = device if name in ("torch", "jax") else "cpu"
        if not references.available(name, where):
            continue
        try:
            value, grads = layers.forward_and_vjp(case.kind, wide.inputs, wide.hyper, wide.dout, backend=name,
                                                  **({"device": where} if where != "cpu" else {}))
        except Exception:  # noqa: BLE001 - an oracle that fails is left out of the explanation
            continue
        out.append((name, {"out": np.asarray(value), **grads}))
    out.append(("bpcheck_float64", analysis.truth))
    return out


def _table(outputs: dict[str, Any], refs: list[tuple[str, dict[str, np.ndarray]]],
           analysis: LayerAnalysis) -> list[dict[str, Any]]:
    table = []
    for name, R in refs:
        for output in analysis.outputs:
            G = np.asarray(outputs[output])
            if G.shape != analysis.truth[output].shape or G.dtype.kind not in "fiu":
                continue
            ok, err, tau, margin, idx = compare_arrays(G, np.asarray(R[output]),
                                                       tolerance(analysis.bounds[output], analysis.u, _U_REF[name]))
            table.append({"output": output, "reference": name, "max_abs_err": err, "tolerance": tau,
                          "margin": margin, "agree": ok, "index": list(idx)})
    return table


def convention_note(fault: LayerFault) -> str:
    """"; x[0, 1] = 0 exactly: your relu′(0) is 1, the contract's is 0 (torch's)" where the mismatch sits
    on an exact kink and the candidate's own slope there is another convention's; likewise l1's sign(0)
    and max-pool's tied maxima. Else ""."""
    case, outputs = fault.case, fault.outputs
    if fault.kind != "mismatch" or outputs is None or "dx" not in outputs:
        return ""
    dx = np.asarray(outputs["dx"], np.float64)
    x = case.inputs["x"].astype(np.float64)
    if case.kind in _KINK_SLOPES and case.dout is not None and dx.shape == x.shape:
        dout = case.dout.astype(np.float64)
        hits = np.argwhere((x == 0) & (dout != 0))
        for hit in hits:
            i = tuple(int(k) for k in hit)
            slope = dx[i] / dout[i]
            if slope != _KINK_SLOPES[case.kind]:
                return (f"; x{list(i)} = 0 exactly: your {case.kind}′(0) is {slope:.6g}, the contract's is "
                        f"{_KINK_SLOPES[case.kind]:g} (torch's)")
    if case.kind == "l1" and dx.shape == x.shape:
        r = x - case.inputs["y"].astype(np.float64)
        hits = np.argwhere(r == 0)
        if len(hits):
            i = tuple(int(k) for k in hits[0])
            sign = dx[i] * x.size
            if sign != 0:
                return (f"; x{list(i)} = y{list(i)} exactly: your l1 sign(0) is {sign:.6g}, the contract's is 0 "
                        "(torch's)")
    if case.kind == "max_pool" and case.dout is not None and dx.shape == x.shape:
        every = _pool_to_every_tie(case)
        if every is not None and np.allclose(dx, every, rtol=1e-5, atol=1e-6 * (np.abs(every).max() + 1)):
            return ("; some pooling windows hold tied maxima: your max_pool sends dout to every tied entry, the "
                    "contract to the first in row-major order (torch's and jax's)")
    return ""


def _pool_to_every_tie(case: LayerCase) -> np.ndarray | None:
    """dx of a max pool that sends each window's dout to every entry equal to its max (None: no tie)."""
    assert case.dout is not None
    x, dout, h = case.inputs["x"].astype(np.float64), case.dout.astype(np.float64), case.hyper
    ph, pw, s = h["pool_height"], h["pool_width"], h["stride"]
    dx = np.zeros_like(x)
    tied = False
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * s:i * s + ph, j * s:j * s + pw]
            top = window.max(axis=(2, 3), keepdims=True)
            mask = window == top
            tied = tied or bool((mask.sum(axis=(2, 3)) > 1).any())
            dx[:, :, i * s:i * s + ph, j * s:j * s + pw] += mask * dout[:, :, i:i + 1, j:j + 1]
    return dx if tied else None


def explain(fault: LayerFault, *, targets: tuple[Target | None, Target | None], references: Sequence[str] | None,
            device: str, timeout: float, weights: str, masked: bool = False) -> Counterexample:
    """The minimal layer case against every reference: mismatches by output, a table, a repro script."""
    case = fault.case
    analysis = fault.analysis if fault.analysis is not None else analyse(case)
    refs = _references(case, analysis, references, device)
    structured = fault.kind not in ("exception", "shape") and fault.outputs is not None
    table = _table(fault.outputs, refs, analysis) if structured else []  # type: ignore[arg-type]
    primary = refs[0][0]
    mismatches = [{k: row[k] for k in ("output", "reference", "max_abs_err", "tolerance")}
                  for row in table if row["reference"] == primary and not row["agree"]]
    if fault.kind == "mismatch" and not mismatches:
        mismatches = [{"output": m.output, "reference": "bpcheck_float64", "max_abs_err": m.max_abs_err,
                       "tolerance": m.tolerance} for m in fault.mismatches]
    message = fault.message + convention_note(fault)
    repro = repro_script(case, fault.kind, message, targets, refs[0], analysis, timeout=timeout, weights=weights,
                         masked=masked)
    return Counterexample(case, fault.kind, message, mismatches, table, repro, layer=case.kind,  # type: ignore[arg-type]
                          outputs=list(fault.names or (m["output"] for m in mismatches)))


_LAYER_JUDGE = '''

def _npy(text):
    import base64, io
    return np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False)


def _call():
    """The candidate's outputs by name, or the reason it has none."""
    args = [a.copy() if isinstance(a, np.ndarray) else (dict(a) if isinstance(a, dict) else a) for a in ARGS]
    d = None if DOUT is None else DOUT.copy()
    try:
        result = forward(*args)
        if SCALAR:
            loss, dx = result
            got = {"out": loss, "dx": dx}
        else:
            out, cache = result
            grads = backward(d, cache)
            grads = grads if isinstance(grads, (tuple, list)) else (grads,)
            got = {"out": out, **dict(zip(GRADS, grads))}
    except BaseException as exc:
        return None, f"exception: {type(exc).__name__}: {exc}"
    for given, original in zip(args, ARGS):
        if isinstance(original, np.ndarray) and not np.array_equal(given, original):
            return None, "mutated_input: an input was modified in place"
    if DOUT is not None and not np.array_equal(d, DOUT):
        return None, "mutated_input: dout was modified in place"
    if IN_OUT is False and "dw" in got:
        got["dw"] = np.asarray(got["dw"]).T
    return got, None


def _first_fault():
    """The candidate's first fault on the case, in check-layer's order, or None."""
    got, why = _call()
    if why:
        return why
    again, why = _call()
    if why:
        return f"inconsistent: {why}"
    for name, want in expected.items():
        g, h = np.asarray(got.get(name)), np.asarray(again.get(name))
        if g.shape != want.shape:
            return f"shape: {name} has shape {g.shape}, expected {want.shape}"
        if g.dtype != DTYPE and g.ndim:
            return f"dtype: {name} has dtype {g.dtype}, expected {DTYPE}"
        tau = SAFETY * bounds[name] * (1 + U_REF / U)
        drift = np.abs(h.astype(np.float64) - g.astype(np.float64)) if h.shape == g.shape else None
        if drift is None or np.any(drift > 2 * SAFETY * bounds[name]):
            return f"inconsistent: a second identical call gave a different {name}"
        bad = ~np.isfinite(g.astype(np.float64)) & np.isfinite(want)
        if bad.any():
            return f"non_finite: {name} holds NaN or inf where the truth is finite"
        err = np.abs(g.astype(np.float64) - want)
        if np.any(err > tau):
            i = tuple(int(k) for k in np.unravel_index(np.argmax(np.where(err > tau, err, -1)), err.shape))
            return (f"mismatch: {name}{list(i)} is {float(g[i])!r}, the truth is {float(want[i])!r} "
                    f"(|error| {float(err[i]):.3g} > tolerance {float(tau[i]):.3g})")
    return None


if __name__ == "__main__":
    import subprocess
    import sys

    if sys.argv[1:] == ["--call"]:
        fault = _first_fault()
        print("\\n" + (f"FAILS ({fault})" if fault else
                       "PASSES: the candidate agrees with the truth on this case"))
        sys.exit(0)
    try:
        child = subprocess.run([sys.executable, __file__, "--call"], timeout=TIMEOUT_S, capture_output=True,
                               text=True)
    except subprocess.TimeoutExpired:
        print(f"FAILS (exception: the call did not return within {TIMEOUT_S:g} s)")
        sys.exit(1)
    lines = child.stdout.rstrip().splitlines()
    verdict = lines[-1] if lines and child.returncode == 0 else ""
    if verdict.startswith(("FAILS (", "PASSES")):
        print(verdict)
        sys.exit(0 if verdict.startswith("PASSES") else 1)
    status = child.returncode
    how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
    print(f"FAILS (exception: the candidate's process {how} during the call)")
    sys.exit(1)
'''


def _value(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return _literal(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def repro_script(case: LayerCase, kind: str, message: str, targets: tuple[Target | None, Target | None],
                 reference: tuple[str, dict[str, np.ndarray]], analysis: LayerAnalysis, *, timeout: float,
                 weights: str, masked: bool = False) -> str:
    """The script's text: the case's forward arguments and dout, ``reference``'s outputs (float64), the
    bounds of ``analysis``, and the judgement (check-layer's, in a child process of the script's own)."""
    name, R = reference
    args, dout, scalar = call_args(case, weights, masked)
    spec = case.spec
    forward_target, backward_target = targets
    imports = forward_target.import_lines("forward") if forward_target is not None else \
        ["raise SystemExit('import the candidate forward as forward here')"]
    if not scalar:
        imports += backward_target.import_lines("backward") if backward_target is not None else \
            ["raise SystemExit('import the candidate backward as backward here')"]
    label = " ".join(t.spec for t in targets if t is not None)
    lines = [
        "#!/usr/bin/env python3",
        "# Run it from any directory: python3 path/to/this_script.py -- exits 1 while the candidate fails",
        "# on this case (with the fault below or another), 0 once it passes: a regression test.",
        f'"""Minimal counterexample found by `manual-bp check-layer {case.kind} {label}`;',
        "needs NumPy and the candidate only.",
        "",
        f"kind: {kind}",
        message.replace('"""', "'''"),
        '"""',
        "import numpy as np",
        "",
        *imports,
        "",
        f"ARGS = [{', '.join(_value(a) for a in args)}]",
        f"DOUT = {_value(dout) if dout is not None else 'None'}",
        f"SCALAR, GRADS, IN_OUT = {scalar!r}, {spec.grads!r}, {weights != 'out_in'!r}",
        f"DTYPE = np.dtype({str(case.dtype)!r})",
        f"# the reference outputs ({name}), rounded to float64, and the error bound of each entry for a",
        f"# correct result in {case.dtype}: the tolerance is SAFETY · bound · (1 + U_REF/U)",
        "expected = {" + ", ".join(f"{k!r}: {_literal(np.asarray(R[k], np.float64))}"
                                   for k in analysis.outputs) + "}",
        "bounds = {" + ", ".join(f"{k!r}: {_literal(analysis.bounds[k])}" for k in analysis.outputs) + "}",
        f"SAFETY, U, U_REF = {SAFETY!r}, {analysis.u!r}, {U64!r}",
        f"TIMEOUT_S = {timeout!r}",
    ]
    return "\n".join(lines) + _LAYER_JUDGE
