"""Judging one layer case of a candidate written in the CS231n API: a verdict, never a crash.

The candidate's forward (and backward) run in its worker process (``bpcheck.isolation``, the plan
``layer_twice``: forward, then backward on the forward's cache, which never leaves the worker; twice,
for consistency). The faults, in the order they are looked for, are ``check``'s:

| kind | the candidate … |
|---|---|
| ``exception`` | forward or backward raised (traceback summarised); or its process crashed, hung, ran out of memory |
| ``shape`` | returned something else than (out, cache) / (loss, dx) / the kind's gradients, or arrays of other shapes |
| ``dtype`` | returned an output of another dtype than the case's |
| ``mutated_input`` | modified an input of forward, or dout, in place |
| ``inconsistent`` | answered the same call differently the second time |
| ``non_finite`` | returned NaN or inf where the truth is finite |
| ``mismatch`` | returned an output farther from the truth than the layer tolerance model allows |

Each fault names the outputs it concerns ("out", "dx", "dw", "db", "dgamma", "dbeta"). ``weights``
is affine's layout: "in_out" (the CS231n API's w of shape (D, M), the default) or "out_in" (w (M, D)).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bpcheck.isolation.supervisor import Candidate, Crash
from bpcheck.isolation.worker import Opaque, Same
from bpcheck.layers.api import arguments
from bpcheck.layers.cases import LayerCase
from bpcheck.layers.judge import judge_outputs
from bpcheck.layers.tolerance import LayerAnalysis, LayerMismatch, analyse, compare
from bpcheck.tolerance import unit_roundoff

FUNCTIONS = ("forward", "backward")  # the names the candidate's functions go by in its worker
U64 = unit_roundoff(np.float64)


class LayerFault(NamedTuple):
    """What the judge found, with its evidence: the candidate's outputs by name (contract layout) when
    it gave them, the analysis of the case it answered (a dropout case carries the candidate's mask)."""

    kind: str
    message: str
    mismatches: list[LayerMismatch]
    outputs: dict[str, Any] | None
    analysis: LayerAnalysis | None
    case: LayerCase
    names: tuple[str, ...] = ()      # the outputs at fault ("dx", "dw", …), where the fault names them


def _type(value: Any) -> str:
    return value.type_name if isinstance(value, Opaque) else type(value).__name__


def call_args(case: LayerCase, weights: str = "in_out", masked: bool = False) -> tuple[Any, ...]:
    """(forward's arguments, dout, scalar) as the worker's ``layer_twice`` plan takes them. ``masked``:
    a dropout forward that takes its mask, forward(x, mask, p) (manual_bp's own), not the CS231n API's."""
    args = arguments(case, masked)
    if case.spec.family == "affine" and weights == "out_in":
        args = (args[0], args[1].T.copy(), *args[2:])
    return args, (None if case.dout is None else case.dout.copy()), case.spec.scalar


def submit(candidate: Candidate, case: LayerCase, weights: str = "in_out", masked: bool = False) -> Any:
    """Send the case to the candidate now; the answers come from the returned iterator."""
    names = FUNCTIONS[:1] if case.spec.scalar else FUNCTIONS
    return candidate.submit("layer_twice", names, call_args(case, weights, masked))


def outputs_of(value: dict[str, Any], case: LayerCase, weights: str = "in_out") -> tuple[dict[str, Any] | None, str]:
    """The answer's outputs by name, in the contract's layout, or (None, why the answer has no such shape)."""
    spec = case.spec
    if value.get("problem"):
        return None, value["problem"]
    if spec.scalar:
        result = value["forward"]
        if type(result) not in (tuple, list) or len(result) != 2:
            return None, f"forward returned a {_type(result)}, expected (loss, dx)"
        return {"out": result[0], "dx": result[1]}, ""
    grads = value["backward"]
    grads = tuple(grads) if type(grads) in (tuple, list) else (grads,)
    if len(grads) != len(spec.grads):
        return None, (f"backward returned {len(grads)} value(s), expected {len(spec.grads)}: "
                      f"{', '.join(spec.grads)}")
    named = {"out": value["forward"], **dict(zip(spec.grads, grads, strict=True))}
    if spec.family == "affine" and weights == "out_in" and isinstance(named["dw"], np.ndarray) \
            and named["dw"].ndim == 2:
        named["dw"] = named["dw"].T
    return named, ""


def _with_mask(case: LayerCase, out: Any) -> LayerCase:
    """A dropout case answers for the candidate's own mask: the nonzero entries of its output (the
    case's x has no zero, so out = x·m/p is zero exactly where m is)."""
    if case.spec.family != "dropout" or not isinstance(out, np.ndarray) or out.shape != case.inputs["x"].shape:
        return case
    return case._replace(inputs={**case.inputs, "mask": out != 0})


def _mutated_message(path: tuple[Any, ...], case: LayerCase) -> str:
    """args = (forward's arguments, dout): where the first modified array sits, in words."""
    if path and path[0] == 1:
        return "dout was modified in place (by backward)"
    names = [n for n in case.spec.inputs if n != "mask"] if case.spec.family != "dropout" else ["x"]
    if len(path) > 1 and isinstance(path[1], int) and path[1] < len(names):
        return f"{names[path[1]]} was modified in place (by forward or backward)"
    return "an input was modified in place"


def assess(candidate: Candidate, case: LayerCase, weights: str = "in_out",
           masked: bool = False) -> tuple[LayerFault | None, LayerAnalysis]:
    """The first fault of the candidate on ``case`` (see the table above), or None; and the analysis of
    the case it answered. The analysis is computed while the worker computes (not for dropout, whose
    truth depends on the mask the candidate drew)."""
    replies = submit(candidate, case, weights, masked)
    analysis = None if case.spec.family == "dropout" and not masked else analyse(case)
    first = next(replies)

    def fault(kind: str, message: str, mismatches: list[LayerMismatch] | None = None,
              outputs: dict[str, Any] | None = None, answered: LayerCase = case) -> LayerFault:
        return LayerFault(kind, message, mismatches or [], outputs, analysis, answered)

    if isinstance(first, Crash):
        return fault("exception", first.message), analysis or analyse(case)
    if first.kind == "raised":
        return fault("exception", first.value), analysis or analyse(case)
    outputs, why = outputs_of(first.value, case, weights)
    if outputs is None:
        return fault("shape", why), analysis or analyse(case)
    answered = case if masked else _with_mask(case, outputs["out"])
    if analysis is None:
        analysis = analyse(answered)
    if first.mutated is not None:
        return fault("mutated_input", _mutated_message(first.mutated, case), outputs=outputs,
                     answered=answered), analysis
    second = next(replies)
    if isinstance(second, Crash):
        return fault("inconsistent", f"the same call, made a second time: {second.message}", outputs=outputs,
                     answered=answered), analysis
    if second.kind == "raised":
        return fault("inconsistent", f"the same call raised the second time: {second.value}", outputs=outputs,
                     answered=answered), analysis
    found = judge_outputs(outputs, analysis)
    if found is None and not isinstance(second.value, Same):
        again, _ = outputs_of(second.value, case, weights)
        if again is None or judge_outputs(again, analysis) is not None:
            return fault("inconsistent", "a second identical call gave another answer", outputs=outputs,
                         answered=answered), analysis
        drift, _ = compare({k: np.asarray(v) for k, v in again.items()}, analysis, u_ref=analysis.u,
                           reference={k: np.asarray(v, np.float64) for k, v in outputs.items()})
        if drift:
            return fault("inconsistent", f"a second identical call gave a different {drift[0].output}",
                         outputs=outputs, answered=answered), analysis
    if found is None:
        return None, analysis
    return fault(found.kind, found.message, found.mismatches, outputs, answered)._replace(names=found.outputs), analysis
