"""The mutation catalog: plausible hand-written-backprop bugs, each a small variant of one correct
implementation (``gradients`` below, with ``bug=None``). The suite must catch every one.

Each entry of ``CATALOG`` names the bug, says what it is and which corner it hides in, and gives the
``kind`` that ``manual-bp check`` must report for it. ``MUTANTS[name]`` is the buggy function itself,
with the contract's signature, so ``manual-bp check tests/mutants.py:<name>`` runs it.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from references import ACTIVATIONS, LOSSES

Array = np.ndarray


class Bug(NamedTuple):
    name: str
    what: str
    hides_at: str                  # where the bug hides, in words (docs/mutations.md)
    kind: str                      # the kind `manual-bp check` must report
    # the same claim, checkable: a restriction of ``bpcheck.strategies.cases`` on which the mutant's
    # gradients equal the correct ones within tolerance (tests/test_mutation.py checks it); None where
    # the hiding place is not a restriction of the strategy (a square W, the second call, …)
    hidden_by: dict[str, Any] | None = None


_erf = np.frompyfunc(math.erf, 1, 1)


def _sigmoid(z: Array) -> Array:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _erf_as(z: Array) -> Array:
    """Abramowitz & Stegun 7.1.26: |error| ≤ 1.5e-7 — a plausible but too-coarse erf."""
    t = 1 / (1 + 0.3275911 * np.abs(z))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(z) * (1 - poly * np.exp(-z * z))


def _act(name: str, z: Array, bug: str | None) -> tuple[Array, Array | None]:
    """a = σ(z) and σ′(z) (None for softmax)."""
    s = _sigmoid(z)
    if name == "identity":
        return z, np.ones_like(z)
    if name == "sigmoid":
        return s, s * (1 - s)
    if name == "tanh":
        t = np.tanh(z)
        return t, (1 - t if bug == "tanh_prime_unsquared" else 1 - t * t)
    if name == "relu":
        return np.maximum(z, 0), ((z >= 0) if bug == "relu_prime_at_zero_is_one" else (z > 0)).astype(z.dtype)
    if name == "leaky_relu":
        slope = 0.1 if bug == "leaky_slope_tenfold" else 0.01
        at0 = (z >= 0) if bug == "leaky_prime_at_zero_is_one" else (z > 0)
        return np.where(z > 0, z, 0.01 * z), np.where(at0, 1.0, slope).astype(z.dtype)
    if name == "elu":
        e = np.expm1(np.minimum(z, 0))
        a = np.where(z > 0, z, e)
        return a, np.where(z > 0, 1.0, e if bug == "elu_prime_is_value" else e + 1).astype(z.dtype)
    if name == "softplus":
        if bug == "softplus_overflows" or bug == "large_array_softplus_overflows" and z.size > 1024:
            with np.errstate(over="ignore"):
                return np.log(1 + np.exp(z)), s
        return np.logaddexp(z, 0), s
    if name == "gelu":
        erf = _erf_as(z / math.sqrt(2)) if bug == "gelu_coarse_erf" else \
            _erf(z / math.sqrt(2)).astype(z.dtype)
        Phi = 0.5 * (1 + erf)
        return z * Phi, Phi + z * np.exp(-0.5 * np.minimum(z * z, 1e4)) / math.sqrt(2 * math.pi)
    if name == "gelu_tanh":
        k, c = math.sqrt(2 / math.pi), 0.044715
        zc = np.clip(z, -50, 50)
        t = np.tanh(k * (zc + c * zc**3))
        return 0.5 * z * (1 + t), 0.5 * (1 + t) + 0.5 * zc * (1 - t * t) * k * (1 + 3 * c * zc * zc)
    if name == "silu":
        d = s * (1 + z * s) if bug == "silu_prime_wrong" else s * (1 + z * (1 - s))
        return z * s, d
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True), None
    raise ValueError(name)


def _loss_grad(loss: str, a: Array, y: Array, bug: str | None) -> Array:
    B, n = a.shape
    N = B * n
    if loss == "half_sse":
        if bug == "forgot_half":
            return 2 * (a - y) / B
        if bug == "no_batch_mean":
            return a - y
        if bug == "batch_mean_twice":
            return (a - y) / B / B
        return (a - y) / B
    if loss == "mse":
        return 2 * (a - y) / (B if bug == "mse_mean_over_batch_only" else N)
    if loss == "cross_entropy":
        if bug == "ce_without_softmax":
            return (a - y) / B
        e = np.exp(a - a.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        return (p * y.sum(axis=1, keepdims=True) - y) / B
    if loss == "binary_cross_entropy":
        if bug == "bce_through_probabilities":
            with np.errstate(all="ignore"):
                s = 1 / (1 + np.exp(-a))
                return (-y / s + (1 - y) / (1 - s)) * s * (1 - s) / N
        return (_sigmoid(a) - y) / N
    if loss == "huber":
        lim = 0.5 if bug == "huber_delta_half" else 1.0
        return np.clip(a - y, -lim, lim) / N
    if loss == "l1":
        r = a - y
        sign = np.where(r >= 0, 1.0, -1.0).astype(a.dtype) if bug == "l1_sign_zero_is_one" else np.sign(r)
        return sign / N
    raise ValueError(loss)


_STATE: dict[str, list] = {}


def gradients(params, x, y, activations, loss, bug: str | None = None):
    """The correct implementation (``bug=None``), batch rows, the seed's recursion."""
    if bug == "layer_activations_reversed":
        activations = list(activations)[::-1]
    a_list, z_list, primes = [x], [], []
    for (W, b), name in zip(params, activations, strict=True):
        z = a_list[-1] @ W.T + b
        a, d = _act(name, z, bug)
        z_list.append(z)
        a_list.append(a)
        primes.append(d)
    g = _loss_grad(loss, a_list[-1], y, bug)
    L = len(params)
    out: list = [None] * L
    deltas: dict[int, Array] = {}
    for l in range(L, 0, -1):
        W, b = params[l - 1]
        z, a, a_prev, d = z_list[l - 1], a_list[l], a_list[l - 1], primes[l - 1]
        if d is None:
            delta = a * (1 - a) * g if bug == "softmax_elementwise" else a * (g - (g * a).sum(axis=1, keepdims=True))
        elif bug == "sigma_prime_at_a":
            delta = g * _act(activations[l - 1], a, None)[1]
        elif bug == "forgot_sigma_prime_past_layer_2" and l >= 3:
            delta = g
        else:
            delta = g * d
        if bug == "wide_layer_fast_path_in_float32" and max(W.shape) > 64:
            # a "fast path" for wide layers that multiplies in float32, whatever the inputs' dtype
            dW = (delta.astype(np.float32).T @ a_prev.astype(np.float32)).astype(delta.dtype)
        elif bug == "chunked_batch_drops_remainder":
            dW = np.zeros_like(W)
            for start in range(0, max(len(delta) // 64, 1) * 64, 64):  # the last, partial chunk is lost
                dW += delta[start:start + 64].T @ a_prev[start:start + 64]
        elif bug == "dW_transposed_on_square":
            dW = a_prev.T @ delta            # (n_{l-1}, n_l): "fixed" below only when the shapes differ
            if dW.shape != W.shape:
                dW = dW.T
        elif bug == "dW_outer_with_own_activation":
            dW = delta.T @ (a if a.shape == a_prev.shape else a_prev)
        else:
            dW = delta.T @ a_prev
        db = delta.mean(axis=0) if bug == "bias_not_summed_over_batch" else delta.sum(axis=0)
        if bug == "chunked_batch_drops_remainder":
            db = delta[:max(len(delta) // 64, 1) * 64].sum(axis=0)
        if bug == "bias_grad_from_next_layer" and l < L:
            db = out[l][1].copy() if out[l][1].shape == db.shape else db
        out[l - 1] = (dW, db)
        deltas[l] = delta
        g = delta @ W
    if bug == "layer_buffer_of_eight":
        # δ kept in a preallocated buffer of 8 layers, slot l mod 8: layer l > 8 reads the δ of layer l − 8,
        # which overwrote its slot later in the backward pass
        for l in range(9, L + 1):
            early = deltas[l - 8]
            if early.shape == deltas[l].shape:
                out[l - 1] = (early.T @ a_list[l - 1], early.sum(axis=0))
    if bug == "float64_upcast":
        out = [(dW.astype(np.float64), db.astype(np.float64)) for dW, db in out]
    if bug == "sgd_step_in_place":
        for (W, _), (dW, _) in zip(params, out, strict=True):
            W -= 0.1 * dW
    if bug == "state_between_calls":   # accumulates like .grad in a framework without zero_grad()
        acc = _STATE.setdefault("acc", [])
        key = [W.shape for W, _ in params]
        if _STATE.get("key") != key:
            _STATE["key"], acc[:] = key, [(np.zeros_like(dW), np.zeros_like(db)) for dW, db in out]
        for i, (dW, db) in enumerate(out):
            acc[i] = (acc[i][0] + dW, acc[i][1] + db)
        out = [(dW.copy(), db.copy()) for dW, db in acc]
    if bug == "returns_tuple_per_layer_missing_bias":
        return [dW for dW, _ in out]
    if bug == "raises_on_batch_one" and x.shape[0] == 1:
        raise IndexError("index 1 is out of bounds for axis 0 with size 1")
    return out


_ALL_BUT = {
    "activations": lambda *names: {"activations": [a for a in ACTIVATIONS if a not in names]},
    "losses": lambda *names: {"losses": [lo for lo in LOSSES if lo not in names]},
}
_NO_EXACT_ZEROS = {"regimes": ["default", "extreme"]}  # random normal values: no z = 0, no a = y exactly

CATALOG: tuple[Bug, ...] = (
    Bug("sigma_prime_at_a", "σ′ evaluated at a⁽ˡ⁾ instead of z⁽ˡ⁾", "nearly invisible with relu/identity", "mismatch",
        {"activations": ["relu", "identity"]}),
    Bug("forgot_half", "the ½ of the seed's loss forgotten: ∂J/∂a = 2(a − y)/B", "half_sse only", "mismatch",
        _ALL_BUT["losses"]("half_sse")),
    Bug("dW_transposed_on_square", "dW built as a⁽ˡ⁻¹⁾ᵀδ and transposed only when the shapes disagree",
        "square W only", "mismatch"),
    Bug("bias_not_summed_over_batch", "∂J/∂b averaged over the batch instead of summed", "invisible at batch 1",
        "mismatch", {"max_batch": 1}),
    Bug("forgot_sigma_prime_past_layer_2", "δ⁽ˡ⁾ without ⊙ σ′(z⁽ˡ⁾) for layers l ≥ 3", "depth ≥ 3 only", "mismatch",
        {"max_depth": 2}),
    Bug("softmax_elementwise", "softmax backpropagated elementwise, s(1 − s) ⊙ g", "invisible with one output",
        "mismatch", {"max_width": 1}),
    Bug("leaky_slope_tenfold", "leaky_relu′ uses slope 0.1 for z < 0", "negative z with leaky_relu", "mismatch",
        _ALL_BUT["activations"]("leaky_relu")),
    Bug("sgd_step_in_place", "the inputs modified in place (an SGD step on params inside gradients)",
        "everywhere", "mutated_input"),
    Bug("state_between_calls", "gradients accumulated across calls, like .grad without zero_grad()",
        "the second call", "inconsistent"),
    Bug("relu_prime_at_zero_is_one", "relu′(0) = 1 instead of 0", "exact z = 0 only", "mismatch", _NO_EXACT_ZEROS),
    Bug("leaky_prime_at_zero_is_one", "leaky_relu′(0) = 1 (JAX's convention) instead of 0.01",
        "exact z = 0 only", "mismatch", _NO_EXACT_ZEROS),
    Bug("l1_sign_zero_is_one", "l1's subgradient at a = y is +1 instead of 0", "exact a = y only", "mismatch",
        _NO_EXACT_ZEROS),
    Bug("mse_mean_over_batch_only", "mse averaged over the batch only, not over outputs",
        "invisible with n_L = 1", "mismatch", {"max_width": 1}),
    Bug("batch_mean_twice", "the batch mean applied twice", "invisible at batch 1", "mismatch", {"max_batch": 1}),
    Bug("no_batch_mean", "the batch mean not applied", "invisible at batch 1", "mismatch", {"max_batch": 1}),
    Bug("ce_without_softmax", "cross-entropy's gradient taken as (a − y)/B, logits used as probabilities",
        "cross_entropy only", "mismatch", _ALL_BUT["losses"]("cross_entropy")),
    Bug("bce_through_probabilities", "binary cross-entropy differentiated through σ(a): 0/0 when σ saturates",
        "large logits", "non_finite", {"regimes": ["default"], "max_depth": 1}),
    Bug("tanh_prime_unsquared", "tanh′ = 1 − tanh instead of 1 − tanh²", "tanh layers", "mismatch",
        _ALL_BUT["activations"]("tanh")),
    Bug("gelu_coarse_erf", "gelu's erf from a 1.5e-7 approximation (Abramowitz & Stegun 7.1.26)",
        "float64 only: it is below float32's resolution", "mismatch", {"dtypes": ["float32"]}),
    Bug("elu_prime_is_value", "elu′ for z < 0 taken as eᶻ − 1 (the value) instead of eᶻ", "negative z with elu",
        "mismatch", _ALL_BUT["activations"]("elu")),
    Bug("silu_prime_wrong", "silu′ as s(1 + z s) instead of s(1 + z(1 − s))", "silu layers", "mismatch",
        _ALL_BUT["activations"]("silu")),
    Bug("huber_delta_half", "huber clipped at ±0.5 instead of ±1", "0.5 < |a − y| < 1", "mismatch",
        _ALL_BUT["losses"]("huber")),
    Bug("softplus_overflows", "softplus as log(1 + eᶻ): overflows to inf for large z", "extreme z",
        "non_finite", {"regimes": ["simple", "default", "kinks"]}),
    Bug("layer_activations_reversed", "activations applied in reverse layer order",
        "different activations per layer only", "mismatch", {"activations": ["sigmoid"]}),
    Bug("dW_outer_with_own_activation", "∂J/∂W⁽ˡ⁾ = δ⁽ˡ⁾(a⁽ˡ⁾)ᵀ instead of δ⁽ˡ⁾(a⁽ˡ⁻¹⁾)ᵀ where shapes allow",
        "equal adjacent widths", "mismatch"),
    Bug("bias_grad_from_next_layer", "∂J/∂b⁽ˡ⁾ copied from layer l+1 where the shapes allow",
        "depth ≥ 2 with equal widths", "mismatch", {"max_depth": 1}),
    Bug("float64_upcast", "float32 inputs give float64 gradients", "float32", "dtype", {"dtypes": ["float64"]}),
    Bug("returns_tuple_per_layer_missing_bias", "returns dW only, no (dW, db) pairs", "everywhere", "shape"),
    Bug("raises_on_batch_one", "an indexing bug that raises at batch 1", "batch 1", "exception"),
    # bugs behind size thresholds: the random search's small networks never reach them
    Bug("chunked_batch_drops_remainder", "the batch summed in chunks of 64, the last partial chunk dropped",
        "a batch above 64 that is no multiple of 64", "mismatch", {"max_batch": 64}),
    Bug("wide_layer_fast_path_in_float32", "layers wider than 64 take a fast path that multiplies in float32",
        "a width above 64, float64", "mismatch", {"max_width": 64}),
    Bug("layer_buffer_of_eight", "δ kept in a preallocated buffer of 8 layers (slot l mod 8)",
        "depth above 8", "mismatch", {"max_depth": 8}),
    Bug("large_array_softplus_overflows", "arrays of over 1024 entries take a vectorised softplus, log(1 + eᶻ), "
        "that overflows to inf for large z", "an array of over 1024 entries with extreme z", "non_finite", {}),
)


def _make(bug: str):
    def mutant(params, x, y, activations, loss):
        return gradients(params, x, y, activations, loss, bug=bug)

    mutant.__name__ = mutant.__qualname__ = bug.replace(".", "_")
    return mutant


MUTANTS = {bug.name: _make(bug.name) for bug in CATALOG}
globals().update({fn.__name__: fn for fn in MUTANTS.values()})
