"""The oracles: the contract's gradient computed by independent engines.

For a network z⁽ˡ⁾ = a⁽ˡ⁻¹⁾ W⁽ˡ⁾ᵀ + b⁽ˡ⁾, a⁽ˡ⁾ = σ_l(z⁽ˡ⁾), a⁽⁰⁾ = x, with cost J(a⁽ᴸ⁾, y):

    gradients(...) -> [(∂J/∂W⁽ˡ⁾, ∂J/∂b⁽ˡ⁾) for l = 1..L]      shapes of W⁽ˡ⁾ (n_l, n_{l-1}), b⁽ˡ⁾ (n_l,)
    deltas(...)    -> [δ⁽ˡ⁾ = ∂J/∂z⁽ˡ⁾ for l = 1..L]            shape (B, n_l)

| backend | engine | returns |
|---|---|---|
| ``torch`` | PyTorch autograd through torch's functional ops | input dtype |
| ``jax`` | ``jax.grad``, 64-bit mode, matmul precision HIGHEST, jitted and cached | input dtype |
| ``finite_diff`` | central differences of a long-double forward pass, NumPy alone | float64 |
| ``ground_truth`` | forward-mode tangents (not backprop) in long double | np.longdouble |

Importing this package imports neither torch nor jax: a backend loads its framework on first use,
and a missing framework raises ``BackendUnavailable`` saying what to install. Nothing here imports
``manual_bp``: an oracle that shares code with its subject proves nothing.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

from references._validate import ACTIVATIONS, BACKENDS, LOSSES, check_backend, check_device
from references._validate import check_problem as _check_problem
from references.environment import environment, prepare_gpu_process

__all__ = [
    "ACTIVATIONS",
    "BACKENDS",
    "LOSSES",
    "BackendUnavailable",
    "available",
    "deltas",
    "environment",
    "gradients",
    "jax_compile_count",
    "prepare_gpu_process",
    "unavailable_reason",
]

_MODULES = {
    "torch": "references._torch",
    "jax": "references._jax",
    "finite_diff": "references.finite_diff",
    "ground_truth": "references.ground_truth",
}
_NEEDS = {
    "torch": "PyTorch: pip install torch (CPU build: pip install torch --index-url "
    "https://download.pytorch.org/whl/cpu)",
    "jax": "JAX: pip install jax jaxlib",
}
_FRAMEWORK_BACKENDS = ("torch", "jax")


class BackendUnavailable(RuntimeError):
    """A backend's framework, or the device asked of it, is not available here."""


def _load(backend: str) -> ModuleType:
    """Import a backend's module (and so its framework), or raise BackendUnavailable."""
    try:
        return importlib.import_module(_MODULES[backend])
    except ImportError as err:
        need = _NEEDS.get(backend, "its dependencies")
        raise BackendUnavailable(
            f"backend {backend!r} needs {need}; the import failed: {type(err).__name__}: {err}"
        ) from err


def unavailable_reason(backend: str, device: str = "cpu") -> str | None:
    """Why ``backend`` cannot run on ``device`` here (a one-line message), or None if it can."""
    backend, device = check_backend(backend), check_device(device)
    try:
        module = _load(backend)
    except BackendUnavailable as err:
        return str(err)
    if backend in _FRAMEWORK_BACKENDS:
        return module.device_problem(device)
    if device != "cpu":
        return f"backend {backend!r} runs in NumPy on the CPU only; got device {device!r}"
    return None


def available(backend: str, device: str = "cpu") -> bool:
    """Whether ``backend`` can run on ``device`` here."""
    return unavailable_reason(backend, device) is None


def _dispatch(
    what: str,
    params: Sequence[tuple[Any, Any]],
    x: Any,
    y: Any,
    activations: Sequence[str],
    loss: str,
    backend: str,
    device: str,
    allow_tf32: bool,
) -> Any:
    backend, device = check_backend(backend), check_device(device)
    problem = _check_problem(params, x, y, activations, loss)
    reason = unavailable_reason(backend, device)
    if reason is not None:
        raise BackendUnavailable(reason)
    module = _load(backend)
    if backend in _FRAMEWORK_BACKENDS:
        return getattr(module, what)(problem, device=device, allow_tf32=allow_tf32)
    return getattr(module, what)(problem.params, problem.x, problem.y, problem.activations, problem.loss)


def gradients(
    params: Sequence[tuple[Any, Any]],
    x: Any,
    y: Any,
    activations: Sequence[str],
    loss: str,
    *,
    backend: str,
    device: str = "cpu",
    allow_tf32: bool = False,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """∂J/∂W⁽ˡ⁾ and ∂J/∂b⁽ˡ⁾ for l = 1..L, layer 1 first, computed by ``backend``.

    params: [(W⁽ˡ⁾ (n_l, n_{l-1}), b⁽ˡ⁾ (n_l,))]; x (B, n₀); y (B, n_L); all float32 or all float64.
    activations: one name of ``ACTIVATIONS`` per layer; loss: one of ``LOSSES``.
    device: "cpu" or "cuda" (torch and jax only). allow_tf32: torch and jax only; False pins full
    float32 matmul precision, True allows TF32 on recent GPUs (torch: switched on for cuBLAS and cuDNN;
    jax: its default matmul precision, which on an H100 used TF32 for 256-wide matmuls, not 6-wide ones).
    Pure: the arguments are not modified. Raises ValueError/TypeError on a bad name, shape or
    dtype, and BackendUnavailable when the backend's framework or the device is missing.
    """
    return _dispatch("gradients", params, x, y, activations, loss, backend, device, allow_tf32)


def deltas(
    params: Sequence[tuple[Any, Any]],
    x: Any,
    y: Any,
    activations: Sequence[str],
    loss: str,
    *,
    backend: str,
    device: str = "cpu",
    allow_tf32: bool = False,
) -> list[np.ndarray]:
    """δ⁽ˡ⁾ = ∂J/∂z⁽ˡ⁾, shape (B, n_l), for l = 1..L, layer 1 first, computed by ``backend``.

    So ∂J/∂W⁽ˡ⁾ = δ⁽ˡ⁾ᵀ a⁽ˡ⁻¹⁾ and ∂J/∂b⁽ˡ⁾ = Σ_b δ⁽ˡ⁾_b; at the top, for an elementwise σ_L,
    δ⁽ᴸ⁾ = ∂J/∂a⁽ᴸ⁾ ⊙ σ_L′(z⁽ᴸ⁾), e.g. (a⁽ᴸ⁾ − y) ⊙ σ_L′(z⁽ᴸ⁾) / B for half_sse. Arguments,
    dtypes and errors as for ``gradients``.
    """
    return _dispatch("deltas", params, x, y, activations, loss, backend, device, allow_tf32)


def jax_compile_count() -> int:
    """Compilations made so far by the jax backend in this process (0 if it was never loaded).

    A second call with the same signature (widths, batch, dtype, activations, loss, device) must
    not raise it: the jitted gradient is cached."""
    module = sys.modules.get(_MODULES["jax"])
    return 0 if module is None else int(module.compile_count())
