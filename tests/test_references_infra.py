"""The references' plumbing and precision: validation, lazy imports, a missing framework, the jit
cache, TF32 settings, environment(), the long-double erf, and ground truth's accuracy and speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest

import references as R
from references import _erf

REPO = Path(__file__).resolve().parents[1]


def needs(backend: str) -> None:
    reason = R.unavailable_reason(backend)
    if reason is not None:
        pytest.skip(reason)


def small_net(rng: np.random.Generator, widths: tuple[int, ...], batch: int, dtype: Any = np.float64) -> tuple:
    params = [
        (rng.standard_normal((m, n)).astype(dtype), rng.standard_normal(m).astype(dtype))
        for n, m in zip(widths[:-1], widths[1:], strict=True)
    ]
    x = rng.standard_normal((batch, widths[0])).astype(dtype)
    return params, x, rng.standard_normal((batch, widths[-1])).astype(dtype)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"backend": "tensorflow"}, ValueError, "valid: torch, jax, finite_diff, ground_truth"),
        ({"device": "tpu"}, ValueError, "valid: cpu, cuda"),
        ({"activations": ["tanh", "swish"]}, ValueError, "unknown activation 'swish'"),
        ({"activations": ["tanh"]}, ValueError, "1 activations for 2 layers"),
        ({"loss": "hinge"}, ValueError, "unknown loss 'hinge'; valid: half_sse"),
        ({"x": np.zeros((2, 4))}, ValueError, "W⁽¹⁾ has shape (4, 3); expected (4, 4)"),
        ({"y": np.zeros((3, 2))}, ValueError, "y has shape (3, 2); expected (2, 2)"),
        ({"y": np.zeros((2, 2), np.float32)}, TypeError, "y has dtype float32"),
        ({"x": np.zeros((2, 3), np.int64)}, TypeError, "x has dtype int64"),
    ],
)
def test_bad_arguments_raise_clear_errors(change: dict, error: type, words: str) -> None:
    params, x, y = small_net(np.random.default_rng(0), (3, 4, 2), 2)
    call = {
        "params": params,
        "x": x,
        "y": y,
        "activations": ["tanh", "identity"],
        "loss": "mse",
        "backend": "finite_diff",
    } | change
    with pytest.raises(error, match=None) as info:
        R.gradients(
            call.pop("params"),
            call.pop("x"),
            call.pop("y"),
            call.pop("activations"),
            call.pop("loss"),
            **call,
        )
    assert words in str(info.value)


def test_numpy_backends_refuse_cuda() -> None:
    params, x, y = small_net(np.random.default_rng(0), (2, 1), 1)
    with pytest.raises(R.BackendUnavailable, match="CPU only"):
        R.gradients(params, x, y, ["tanh"], "mse", backend="ground_truth", device="cuda")


def test_names_are_the_contracts() -> None:
    assert len(R.ACTIVATIONS) == 11 and len(R.LOSSES) == 6
    assert R.BACKENDS == ("torch", "jax", "finite_diff", "ground_truth")


# ---------------------------------------------------------------- imports and missing frameworks


def test_importing_references_imports_no_framework() -> None:
    out = run_python("""
        import sys, references
        print(sorted(m for m in ("torch", "jax", "manual_bp") if m in sys.modules))
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_missing_frameworks_give_backend_unavailable_and_numpy_backends_still_work() -> None:
    out = run_python("""
        import json, sys
        sys.modules["torch"] = None  # what an absent install looks like to `import torch`
        sys.modules["jax"] = None
        import numpy as np
        import references as R
        rng = np.random.default_rng(0)
        params = [(rng.standard_normal((2, 3)), rng.standard_normal(2))]
        x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
        result = {"available": [R.available(b) for b in R.BACKENDS],
                  "reason": R.unavailable_reason("torch")}
        for backend in ("torch", "jax"):
            try:
                R.gradients(params, x, y, ["tanh"], "mse", backend=backend)
            except R.BackendUnavailable as err:
                result[backend] = str(err)
        fd = R.gradients(params, x, y, ["tanh"], "mse", backend="finite_diff")
        gt = R.gradients(params, x, y, ["tanh"], "mse", backend="ground_truth")
        result["agree"] = float(np.max(np.abs(fd[0][0] - gt[0][0].astype(float))))
        env = R.environment()
        result["settings"] = [env["torch_settings"], env["jax_settings"]]
        print(json.dumps(result))
    """)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["available"] == [False, False, True, True]
    assert result["reason"].startswith("backend 'torch' needs PyTorch: pip install torch")
    assert "backend 'torch' needs PyTorch" in result["torch"]
    assert "backend 'jax' needs JAX: pip install jax" in result["jax"]
    assert result["agree"] < 1e-9
    assert result["settings"] == [None, None]


