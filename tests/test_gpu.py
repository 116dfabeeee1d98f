"""GPU references: torch and jax on CUDA at full float32 precision, and what TF32 does to them.

Every test here needs a CUDA device and skips cleanly without one (marker ``gpu``); run them with
``scripts/gpu_check.sh`` on a machine that has one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings

import manual_bp
import references
from bpcheck import tolerance as tol
from bpcheck.assertions import assert_gradients_close
from bpcheck.cases import Case
from bpcheck.report.precision import SETTINGS, measure_precision
from bpcheck.strategies import cases

GPU_BACKENDS = [b for b in ("torch", "jax") if references.available(b, "cuda")]
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not GPU_BACKENDS, reason="no CUDA device for torch or jax")]


def _needs(backend: str) -> None:
    if backend not in GPU_BACKENDS:
        pytest.skip(f"{backend} has no CUDA device: {references.unavailable_reason(backend, 'cuda')}")


@pytest.mark.parametrize("backend", ["torch", "jax"])
@settings(max_examples=40)
@given(cases(max_depth=4, max_width=16, max_batch=16))
def test_manual_bp_agrees_with_the_gpu_reference(backend: str, case: Case) -> None:
    _needs(backend)
    analysis = tol.analyse(case)
    if case.dtype == np.float32 and analysis.resolution > 1e-2:
        return
    theirs = references.gradients(case.params, case.x, case.y, list(case.activations), case.loss,
                                  backend=backend, device="cuda")
    mine = manual_bp.gradients(case.params, case.x, case.y, list(case.activations), case.loss)
    assert_gradients_close(mine, theirs, analysis, u_ref=analysis.u, names=("manual_bp", f"{backend} cuda"), case=case)


@pytest.fixture(scope="module")
def drift() -> dict[str, Any]:
    """The report's GPU precision section: the issue's tanh MLP 64-256-256-10, batch 128, float32."""
    return measure_precision("cuda", skip={b: "no CUDA device" for b in ("torch", "jax") if b not in GPU_BACKENDS})


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_tf32_moves_the_errors_and_pinned_precision_does_not(backend: str, drift: dict[str, Any]) -> None:
    _needs(backend)
    rows = {(r["backend"], r["setting"]): r for r in drift["rows"]}
    mine = rows["manual_bp", "NumPy float32"]
    pinned, allowed = rows[backend, SETTINGS[False]], rows[backend, SETTINGS[True]]
    assert mine["status"] == pinned["status"] == allowed["status"] == "ok", drift["rows"]
    print(f"{backend}: pinned {pinned['max_rel_err']:.2e} (manual_bp margin {pinned['manual_bp_margin']:.3g}), "
          f"TF32 allowed {allowed['max_rel_err']:.2e} (manual_bp margin {allowed['manual_bp_margin']:.3g}), "
          f"manual_bp on the CPU {mine['max_rel_err']:.2e}")
    # pinned: float32 roundoff, within the tolerance model, and agreeing with manual_bp
    assert pinned["margin"] <= 1 and pinned["manual_bp_margin"] <= 1
    assert pinned["max_rel_err"] < 1e-5  # reported on an H100: 2.9e-7 to 3.7e-7; NumPy 4.7e-7
    if _has_tf32():
        # TF32 keeps a 10-bit significand: the errors grow ~1000× (reported: 4.2e-4)
        assert allowed["max_rel_err"] > 30 * pinned["max_rel_err"]
    else:
        assert allowed["max_rel_err"] == pinned["max_rel_err"]


_DIGEST = """
import hashlib, sys
import numpy as np
import references
from bpcheck.report.precision import drift_case
grads = references.gradients(*drift_case(), backend=sys.argv[1], device="cuda")
print(hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for pair in grads for a in pair)).hexdigest())
"""


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_gpu_gradients_repeat_bit_for_bit_across_processes(backend: str) -> None:
    """With references.prepare_gpu_process() (what report and check set up) a fresh process repeats them.

    Without --xla_gpu_deterministic_ops jax's float32 gradients of the precision case differed in
    their last bits between processes (XLA's autotuner picks a GEMM algorithm per process).
    """
    _needs(backend)
    env = dict(os.environ)
    references.prepare_gpu_process(env)
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    digests = {subprocess.run([sys.executable, "-c", _DIGEST, backend], env=env, cwd=root, capture_output=True,
                              text=True, check=True, timeout=300).stdout.strip() for _ in range(2)}
    assert len(digests) == 1


def _has_tf32() -> bool:
    """Ampere (compute capability 8.0) and newer have TF32 tensor cores."""
    try:
        import torch

        return bool(torch.cuda.is_available() and torch.cuda.get_device_capability(0) >= (8, 0))
    except ImportError:
        return True  # the JAX-only case: assume a recent GPU, as the GPU machines here are
