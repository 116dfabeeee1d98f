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

SWEEPS: tuple[str, ...] = ("quick", "default", "large")

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

# The large sweep: shapes past the sizes where code commonly changes path (a hard-coded layer limit,
# a fast path for wide layers, a batch cut into chunks of 16/32/64 that drops the remainder, a kernel
# or a vectorised function switched on for arrays of 1024 or 4096 elements).
LARGE_SHAPES: tuple[tuple[tuple[int, ...], int], ...] = (
    ((5, *(6,) * 11, 3), 4),            # depth 12
    ((5, *(8,) * 7, 3), 4),             # depth 8
    ((8, 72, 136, 4), 5),               # widths > 64 and > 128; W⁽²⁾ is 136 × 72 = 9,792 elements
    ((4, 1040, 3), 3),                  # a layer ≥ 1024 wide; W⁽¹⁾ 4,160 elements, z⁽¹⁾ 3,120
    ((48, 40, 24, 10), 97),             # batch 97 > 64, no multiple of 16; x is 97 × 48 = 4,656 elements
)
LARGE_PAIRING = "shape (activation# + loss#) mod 5"   # each activation × loss pair on one shape, both dtypes


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


def sweep_name(sweep: str | None, quick: bool) -> str:
    """The sweep asked for: ``sweep`` (default "default"), or "quick" for ``quick=True`` (an alias)."""
    if sweep is not None and sweep not in SWEEPS:
        raise ValueError(f"unknown sweep {sweep!r}; valid: {', '.join(SWEEPS)}")
    if quick and sweep not in (None, "quick"):
        raise ValueError(f"--quick is --sweep quick; it cannot be combined with --sweep {sweep}")
    return "quick" if quick else sweep or "default"


def large_shape(activation: str, loss: str) -> tuple[tuple[int, ...], int]:
    """The shape of the large sweep that the pair (activation, loss) runs on: ``LARGE_PAIRING``, by their
    indices in the full lists, so each activation meets every shape, and so does each loss."""
    return LARGE_SHAPES[(ACTIVATIONS.index(activation) + LOSSES.index(loss)) % len(LARGE_SHAPES)]


def build_sweep(*, sweep: str | None = None, quick: bool = False, activations: Iterable[str] | None = None,
                losses: Iterable[str] | None = None, dtypes: Iterable[str] | None = None) -> list[Spec]:
    """The cases of a sweep (``SWEEPS``; ``quick=True`` is ``sweep="quick"``), optionally restricted to
    some names.

    quick: every activation × loss × dtype on ``QUICK_SHAPE``, regime "default" (132 cases).
    default: the same on every ``DEFAULT_SHAPES``, plus the "extreme" and "kinks" regimes on
    ``STRESS_SHAPE`` (11 × 6 × 2 × (4 + 2) = 792 cases).
    large: every activation × loss × dtype once, regime "default", each pair on one of
    ``LARGE_SHAPES`` (``large_shape``): 132 cases, 26 or 28 per shape.
    """
    name = sweep_name(sweep, quick)
    acts = _pick("activation", activations, ACTIVATIONS)
    loss_names = _pick("loss", losses, LOSSES)
    dts = _pick("dtype", dtypes, DTYPES)
    specs = []
    for act in acts:
        for loss in loss_names:
            for dt in dts:
                if name == "large":
                    widths, batch = large_shape(act, loss)
                    specs.append(Spec(act, loss, dt, widths, batch, "default"))
                    continue
                for widths, batch in (QUICK_SHAPE,) if name == "quick" else DEFAULT_SHAPES:
                    specs.append(Spec(act, loss, dt, widths, batch, "default"))
                if name == "default":
                    widths, batch = STRESS_SHAPE
                    specs.extend(Spec(act, loss, dt, widths, batch, r) for r in STRESS_REGIMES)
    return specs


def definition(*, sweep: str | None = None, quick: bool = False, seed: int,
               activations: Iterable[str] | None = None, losses: Iterable[str] | None = None,
               dtypes: Iterable[str] | None = None) -> dict[str, Any]:
    """What defines the sweep's cases (recorded in report.json; a baseline must share it): its name,
    seed, the names it covers and its shapes ([widths, batch, regimes] each); the large sweep also
    names how its pairs are spread over its shapes."""
    name = sweep_name(sweep, quick)
    if name == "quick":
        shapes = [[list(QUICK_SHAPE[0]), QUICK_SHAPE[1], ["default"]]]
    elif name == "large":
        shapes = [[list(w), b, ["default"]] for w, b in LARGE_SHAPES]
    else:
        shapes = [[list(w), b, ["default", *(STRESS_REGIMES if (w, b) == STRESS_SHAPE else ())]]
                  for w, b in DEFAULT_SHAPES]
    out = {"sweep": name, "seed": seed,
           "activations": list(_pick("activation", activations, ACTIVATIONS)),
           "losses": list(_pick("loss", losses, LOSSES)), "dtypes": list(_pick("dtype", dtypes, DTYPES)),
           "shapes": shapes}
    if name == "large":
        out["pairing"] = LARGE_PAIRING
    return out


def group_by_signature(specs: Sequence[Spec]) -> list[list[tuple[int, Spec]]]:
    """(index, spec) pairs grouped by their jax signature, in first-seen order: one unit of work each."""
    groups: dict[tuple, list[tuple[int, Spec]]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(spec.signature(), []).append((i, spec))
    return list(groups.values())