def test_environment_is_json_serialisable_and_complete() -> None:
    env = R.environment()
    assert json.loads(json.dumps(env)) == env
    for key in ("python", "numpy", "torch", "jax", "jaxlib", "hypothesis", "cpu", "blas"):
        assert key in env
    assert env["longdouble"]["eps"] == float(np.finfo(np.longdouble).eps)
    if env["jax_settings"] is not None:
        assert env["jax_settings"]["enable_x64"] is True
    if env["torch_settings"] is not None:
        from references import _torch

        assert env["torch_settings"].items() >= _torch.settings().items()  # the precision settings, as read now


@pytest.mark.parametrize(("before", "after"), [
    ({}, {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "XLA_FLAGS": "--xla_gpu_deterministic_ops=true"}),
    ({"XLA_PYTHON_CLIENT_PREALLOCATE": "true", "XLA_FLAGS": "--xla_gpu_autotune_level=0"},
     {"XLA_PYTHON_CLIENT_PREALLOCATE": "true",
      "XLA_FLAGS": "--xla_gpu_autotune_level=0 --xla_gpu_deterministic_ops=true"}),
    ({"XLA_FLAGS": "--xla_gpu_deterministic_ops=false"},  # the user's own choice stands
     {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "XLA_FLAGS": "--xla_gpu_deterministic_ops=false"}),
])
def test_prepare_gpu_process_sets_what_is_not_set(before: dict[str, str], after: dict[str, str]) -> None:
    env = dict(before)
    R.prepare_gpu_process(env)
    assert env == after
    R.prepare_gpu_process(env)  # idempotent
    assert env == after


# ---------------------------------------------------------------- precision settings and the jit cache


