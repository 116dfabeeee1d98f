"""Test cases: a network, a batch and targets valid for the loss, in one dtype.

``make_case`` draws a case from a NumPy ``Generator`` for given shapes, names and a *regime*:

| regime | what it stresses |
|---|---|
| ``simple`` | small dyadic values (0, ±½, ±1, ±2): exact arithmetic, readable counterexamples |
| ``default`` | well-conditioned: W ~ N(0, 1/n_in), b ~ N(0, 0.1²), x ~ N(0, 1) |
| ``extreme`` | saturated sigmoid/tanh/softplus, large logits, wide dynamic range |
| ``kinks`` | exact zeros at kinks: zero weight rows with zero bias give z = 0 exactly in every precision |

In the simple and kinks regimes, l1 and huber cases also get outputs equal to their targets exactly
(a zero row of W⁽ᴸ⁾ makes a⁽ᴸ⁾_j = σ(b_j) whatever the input), and huber an |a − y| = 1 exactly.

Targets always lie in the loss's domain: probability rows for cross_entropy, y ∈ [0, 1] for
binary_cross_entropy (one-hot rows and {0, 1} only, with ``targets=``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from references import ACTIVATIONS, LOSSES  # the contract's names, as the oracles spell them

Array = np.ndarray
__all__ = ["ACTIVATIONS", "DTYPES", "LOSSES", "REGIMES", "TARGETS", "Case", "make_case"]
REGIMES = ("simple", "default", "extreme", "kinks")
TARGETS = ("probabilities", "one-hot", "binary")
DTYPES = ("float32", "float64")
# activations whose value at z = b is exactly b for b > 0 (so a⁽ᴸ⁾ = y can be made exact)
_EXACT_AT_POSITIVE = ("identity", "relu", "leaky_relu", "elu")


class Case(NamedTuple):
    """One call of the contract's ``gradients(params, x, y, activations, loss)``."""

    params: list[tuple[Array, Array]]
    x: Array
    y: Array
    activations: tuple[str, ...]
    loss: str

    @property
    def widths(self) -> list[int]:
        return [int(self.x.shape[1])] + [int(W.shape[0]) for W, _ in self.params]

    @property
    def depth(self) -> int:
        return len(self.params)

    @property
    def batch(self) -> int:
        return int(self.x.shape[0])

    @property
    def dtype(self) -> np.dtype:
        return self.x.dtype

    def astype(self, dtype: np.dtype | str) -> Case:
        return Case([(W.astype(dtype), b.astype(dtype)) for W, b in self.params], self.x.astype(dtype),
                    self.y.astype(dtype), self.activations, self.loss)

    def copy(self) -> Case:
        return Case([(W.copy(), b.copy()) for W, b in self.params], self.x.copy(), self.y.copy(),
                    self.activations, self.loss)

    def digest(self) -> str:
        """A fingerprint of the case's inputs (names, dtype, shapes and every value, bit for bit): two
        cases with the same digest are the same network on the same data."""
        h = hashlib.sha256(repr((self.activations, self.loss, str(self.dtype))).encode())
        for a in (*(p for pair in self.params for p in pair), self.x, self.y):
            h.update(repr(a.shape).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()[:16]

    def describe(self) -> str:
        return (f"widths={self.widths} activations={list(self.activations)} loss={self.loss} "
                f"batch={self.batch} dtype={self.dtype}")


def _dyadic(rng: np.random.Generator, shape: tuple[int, ...]) -> Array:
    return rng.choice(np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0]), size=shape)


def _targets(rng: np.random.Generator, loss: str, B: int, n: int, regime: str, targets: str) -> Array:
    if loss == "cross_entropy" and targets == "one-hot":
        y = np.zeros((B, n))
        y[np.arange(B), rng.integers(0, n, size=B)] = 1.0
        return y
    if loss == "binary_cross_entropy" and targets == "binary":
        return rng.integers(0, 2, size=(B, n)).astype(np.float64)
    if loss == "cross_entropy":
        if regime == "simple" or rng.random() < 0.3:  # one-hot rows
            y = np.zeros((B, n))
            y[np.arange(B), rng.integers(0, n, size=B)] = 1.0
            return y
        logits = rng.normal(size=(B, n)) * (4.0 if regime == "extreme" else 1.0)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if loss == "binary_cross_entropy":
        if regime == "simple":
            return rng.choice(np.array([0.0, 0.5, 1.0]), size=(B, n))
        return rng.uniform(0.0, 1.0, size=(B, n)) if rng.random() < 0.6 else \
            rng.integers(0, 2, size=(B, n)).astype(np.float64)
    if regime == "simple":
        return _dyadic(rng, (B, n))
    return rng.normal(size=(B, n)) * (10.0 if regime == "extreme" else 1.0)


