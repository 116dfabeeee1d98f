"""The seed's first section: the chain rule with explicit Jacobians, for vectors and tensors.

For y = g(x) and z = f(y) with x ∈ ℝᵐ, y ∈ ℝⁿ:

    ∂z/∂x_i = Σ_j (∂z/∂y_j)(∂y_j/∂x_i),   i.e.   ∇ₓz = (∂y/∂x)ᵀ ∇ᵧz

where ∂y/∂x is the n × m Jacobian of g. A tensor is handled by flattening it to a vector (row-major),
applying the same product, and reshaping the gradient back: backprop on tensors is still "Jacobian
transposed times gradient". This module builds every Jacobian explicitly, so tests can show that
the backward pass of ``manual_bp.network`` equals the product of these matrices. It is meant for
small sizes: the Jacobians are dense.
"""

from __future__ import annotations

import numpy as np

from manual_bp import _validate
from manual_bp import activations as _act
from manual_bp import losses as _loss
from manual_bp.network import Params

Array = np.ndarray


def flatten(t: Array) -> Array:
    """A tensor of any rank as a vector (row-major): vec(t)."""
    return np.reshape(t, -1)


def unflatten(v: Array, shape: tuple[int, ...]) -> Array:
    """The inverse of :func:`flatten`: a vector back to a tensor of ``shape``."""
    if v.ndim != 1 or v.size != int(np.prod(shape)):
        raise ValueError(f"v must be a vector of {int(np.prod(shape))} entries for shape {shape}, "
                         f"got shape {v.shape}")
    return np.reshape(v, shape)


def chain_rule(jacobian: Array, grad_y: Array, x_shape: tuple[int, ...]) -> Array:
    """∇ₓz = (∂y/∂x)ᵀ ∇ᵧz for tensors: ``jacobian`` is (y.size, x.size), ``grad_y`` has y's shape."""
    if jacobian.ndim != 2 or jacobian.shape != (grad_y.size, int(np.prod(x_shape))):
        raise ValueError(f"jacobian must have shape ({grad_y.size}, {int(np.prod(x_shape))}) "
                         f"(y.size, x.size), got {jacobian.shape}")
    return unflatten(jacobian.T @ flatten(grad_y), x_shape)


def affine_jacobians(W: Array, b: Array, a: Array) -> tuple[Array, Array, Array]:
    """Jacobians of the tensor map Z = A Wᵀ + b (A: (B, n_in), Z: (B, n_out)), flattened row-major.

    Returns (∂Z/∂A, ∂Z/∂W, ∂Z/∂b) of shapes (B n_out, B n_in), (B n_out, n_out n_in), (B n_out, n_out):
    ∂Z_bi/∂A_ck = [b = c] W_ik,   ∂Z_bi/∂W_jk = [i = j] A_bk,   ∂Z_bi/∂b_j = [i = j].
    """
    B, n_in = a.shape
    n_out = W.shape[0]
    eye_b, eye_o = np.eye(B, dtype=a.dtype), np.eye(n_out, dtype=a.dtype)
    d_a = np.einsum("bc,ik->bick", eye_b, W).reshape(B * n_out, B * n_in)
    d_W = np.einsum("ij,bk->bijk", eye_o, a).reshape(B * n_out, n_out * n_in)
    d_b = np.tile(eye_o, (B, 1))
    return d_a, d_W, d_b


def activation_jacobian(name: str, z: Array) -> Array:
    """∂a/∂z for a = σ(z) on a batch Z (B, n), flattened: (B n, B n).

    Elementwise σ: diag(σ′(vec z)). Softmax (per row): block-diagonal with blocks diag(s) − s sᵀ.
    """
    if name == "softmax":
        return _block_diag([softmax_jacobian(row) for row in z])
    return np.diag(flatten(_act.derivative(name, z)))


def softmax_jacobian(z: Array) -> Array:
    """∂s/∂z = diag(s) − s sᵀ for one vector z, s = softmax(z)."""
    s = _act.value("softmax", z[None, :])[0]
    return np.diag(s) - np.outer(s, s)


def _block_diag(blocks: list[Array]) -> Array:
    n = sum(b.shape[0] for b in blocks)
    out = np.zeros((n, n), dtype=blocks[0].dtype)
    i = 0
    for blk in blocks:
        k = blk.shape[0]
        out[i:i + k, i:i + k] = blk
        i += k
    return out


def gradients_by_jacobians(params: Params, x: Array, y: Array, activations: list[str],
                           loss: str) -> list[tuple[Array, Array]]:
    """∂J/∂W⁽ˡ⁾, ∂J/∂b⁽ˡ⁾ by explicit Jacobian products, the whole batch as one tensor.

    ∇_{A⁽ᴸ⁾}J comes from the loss; then, layer by layer from L down to 1,
    ∇_{Z⁽ˡ⁾}J = (∂A⁽ˡ⁾/∂Z⁽ˡ⁾)ᵀ ∇_{A⁽ˡ⁾}J,  ∇_{W⁽ˡ⁾}J = (∂Z⁽ˡ⁾/∂W⁽ˡ⁾)ᵀ ∇_{Z⁽ˡ⁾}J,
    ∇_{b⁽ˡ⁾}J = (∂Z⁽ˡ⁾/∂b⁽ˡ⁾)ᵀ ∇_{Z⁽ˡ⁾}J,  ∇_{A⁽ˡ⁻¹⁾}J = (∂Z⁽ˡ⁾/∂A⁽ˡ⁻¹⁾)ᵀ ∇_{Z⁽ˡ⁾}J.
    Same result as ``manual_bp.gradients``, by a different order of operations.
    """
    p, xx, yy, acts, name = _validate.check_call(params, x, y, activations, loss)
    a_list, z_list = [xx], []
    for (W, b), act in zip(p, acts, strict=True):
        z_list.append(a_list[-1] @ W.T + b)
        a_list.append(_act.value(act, z_list[-1]))
    grad_a = _loss.LOSSES[name].gradient(a_list[-1], yy)
    out: list[tuple[Array, Array]] = []
    for l in range(len(p), 0, -1):
        W, b = p[l - 1]
        z, a_prev = z_list[l - 1], a_list[l - 1]
        grad_z = chain_rule(activation_jacobian(acts[l - 1], z), grad_a, z.shape)
        d_a, d_W, d_b = affine_jacobians(W, b, a_prev)
        out.append((chain_rule(d_W, grad_z, W.shape), chain_rule(d_b, grad_z, b.shape)))
        grad_a = chain_rule(d_a, grad_z, a_prev.shape)
    return out[::-1]
