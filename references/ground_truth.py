"""Ground truth: forward-mode differentiation (tangents, not backprop) in long double.

No backward pass. For each layer l, tangents are pushed *forward* from a seed on z⁽ˡ⁾ to the loss:

    ż⁽ˡ⁾ = seed,   ȧ⁽ᵏ⁾ = σ_k′(z⁽ᵏ⁾) ⊙ ż⁽ᵏ⁾  (softmax: ȧ = a ⊙ (ż − ⟨a, ż⟩)),
    ż⁽ᵏ⁺¹⁾ = ȧ⁽ᵏ⁾ W⁽ᵏ⁺¹⁾ᵀ,                 J̇ = ⟨∂J/∂a⁽ᴸ⁾, ȧ⁽ᴸ⁾⟩.

The seeds are the unit directions of z⁽ˡ⁾: "z⁽ˡ⁾_bi moves by ε, nothing else does", all n_l of
them carried at once per sample as a tangent array (n_l, B, ·), so J̇ for seed (b, i) is
δ⁽ˡ⁾_bi = ∂J/∂z⁽ˡ⁾_bi. The parameters enter z⁽ˡ⁾ linearly and per sample, so the tangent of z⁽ˡ⁾
along W⁽ˡ⁾_ij is a⁽ˡ⁻¹⁾_bj times seed (b, i) and along b⁽ˡ⁾_i it is seed (b, i) for every b; the
tangent map is linear, hence the directional derivatives

    ∂J/∂W⁽ˡ⁾_ij = Σ_b δ⁽ˡ⁾_bi a⁽ˡ⁻¹⁾_bj,    ∂J/∂b⁽ˡ⁾_i = Σ_b δ⁽ˡ⁾_bi.

Everything runs in ``np.longdouble`` (x87 80-bit: 64-bit significand, eps ≈ 1.1e-19) with
overflow-free formulas and an erf of its own (``references._erf``), so its results are accurate far
beyond float64 and measure the float64 rounding of the other backends. Kinks follow the contract:
relu′(0) = 0, leaky_relu′(0) = 0.01, elu′(0) = 1, sign(0) = 0 for l1. Cost: depth 6, widths 32,
batch 32 takes a few tens of milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from references import _longdouble as ld
from references._longdouble import Array

# Tangent arrays are cut into chunks of seeds so that one holds at most this many long doubles.
_CHUNK_ELEMENTS = 1 << 21


def _push(
    seeds: Array,
    start: int,
    params: Sequence[tuple[Array, Array]],
    zs: list[Array],
    acts: list[Array],
    activations: Sequence[str],
) -> Array:
    """Push tangents ż⁽ˡ⁾ = seeds (P, B, n_l), l = start, forward to ȧ⁽ᴸ⁾ (P, B, n_L)."""
    a_dot = ld.activation_jvp(activations[start], zs[start], acts[start + 1], seeds)
    for k in range(start + 1, len(params)):
        z_dot = np.einsum("pbm,nm->pbn", a_dot, params[k][0])
        a_dot = ld.activation_jvp(activations[k], zs[k], acts[k + 1], z_dot)
    return a_dot


def _layer_deltas(
    l: int,
    params: Sequence[tuple[Array, Array]],
    zs: list[Array],
    acts: list[Array],
    activations: Sequence[str],
    g: Array,
) -> Array:
    """δ⁽ˡ⁾ (B, n_l) as the tangents J̇ of the n_l unit seeds on z⁽ˡ⁾ (0-based l)."""
    batch, n = zs[l].shape
    width = max(W.shape[0] for W, _ in params[l:])
    chunk = max(1, _CHUNK_ELEMENTS // (batch * width))
    eye = np.eye(n, dtype=ld.LD)
    delta = np.empty((batch, n), dtype=ld.LD)
    for lo in range(0, n, chunk):
        seeds = np.broadcast_to(eye[lo : lo + chunk, None, :], (min(chunk, n - lo), batch, n))
        a_dot = _push(seeds, l, params, zs, acts, activations)
        delta[:, lo : lo + chunk] = np.einsum("pbm,bm->bp", a_dot, g)
    return delta


def deltas(
    params: Sequence[tuple[np.ndarray, np.ndarray]],
    x: np.ndarray,
    y: np.ndarray,
    activations: Sequence[str],
    loss: str,
) -> list[Array]:
    """δ⁽ˡ⁾ = ∂J/∂z⁽ˡ⁾ (B, n_l), l = 1..L, by forward-mode tangents, as long double arrays."""
    p, (x_ld, y_ld) = ld.to_longdouble(params, x, y)
    zs, acts = ld.forward(p, x_ld, activations)
    g = ld.loss_grad(loss, acts[-1], y_ld)
    return [_layer_deltas(l, p, zs, acts, activations, g) for l in range(len(p))]


def gradients(
    params: Sequence[tuple[np.ndarray, np.ndarray]],
    x: np.ndarray,
    y: np.ndarray,
    activations: Sequence[str],
    loss: str,
) -> list[tuple[Array, Array]]:
    """(∂J/∂W⁽ˡ⁾, ∂J/∂b⁽ˡ⁾), l = 1..L, as long double arrays of the params' shapes."""
    p, (x_ld, y_ld) = ld.to_longdouble(params, x, y)
    zs, acts = ld.forward(p, x_ld, activations)
    g = ld.loss_grad(loss, acts[-1], y_ld)
    grads = []
    for l in range(len(p)):
        delta = _layer_deltas(l, p, zs, acts, activations, g)
        grads.append((np.einsum("bi,bj->ij", delta, acts[l]), np.sum(delta, axis=0)))
    return grads
