"""How a candidate's code meets the contract: its layout, its targets, its loss, its answer's form.

The checker works on contract cases (``bpcheck.cases.Case``: samples in rows, W⁽ˡ⁾ of shape
(n_l, n_{l−1}), probability targets, the batch-mean loss on logits). A ``Layout`` says how the
candidate's own code differs, and translates in both directions:

- ``samples``: ``rows`` (the contract's) or ``columns``: x (n₀, B), y (n_L, B), b⁽ˡ⁾ and db⁽ˡ⁾ (n_l, 1),
  as in the seed and most courses.
- ``weights``: ``out_in`` (the contract's) or ``in_out``: W⁽ˡ⁾ of shape (n_{l−1}, n_l), the forward pass
  x @ W + b.
- ``targets``: ``probabilities`` (the contract's), ``one-hot`` rows or ``labels`` (y an int array (B,) of
  class indices) for cross_entropy, ``binary`` (y ∈ {0, 1}) for binary_cross_entropy.
- ``reduction``: ``mean`` (the contract's) or ``sum``: the loss summed over the batch, so every gradient
  is B times the contract's.
- ``l2``: λ ≥ 0 (0, the contract's): the gradient of J + (λ/2) Σ_l ‖W⁽ˡ⁾‖², so ∂/∂W⁽ˡ⁾ gains λ W⁽ˡ⁾
  (biases are not regularised).
- ``loss_input``: ``logits`` (the contract's) or ``probabilities``: the output layer applies softmax
  (cross_entropy) or sigmoid (binary_cross_entropy) itself, and the loss is −Σ y log a (and its binary
  twin).

``loss_input="probabilities"`` is the same mathematics as the contract's logits form: a contract case
with an identity output layer and the logits-form loss is shown to the candidate with softmax/sigmoid
as its output activation. Its gradients must equal the contract's (a − y, up to the reduction).

The gradients may come back in any of these forms, recognised automatically: a list of (dW, db)
pairs; a list of dicts with keys ``W``/``b`` or ``dW``/``db``; a dict with keys ``dW1, db1, …, dWL,
dbL`` or ``W1, b1, …`` (the CS231n form). Shapes and dtypes are checked in the candidate's layout.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from bpcheck import tolerance as tol
from bpcheck.cases import Case
from bpcheck.isolation.worker import Opaque

Array = np.ndarray
SAMPLES = ("rows", "columns")
WEIGHTS = ("out_in", "in_out")
TARGETS = ("probabilities", "one-hot", "labels", "binary")
REDUCTIONS = ("mean", "sum")
LOSS_INPUTS = ("logits", "probabilities")
# with loss_input="probabilities": the output activation the candidate's own network applies
PROBABILITY_OUTPUT = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}
FORMS = ("a list of L (dW, db) pairs", "a list of L dicts with keys dW, db (or W, b)",
         "a dict with keys dW1, db1, …, dWL, dbL (or W1, b1, …)")


@dataclass(frozen=True)
class Layout:
    samples: str = "rows"
    weights: str = "out_in"
    targets: str = "probabilities"
    reduction: str = "mean"
    l2: float = 0.0
    loss_input: str = "logits"

    def __post_init__(self) -> None:
        for name, valid in (("samples", SAMPLES), ("weights", WEIGHTS), ("targets", TARGETS),
                            ("reduction", REDUCTIONS), ("loss_input", LOSS_INPUTS)):
            if getattr(self, name) not in valid:
                raise ValueError(f"{name} must be one of {', '.join(valid)}, got {getattr(self, name)!r}")
        if isinstance(self.l2, bool) or not isinstance(self.l2, int | float) or not (math.isfinite(self.l2)
                                                                                   and self.l2 >= 0):
            raise ValueError(f"l2 must be a finite number ≥ 0, got {self.l2!r}")

    # -- what the options imply for the search ----------------------------------------------------------
    @property
    def is_contract(self) -> bool:
        return self == CONTRACT

    def options(self) -> dict[str, Any]:
        """The options that differ from the contract's (recorded in the verdict's coverage)."""
        return {k: v for k, v in asdict(self).items() if v != getattr(CONTRACT, k)}

    @property
    def case_targets(self) -> str:
        """The ``targets`` to draw contract cases with (labels are one-hot rows, shown as indices)."""
        return {"labels": "one-hot"}.get(self.targets, self.targets)

    def losses(self) -> tuple[str, ...] | None:
        """The losses this layout can express, or None for all of them: those both its targets and its
        loss input allow."""
        by_targets = {"one-hot": ("cross_entropy",), "labels": ("cross_entropy",),
                      "binary": ("binary_cross_entropy",)}.get(self.targets)
        if self.loss_input == "probabilities":
            return tuple(lo for lo in PROBABILITY_OUTPUT if by_targets is None or lo in by_targets)
        return by_targets

    def misfit(self, case: Case) -> str:
        """Why ``case`` cannot be shown to a candidate written this way, or "". ``check`` draws only cases
        that fit; a case drawn by hand for another layout would be judged against a truth the candidate
        was never asked for (soft targets shown as labels; a sigmoid output layer, then the candidate's
        own sigmoid on top of it)."""
        allowed = self.losses()
        if allowed is not None and case.loss not in allowed:
            return f"{self.options()} takes the loss {' or '.join(allowed)}, got {case.loss!r}"
        if self.loss_input == "probabilities" and case.activations[-1] != "identity":
            return (f"loss_input='probabilities' takes the contract's case, whose output layer is 'identity' "
                    f"(its loss takes logits; the candidate is shown {PROBABILITY_OUTPUT[case.loss]!r} as its own "
                    f"output activation), got {case.activations[-1]!r}: draw cases(output_activations=['identity'])")
        y = np.asarray(case.y)
        if self.targets in ("one-hot", "labels") and not (np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)):
            return f"targets={self.targets!r} needs one-hot rows of y: draw cases(targets='one-hot')"
        if self.targets == "binary" and not np.all((y == 0) | (y == 1)):
            return "targets='binary' needs y in {0, 1}: draw cases(targets='binary')"
        return ""

    # -- contract case → the candidate's arguments ----------------------------------------------------------
    def activations(self, case: Case) -> list[str]:
        names = list(case.activations)
        if self.loss_input == "probabilities":
            names[-1] = PROBABILITY_OUTPUT[case.loss]
        return names

    def param(self, W: Array, b: Array) -> tuple[Array, Array]:
        return (W.T if self.weights == "in_out" else W), (b[:, None] if self.samples == "columns" else b)

    def args(self, case: Case) -> tuple[Any, ...]:
        """(params, x, y, activations, loss) as the candidate takes them."""
        params = [self.param(W, b) for W, b in case.params]
        y = case.y
        if self.targets == "labels":
            y = np.argmax(case.y, axis=1).astype(np.int64)
        elif self.samples == "columns":
            y = y.T
        x = case.x.T if self.samples == "columns" else case.x
        return params, x, y, self.activations(case), case.loss

    def entry(self, param: str, index: tuple[int, ...] | list[int]) -> tuple[int, ...]:
        """An entry of a contract gradient (of W⁽ˡ⁾ (n_l, n_{l−1}) or b⁽ˡ⁾ (n_l,)) as the index into the
        candidate's own array, so that a message points at the entry the candidate computed."""
        at = tuple(int(i) for i in index)
        if param in ("W", "dW") and self.weights == "in_out":
            return at[::-1]
        if param in ("b", "db") and self.samples == "columns":
            return (*at, 0)
        return at

    # -- the candidate's answer → contract gradients -------------------------------------------------------
    def canonical(self, out: Any, case: Case) -> tuple[list[tuple[Array, Array]] | None, str, str]:
        """(the answer as contract (dW, db) pairs, fault kind or "", message or ""): a ``shape`` fault
        (no pairs) for an unrecognised form or a wrong shape; a ``dtype`` fault (with the pairs, so the
        values can still be judged) for another dtype; in the candidate's own terms (its layout's shapes)."""
        L = case.depth
        pairs, why = _recognise(out, L)
        if pairs is None:
            return None, "shape", why
        expected = [self.param(W, b) for W, b in case.params]
        for l, ((gW, gb), (W, b)) in enumerate(zip(pairs, expected, strict=True), start=1):
            for name, got, want in (("dW", gW, W), ("db", gb, b)):
                if not isinstance(got, np.ndarray):
                    return None, "shape", f"layer {l}: {name} is a {_type(got)}, expected a numpy array"
                if got.shape != want.shape:
                    return None, "shape", f"layer {l}: {name} has shape {got.shape}, expected {want.shape}"
        canonical = [((gW.T if self.weights == "in_out" else gW), gb.reshape(-1)) for gW, gb in pairs]
        for l, (gW, gb) in enumerate(pairs, start=1):
            for name, got in (("dW", gW), ("db", gb)):
                if got.dtype != case.dtype:
                    return canonical, "dtype", (f"layer {l}: {name} has dtype {got.dtype}, expected {case.dtype} "
                                                "(gradients come back in the inputs' dtype)")
        return canonical, "", ""

    # -- the truth the candidate's answer is held to -------------------------------------------------------------
    def adjust(self, grads: list[tuple[Array, Array]], case: Case) -> list[tuple[Array, Array]]:
        """Contract gradients (any reference's) made what this layout's candidate returns: times B for a
        summed batch, plus λ W⁽ˡ⁾ for an L2 term (in float64)."""
        if self.reduction == "mean" and self.l2 == 0:
            return grads
        scale = float(case.batch) if self.reduction == "sum" else 1.0
        return [(scale * np.asarray(dW, np.float64) + self.l2 * np.asarray(W, np.float64),
                 scale * np.asarray(db, np.float64)) for (dW, db), (W, _) in zip(grads, case.params, strict=True)]

    def truth(self, analysis: tol.Analysis, case: Case) -> tol.Analysis:
        """``analysis`` with its gradients and bounds made what this layout's candidate returns: times B
        for a summed batch; plus λ W⁽ˡ⁾ for an L2 term, whose bound adds the roundings of λ (in the
        dtype), of λ·W and of the sum."""
        if self.reduction == "mean" and self.l2 == 0:
            return analysis
        scale = float(case.batch) if self.reduction == "sum" else 1.0
        grads, bounds = [], []
        for (dW, db), (eW, eb), (W, _) in zip(analysis.grads, analysis.grad_bounds, case.params, strict=True):
            decay = self.l2 * np.asarray(W, np.float64)
            total = scale * dW + decay
            eW2 = scale * eW + analysis.u * (2 * np.abs(decay) + np.abs(total)) if self.l2 else scale * eW
            grads.append((total, scale * db))
            bounds.append((eW2, scale * eb))
        return analysis._replace(grads=grads, grad_bounds=bounds)


