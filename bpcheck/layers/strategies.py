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
from typing import Any, Protocol

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


class Chooser(Protocol):
    """Where a shape's choices come from: Hypothesis (``_Drawn``) or a NumPy generator (``RandomChooser``)."""

    def int(self, lo: int, hi: int) -> int: ...

    def choice(self, options: tuple[Any, ...]) -> Any: ...


class _Drawn:
    """Choices drawn by Hypothesis: each shrinks toward lo, or toward the first option."""

    def __init__(self, draw: st.DrawFn) -> None:
        self._draw = draw

    def int(self, lo: int, hi: int) -> int:
        return self._draw(_ints(lo, hi))

    def choice(self, options: tuple[Any, ...]) -> Any:
        return self._draw(_choice(options))


class RandomChooser:
    """Choices drawn uniformly from a NumPy generator: the campaigns' i.i.d. version of the strategies."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, max(lo, hi) + 1))

    def choice(self, options: tuple[Any, ...]) -> Any:
        return options[int(self.rng.integers(len(options)))]


# Each "how" lists its options simplest first (the one a shrink reaches). Every shape makes the same
# sequence of choices whatever its how says, and the how only overrides values: then each choice
# shrinks on its own (a how that changed the number of later choices would make the shrinker compare
# sequences of different lengths, and stop short of the smallest shape).
_SIZE_HOW = ("one", "small", "any")
_CONV_HOW = ("any", "1x1 kernel", "1x1 image", "large pad", "stride > kernel")
_POOL_HOW = ("any", "overlapping", "whole image", "1x1")
_KEEP_HOW = ("any", "near 0", "near 1", "half", "one")
_SEEDS = st.integers(0, 2**32 - 1)


def _size(c: Chooser, hi: int) -> int:
    """1 often, a small size often, up to ``hi`` sometimes."""
    how, n = c.choice(_SIZE_HOW), c.int(1, hi)
    return 1 if how == "one" else min(n, 3) if how == "small" else n


def _conv_shape(c: Chooser, m: dict[str, int]) -> dict[str, int]:
    how = c.choice(_CONV_HOW)
    N, C, F = _size(c, m["batch"]), _size(c, m["channels"]), _size(c, m["filters"])
    H, W = c.int(1, m["image"]), c.int(1, m["image"])
    HH, WW = c.int(1, m["kernel"]), c.int(1, m["kernel"])
    pad, stride = c.int(0, 2), c.int(1, 3)
    if how == "1x1 kernel":
        HH = WW = 1
    elif how == "1x1 image":
        H = W = 1
    elif how == "large pad":
        pad = max(pad, max(HH, WW) // 2, 1)
    elif how == "stride > kernel":
        stride = max(HH, WW) + stride
    # the kernel must fit the padded image: enlarge the padding (never the kernel) where it does not
    pad = max(pad, (HH - H + 1) // 2, (WW - W + 1) // 2)
    return dict(N=N, C=C, H=H, W=W, F=F, HH=HH, WW=WW, stride=stride, pad=pad)


def _pool_shape(c: Chooser, m: dict[str, int]) -> dict[str, int]:
    how = c.choice(_POOL_HOW)
    N, C = _size(c, m["batch"]), _size(c, m["channels"])
    H, W = c.int(1, m["image"]), c.int(1, m["image"])
    ph, pw, stride = min(H, c.int(1, 3)), min(W, c.int(1, 3)), c.int(1, 3)
    if how == "whole image":
        ph, pw = H, W
    elif how == "1x1":
        ph = pw = 1
    elif how == "overlapping":
        stride = min(stride, max(1, min(ph, pw) - 1))
    return dict(N=N, C=C, H=H, W=W, pool_height=ph, pool_width=pw, stride=stride)


def _keep(c: Chooser) -> float:
    how, near0, near1, other = (c.choice(_KEEP_HOW), c.choice((1 / 64, 0.01, 0.05)), c.choice((63 / 64, 0.99, 0.95)),
                                c.choice((0.2, 0.3, 0.7, 0.9)))
    return {"near 0": near0, "near 1": near1, "half": 0.5, "one": 1.0}.get(how, other)


LIMITS = dict(max_batch=MAX_BATCH, max_features=MAX_FEATURES, max_channels=MAX_CHANNELS, max_image=MAX_IMAGE,
              max_filters=MAX_FILTERS, max_kernel=MAX_KERNEL)


def shape_for(kind: str, c: Chooser, **limits: int) -> dict[str, Any]:
    """The ``shape`` of a case of ``kind`` (``make_layer_case``'s keys), weighted toward the corners."""
    lim = {**LIMITS, **limits}
    m = dict(batch=lim["max_batch"], features=lim["max_features"], channels=lim["max_channels"],
             image=lim["max_image"], filters=lim["max_filters"], kernel=lim["max_kernel"])
    fam = KINDS[kind].family
    if fam == "conv2d":
        return _conv_shape(c, m)
    if fam == "max_pool":
        return _pool_shape(c, m)
    if fam == "affine":
        N, three_d, a, b, D = _size(c, m["batch"]), c.choice((False, True)), _size(c, 3), _size(c, 3), \
            _size(c, m["features"])
        return dict(N=N, dims=(a, b) if three_d else (D,), M=_size(c, m["features"]))   # x 3-D or 2-D
    if fam == "label_loss":
        return dict(N=_size(c, m["batch"]), C=_size(c, m["features"]))
    batch = MAX_NORM_BATCH if kind == "batchnorm" and m["batch"] == MAX_BATCH else m["batch"]
    shape: dict[str, Any] = dict(N=_size(c, batch), D=_size(c, m["features"]))
    if fam == "dropout":
        shape["p"] = _keep(c)
    return shape


@st.composite
def layer_shapes(draw: st.DrawFn, kind: str, **limits: int) -> dict[str, Any]:
    """The ``shape`` of a case of ``kind``, drawn by Hypothesis (``shape_for`` with ``limits``)."""
    return shape_for(kind, _Drawn(draw), **limits)


@functools.cache
def _shapes(kind: str, limits: tuple[tuple[str, int], ...]) -> st.SearchStrategy[dict[str, Any]]:
    return layer_shapes(kind, **dict(limits))


def _weighted(regimes: Sequence[str]) -> tuple[str, ...]:
    # the kink and extreme regimes hold the corners most bugs hide in: drawn twice as often
    return tuple(regimes) + tuple(r for r in regimes if r in ("extreme", "kinks"))


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
    regime = draw(_choice(_weighted(regimes)))
    return make_layer_case(np.random.default_rng(draw(_SEEDS)), kind, shape, dtype=dtype, regime=regime)


def random_layer_case(rng: np.random.Generator, kinds: str | Sequence[str] = LAYER_KINDS, *,
                      dtypes: Sequence[str] = DTYPES, regimes: Sequence[str] = REGIMES, **limits: int) -> LayerCase:
    """A case drawn like ``layer_cases`` but i.i.d. from ``rng`` (every choice uniform): for campaigns."""
    c = RandomChooser(rng)
    kind = c.choice((kinds,) if isinstance(kinds, str) else tuple(kinds))
    shape = shape_for(kind, c, **limits)
    return make_layer_case(rng, kind, shape, dtype=c.choice(tuple(dtypes)), regime=c.choice(_weighted(regimes)))