def _spy_torch_settings(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record references._torch.settings() at each F.linear the torch reference calls."""
    from references import _torch

    seen: list[dict[str, Any]] = []
    real = _torch.F.linear

    def spy(*args: Any) -> Any:
        seen.append(_torch.settings())
        return real(*args)

    monkeypatch.setattr(_torch.F, "linear", spy)
    return seen


def test_torch_pins_full_float32_per_call_and_restores_the_globals(monkeypatch: pytest.MonkeyPatch) -> None:
    needs("torch")
    from references import _torch

    knobs = _torch._fp32_knobs()
    if not knobs:
        pytest.skip("this torch predates the fp32_precision settings (the legacy path is tested below)")
    knobs = [knobs[name] for name in ("cuda_matmul", "cudnn_conv", "cudnn_rnn", "mkldnn_matmul")]
    saved = [k.fp32_precision for k in knobs]
    seen = _spy_torch_settings(monkeypatch)
    try:
        for knob, user in zip(knobs, ("tf32", "ieee", "none", "bf16"), strict=True):
            knob.fp32_precision = user  # a user's own settings, which each call must leave as found
        params, x, y = small_net(np.random.default_rng(1), (2, 2), 1, np.float32)
        R.gradients(params, x, y, ["tanh"], "mse", backend="torch")
        R.gradients(params, x, y, ["tanh"], "mse", backend="torch", allow_tf32=True)
        after = _torch.settings()["fp32_precision"]
    finally:
        for knob, value in zip(knobs, saved, strict=True):
            knob.fp32_precision = value
    pinned, allowed = (s["fp32_precision"] for s in seen)
    assert pinned == dict.fromkeys(pinned, "ieee")
    assert allowed == {"cuda_matmul": "tf32", "cudnn_conv": "tf32", "cudnn_rnn": "tf32", "mkldnn_matmul": "bf16"}
    assert after == {"cuda_matmul": "tf32", "cudnn_conv": "ieee", "cudnn_rnn": "none", "mkldnn_matmul": "bf16"}


def test_torch_precision_through_the_legacy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Torch before 2.9 has only allow_tf32 and set_float32_matmul_precision: the same pinning."""
    needs("torch")
    import torch

    from references import _torch

    monkeypatch.setattr(_torch, "_fp32_knobs", lambda: {})
    seen = _spy_torch_settings(monkeypatch)
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
             torch.get_float32_matmul_precision())
    try:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.set_float32_matmul_precision("medium")
        params, x, y = small_net(np.random.default_rng(1), (2, 2), 1, np.float32)
        R.gradients(params, x, y, ["tanh"], "mse", backend="torch")
        R.gradients(params, x, y, ["tanh"], "mse", backend="torch", allow_tf32=True)
        after = _torch.settings()
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[:2]
        torch.set_float32_matmul_precision(saved[2])
    assert seen == [{"tf32_matmul": False, "tf32_cudnn": False, "float32_matmul_precision": "highest"},
                    {"tf32_matmul": True, "tf32_cudnn": True, "float32_matmul_precision": "high"}]
    assert after == {"tf32_matmul": True, "tf32_cudnn": saved[1], "float32_matmul_precision": "medium"}


def test_jax_compiles_once_per_signature() -> None:
    needs("jax")
    rng = np.random.default_rng(2)
    acts, loss = ["silu", "gelu_tanh", "sigmoid"], "huber"  # a signature no other test uses
    first = small_net(rng, (7, 3, 2, 2), 5)
    again = small_net(rng, (7, 3, 2, 2), 5)
    counts = [R.jax_compile_count()]
    for case in (first, again, again):
        R.gradients(*case, acts, loss, backend="jax")
        counts.append(R.jax_compile_count())
    R.deltas(*again, acts, loss, backend="jax")  # the same compiled function serves deltas
    counts.append(R.jax_compile_count())
    R.gradients(*small_net(rng, (7, 3, 2, 2), 6), acts, loss, backend="jax")  # a new batch size
    counts.append(R.jax_compile_count())
    assert np.diff(counts).tolist() == [1, 0, 0, 0, 1]


def test_jax_runs_in_64_bit_mode() -> None:
    needs("jax")
    R.gradients(*small_net(np.random.default_rng(0), (2, 1), 1), ["tanh"], "mse", backend="jax")
    import jax

    assert jax.config.jax_enable_x64


# ---------------------------------------------------------------- long double: erf and ground truth


def test_long_double_erf_matches_mpmath() -> None:
    mpmath.mp.dps = 40
    rng = np.random.default_rng(8)
    xs = np.concatenate(
        [
            rng.uniform(-7, 7, 300),
            rng.uniform(-0.01, 0.01, 20),
            [0.0, 1.5, -1.5, 2.0, 3.0, 10.0, -26.0, 26.0, 1e-30],
        ]
    ).astype(np.longdouble)
    xs += rng.standard_normal(xs.size).astype(np.longdouble) * np.longdouble(1e-17) * (xs != 0)
    worst = {"erf": 0.0, "erfc": 0.0}
    for x, e, c in zip(xs, _erf.erf(xs), _erf.erfc(xs), strict=True):
        xm = mpmath.mpf(str(x))  # str(longdouble) is exact to its 64 bits after mpf rounding at 40 digits
        for name, got, want in (("erf", e, mpmath.erf(xm)), ("erfc", c, mpmath.erfc(xm))):
            if want != 0:
                worst[name] = max(worst[name], float(abs((mpmath.mpf(str(got)) - want) / want)))
    assert worst["erf"] <= 1e-18, worst
    assert worst["erfc"] <= 5e-17, worst  # relative, down to erfc(26) ≈ 6e-296


