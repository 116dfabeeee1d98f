"""Central differences in NumPy alone: needs neither torch nor jax.

For every parameter entry θ (each W⁽ˡ⁾_ij and b⁽ˡ⁾_i)

    ∂J/∂θ ≈ (J(θ + h) − J(θ − h)) / (2h),    h = eps_ld^{1/3} · max(1, |θ|) ≈ 4.8e-7 · max(1, |θ|),

with J evaluated by a forward pass in long double (eps_ld ≈ 1.1e-19), so truncation (h² J‴/6) and
rounding (eps_ld J / h) both stay near 1e-13 of the gradient's scale; results come back as float64.

Perturbing W⁽ˡ⁾_ij by h moves only column i of z⁽ˡ⁾, by h·a⁽ˡ⁻¹⁾_{:,j}; b⁽ˡ⁾_i moves it by h. So the
layers below l are computed once, and all perturbations of one layer run as one batched forward
pass from z⁽ˡ⁾ upwards (a stack of networks on a leading axis, chunked to bound memory).
``deltas`` perturbs z⁽ˡ⁾_bi itself, giving δ⁽ˡ⁾ = ∂J/∂z⁽ˡ⁾.

Kinks: a plain difference that straddles a kink (relu, leaky_relu and elu at z = 0, l1 at a = y)
returns a weighted average of the one-sided slopes, e.g. ½ for relu′ at z = 0 exactly, not the
contract's subgradient. So the differences are taken on the *active piece*: each piecewise function
keeps the branch its unperturbed argument selects (z > 0 or not; the sign of a − y, 0 where a = y),
and only the smooth piece is differenced. Away from kinks that is the plain central difference; near
one it is the one-sided derivative of the piece the point lies on (exact, where the plain difference
would blur); exactly on one it follows the contract: relu′(0) = 0, leaky_relu′(0) = 0.01, elu′(0) = 1,
and l1's subgradient 0 at a = y. Huber is differentiable (its derivative is continuous at |r| = 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from references import _longdouble as ld
from references._longdouble import Array

STEP = np.finfo(ld.LD).eps ** (ld.LD(1) / 3)
_CHUNK_ELEMENTS = 1 << 20


_PIECEWISE = ("relu", "leaky_relu", "elu")


def _on_piece(name: str, z: Array, base: Array) -> Array:
    """σ(z) on the piece that the unperturbed ``base`` selects (z > 0 or not), for relu/leaky/elu."""
    up = base > 0
    if name == "relu":
        return np.where(up, z, 0)
    if name == "leaky_relu":
        return np.where(up, z, ld.LEAK * z)
    return np.where(up, z, np.expm1(np.minimum(z, 1)))  # elu; the clip only keeps e^z finite off-piece


def _loss_on_piece(loss: str, a: Array, y: Array, base_a: Array) -> Array:
    """J with l1's |a − y| kept on the piece of the unperturbed sign (0 where a = y): sign(r₀)·r."""
    if loss != "l1":
        return ld.loss_value(loss, a, y)
    r = (a - y) * np.sign(base_a - y)
    return np.sum(r, axis=(-2, -1)) / (a.shape[-2] * a.shape[-1])


def _loss_from(
    l: int,
    z: Array,
    params: Sequence[tuple[Array, Array]],
    y: Array,
    activations: Sequence[str],
    loss: str,
    base: tuple[list[Array], list[Array]],
) -> Array:
    """J for a stack of perturbed z⁽ˡ⁾ (P, B, n_l) (0-based l), forward to the loss; shape (P,).

    ``base`` = (z's, a's) of the unperturbed forward pass: it fixes the piece of every kink."""
    zs, acts = base

    def act(k: int, zk: Array) -> Array:
        name = activations[k]
        return _on_piece(name, zk, zs[k]) if name in _PIECEWISE else ld.activation(name, zk)

    a = act(l, z)
    for k in range(l + 1, len(params)):
        W, b = params[k]
        a = act(k, np.einsum("pbm,nm->pbn", a, W) + b)
    return _loss_on_piece(loss, a, y, acts[-1])