def make_case(rng: np.random.Generator, widths: Sequence[int], activations: Sequence[str], loss: str, *,
              batch: int, dtype: str | np.dtype = "float64", regime: str = "default",
              targets: str = "probabilities") -> Case:
    """A case with layer widths ``widths`` = [n₀, …, n_L], drawn from ``rng`` in ``regime``.

    ``targets``: "probabilities" (the default: probability rows, sometimes one-hot, for cross_entropy;
    values in [0, 1] for binary_cross_entropy); "one-hot" (cross_entropy: every row one-hot, as class
    labels give); "binary" (binary_cross_entropy: y ∈ {0, 1}). Other losses ignore it.
    """
    if targets not in TARGETS:
        raise ValueError(f"targets must be one of {TARGETS}, got {targets!r}")
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"widths must be [n0, ..., nL] with L ≥ 1 and every n ≥ 1, got {list(widths)}")
    if len(activations) != len(widths) - 1:
        raise ValueError(f"activations must have {len(widths) - 1} names, got {len(activations)}")
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {REGIMES}, got {regime!r}")
    if batch < 1:
        raise ValueError(f"batch must be ≥ 1, got {batch}")
    B = batch
    params = []
    for n_in, n_out in zip(widths[:-1], widths[1:], strict=True):
        if regime == "simple":
            W, b = _dyadic(rng, (n_out, n_in)), _dyadic(rng, (n_out,))
        elif regime == "extreme":  # saturating: |z| from ~5 up to a few hundred
            gain = rng.choice([4.0, 16.0, 64.0, 256.0])
            W = rng.normal(size=(n_out, n_in)) * gain / np.sqrt(n_in)
            b = rng.normal(size=n_out) * gain
        else:
            W = rng.normal(size=(n_out, n_in)) / np.sqrt(n_in) * (1.5 if regime == "kinks" else 1.0)
            b = rng.normal(size=n_out) * 0.1
        if regime == "kinks":  # exact zeros: a zero row with a zero bias gives z = 0 exactly
            dead = rng.random(n_out) < 0.4
            W[dead] = 0.0
            b[dead] = 0.0
        params.append((W, b))
    x = _dyadic(rng, (B, widths[0])) if regime == "simple" else \
        rng.normal(size=(B, widths[0])) * (5.0 if regime == "extreme" else 1.0)
    if regime == "kinks":
        x[rng.random(x.shape) < 0.2] = 0.0
    y = _targets(rng, loss, B, widths[-1], regime, targets)
    if regime in ("kinks", "simple") and loss in ("l1", "huber") and activations[-1] not in ("softmax", "softplus"):
        # outputs equal to their targets exactly: a zero row gives a⁽ᴸ⁾_j = σ(b_j) whatever the input;
        # b_j = 0 gives σ(0) ∈ {0, ½} exactly for every activation but softplus, and b_j > 0 gives
        # σ(b_j) = b_j exactly for the activations that are the identity there
        W, b = params[-1]
        rows = rng.random(widths[-1]) < 0.5
        rows[rng.integers(widths[-1])] = True
        W[rows] = 0.0
        exact_positive = activations[-1] in _EXACT_AT_POSITIVE
        b[rows] = rng.choice(np.array([0.5, 1.0, 2.0]), size=int(rows.sum())) if exact_positive else 0.0
        y[:, rows] = b[rows] if exact_positive else (0.5 if activations[-1] == "sigmoid" else 0.0)
        if loss == "huber" and rows.any():  # and |r| = 1 exactly on one sample
            y[0, rows] = y[0, rows] - 1.0
    dt = np.dtype(dtype)
    return Case([(W.astype(dt), b.astype(dt)) for W, b in params], x.astype(dt), y.astype(dt),
                tuple(activations), loss)
