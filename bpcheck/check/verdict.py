"""What ``check`` returns: a ``Verdict``, with the minimal ``Counterexample`` when it failed.

``to_json`` gives the contract's JSON (docs/contract.md, "manual-bp check").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bpcheck.cases import Case


@dataclass
class Counterexample:
    case: Case
    kind: str
    message: str
    mismatches: list[dict[str, Any]]            # the contract's entries, against the primary reference
    table: list[dict[str, Any]] = field(default_factory=list)  # every reference, every layer/param
    repro: str = ""                             # the script's text

    def to_json(self, repro_path: str | None) -> dict[str, Any]:
        c = self.case
        return {"widths": c.widths, "activations": list(c.activations), "loss": c.loss,
                "dtype": str(c.dtype), "batch": c.batch, "kind": self.kind, "message": self.message,
                "mismatches": self.mismatches, "repro": repro_path or self.repro,
                "repro_script": self.repro, "references": self.table}


@dataclass
class Verdict:
    passed: bool
    examples: int
    seed: int
    seconds: float
    counterexample: Counterexample | None = None
    dtypes: tuple[str, ...] = ("float32", "float64")  # the dtypes the search ran

    def to_json(self, repro_path: str | None = None) -> dict[str, Any]:
        return {"verdict": "pass" if self.passed else "fail", "examples": self.examples, "seed": self.seed,
                "counterexample": None if self.counterexample is None
                else self.counterexample.to_json(repro_path)}
