"""The repro script of a counterexample: a regression test that needs only NumPy and the candidate.

The script holds the minimal case (small arrays as literals, large ones as base64 ``.npy``), the
reference gradients and their error bounds, and the candidate's import by absolute path (with the
directory its imports need on ``sys.path``), so it runs from any directory. It judges the candidate
the way ``check`` does (exception, shape, dtype, mutated input, inconsistent, non-finite, mismatch,
with the same tolerance τ = SAFETY · bound · (1 + u_ref/u)), in a child process of its own so that a
crash or a hang of the candidate is reported too, and exits 1 while the candidate fails on the case
(with this fault or another), 0 once it passes.
"""

from __future__ import annotations

import base64
import io

import numpy as np

from bpcheck import tolerance as tol
from bpcheck.cases import Case
from bpcheck.check.judge import Fault
from bpcheck.check.layout import CONTRACT, Layout
from bpcheck.check.target import Target

LITERAL_MAX = 256  # arrays up to this many entries are written as literals; larger ones as base64 .npy


def _literal(a: np.ndarray) -> str:
    a = np.asarray(a)
    if a.size <= LITERAL_MAX:
        return f"np.array({a.tolist()!r}, dtype=np.{a.dtype})"
    buffer = io.BytesIO()
    np.save(buffer, a, allow_pickle=False)
    return f"_npy({base64.b64encode(buffer.getvalue()).decode('ascii')!r})"


