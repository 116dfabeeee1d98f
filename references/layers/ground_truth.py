"""Ground truth for the layer kinds: forward-mode tangents (dual numbers), not backprop, in long double.

For each differentiable input θ (x, w, b, gamma, beta) with n entries, the n unit directions e_k are
pushed forward through the kind's long-double definition (``_ld``) as the tangents of dual numbers
(``_dual``: each primitive applies its own derivative rule), giving the Jacobian columns
∂out/∂θ_k; the gradient is their contraction with the upstream gradient,

    dθ_k = ⟨dout, ∂out/∂θ_k⟩      (loss kinds: dθ_k = ∂J/∂θ_k, the scalar's own tangent),

P directions at a time (chunks bound the memory). No backward pass, no transposed convolution, no
derived formula for batch norm's dx: only the forward definition and the derivative rules of +, ×,
÷, √, Σ, gathers and the contract's activations and losses. Everything runs in ``np.longdouble``
(x87: 64-bit significand, eps ≈ 1.1e-19), so the results are accurate far beyond float64, and
returned as long double. Conventions at non-smooth points are the contract's (``_ld``).
"""

from __future__ import annotations

import numpy as np

from references.layers import _dual as d
from references.layers import _ld
from references.layers._spec import LayerCall

_CHUNK_ELEMENTS = 1 << 20   # long doubles per tangent array of the largest intermediate


def _work_per_direction(call: LayerCall) -> int:
    """About how many long doubles one tangent direction carries through the largest intermediate."""
    x = call.inputs["x"]
    if call.kind.family == "conv2d":
        return int(np.prod(call.out_shape)) // call.inputs["w"].shape[0] * x.shape[1] * \
            int(np.prod(call.inputs["w"].shape[2:]))
    if call.kind.family == "max_pool":
        return int(np.prod(call.out_shape)) * call.hyper["pool_height"] * call.hyper["pool_width"]
    return max(x.size, int(np.prod(call.out_shape)), 1)


def run(call: LayerCall) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(out, {"d" + name: gradient}) in long double, by forward-mode tangents."""
    base = _ld.widen(call.inputs)
    f = _ld.definition(call.kind, call.hyper, base)
    out = np.asarray(f(base))
    chunk = max(1, _CHUNK_ELEMENTS // _work_per_direction(call))
    grads = {}
    for name in call.kind.differentiable:
        theta = base[name]
        n = theta.size
        grad = np.empty(n, dtype=np.longdouble)
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            seeds = np.zeros((hi - lo, n), dtype=np.longdouble)
            seeds[np.arange(hi - lo), np.arange(lo, hi)] = 1           # e_k for k in [lo, hi)
            dual = d.Dual(theta, seeds.reshape((hi - lo,) + theta.shape))
            tangents = f({**base, name: dual})                          # ∂out/∂θ_k, k in [lo, hi)
            grad[lo:hi] = tangents.t if call.dout is None else d.inner(call.dout.astype(np.longdouble), tangents).t
        grads["d" + name] = grad.reshape(theta.shape)
    return out, grads
