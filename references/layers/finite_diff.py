"""Central differences for the layer kinds, in NumPy alone (needs neither torch nor jax).

For every entry θ_k of every differentiable input, with the scalar φ(θ) = ⟨dout, out(θ)⟩ (the loss
itself for the loss kinds),

    dθ_k ≈ (φ(θ + h_k e_k) − φ(θ − h_k e_k)) / (2 h_k),    h_k = eps_ld^{1/3} · max(1, |θ_k|),

with φ evaluated by the kind's long-double definition (``_ld``; eps_ld ≈ 1.1e-19, so truncation and
rounding both stay near 1e-13 of the gradient's scale). All 2n perturbed copies of one input are
stacked on a leading axis and evaluated in a few calls. At non-smooth points the differences are
taken on the *active piece* fixed by the unperturbed inputs (``_ld``), so they give the contract's
one-sided choices: relu′(0) = 0, l1's 0 at x = y, svm's 0 at a zero margin, and at a max-pool tie the
whole gradient to the first maximal entry. Returned as float64.
"""

from __future__ import annotations

import numpy as np

from references.layers import _ld
from references.layers._spec import LayerCall

STEP = np.finfo(np.longdouble).eps ** (np.longdouble(1) / 3)
_CHUNK_ELEMENTS = 1 << 20


def _phi(f: _ld.Definition, inputs: dict[str, np.ndarray], dout: np.ndarray | None) -> np.ndarray:
    """φ for a stack of inputs (one of them with a leading axis): shape (Q,)."""
    out = np.asarray(f(inputs))
    if dout is None:
        return out
    return np.sum(dout * out, axis=tuple(range(-dout.ndim, 0)))


def run(call: LayerCall) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(out, {"d" + name: gradient}) as float64, by central differences in long double."""
    base = _ld.widen(call.inputs)
    f = _ld.definition(call.kind, call.hyper, base)
    dout = None if call.dout is None else call.dout.astype(np.longdouble)
    out_size = max(1, int(np.prod(call.out_shape)))
    grads = {}
    for name in call.kind.differentiable:
        theta = base[name]
        n = theta.size
        flat = theta.ravel()
        h = STEP * np.maximum(1, np.abs(flat))
        chunk = max(1, _CHUNK_ELEMENTS // (8 * max(out_size, n)))
        grad = np.empty(n, dtype=np.longdouble)
        for lo in range(0, n, chunk):
            k = np.arange(lo, min(n, lo + chunk))
            bump = np.zeros((len(k), n), dtype=np.longdouble)
            bump[np.arange(len(k)), k] = h[k]
            plus = (flat + bump).reshape((len(k),) + theta.shape)
            minus = (flat - bump).reshape((len(k),) + theta.shape)
            grad[k] = (_phi(f, {**base, name: plus}, dout) - _phi(f, {**base, name: minus}, dout)) / (2 * h[k])
        grads["d" + name] = grad.reshape(theta.shape).astype(np.float64)
    return np.asarray(f(base)).astype(np.float64), grads