def _tanh_net_mpmath_grads(params: list, x: np.ndarray, y: np.ndarray) -> list[mpmath.mpf]:
    """Every ∂J/∂θ of a tanh/identity half_sse net by central differences at 50 digits."""
    mpmath.mp.dps = 50
    P = [([[mpmath.mpf(float(v)) for v in row] for row in W], [mpmath.mpf(float(v)) for v in b]) for W, b in params]

    def cost() -> mpmath.mpf:
        total = mpmath.mpf(0)
        for xb, yb in zip(x, y, strict=True):
            a = [mpmath.mpf(float(v)) for v in xb]
            for l, (W, b) in enumerate(P):
                z = [mpmath.fsum(w * v for w, v in zip(row, a, strict=True)) + bi for row, bi in zip(W, b, strict=True)]
                a = z if l == len(P) - 1 else [mpmath.tanh(v) for v in z]
            total += mpmath.fsum((ai - mpmath.mpf(float(t))) ** 2 for ai, t in zip(a, yb, strict=True)) / 2
        return total / len(x)

    h, out = mpmath.mpf("1e-20"), []
    for W, b in P:
        for vec, i in [(row, i) for row in W for i in range(len(row))] + [(b, i) for i in range(len(b))]:
            keep = vec[i]
            vec[i] = keep + h
            up = cost()
            vec[i] = keep - h
            down = cost()
            vec[i] = keep
            out.append((up - down) / (2 * h))
    return out


def test_ground_truth_is_far_more_accurate_than_float64() -> None:
    """An ill-conditioned tanh net (large weights, cancelling sums): the float64 references are
    visibly off the 50-digit truth, ground truth is within long-double roundoff of it."""
    rng = np.random.default_rng(21)
    params = [
        (rng.normal(0, 4, (3, 2)), rng.normal(0, 4, 3)),
        (rng.normal(0, 4, (3, 3)), rng.normal(0, 4, 3)),
        (rng.normal(0, 4, (1, 3)), rng.normal(0, 1, 1)),
    ]
    x, y = rng.normal(0, 3, (2, 2)), rng.normal(0, 1, (2, 1))
    acts = ["tanh", "tanh", "identity"]
    truth = np.array([np.longdouble(mpmath.nstr(v, 25)) for v in _tanh_net_mpmath_grads(params, x, y)])
    scale = max(1.0, float(np.max(np.abs(truth))))

    def err(grads: list) -> float:
        flat = np.concatenate([np.asarray(t, np.longdouble).ravel() for pair in grads for t in pair])
        return float(np.max(np.abs(flat - truth))) / scale

    gt_err = err(R.gradients(params, x, y, acts, "half_sse", backend="ground_truth"))
    assert gt_err <= 1e-18  # measured 4e-20
    for backend in ("torch", "jax"):  # measured 2e-16 and 1.5e-15
        if R.available(backend):
            assert err(R.gradients(params, x, y, acts, "half_sse", backend=backend)) >= 100 * gt_err


def test_ground_truth_is_fast_enough_for_depth_6_width_32_batch_32() -> None:
    params, x, y = small_net(np.random.default_rng(9), (32,) * 7, 32)
    start = time.perf_counter()
    R.gradients(
        params,
        x,
        y,
        ["tanh", "gelu", "softmax", "elu", "silu", "identity"],
        "cross_entropy",
        backend="ground_truth",
    )
    assert time.perf_counter() - start < 2.0  # ~0.1 s on an idle core; slack for a busy machine
