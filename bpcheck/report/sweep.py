"""The report's sweep: which cases it measures, their stable ids, and how each one is drawn.

A case is named by a ``Spec``: one activation used in every layer, a loss, a dtype, the layer widths
[n₀, …, n_L], the batch B and the ``bpcheck.cases`` regime. Its id, e.g.

    tanh-tanh|half_sse|float32|4-6-5|b3|default

is stable across runs and sweeps, and so is its data: the case is drawn by
``make_case(np.random.default_rng(spec.key(seed)), …)`` with a key built from the spec itself (not
from its position in the sweep), and the float32 case is the float64 draw rounded to float32. So a
report is its own baseline, the quick sweep's cases reappear with the same data in the default
sweep, and a float32 case and its float64 twin measure the same network.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from bpcheck.cases import ACTIVATIONS, DTYPES, LOSSES, REGIMES, Case, make_case

QUICK_SHAPE: tuple[tuple[int, ...], int] = ((4, 6, 5), 3)
# (widths, batch): depth 1 at batch 1 (its own blind spots), the quick shape, two deeper nets
DEFAULT_SHAPES: tuple[tuple[tuple[int, ...], int], ...] = (
    ((3, 2), 1),
    QUICK_SHAPE,
    ((5, 8, 8, 3), 4),
    ((6, 10, 10, 10, 4), 8),
)
# the hard regimes run on one mid-sized shape (they reuse its compiled jax gradients)
STRESS_SHAPE: tuple[tuple[int, ...], int] = ((5, 8, 8, 3), 4)
STRESS_REGIMES: tuple[str, ...] = ("extreme", "kinks")


class Spec(NamedTuple):
    """One case of the sweep, by name."""

    activation: str
    loss: str
    dtype: str
    widths: tuple[int, ...]
    batch: int
    regime: str

    @property
    def activations(self) -> tuple[str, ...]:
        return (self.activation,) * (len(self.widths) - 1)

    @property
    def id(self) -> str:
        return case_id(self.activations, self.loss, self.dtype, self.widths, self.batch, self.regime)

    def key(self, seed: int) -> list[int]:
        """The entropy of this case's generator: the seed, then the spec's own coordinates (no dtype)."""
        return [seed, ACTIVATIONS.index(self.activation), LOSSES.index(self.loss),
                REGIMES.index(self.regime), self.batch, len(self.widths), *self.widths]

    def case(self, seed: int) -> Case:
        rng = np.random.default_rng(self.key(seed))
        case = make_case(rng, list(self.widths), self.activations, self.loss, batch=self.batch,
                         dtype="float64", regime=self.regime)
        return case.astype(self.dtype)

    def signature(self) -> tuple:
        """What a jitted reference compiles for: specs that share it are best measured together."""
        return (self.activation, self.loss, self.dtype, self.widths, self.batch)


def case_id(activations: Sequence[str], loss: str, dtype: str, widths: Sequence[int], batch: int,
            regime: str) -> str:
    """``act1-act2|loss|dtype|n0-n1-n2|bB|regime``: the key by which reports are matched."""
    return "|".join(["-".join(activations), loss, str(np.dtype(dtype)), "-".join(str(int(n)) for n in widths),
                     f"b{int(batch)}", regime])


def _pick(kind: str, chosen: Iterable[str] | None, valid: tuple[str, ...]) -> tuple[str, ...]:
    if chosen is None:
        return valid
    chosen = tuple(chosen)
    bad = [c for c in chosen if c not in valid]
    if bad or not chosen:
        raise ValueError(f"unknown {kind} {bad or chosen!r}; valid: {', '.join(valid)}")
    return tuple(v for v in valid if v in chosen)  # the canonical order, duplicates dropped


def build_sweep(*, quick: bool, activations: Iterable[str] | None = None, losses: Iterable[str] | None = None,
                dtypes: Iterable[str] | None = None) -> list[Spec]:
    """The cases of the quick or the default sweep, optionally restricted to some names.

    quick: every activation × loss × dtype on ``QUICK_SHAPE``, regime "default" (132 cases).
    default: the same on every ``DEFAULT_SHAPES``, plus the "extreme" and "kinks" regimes on
    ``STRESS_SHAPE`` (11 × 6 × 2 × (4 + 2) = 792 cases).
    """
    acts = _pick("activation", activations, ACTIVATIONS)
    loss_names = _pick("loss", losses, LOSSES)
    dts = _pick("dtype", dtypes, DTYPES)
    shapes = (QUICK_SHAPE,) if quick else DEFAULT_SHAPES
    specs = []
    for act in acts:
        for loss in loss_names:
            for dt in dts:
                for widths, batch in shapes:
                    specs.append(Spec(act, loss, dt, widths, batch, "default"))
                if not quick:
                    widths, batch = STRESS_SHAPE
                    specs.extend(Spec(act, loss, dt, widths, batch, r) for r in STRESS_REGIMES)
    return specs


def definition(*, quick: bool, seed: int, activations: Iterable[str] | None = None,
               losses: Iterable[str] | None = None, dtypes: Iterable[str] | None = None) -> dict[str, Any]:
    """What defines the sweep's cases (recorded in report.json; a baseline must share it): its name,
    seed, the names it covers and its shapes ([widths, batch, regimes] each)."""
    shapes = [[list(QUICK_SHAPE[0]), QUICK_SHAPE[1], ["default"]]] if quick else \
        [[list(w), b, ["default", *(STRESS_REGIMES if (w, b) == STRESS_SHAPE else ())]] for w, b in DEFAULT_SHAPES]
    return {"sweep": "quick" if quick else "default", "seed": seed,
            "activations": list(_pick("activation", activations, ACTIVATIONS)),
            "losses": list(_pick("loss", losses, LOSSES)), "dtypes": list(_pick("dtype", dtypes, DTYPES)),
            "shapes": shapes}


def group_by_signature(specs: Sequence[Spec]) -> list[list[tuple[int, Spec]]]:
    """(index, spec) pairs grouped by their jax signature, in first-seen order: one unit of work each."""
    groups: dict[tuple, list[tuple[int, Spec]]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(spec.signature(), []).append((i, spec))
    return list(groups.values())
