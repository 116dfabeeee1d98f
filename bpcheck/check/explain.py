"""Explaining a counterexample: the candidate's answer against every reference, layer by layer.

The judge's ``Fault`` carries the candidate's answer and the case's analysis, so nothing here calls
the candidate or analyses the case again: the references are computed on the minimal case (widened
to float64, where their values are exact) and compared with the answer under the tolerance model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bpcheck import tolerance as tol
from bpcheck.cases import Case
from bpcheck.check.judge import Fault
from bpcheck.check.layout import CONTRACT, Layout
from bpcheck.check.repro import repro_script
from bpcheck.check.target import Target
from bpcheck.check.verdict import Counterexample
from bpcheck.isolation.supervisor import DEFAULT_TIMEOUT_S

PRIMARY_ORDER = ("ground_truth", "torch", "jax")
_U_REF = {"ground_truth": 0.0, "torch": tol.unit_roundoff(np.float64), "jax": tol.unit_roundoff(np.float64),
          "bpcheck_float64": tol.unit_roundoff(np.float64)}


def _reference_grads(case: Case, analysis: tol.Analysis, names: Sequence[str] | None,
                     device: str = "cpu", layout: Layout = CONTRACT) -> list[tuple[str, list]]:
    """Each available reference's gradients on the case widened to float64 (the values are exact),
    made what the layout's candidate returns, then the search's own float64 truth from ``analysis``
    (already made so)."""
    import references

    wide = case.astype(np.float64)
    out: list[tuple[str, list]] = []
    for name in names if names is not None else PRIMARY_ORDER:
        where = device if name in ("torch", "jax") else "cpu"
        if not references.available(name, where):
            continue
        try:
            grads = references.gradients(wide.params, wide.x, wide.y, list(wide.activations), wide.loss,
                                         backend=name, **({"device": where} if where != "cpu" else {}))
        except Exception:  # noqa: BLE001 - an oracle that fails is left out of the explanation
            continue
        out.append((name, layout.adjust(grads, case)))
    out.append(("bpcheck_float64", analysis.grads))  # the search's own truth, always there
    return out


def _table(got: Any, refs: list[tuple[str, list]], analysis: tol.Analysis,
           layout: Layout = CONTRACT) -> list[dict[str, Any]]:
    """Every reference × layer × param; ``index``: the worst entry, in the candidate's own array."""
    table: list[dict[str, Any]] = []
    for name, R in refs:
        for l, (pair, rpair, bpair) in enumerate(zip(got, R, analysis.grad_bounds, strict=True), start=1):
            for param, G, Rv, e in zip(("W", "b"), pair, rpair, bpair, strict=True):
                tau = tol.tolerance(e, analysis.u, _U_REF[name])
                ok, err, t, margin, idx = tol.compare_arrays(G, Rv, tau)
                table.append({"layer": l, "param": param, "reference": name, "max_abs_err": err,
                              "tolerance": t, "margin": margin, "agree": ok,
                              "index": list(layout.entry(param, idx))})
    return table


def explain(case: Case, fault: Fault, *, target: Target, references: Sequence[str] | None = None,
            device: str = "cpu", timeout: float = DEFAULT_TIMEOUT_S, layout: Layout = CONTRACT) -> Counterexample:
    """The minimal case against every reference: the contract's mismatches, a full table, a repro script.

    ``fault.analysis`` is the truth as the candidate's layout returns it (``Layout.truth``); the
    references' contract gradients are adjusted the same way (``Layout.adjust``).
    """
    analysis = fault.analysis if fault.analysis is not None else layout.truth(tol.analyse(case), case)
    refs = _reference_grads(case, analysis, references, device, layout)
    structured = fault.kind not in ("exception", "shape") and fault.output is not None
    table = _table(fault.output, refs, analysis, layout) if structured else []
    primary = refs[0][0] if table else None
    mismatches = [
        {k: row[k] for k in ("layer", "param", "reference", "max_abs_err", "tolerance")}
        for row in table if row["reference"] == primary and not row["agree"]
    ]
    if fault.kind == "mismatch" and not mismatches and table:
        # borderline against the primary reference: fall back to the search's own verdict
        mismatches = [{"layer": m.layer, "param": m.param, "reference": "bpcheck_float64",
                       "max_abs_err": m.max_abs_err, "tolerance": m.tolerance} for m in fault.mismatches]
    message = fault.message + (convention_note(case, fault, layout) if fault.kind == "mismatch" else "")
    repro = repro_script(case, fault._replace(message=message), target, refs[0], analysis, timeout=timeout,
                         u_ref=_U_REF["torch"], layout=layout)
    return Counterexample(case, fault.kind, message, mismatches, table, repro, layout.activations(case))


# what candidates commonly do at a kink instead of the contract's (PyTorch's) convention
_OTHER_KINKS = {"relu": (1.0, 0.5), "leaky_relu": (1.0, 0.505), "elu": (0.0, 0.5), "l1": (1.0, -1.0)}
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _exact_kink(case: Case, analysis: tol.Analysis, name: str, layout: Layout = CONTRACT) -> str | None:
    """Where the case sits exactly on ``name``'s kink (in every precision), in the seed's notation,
    indexed as the candidate's own arrays are ([sample, unit], or [unit, sample] in columns)."""
    def at(sample: int, unit: int) -> str:
        return f"[{unit}, {sample}]" if layout.samples == "columns" else f"[{sample}, {unit}]"

    if name == "l1":
        if case.loss == "l1" and analysis.residual is not None and analysis.residual_bound is not None:
            hits = np.argwhere((analysis.residual == 0) & (analysis.residual_bound == 0))
            if len(hits):
                b, j = (int(i) for i in hits[0])
                L = str(case.depth).translate(_SUPERSCRIPT)
                return f"a⁽{L}⁾{at(b, j)} = y{at(b, j)}"
        return None
    for l, (act, z, ez) in enumerate(zip(case.activations, analysis.zs, analysis.z_bounds, strict=True), start=1):
        if act == name:
            hits = np.argwhere((z == 0) & (ez == 0))
            if len(hits):
                b, i = (int(k) for k in hits[0])
                return f"z⁽{str(l).translate(_SUPERSCRIPT)}⁾{at(b, i)} = 0"
    return None


def convention_note(case: Case, fault: Fault, layout: Layout = CONTRACT) -> str:
    """For a mismatch on a case with an exact kink: if the candidate's answer is right under another
    common convention there, "; z⁽2⁾[0, 1] = 0 exactly: your leaky_relu′(0) is 1, the contract's is 0.01
    (torch's)", so a convention difference reads as one, not as a wrong formula. Else ""."""
    if fault.output is None:
        return ""
    contract = tol.analyse(case)
    for name, values in _OTHER_KINKS.items():
        where = _exact_kink(case, contract, name, layout)
        if where is None:
            continue
        for value in values:
            other = layout.truth(tol.analyse(case, kinks={name: value}), case)
            wrong, _ = tol.compare(fault.output, other.grads, other, u_ref=tol.unit_roundoff(np.float64))
            if not wrong:
                what = "l1 sign(0)" if name == "l1" else f"{name}′(0)"
                return (f"; {where} exactly: your {what} is {value:g}, the contract's is {tol.KINKS[name]:g} "
                        "(torch's)")
    return ""