CONTRACT = Layout()


def _type(value: Any) -> str:
    return value.type_name if isinstance(value, Opaque) else type(value).__name__


def _recognise(out: Any, L: int) -> tuple[list[tuple[Any, Any]] | None, str]:
    """The answer's (dW, db) per layer, in any of the accepted forms, or (None, why not)."""
    expected = f"expected the gradients as {FORMS[0]}, {FORMS[1]}, or {FORMS[2]}; got"
    if isinstance(out, dict):
        for w, b in (("dW", "db"), ("W", "b")):
            keys = [(f"{w}{l}", f"{b}{l}") for l in range(1, L + 1)]
            if all(kw in out and kb in out for kw, kb in keys):
                return [(out[kw], out[kb]) for kw, kb in keys], ""
        return None, f"{expected} a dict with keys {sorted(map(str, out))[:8]}"
    if not isinstance(out, list | tuple):
        return None, f"{expected} {_type(out)}"
    if len(out) != L:
        return None, f"expected {L} layers of gradients (one per layer), got {len(out)}"
    pairs = []
    for l, item in enumerate(out, start=1):
        if isinstance(item, dict):
            keys = next((k for k in (("dW", "db"), ("W", "b")) if k[0] in item and k[1] in item), None)
            if keys is None:
                return None, f"layer {l}: a dict without dW and db (or W and b) keys: {sorted(map(str, item))[:8]}"
            pairs.append((item[keys[0]], item[keys[1]]))
        elif isinstance(item, list | tuple) and len(item) == 2:
            pairs.append((item[0], item[1]))
        else:
            return None, f"layer {l}: expected a (dW, db) pair or a dict, got {_type(item)}"
    return pairs, ""
