"""What ``check`` returns: a ``Verdict``, with the minimal ``Counterexample`` when it failed.

``to_json`` gives the contract's JSON (docs/contract.md, "manual-bp check"); in a notebook a verdict
shows itself (``_repr_html_``, ``_repr_markdown_``) with the command line's content; in a test,
``verdict.raise_for_failure()`` fails with that content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bpcheck.cases import Case
from bpcheck.check.text import format_html, format_markdown, format_verdict


@dataclass
class Counterexample:
    case: Case
    kind: str
    message: str
    mismatches: list[dict[str, Any]]            # the contract's entries, against the primary reference
    table: list[dict[str, Any]] = field(default_factory=list)  # every reference, every layer/param
    repro: str = ""                             # the script's text
    activations: list[str] = field(default_factory=list)  # as the candidate saw them (its layout)
    layer: str | None = None                    # check-layer's kind; then ``case`` is a LayerCase
    outputs: list[str] = field(default_factory=list)  # check-layer: the outputs at fault ("dx", "dw", …)

    def __post_init__(self) -> None:
        if not self.activations and self.layer is None:
            self.activations = list(self.case.activations)

    def describe(self) -> str:
        """The case in one line: its network (or layer call), loss, batch and dtype."""
        c = self.case
        if self.layer is not None:
            return c.describe()
        return (f"widths {c.widths}, activations {self.activations}, loss {c.loss}, batch {c.batch}, "
                f"dtype {c.dtype}")

    def to_json(self, repro_path: str | None) -> dict[str, Any]:
        c = self.case
        if self.layer is not None:
            return {"layer": self.layer, "shapes": {k: list(v.shape) for k, v in c.inputs.items()},
                    "hyper": {k: v for k, v in c.hyper.items() if k not in ("mode", "momentum")},
                    "dtype": str(c.dtype), "batch": int(c.inputs["x"].shape[0]), "kind": self.kind,
                    "outputs": self.outputs,
                    "message": self.message, "mismatches": self.mismatches, "repro": repro_path or self.repro,
                    "repro_script": self.repro, "references": self.table}
        return {"widths": c.widths, "activations": self.activations, "loss": c.loss,
                "dtype": str(c.dtype), "batch": c.batch, "kind": self.kind, "message": self.message,
                "mismatches": self.mismatches, "repro": repro_path or self.repro,
                "repro_script": self.repro, "references": self.table}


class CheckFailed(AssertionError):
    """A verdict that failed, raised by ``Verdict.raise_for_failure`` (its text is the message)."""


@dataclass
class Verdict:
    passed: bool
    examples: int
    seed: int
    seconds: float
    counterexample: Counterexample | None = None
    dtypes: tuple[str, ...] = ("float32", "float64")  # the dtypes the search ran
    coverage: dict[str, Any] = field(default_factory=dict)  # what was checked (bpcheck.check.coverage)
    target: str = "candidate"                        # how the candidate was named
    repro_path: str | None = None                    # where its repro script was written, if it was
    layer: str | None = None                         # check-layer's kind

    def to_json(self, repro_path: str | None = None) -> dict[str, Any]:
        return {"verdict": "pass" if self.passed else "fail", "examples": self.examples, "seed": self.seed,
                **({"layer": self.layer} if self.layer is not None else {}), "coverage": self.coverage,
                "counterexample": None if self.counterexample is None
                else self.counterexample.to_json(repro_path or self.repro_path)}

    def text(self) -> str:
        """The verdict as the command line prints it."""
        return format_verdict(self, self.target, self.repro_path)

    def raise_for_failure(self) -> Verdict:
        """Raise ``CheckFailed`` (an AssertionError) with the verdict's text if it failed; return it if
        it passed, so ``check(fn).raise_for_failure()`` is a one-line pytest test."""
        __tracebackhide__ = True
        if not self.passed:
            raise CheckFailed(self.text())
        return self

    def _repr_markdown_(self) -> str:
        return format_markdown(self, self.target, self.repro_path)

    def _repr_html_(self) -> str:
        return format_html(self, self.target, self.repro_path)