def _differences(
    l: int,
    z: Array,
    cols: np.ndarray,
    shifts: Array,
    steps: Array,
    params: Sequence[tuple[Array, Array]],
    y: Array,
    activations: Sequence[str],
    loss: str,
    base: tuple[list[Array], list[Array]],
) -> Array:
    """(J(z + s_p e_{c_p}) − J(z − s_p e_{c_p})) / (2 h_p) for directions p: column c_p of z
    moves by the per-sample shift s_p (P, B); h_p is the parameter step."""
    batch, n = z.shape
    width = max(W.shape[0] for W, _ in params[l:])
    chunk = max(1, _CHUNK_ELEMENTS // (batch * width))
    out = np.empty(len(cols), dtype=ld.LD)
    for lo in range(0, len(cols), chunk):
        c, s = cols[lo : lo + chunk], shifts[lo : lo + chunk]
        bump = np.zeros((len(c), batch, n), dtype=ld.LD)
        bump[np.arange(len(c)), :, c] = s
        j_plus = _loss_from(l, z + bump, params, y, activations, loss, base)
        j_minus = _loss_from(l, z - bump, params, y, activations, loss, base)
        out[lo : lo + chunk] = (j_plus - j_minus) / (2 * steps[lo : lo + chunk])
    return out


def _steps(theta: Array) -> Array:
    return STEP * np.maximum(1, np.abs(theta))


def gradients(
    params: Sequence[tuple[np.ndarray, np.ndarray]],
    x: np.ndarray,
    y: np.ndarray,
    activations: Sequence[str],
    loss: str,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(∂J/∂W⁽ˡ⁾, ∂J/∂b⁽ˡ⁾), l = 1..L, by central differences, as float64 arrays."""
    p, (x_ld, y_ld) = ld.to_longdouble(params, x, y)
    zs, acts = ld.forward(p, x_ld, activations)
    grads = []
    for l, (W, b) in enumerate(p):
        n_out, n_in = W.shape
        batch = x_ld.shape[0]
        h_w, h_b = _steps(W).ravel(), _steps(b)
        rows = np.repeat(np.arange(n_out), n_in)
        a_cols = acts[l][:, np.tile(np.arange(n_in), n_out)].T  # (n_out·n_in, B): a⁽ˡ⁻¹⁾_{:,j}
        cols = np.concatenate([rows, np.arange(n_out)])
        shifts = np.concatenate([h_w[:, None] * a_cols, np.repeat(h_b[:, None], batch, axis=1)])
        d = _differences(l, zs[l], cols, shifts, np.concatenate([h_w, h_b]), p, y_ld, activations, loss,
                         (zs, acts))
        grads.append((d[: n_out * n_in].reshape(n_out, n_in).astype(np.float64), d[n_out * n_in :].astype(np.float64)))
    return grads


def deltas(
    params: Sequence[tuple[np.ndarray, np.ndarray]],
    x: np.ndarray,
    y: np.ndarray,
    activations: Sequence[str],
    loss: str,
) -> list[np.ndarray]:
    """δ⁽ˡ⁾ = ∂J/∂z⁽ˡ⁾ (B, n_l), l = 1..L, by central differences in z⁽ˡ⁾_bi, as float64 arrays."""
    p, (x_ld, y_ld) = ld.to_longdouble(params, x, y)
    zs, acts = ld.forward(p, x_ld, activations)
    out = []
    for l, z in enumerate(zs):
        batch, n = z.shape
        h = _steps(z).ravel()  # direction p = b·n + i
        shifts = np.zeros((batch * n, batch), dtype=ld.LD)
        shifts[np.arange(batch * n), np.repeat(np.arange(batch), n)] = h
        cols = np.tile(np.arange(n), batch)
        d = _differences(l, z, cols, shifts, h, p, y_ld, activations, loss, (zs, acts))
        out.append(d.reshape(batch, n).astype(np.float64))
    return out
