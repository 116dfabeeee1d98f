"""Explaining a counterexample: every reference, layer by layer, and a standalone repro script."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bpcheck import judge as _judge
from bpcheck import tolerance as tol
from bpcheck.cases import Case

PRIMARY_ORDER = ("ground_truth", "torch", "jax")
_U_REF = {"ground_truth": 0.0, "torch": tol.unit_roundoff(np.float64), "jax": tol.unit_roundoff(np.float64),
          "bpcheck_float64": tol.unit_roundoff(np.float64)}


def _reference_grads(case: Case, analysis: tol.Analysis, names: Sequence[str] | None,
                     device: str = "cpu") -> list[tuple[str, list]]:
    """Each available reference's gradients on the case widened to float64 (the values are exact),
    then the search's own float64 truth from ``analysis``."""
    wide = case.astype(np.float64)
    out: list[tuple[str, list]] = []
    try:
        import references
    except ImportError:
        references = None  # type: ignore[assignment]
    for name in names if names is not None else PRIMARY_ORDER:
        where = device if name in ("torch", "jax") else "cpu"
        if references is None or not references.available(name, where):
            continue
        try:
            grads = references.gradients(wide.params, wide.x, wide.y, list(wide.activations), wide.loss,
                                         backend=name, **({"device": where} if where != "cpu" else {}))
        except Exception:  # noqa: BLE001 - an oracle that fails is left out of the explanation
            continue
        out.append((name, grads))
    out.append(("bpcheck_float64", analysis.grads))  # the search's own truth, always there
    return out


def explain(fn: Callable[..., Any], case: Case, fault: _judge.Fault, *,
            references: Sequence[str] | None = None, target: str = "candidate", device: str = "cpu") -> Any:
    from bpcheck.check import Counterexample

    analysis = tol.analyse(case)
    got, exc, _ = _judge.call_candidate(fn, case)
    table: list[dict[str, Any]] = []
    primary: str | None = None
    structured = exc is None and _judge._structure(got, case) is None
    refs = _reference_grads(case, analysis, references, device)
    if structured:
        for name, R in refs:
            for l, (pair, rpair, bpair) in enumerate(zip(got, R, analysis.grad_bounds, strict=True), start=1):
                for param, G, Rv, e in zip(("W", "b"), pair, rpair, bpair, strict=True):
                    tau = tol.tolerance(e, analysis.u, _U_REF[name])
                    ok, err, t, margin, idx = tol.compare_arrays(G, Rv, tau)
                    table.append({"layer": l, "param": param, "reference": name, "max_abs_err": err,
                                  "tolerance": t, "margin": margin, "agree": ok, "index": list(idx)})
        primary = refs[0][0]
    mismatches = [
        {k: row[k] for k in ("layer", "param", "reference", "max_abs_err", "tolerance")}
        for row in table if row["reference"] == primary and not row["agree"]
    ]
    if fault.kind == "mismatch" and not mismatches and table:
        # borderline against the primary reference: fall back to the search's own verdict
        mismatches = [{"layer": m.layer, "param": m.param, "reference": "bpcheck_float64",
                       "max_abs_err": m.max_abs_err, "tolerance": m.tolerance} for m in fault.mismatches]
    repro = repro_script(case, fault, target, fn, refs[0] if refs else None)
    return Counterexample(case, fault.kind, fault.message, mismatches, table, repro)


def _literal(a: np.ndarray) -> str:
    return f"np.array({a.tolist()!r}, dtype=np.{a.dtype})"


def _import_lines(target: str, fn: Callable[..., Any]) -> list[str]:
    spec = target
    if target == "candidate" or ":" not in target:
        module = getattr(fn, "__module__", None)
        name = getattr(fn, "__qualname__", getattr(fn, "__name__", "gradients"))
        if module and module != "__main__" and "." not in name and not module.startswith("_manual_bp_target"):
            spec = f"{module}:{name}"
        else:
            try:
                spec = f"{inspect.getsourcefile(fn)}:{name}"
            except TypeError:
                spec = f"<unknown>:{name}"
    path, _, name = spec.rpartition(":")
    if path.endswith(".py"):
        return ["import importlib.util",
                f"_spec = importlib.util.spec_from_file_location('candidate', {path!r})",
                "_mod = importlib.util.module_from_spec(_spec)",
                "_spec.loader.exec_module(_mod)",
                f"gradients = _mod.{name}"]
    return [f"from {path} import {name} as gradients"]


def repro_script(case: Case, fault: _judge.Fault, target: str, fn: Callable[..., Any],
                 reference: tuple[str, list] | None) -> str:
    """A script needing only NumPy and the candidate that replays the minimal case."""
    lines = [
        '"""Minimal counterexample found by `manual-bp check`.',
        "",
        f"kind: {fault.kind}",
        f"{fault.message}",
        '"""',
        "import numpy as np",
        "",
        *_import_lines(target, fn),
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
