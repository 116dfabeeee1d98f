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

from bpcheck.cases import ACTIVATIONS, DTYPES, LOSSES, REGIMES, TARGETS, Case, make_case

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
           max_batch: int = MAX_BATCH, output_width: int | None = None) -> Shape:
    """Layer widths and a batch size, weighted toward the shapes where bugs hide; ``output_width``
    fixes n_L (a binary classifier's 1, say)."""
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
    if output_width is not None:
        widths[-1] = output_width
    how = draw(_BATCH_HOW)
    if how == "one":
        return Shape(widths, 1)
    fitting = tuple(sorted({w for w in widths if w <= max_batch})) or (1,)  # a batch equal to a width
    return Shape(widths, draw(_choice(fitting) if how == "a width" else _ints(1, max_batch)))


@st.composite
def activation_lists(draw: st.DrawFn, depth: int, names: Sequence[str] = ACTIVATIONS,
                     output_names: Sequence[str] | None = None) -> tuple[str, ...]:
    """One name per layer: often the same everywhere, often different per layer. With ``output_names``
    the hidden layers draw from ``names`` and the output layer from ``output_names``."""
    if output_names is None or tuple(output_names) == tuple(names):
        pick = _choice(tuple(names))
        if draw(_BOOL):
            return tuple(draw(pick) for _ in range(depth))
        return (draw(pick),) * depth
    hidden_pick, output_pick = _choice(tuple(names)), _choice(tuple(output_names))
    if depth == 1:
        return (draw(output_pick),)
    hidden = tuple(draw(hidden_pick) for _ in range(depth - 1)) if draw(_BOOL) else (draw(hidden_pick),) * (depth - 1)
    return (*hidden, draw(output_pick))


@functools.cache
def _shapes(max_depth: int, max_width: int, max_batch: int, output_width: int | None) -> st.SearchStrategy[Shape]:
    return shapes(max_depth=max_depth, max_width=max_width, max_batch=max_batch, output_width=output_width)


@functools.cache
def _activation_lists(depth: int, names: tuple[str, ...],
                      output_names: tuple[str, ...] | None) -> st.SearchStrategy[tuple[str, ...]]:
    return activation_lists(depth, names, output_names)


def _names(argument: str, given: Sequence[str] | None, valid: Sequence[str]) -> tuple[str, ...] | None:
    """``given`` checked against ``valid`` (a ValueError naming the argument), or None."""
    if given is None:
        return None
    if isinstance(given, str):
        raise TypeError(f"{argument} must be a sequence of names, got the string {given!r}")
    chosen = tuple(given)
    bad = [g for g in chosen if g not in valid]
    if bad or not chosen:
        raise ValueError(f"{argument} must be a non-empty list of {', '.join(valid)}; got {list(chosen)}")
    return chosen


def _size(argument: str, value: int | None, low: int = 1) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
        raise ValueError(f"{argument} must be an integer ≥ {low}, got {value!r}")


def cases(*, activations: Sequence[str] = ACTIVATIONS, losses: Sequence[str] = LOSSES,
          dtypes: Sequence[str] = DTYPES, regimes: Sequence[str] = REGIMES, max_depth: int = MAX_DEPTH,
          max_width: int = MAX_WIDTH, max_batch: int = MAX_BATCH, hidden_activations: Sequence[str] | None = None,
          output_activations: Sequence[str] | None = None, output_width: int | None = None,
          targets: str = "probabilities") -> st.SearchStrategy[Case]:
    """A random valid case: shape, activations, loss, dtype, regime, then values from a drawn seed.

    ``activations`` restricts every layer; ``hidden_activations`` and ``output_activations`` restrict
    the hidden layers and the output layer separately (each defaults to ``activations``).
    ``output_width`` fixes n_L; ``targets`` chooses the form of the targets (``bpcheck.cases.make_case``).
    """
    return _cases(*_arguments(activations, losses, dtypes, regimes, max_depth, max_width, max_batch,
                              hidden_activations, output_activations, output_width, targets))


