"""GPU references: torch and jax on CUDA at full float32 precision, and what TF32 does to them.

Every test here needs a CUDA device and skips cleanly without one (marker ``gpu``); run them with
``scripts/gpu_check.sh`` on a machine that has one.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import manual_bp
import references
from bpcheck import tolerance as tol
from bpcheck.assertions import assert_gradients_close
from bpcheck.cases import Case, make_case
from bpcheck.strategies import cases

GPU_BACKENDS = [b for b in ("torch", "jax") if references.available(b, "cuda")]
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not GPU_BACKENDS, reason="no CUDA device for torch or jax")]


@pytest.mark.parametrize("backend", ["torch", "jax"])
@settings(max_examples=40)
@given(cases(max_depth=4, max_width=16, max_batch=16))
def test_manual_bp_agrees_with_the_gpu_reference(backend: str, case: Case) -> None:
    if not references.available(backend, "cuda"):
        pytest.skip(f"{backend} has no CUDA device")
    analysis = tol.analyse(case)
    if case.dtype == np.float32 and analysis.resolution > 1e-2:
        return
    theirs = references.gradients(case.params, case.x, case.y, list(case.activations), case.loss,
                                  backend=backend, device="cuda")
    mine = manual_bp.gradients(case.params, case.x, case.y, list(case.activations), case.loss)
    assert_gradients_close(mine, theirs, analysis, u_ref=analysis.u, names=("manual_bp", f"{backend} cuda"), case=case)


def _tanh_mlp() -> Case:
    """The issue's measurement: a tanh MLP 64-256-256-10, batch 128, float32."""
    return make_case(np.random.default_rng(0), [64, 256, 256, 10], ["tanh", "tanh", "identity"], "half_sse",
                     batch=128, dtype="float32")


def _rel_err(grads, truth) -> float:
    num = max(float(np.max(np.abs(np.asarray(g, np.float64) - np.asarray(t, np.float64))))
              for pair, tpair in zip(grads, truth, strict=True) for g, t in zip(pair, tpair, strict=True))
    den = max(float(np.max(np.abs(np.asarray(t, np.float64)))) for tpair in truth for t in tpair)
    return num / den


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_tf32_moves_the_errors_and_pinned_precision_does_not(backend: str) -> None:
    if not references.available(backend, "cuda"):
        pytest.skip(f"{backend} has no CUDA device")
    case = _tanh_mlp()
    wide = case.astype(np.float64)
    truth = references.gradients(wide.params, wide.x, wide.y, list(wide.activations), wide.loss, backend="ground_truth")
    args = (case.params, case.x, case.y, list(case.activations), case.loss)
    pinned = _rel_err(references.gradients(*args, backend=backend, device="cuda"), truth)
    tf32 = _rel_err(references.gradients(*args, backend=backend, device="cuda", allow_tf32=True), truth)
    cpu = _rel_err(manual_bp.gradients(*args), truth)
    print(f"{backend}: pinned {pinned:.2e}, framework default {tf32:.2e}, manual_bp on the CPU {cpu:.2e}")
    assert pinned < 1e-5  # float32 roundoff territory (reported on an H100: 2.9e-7 to 3.7e-7)
    if _has_tf32():
        # TF32 keeps a 10-bit significand: the frameworks' default float32 matmuls drift ~1000× (4.2e-4)
        assert tf32 > 30 * pinned
    else:
        assert tf32 < 1e-5


def _has_tf32() -> bool:
    """Ampere (compute capability 8.0) and newer have TF32 tensor cores."""
    try:
        import torch

        return bool(torch.cuda.is_available() and torch.cuda.get_device_capability(0) >= (8, 0))
    except ImportError:
        return True  # the JAX-only case: assume a recent GPU, as the GPU machines here are
