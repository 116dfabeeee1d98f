"""Hypothesis strategies for property-testing any backprop against the contract (public API).

    from hypothesis import given
    from bpcheck.strategies import cases

    @given(cases())
    def test_my_backprop(case):
        grads = my_gradients(case.params, case.x, case.y, list(case.activations), case.loss)
        ...

A draw is a :class:`bpcheck.cases.Case` (params, x, y, activations, loss) whose targets are valid
for its loss. Shapes are drawn so that the corners where backprop bugs hide come up often — depth 1
and depth ≥ 3, width 1, n_L = 1, batch 1, a batch equal to a width, equal adjacent widths (square W),
different activations per layer — but never always. Values come from ``make_case`` seeded by a
drawn integer, in one of four regimes (simple, default, extreme, kinks); every choice shrinks
toward the smallest, simplest case: depth 1, width 1, batch 1, the "simple" (dyadic) regime.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from hypothesis import strategies as st

from bpcheck.cases import ACTIVATIONS, DTYPES, LOSSES, REGIMES, Case, make_case

MAX_DEPTH, MAX_WIDTH, MAX_BATCH = 6, 32, 32


class Shape(NamedTuple):
    widths: list[int]  # [n₀, n₁, …, n_L]
    batch: int


@functools.cache
def _ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(lo, hi)


@functools.cache
def _choice(options: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(options)


# Strategy objects are built once and reused: building them inside every draw costs more than the
# whole check of a small network. Each "how" shrinks toward its first entry, the simplest.
_DEPTH_HOW = _choice(("one", "deep", "any"))
_WIDTH_HOW = _choice(("one", "same", "small", "any"))  # "same": square W⁽ˡ⁾, where a missing transpose shows
_BATCH_HOW = _choice(("one", "a width", "any"))
_BOOL = st.booleans()


@st.composite
def shapes(draw: st.DrawFn, *, max_depth: int = MAX_DEPTH, max_width: int = MAX_WIDTH,
           max_batch: int = MAX_BATCH) -> Shape:
    """Layer widths and a batch size, weighted toward the shapes where bugs hide."""
    how = draw(_DEPTH_HOW)
    depth = 1 if how == "one" else draw(_ints(min(3, max_depth), max_depth) if how == "deep" else _ints(1, max_depth))
    widths: list[int] = []
    for _ in range(depth + 1):
        how = draw(_WIDTH_HOW)
        if how == "one":
            widths.append(1)
        elif how == "same" and widths:
            widths.append(widths[-1])
        else:
            widths.append(draw(_ints(1, min(4, max_width)) if how == "small" else _ints(1, max_width)))
    how = draw(_BATCH_HOW)
    if how == "one":
        return Shape(widths, 1)
    fitting = tuple(sorted({w for w in widths if w <= max_batch})) or (1,)  # a batch equal to a width
    return Shape(widths, draw(_choice(fitting) if how == "a width" else _ints(1, max_batch)))


@st.composite
def activation_lists(draw: st.DrawFn, depth: int, names: Sequence[str] = ACTIVATIONS) -> tuple[str, ...]:
    """One name per layer: often the same everywhere, often different per layer."""
    pick = _choice(tuple(names))
    if draw(_BOOL):
        return tuple(draw(pick) for _ in range(depth))
    return (draw(pick),) * depth


@functools.cache
def _shapes(max_depth: int, max_width: int, max_batch: int) -> st.SearchStrategy[Shape]:
    return shapes(max_depth=max_depth, max_width=max_width, max_batch=max_batch)


@functools.cache
def _activation_lists(depth: int, names: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...]]:
    return activation_lists(depth, names)


@st.composite
def cases(draw: st.DrawFn, *, activations: Sequence[str] = ACTIVATIONS, losses: Sequence[str] = LOSSES,
          dtypes: Sequence[str] = DTYPES, regimes: Sequence[str] = REGIMES, max_depth: int = MAX_DEPTH,
          max_width: int = MAX_WIDTH, max_batch: int = MAX_BATCH) -> Case:
    """A random valid case: shape, activations, loss, dtype, regime, then values from a drawn seed."""
    shape = draw(_shapes(max_depth, max_width, max_batch))
    acts = draw(_activation_lists(len(shape.widths) - 1, tuple(activations)))
    loss = draw(_choice(tuple(losses)))
    dtype = draw(_choice(tuple(dtypes)))
    # the extreme and kink regimes hold the corners most bugs hide in: draw them twice as often
    weighted = tuple(regimes) + tuple(r for r in regimes if r in ("extreme", "kinks"))
    regime = draw(_choice(weighted))
    seed = draw(_ints(0, 2**32 - 1))
    return make_case(np.random.default_rng(seed), shape.widths, acts, loss, batch=shape.batch,
                     dtype=dtype, regime=regime)
