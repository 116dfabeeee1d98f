"""The repro script of a counterexample: the minimal case as literals, the candidate's import, and
the reference gradients, in a file that needs only NumPy and the candidate."""

from __future__ import annotations

import numpy as np

from bpcheck.cases import Case
from bpcheck.check.judge import Fault
from bpcheck.check.target import Target


def _literal(a: np.ndarray) -> str:
    return f"np.array({a.tolist()!r}, dtype=np.{a.dtype})"


def repro_script(case: Case, fault: Fault, target: Target, reference: tuple[str, list] | None) -> str:
    """A script needing only NumPy and the candidate that replays the minimal case."""
    lines = [
        '"""Minimal counterexample found by `manual-bp check`.',
        "",
        f"kind: {fault.kind}",
        f"{fault.message}",
        '"""',
        "import numpy as np",
        "",
        *target.import_lines("gradients"),
        "",
        "params = [",
        *[f"    ({_literal(W)},\n     {_literal(b)})," for W, b in case.params],
        "]",
        f"x = {_literal(case.x)}",
        f"y = {_literal(case.y)}",
        f"activations = {list(case.activations)!r}",
        f"loss = {case.loss!r}",
        "",
        "got = gradients(params, x, y, activations, loss)",
    ]
    if reference is not None:
        name, R = reference
        lines += [
            f"# the reference gradients ({name}), rounded to float64",
            "expected = [",
            *[f"    ({_literal(np.asarray(dW, np.float64))},\n     {_literal(np.asarray(db, np.float64))}),"
              for dW, db in R],
            "]",
            "for l, ((gW, gb), (eW, eb)) in enumerate(zip(got, expected), start=1):",
            "    for name, g, e in (('dW', gW, eW), ('db', gb, eb)):",
            "        err = np.max(np.abs(np.asarray(g, np.float64) - e))",
            "        print(f'layer {l} {name}: max |got - expected| = {err:.3g}')",
        ]
    return "\n".join(lines) + "\n"