def case_groups(size: int = 4, *, activations: Sequence[str] = ACTIVATIONS, losses: Sequence[str] = LOSSES,
                dtypes: Sequence[str] = DTYPES, regimes: Sequence[str] = REGIMES, max_depth: int = MAX_DEPTH,
                max_width: int = MAX_WIDTH, max_batch: int = MAX_BATCH,
                hidden_activations: Sequence[str] | None = None, output_activations: Sequence[str] | None = None,
                output_width: int | None = None, targets: str = "probabilities") -> st.SearchStrategy[list[Case]]:
    """``size`` cases of one network structure (shape, activations, loss), each with its own dtype,
    regime and values: a search that judges them together pays for one draw of the structure, and
    Hypothesis still shrinks the structure and every value draw. Keywords as for ``cases``."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be an integer ≥ 1, got {size!r}")
    return _groups(size, *_arguments(activations, losses, dtypes, regimes, max_depth, max_width, max_batch,
                                     hidden_activations, output_activations, output_width, targets))


def _arguments(activations: Sequence[str], losses: Sequence[str], dtypes: Sequence[str], regimes: Sequence[str],
               max_depth: int, max_width: int, max_batch: int, hidden_activations: Sequence[str] | None,
               output_activations: Sequence[str] | None, output_width: int | None, targets: str) -> tuple[Any, ...]:
    """The strategies' keywords checked (a ValueError or TypeError naming the argument), as a tuple."""
    hidden = _names("hidden_activations", hidden_activations, ACTIVATIONS) or \
        _names("activations", activations, ACTIVATIONS)
    output = _names("output_activations", output_activations, ACTIVATIONS) or \
        _names("activations", activations, ACTIVATIONS)
    loss_names = _names("losses", losses, LOSSES)
    dtype_names = _names("dtypes", dtypes, DTYPES)
    regime_names = _names("regimes", regimes, REGIMES)
    for argument, value in (("max_depth", max_depth), ("max_width", max_width), ("max_batch", max_batch),
                            ("output_width", output_width)):
        _size(argument, value)
    if targets not in TARGETS:
        raise ValueError(f"targets must be one of {', '.join(TARGETS)}, got {targets!r}")
    return (hidden, output, loss_names, dtype_names, regime_names, max_depth, max_width, max_batch,
            output_width, targets)


def _weighted(regimes: tuple[str, ...]) -> tuple[str, ...]:
    # the extreme and kink regimes hold the corners most bugs hide in: drawn twice as often
    return regimes + tuple(r for r in regimes if r in ("extreme", "kinks"))


@st.composite
def _cases(draw: st.DrawFn, hidden: tuple[str, ...], output: tuple[str, ...], losses: tuple[str, ...],
           dtypes: tuple[str, ...], regimes: tuple[str, ...], max_depth: int, max_width: int, max_batch: int,
           output_width: int | None, targets: str) -> Case:
    shape = draw(_shapes(max_depth, max_width, max_batch, output_width))
    acts = draw(_activation_lists(len(shape.widths) - 1, hidden, output if output != hidden else None))
    loss = draw(_choice(losses))
    dtype = draw(_choice(dtypes))
    regime = draw(_choice(_weighted(regimes)))
    seed = draw(_ints(0, 2**32 - 1))
    return make_case(np.random.default_rng(seed), shape.widths, acts, loss, batch=shape.batch,
                     dtype=dtype, regime=regime, targets=targets)


@st.composite
def _groups(draw: st.DrawFn, size: int, hidden: tuple[str, ...], output: tuple[str, ...], losses: tuple[str, ...],
            dtypes: tuple[str, ...], regimes: tuple[str, ...], max_depth: int, max_width: int, max_batch: int,
            output_width: int | None, targets: str) -> list[Case]:
    shape = draw(_shapes(max_depth, max_width, max_batch, output_width))
    acts = draw(_activation_lists(len(shape.widths) - 1, hidden, output if output != hidden else None))
    loss = draw(_choice(losses))
    group = []
    for _ in range(size):
        dtype, regime = draw(_choice(dtypes)), draw(_choice(_weighted(regimes)))
        seed = draw(_ints(0, 2**32 - 1))
        group.append(make_case(np.random.default_rng(seed), shape.widths, acts, loss, batch=shape.batch,
                               dtype=dtype, regime=regime, targets=targets))
    return group
