"""Hypothesis strategies of layer cases (public API), reaching each layer's corners.

    from hypothesis import given
    from bpcheck.layers.strategies import layer_cases

    @given(layer_cases("batchnorm"))
    def test_my_batchnorm(case):
        out, cache = my_batchnorm_forward(case.inputs["x"], case.inputs["gamma"], case.inputs["beta"],
                                          dict(case.hyper))
        dx, dgamma, dbeta = my_batchnorm_backward(case.dout, cache)
        ...

A draw is a :class:`bpcheck.layers.cases.LayerCase`. Shapes are drawn so that the corners where
layer bugs hide come up often, never always: batch 1 (batch norm's zero variance, a bias gradient
that must be summed), one feature (layer norm), 1×1 images and 1×1 kernels, padding ≥ half the
kernel, spatial sizes the stride does not divide, a stride larger than the kernel (pixels no window
reads), overlapping pooling windows (stride < window) and a window as large as the image, dropout
keep probabilities near 0 and near 1 (and exactly 1), one class. Values come from ``make_layer_case``
seeded by a drawn integer in one of four regimes; ties, exact kinks and constant columns come from
the ``kinks`` regime (and ``simple``). Every choice shrinks toward the smallest, simplest case:
N, C, H, W, F and kernels of 1, stride 1, no padding, the "simple" (dyadic) regime.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from bpcheck.layers.cases import DTYPES, REGIMES, LayerCase, make_layer_case
from references.layers import KINDS, LAYER_KINDS

MAX_BATCH, MAX_FEATURES, MAX_CHANNELS, MAX_IMAGE, MAX_FILTERS, MAX_KERNEL = 8, 8, 3, 7, 4, 4
MAX_NORM_BATCH = 16  # batch norm normalises over the batch: larger batches matter there


@functools.cache
def _ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(lo, max(lo, hi))


@functools.cache
def _choice(options: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(options)


# Built once: constructing strategies inside every draw costs more than a small case's whole check.
# Each "how" shrinks toward its first entry, the simplest.
_SIZE_HOW = _choice(("one", "small", "any"))
_CONV_HOW = _choice(("any", "1x1 kernel", "1x1 image", "large pad", "stride > kernel"))
_POOL_HOW = _choice(("any", "overlapping", "whole image", "1x1"))
_KEEP_HOW = _choice(("any", "near 0", "near 1", "half", "one"))
_SEEDS = st.integers(0, 2**32 - 1)
_BOOL = st.booleans()


def _size(draw: st.DrawFn, hi: int) -> int:
    """1 often, a small size often, up to ``hi`` sometimes."""
    how = draw(_SIZE_HOW)
    return 1 if how == "one" else draw(_ints(1, min(3, hi)) if how == "small" else _ints(1, hi))


def _conv_shape(draw: st.DrawFn, m: dict[str, int]) -> dict[str, int]:
    how = draw(_CONV_HOW)
    N, C, F = _size(draw, m["batch"]), _size(draw, m["channels"]), _size(draw, m["filters"])
    HH = 1 if how == "1x1 kernel" else draw(_ints(1, m["kernel"]))
    WW = 1 if how == "1x1 kernel" else draw(_ints(1, m["kernel"]))
    if how == "1x1 image":
        H = W = 1
    else:
        H, W = draw(_ints(1, m["image"])), draw(_ints(1, m["image"]))
    low = max(HH, WW) // 2 if how == "large pad" else 0
    pad = draw(_ints(low, max(low, 2)))
    # the kernel must fit the padded image: enlarge the padding (never the kernel) where it does not
    pad = max(pad, (HH - H + 1) // 2, (WW - W + 1) // 2)
    stride = draw(_ints(max(HH, WW) + 1, max(HH, WW) + 2)) if how == "stride > kernel" else draw(_ints(1, 3))
    return dict(N=N, C=C, H=H, W=W, F=F, HH=HH, WW=WW, stride=stride, pad=pad)


def _pool_shape(draw: st.DrawFn, m: dict[str, int]) -> dict[str, int]:
    how = draw(_POOL_HOW)
    N, C = _size(draw, m["batch"]), _size(draw, m["channels"])
    H, W = draw(_ints(1, m["image"])), draw(_ints(1, m["image"]))
    if how == "whole image":
        ph, pw = H, W
    elif how == "1x1":
        ph = pw = 1
    else:
        ph, pw = draw(_ints(1, min(H, 3))), draw(_ints(1, min(W, 3)))
    hi = max(1, min(ph, pw) - 1) if how == "overlapping" else 3
    return dict(N=N, C=C, H=H, W=W, pool_height=ph, pool_width=pw, stride=draw(_ints(1, hi)))


def _keep(draw: st.DrawFn) -> float:
    how = draw(_KEEP_HOW)
    if how == "near 0":
        return draw(_choice((1 / 64, 0.01, 0.05)))
    if how == "near 1":
        return draw(_choice((63 / 64, 0.99, 0.95)))
    return {"half": 0.5, "one": 1.0}.get(how) or draw(_choice((0.2, 0.3, 0.7, 0.9)))


@st.composite
def layer_shapes(draw: st.DrawFn, kind: str, *, max_batch: int = MAX_BATCH, max_features: int = MAX_FEATURES,
                 max_channels: int = MAX_CHANNELS, max_image: int = MAX_IMAGE, max_filters: int = MAX_FILTERS,
                 max_kernel: int = MAX_KERNEL) -> dict[str, Any]:
    """The ``shape`` of a case of ``kind`` (``make_layer_case``'s keys), weighted toward the corners."""
    m = dict(batch=max_batch, features=max_features, channels=max_channels, image=max_image,
             filters=max_filters, kernel=max_kernel)
    fam = KINDS[kind].family
    if fam == "conv2d":
        return _conv_shape(draw, m)
    if fam == "max_pool":
        return _pool_shape(draw, m)
    if fam == "affine":
        N = _size(draw, max_batch)
        dims = (_size(draw, 3), _size(draw, 3)) if draw(_BOOL) else (_size(draw, max_features),)  # x 3-D or 2-D
        return dict(N=N, dims=dims, M=_size(draw, max_features))
    if fam == "label_loss":
        return dict(N=_size(draw, max_batch), C=_size(draw, max_features))
    batch = max(max_batch, MAX_NORM_BATCH) if kind == "batchnorm" and max_batch == MAX_BATCH else max_batch
    shape: dict[str, Any] = dict(N=_size(draw, batch), D=_size(draw, max_features))
    if fam == "dropout":
        shape["p"] = _keep(draw)
    return shape


@functools.cache
def _shapes(kind: str, limits: tuple[tuple[str, int], ...]) -> st.SearchStrategy[dict[str, Any]]:
    return layer_shapes(kind, **dict(limits))


@st.composite
def layer_cases(draw: st.DrawFn, kinds: str | Sequence[str] = LAYER_KINDS, *, dtypes: Sequence[str] = DTYPES,
                regimes: Sequence[str] = REGIMES, **limits: int) -> LayerCase:
    """A random valid case of one of ``kinds`` (a name or a list): kind, shape, dtype, regime, then values.

    ``limits``: max_batch, max_features, max_channels, max_image, max_filters, max_kernel (see the
    module's constants for the defaults)."""
    names = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    kind = draw(_choice(names))
    shape = draw(_shapes(kind, tuple(sorted(limits.items()))))
    dtype = draw(_choice(tuple(dtypes)))
    # the kink and extreme regimes hold the corners most bugs hide in: drawn twice as often
    regime = draw(_choice(tuple(regimes) + tuple(r for r in regimes if r in ("extreme", "kinks"))))
    return make_layer_case(np.random.default_rng(draw(_SEEDS)), kind, shape, dtype=dtype, regime=regime)
