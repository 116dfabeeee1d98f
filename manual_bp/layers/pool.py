"""2-D max pooling, NCHW, any window and stride (overlapping windows when stride < window).

    forward:   out[n,c,i,j] = max_{k<PH, l<PW} x[n, c, i s + k, j s + l]
    backward:  dx[n, c, i s + k*, j s + l*] += dout[n,c,i,j]   for every window (n, c, i, j)

where (k*, l*) is the window's maximal entry; a tie goes to the FIRST maximal entry in row-major order
(smallest k, then smallest l), which is what torch's ``F.max_pool2d`` and jax's ``lax.reduce_window``
max send their gradient to (docs/conventions.md has the experiment). An entry that is the maximum of
several overlapping windows accumulates all their gradients; an entry no window selects gets 0.

Shapes: x (N, C, H, W), pool_param {"pool_height": PH, "pool_width": PW, "stride": s}, no padding;
out (N, C, H′, W′), H′ = 1 + (H − PH) // s, W′ = 1 + (W − PW) // s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from manual_bp.layers import _validate as v

Array = np.ndarray


class PoolCache(NamedTuple):
    x: Array
    pool_height: int
    pool_width: int
    stride: int


def max_pool_forward_naive(x: Array, pool_param: Mapping[str, Any]) -> tuple[Array, PoolCache]:
    """out[n,c,i,j] = the maximum of x over the window (i s .. i s + PH − 1, j s .. j s + PW − 1).

    Returns out (N, C, H′, W′) in x's dtype and the cache for ``max_pool_backward_naive``."""
    x = v.array("x", x, 4, dims="(N, C, H, W)")
    pool_param = v.mapping("pool_param", pool_param)
    ph = v.integer("pool_param", pool_param, "pool_height", low=1)
    pw = v.integer("pool_param", pool_param, "pool_width", low=1)
    s = v.integer("pool_param", pool_param, "stride", low=1)
    if ph > x.shape[2] or pw > x.shape[3]:
        raise ValueError(f"the pool window {ph}×{pw} must fit in x's image {x.shape[2]}×{x.shape[3]} (x {x.shape})")
    Ho, Wo = 1 + (x.shape[2] - ph) // s, 1 + (x.shape[3] - pw) // s
    out = np.empty(x.shape[:2] + (Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * s : i * s + ph, j * s : j * s + pw].max(axis=(2, 3))
    return out, PoolCache(x, ph, pw, s)


def max_pool_backward_naive(dout: Array, cache: PoolCache) -> Array:
    """dx: each window's dout added to its first maximal entry (row-major); dout is (N, C, H′, W′)."""
    x, ph, pw, s = v.cache(cache, PoolCache, "max_pool_forward_naive")
    Ho, Wo = 1 + (x.shape[2] - ph) // s, 1 + (x.shape[3] - pw) // s
    dout = v.dout(dout, x.shape[:2] + (Ho, Wo), x.dtype)
    dx = np.zeros_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * s : i * s + ph, j * s : j * s + pw]
                    k, l = divmod(int(np.argmax(window)), pw)   # argmax: the first maximum, row-major
                    dx[n, c, i * s + k, j * s + l] += dout[n, c, i, j]
    return dx