def _pairs(name: str, pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[str]:
    return [f"{name} = [", *[f"    ({_literal(W)},\n     {_literal(b)})," for W, b in pairs], "]"]


_JUDGE = '''

def _npy(text):
    import base64, io
    return np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False)


def _fresh():
    return [(W.copy(), b.copy()) for W, b in params], x.copy(), y.copy(), list(activations), loss


def _canonical(got):
    """The answer as contract (dW, db) pairs, or the reason it is not one (its layout: IN_OUT, COLUMNS)."""
    L = len(params)
    if isinstance(got, dict):
        keys = next(([(f"{w}{l}", f"{b}{l}") for l in range(1, L + 1)] for w, b in (("dW", "db"), ("W", "b"))
                     if all(f"{w}{l}" in got and f"{b}{l}" in got for l in range(1, L + 1))), None)
        if keys is None:
            return None, f"shape: a dict without keys dW1, db1, ... (or W1, b1, ...): {sorted(map(str, got))}"
        pairs = [(got[kw], got[kb]) for kw, kb in keys]
    elif isinstance(got, (list, tuple)) and len(got) == L:
        pairs = []
        for item in got:
            if isinstance(item, dict):
                k = ("dW", "db") if "dW" in item and "db" in item else ("W", "b")
                if k[0] not in item or k[1] not in item:
                    return None, "shape: a dict without dW and db (or W and b) keys"
                pairs.append((item[k[0]], item[k[1]]))
            elif isinstance(item, (list, tuple)) and len(item) == 2:
                pairs.append((item[0], item[1]))
            else:
                return None, f"shape: expected a (dW, db) pair or a dict per layer, got {type(item).__name__}"
    else:
        return None, f"shape: expected the gradients of {L} layers, got {type(got).__name__}"
    for l, (pair, (W, b)) in enumerate(zip(pairs, params), start=1):
        for name, g, p in (("dW", pair[0], W), ("db", pair[1], b)):
            if not isinstance(g, np.ndarray) or g.shape != p.shape:
                return None, f"shape: layer {l}: {name} is {type(g).__name__} {np.shape(g)}, expected shape {p.shape}"
            if g.dtype != x.dtype:
                return None, f"dtype: layer {l}: {name} has dtype {g.dtype}, expected {x.dtype}"
    return [((gW.T if IN_OUT else gW), gb.reshape(-1)) for gW, gb in pairs], None


def _entry(name, i):
    """An entry of a contract gradient as the index into the candidate's own array."""
    if name == "dW" and IN_OUT:
        return list(i[::-1])
    if name == "db" and COLUMNS:
        return [*i, 0]
    return list(i)


def _first_fault():
    """The candidate's first fault on the case, in check's order, or None."""
    args = _fresh()
    try:
        got = gradients(*args)
    except BaseException as exc:
        return f"exception: {type(exc).__name__}: {exc}"
    got, why = _canonical(got)
    if why:
        return why
    for (W, b), (W0, b0) in zip(args[0], params):
        if not (np.array_equal(W, W0) and np.array_equal(b, b0)):
            return "mutated_input: params were modified in place"
    if not (np.array_equal(args[1], x) and np.array_equal(args[2], y)):
        return "mutated_input: x or y was modified in place"
    try:
        again, why = _canonical(gradients(*_fresh()))
    except BaseException as exc:
        return f"inconsistent: the same call raised the second time: {type(exc).__name__}: {exc}"
    if why:
        return "inconsistent: a second identical call returned a different structure"
    for l, (pair, twin, bpair) in enumerate(zip(got, again, bounds), start=1):
        for name, g, h, e in zip(("dW", "db"), pair, twin, bpair):
            drift = np.abs(np.asarray(h, np.float64) - np.asarray(g, np.float64))
            if np.any(drift > SAFETY * e * 2):
                return f"inconsistent: a second identical call gave a different {name} of layer {l}"
    for l, (pair, want) in enumerate(zip(got, expected), start=1):
        for name, g, t in zip(("dW", "db"), pair, want):
            bad = ~np.isfinite(g) & np.isfinite(t)
            if bad.any():
                i = tuple(int(k) for k in np.argwhere(bad)[0])
                return f"non_finite: layer {l}: {name}{_entry(name, i)} is {g[i]} where the truth is {t[i]!r}"
    for l, (pair, want, bpair) in enumerate(zip(got, expected, bounds), start=1):
        for name, g, t, e in zip(("dW", "db"), pair, want, bpair):
            err = np.abs(np.asarray(g, np.float64) - t)
            tau = SAFETY * e * (1 + U_REF / U)
            if np.any(err > tau):
                i = tuple(int(k) for k in np.unravel_index(np.argmax(np.where(err > tau, err, -1)), err.shape))
                return (f"mismatch: layer {l}: {name}{_entry(name, i)} is {float(g[i])!r}, "
                        f"the truth is {float(t[i])!r} (|error| {float(err[i]):.3g} > tolerance {float(tau[i]):.3g})")
    return None


if __name__ == "__main__":
    import subprocess
    import sys

    if sys.argv[1:] == ["--call"]:  # the child: judge, then the verdict as the last line of its output
        fault = _first_fault()
        print("\\n" + (f"FAILS ({fault})" if fault else "PASSES: the candidate agrees with the truth on this case"))
        sys.exit(0)
    try:  # the parent: a child that crashes, exits early or hangs gives no verdict line, and fails
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


def repro_script(case: Case, fault: Fault, target: Target, reference: tuple[str, list],
                 analysis: tol.Analysis, *, timeout: float, u_ref: float, layout: Layout = CONTRACT) -> str:
    """The script's text: the case in the candidate's layout, ``reference``'s gradients (contract
    layout, rounded to float64) and the bounds of ``analysis`` for a candidate in the case's dtype,
    judged against ``u_ref`` (the judge's)."""
    name, R = reference
    params, x, y, activations, loss = layout.args(case)
    message = fault.message.replace('"""', "'''")
    lines = [
        "#!/usr/bin/env python3",
        "# Run it from any directory: python3 path/to/this_script.py -- exits 1 while the candidate fails",
        "# on this case (with the fault below or another), 0 once it passes: a regression test.",
        f'"""Minimal counterexample found by `manual-bp check {target.spec}`; needs NumPy and the candidate.',
        "",
        f"kind: {fault.kind}",
        message,
        '"""',
        "import numpy as np",
        "",
        *target.import_lines("gradients"),
        "",
        *([f"# the candidate's layout: {', '.join(f'{k}={v!r}' for k, v in layout.options().items())}"]
          if layout.options() else []),
        *_pairs("params", params),
        f"x = {_literal(x)}",
        f"y = {_literal(y)}",
        f"activations = {activations!r}",
        f"loss = {loss!r}",
        f"IN_OUT, COLUMNS = {layout.weights == 'in_out'!r}, {layout.samples == 'columns'!r}",
        "",
        f"# the reference gradients ({name}), rounded to float64, and the error bound of each entry for",
        f"# a correct result in {case.dtype}: the tolerance is SAFETY · bound · (1 + U_REF/U)",
        *_pairs("expected", [(np.asarray(dW, np.float64), np.asarray(db, np.float64)) for dW, db in R]),
        *_pairs("bounds", [(eW, eb) for eW, eb in analysis.grad_bounds]),
        f"SAFETY, U, U_REF = {tol.SAFETY!r}, {analysis.u!r}, {u_ref!r}",
        f"TIMEOUT_S = {timeout!r}",
    ]
    return "\n".join(lines) + _JUDGE
