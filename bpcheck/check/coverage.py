"""What a check covers: the activations, losses and dtypes it draws from, and what the candidate
declined.

A partial implementation (sigmoid and half_sse only, say) is checked on what it implements. The set
comes from the caller (``activations=``, ``hidden_activations=``, ``output_activations=``, ``losses=``)
or, when none is given, from a *probe*: the candidate is called once per activation × loss on a tiny
network, and every name for which it raises ``NotImplementedError`` in every combination is marked
unsupported and left out of the search (``probe``). Only ``NotImplementedError`` means unsupported;
any other exception stays a fault. Where the probe found partial support, a drawn combination that
the candidate declines (``NotImplementedError`` again) is skipped and counted, not failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from bpcheck.cases import ACTIVATIONS, DTYPES, LOSSES, Case, make_case
from bpcheck.check.layout import PROBABILITY_OUTPUT, Layout
from bpcheck.isolation.supervisor import Candidate, Crash

DECLINED = "NotImplementedError"
_PROBE_WIDTHS = (2, 3, 2)  # depth 2: a hidden layer and an output layer
_PROBE_BATCH = 2


@dataclass(frozen=True)
class Scope:
    """The names, dtypes and shapes a check draws from, and what it was told or found."""

    hidden: tuple[str, ...] = ACTIVATIONS
    output: tuple[str, ...] = ACTIVATIONS
    losses: tuple[str, ...] = LOSSES
    dtypes: tuple[str, ...] = DTYPES
    output_width: int | None = None
    layout: Layout = field(default_factory=Layout)
    max_depth: int | None = None         # bounds on everything the check builds (None: its defaults)
    max_width: int | None = None
    max_batch: int | None = None
    probed: bool = False                 # the sets came from the probe, not from the caller
    unsupported: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"activations": (), "losses": ()})

    @property
    def declines_allowed(self) -> bool:
        """Whether a NotImplementedError during the search is a declined combination (skipped and
        counted), not a fault: when the scope came from the probe, since then the caller never said
        what the candidate implements."""
        return self.probed

    def strategy_options(self) -> dict[str, Any]:
        """Keywords of ``bpcheck.strategies.cases`` for this scope (the random search's bounds are the
        strategy's own unless the caller set them)."""
        bounds = {k: v for k, v in (("max_depth", self.max_depth), ("max_width", self.max_width),
                                    ("max_batch", self.max_batch)) if v is not None}
        return {"hidden_activations": list(self.hidden), "output_activations": list(self.output),
                "losses": list(self.losses), "dtypes": list(self.dtypes), "output_width": self.output_width,
                "targets": self.layout.case_targets, **bounds}

    def fits(self, widths: Sequence[int], batch: int) -> bool:
        """Whether a network of these widths and batch lies within the caller's bounds."""
        return ((self.max_depth is None or len(widths) - 1 <= self.max_depth)
                and (self.max_width is None or max(widths) <= self.max_width)
                and (self.max_batch is None or batch <= self.max_batch))

    def bounded(self, widths: Sequence[int], batch: int) -> tuple[list[int], int]:
        """A fixed shape (a corner's, the probe's) made to fit the scope: at most ``max_depth`` layers
        (hidden ones dropped first), no layer wider than ``max_width``, no batch larger than
        ``max_batch``, and n_L = ``output_width`` when it is set."""
        depth = len(widths) - 1 if self.max_depth is None else min(len(widths) - 1, self.max_depth)
        fitted = [*widths[:depth], widths[-1]]
        if self.max_width is not None:
            fitted = [min(w, self.max_width) for w in fitted]
        if self.output_width is not None:
            fitted[-1] = self.output_width
        return fitted, batch if self.max_batch is None else min(batch, self.max_batch)

    def user_output(self, loss: str | None = None) -> tuple[str, ...]:
        """The output activations as the candidate sees them (softmax/sigmoid for a loss on probabilities)."""
        if self.layout.loss_input == "probabilities":
            return tuple(dict.fromkeys(PROBABILITY_OUTPUT[lo] for lo in self.losses))
        return self.output

    def coverage(self, declined: int = 0) -> dict[str, Any]:
        """The verdict's ``coverage`` object (docs/contract.md)."""
        activations = [a for a in ACTIVATIONS if a in self.hidden or a in self.user_output()]
        return {"activations": activations, "losses": list(self.losses), "dtypes": list(self.dtypes),
                "hidden_activations": list(self.hidden), "output_activations": list(self.user_output()),
                "unsupported": {k: list(v) for k, v in self.unsupported.items()},
                "declined": declined, "output_width": self.output_width, "options": self.layout.options(),
                "bounds": {"max_depth": self.max_depth, "max_width": self.max_width, "max_batch": self.max_batch}}


def scope(*, layout: Layout, activations: Sequence[str] | None, hidden_activations: Sequence[str] | None,
          output_activations: Sequence[str] | None, losses: Sequence[str] | None, dtypes: Sequence[str],
          output_width: int | None, max_depth: int | None = None, max_width: int | None = None,
          max_batch: int | None = None) -> Scope:
    """The scope the caller asked for (ValueError or TypeError naming a bad argument)."""
    def names(argument: str, given: Sequence[str] | None, valid: tuple[str, ...]) -> tuple[str, ...] | None:
        if given is None:
            return None
        if isinstance(given, str) or not all(isinstance(g, str) for g in given):
            raise TypeError(f"{argument} must be a list of names, got {given!r}")
        bad = [g for g in given if g not in valid]
        if bad or not given:
            raise ValueError(f"{argument}: {', '.join(map(repr, bad)) or 'an empty list'} — expected names among "
                             f"{', '.join(valid)}")
        return tuple(v for v in valid if v in given)

    both = names("activations", activations, ACTIVATIONS)
    hidden = names("hidden_activations", hidden_activations, ACTIVATIONS) or both or ACTIVATIONS
    output = names("output_activations", output_activations, ACTIVATIONS) or both or ACTIVATIONS
    loss_set = names("losses", losses, LOSSES) or LOSSES
    if layout.losses() is not None:
        loss_set = tuple(lo for lo in loss_set if lo in layout.losses())  # type: ignore[operator]
        if not loss_set:
            raise ValueError(f"losses: none of {list(losses or LOSSES)} can be checked with "
                             f"{layout.options()}; it takes {', '.join(layout.losses() or ())}")
    if layout.loss_input == "probabilities":
        # the contract case's output layer is the identity; the candidate's applies softmax/sigmoid itself
        output = ("identity",)
    for argument, value in (("output_width", output_width), ("max_depth", max_depth), ("max_width", max_width),
                            ("max_batch", max_batch)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{argument} must be an integer ≥ 1, got {value!r}")
    if output_width is not None and max_width is not None and output_width > max_width:
        raise ValueError(f"output_width {output_width} exceeds max_width {max_width}")
    return Scope(hidden, output, loss_set, tuple(dtypes), output_width, layout, max_depth, max_width, max_batch)


def _probe_case(hidden: str, output: str, loss: str, dtype: str, scope: Scope) -> Case:
    widths, batch = scope.bounded(_PROBE_WIDTHS, _PROBE_BATCH)
    rng = np.random.default_rng([ACTIVATIONS.index(hidden), ACTIVATIONS.index(output), LOSSES.index(loss)])
    names = (hidden, output) if len(widths) == 3 else (output,)  # max_depth 1: no hidden layer to probe
    return make_case(rng, widths, names, loss, batch=batch, dtype=dtype, regime="simple",
                     targets=scope.layout.case_targets)


def _declines(candidate: Candidate, cases: list[Case], layout: Layout) -> list[bool]:
    """For each case, whether the candidate declines it (NotImplementedError), all in one request."""
    found = [False] * len(cases)
    for reply in candidate.submit("twice_each", "gradients", [layout.args(case) for case in cases]):
        if isinstance(reply, Crash):
            break
        found[reply.case] = found[reply.case] or (reply.kind == "raised" and reply.exception == DECLINED)
    return found


def probe(candidate: Candidate, given: Scope) -> Scope:
    """The scope narrowed to what the candidate implements (see the module docstring).

    One call per activation (in every layer) × loss, in the first dtype; if none is declined, that is
    all. Otherwise hidden × output × loss, to find each set: a name is supported when some
    combination with it is not declined. Then each dtype once, on a supported combination.
    """
    dtype = given.dtypes[-1]
    pairs = [(a, lo) for a in given.hidden if a in given.output for lo in given.losses]
    if pairs and not any(_declines(candidate, [_probe_case(a, a, lo, dtype, given) for a, lo in pairs],
                                   given.layout)):
        return replace(given, probed=True)
    triples = [(h, o, lo) for h in given.hidden for o in given.output for lo in given.losses]
    declined = _declines(candidate, [_probe_case(*t, dtype, given) for t in triples], given.layout)
    ok = [t for t, no in zip(triples, declined, strict=True) if not no]
    hidden = tuple(h for h in given.hidden if any(t[0] == h for t in ok))
    output = tuple(o for o in given.output if any(t[1] == o for t in ok))
    losses = tuple(lo for lo in given.losses if any(t[2] == lo for t in ok))
    if given.max_depth == 1:  # no hidden layer is ever built: the probe tried the output layer's names only
        hidden = tuple(h for h in given.hidden if h in output)
    dtypes = tuple(d for d, no in zip(given.dtypes, _declines(
        candidate, [_probe_case(*ok[0], d, given) for d in given.dtypes], given.layout), strict=True)
        if not no) if ok else ()
    unsupported = {"activations": tuple(a for a in ACTIVATIONS if (a in given.hidden or a in given.output)
                                        and a not in hidden and a not in output),
                   "losses": tuple(lo for lo in given.losses if lo not in losses)}
    return replace(given, hidden=hidden, output=output, losses=losses, dtypes=dtypes, probed=True,
                   unsupported=unsupported)


def summary_line(coverage: dict[str, Any]) -> str:
    """One line: what was covered and what was not, e.g. "2 of 11 activations (sigmoid, tanh), 1 of 6
    losses (half_sse), float32 + float64"."""
    def part(what: str, names: list[str], total: int) -> str:
        if len(names) == total:
            return f"all {total} {what}"
        return f"{len(names)} of {total} {what} ({', '.join(names)})"

    parts = [part("activations", coverage["activations"], len(ACTIVATIONS)),
             part("losses", coverage["losses"], len(LOSSES)), " + ".join(coverage["dtypes"])]
    if coverage["hidden_activations"] != coverage["output_activations"]:
        parts.append(f"hidden {', '.join(coverage['hidden_activations'])}; "
                     f"output {', '.join(coverage['output_activations'])}")
    if coverage.get("output_width") is not None:
        parts.append(f"output width {coverage['output_width']}")
    parts += [f"{k.replace('_', ' ')} {v}" for k, v in coverage.get("options", {}).items()]
    if any(coverage["unsupported"].values()):
        parts.append("the rest raised NotImplementedError")
    if coverage.get("declined"):
        parts.append(f"{coverage['declined']} declined combinations skipped")
    return ", ".join(parts)


def is_partial(coverage: dict[str, Any]) -> bool:
    return (len(coverage["activations"]) < len(ACTIVATIONS) or len(coverage["losses"]) < len(LOSSES)
            or len(coverage["dtypes"]) < len(DTYPES))
