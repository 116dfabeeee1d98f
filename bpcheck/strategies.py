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

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from bpcheck.cases import ACTIVATIONS, DTYPES, LOSSES, REGIMES, Case, make_case

MAX_DEPTH, MAX_WIDTH, MAX_BATCH = 6, 32, 32


class Shape(NamedTuple):
    widths: list[int]  # [n₀, n₁, …, n_L]
    batch: int


@st.composite
def shapes(draw: st.DrawFn, *, max_depth: int = MAX_DEPTH, max_width: int = MAX_WIDTH,
           max_batch: int = MAX_BATCH) -> Shape:
    """Layer widths and a batch size, weighted toward the shapes where bugs hide."""
    depth = draw(st.one_of(st.just(1), st.integers(min(3, max_depth), max_depth), st.integers(1, max_depth)))
    widths = [draw(st.one_of(st.just(1), st.integers(1, min(4, max_width)), st.integers(1, max_width)))]
    for _ in range(depth):
        widths.append(draw(st.one_of(
            st.just(1),
            st.just(widths[-1]),                       # square W⁽ˡ⁾: a missing transpose shows only here...
            st.integers(1, min(4, max_width)),
            st.integers(1, max_width),                 # ...and never at width 1
        )))
    fitting = sorted({w for w in widths if w <= max_batch}) or [1]  # a batch equal to a width
    batch = draw(st.one_of(st.just(1), st.sampled_from(fitting), st.integers(1, max_batch)))
    return Shape(widths, batch)


@st.composite
def activation_lists(draw: st.DrawFn, depth: int, names: Sequence[str] = ACTIVATIONS) -> tuple[str, ...]:
    """One name per layer: often the same everywhere, often different per layer."""
    if draw(st.booleans()):
        return tuple(draw(st.sampled_from(names)) for _ in range(depth))
    return (draw(st.sampled_from(names)),) * depth


@st.composite
def cases(draw: st.DrawFn, *, activations: Sequence[str] = ACTIVATIONS, losses: Sequence[str] = LOSSES,
          dtypes: Sequence[str] = DTYPES, regimes: Sequence[str] = REGIMES, max_depth: int = MAX_DEPTH,
          max_width: int = MAX_WIDTH, max_batch: int = MAX_BATCH) -> Case:
    """A random valid case: shape, activations, loss, dtype, regime, then values from a drawn seed."""
    shape = draw(shapes(max_depth=max_depth, max_width=max_width, max_batch=max_batch))
    acts = draw(activation_lists(len(shape.widths) - 1, activations))
    loss = draw(st.sampled_from(list(losses)))
    dtype = draw(st.sampled_from(list(dtypes)))
    # the extreme and kink regimes hold the corners most bugs hide in: draw them twice as often
    weighted = [r for r in regimes] + [r for r in regimes if r in ("extreme", "kinks")]
    regime = draw(st.sampled_from(weighted))
    seed = draw(st.integers(0, 2**32 - 1))
    return make_case(np.random.default_rng(seed), shape.widths, acts, loss, batch=shape.batch,
                     dtype=dtype, regime=regime)
