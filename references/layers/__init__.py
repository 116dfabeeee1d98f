"""The oracles for the layer kinds: one layer's output and gradients computed by independent engines.

    forward_and_vjp(kind, inputs, hyper, dout, *, backend) -> (out, {"dx": …, "dw": …, …})
    forward(kind, inputs, hyper, *, backend) -> out
    vjp(kind, inputs, hyper, dout, *, backend) -> {"d" + name: ∂⟨dout, out⟩/∂name for each differentiable input}

``inputs`` maps the kind's input names to arrays (``KINDS[kind].inputs``: e.g. x, w, b for conv2d;
x, y for the losses; x, mask for dropout), ``hyper`` its hyperparameters (stride and pad; pool_height,
pool_width and stride; eps; p). out is an array (a 0-d array: the loss, for the loss kinds, which take
dout=None and return the gradient of the loss itself). The kinds, their shapes and conventions:
``references.layers._spec`` (table) and docs/conventions.md.

| backend | engine | returns |
|---|---|---|
| ``torch`` | autograd through torch's own ops (F.conv2d, F.max_pool2d, torch.batch_norm, …) | input dtype |
| ``jax`` | ``jax.vjp`` / ``jax.value_and_grad``, 64-bit mode, precision HIGHEST, jitted and cached | input dtype |
| ``finite_diff`` | central differences of ⟨dout, out⟩ in long double, NumPy alone | float64 |
| ``ground_truth`` | forward-mode tangents (dual numbers) through a long-double forward, not backprop | np.longdouble |

Like ``references``, this package imports neither torch nor jax until a backend needs it, and never
``manual_bp``: it shares the kind names with ``manual_bp.layers`` (``LAYER_KINDS``; a test checks they
agree), never its code.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from references import BackendUnavailable, unavailable_reason
from references._validate import BACKENDS, check_backend, check_device
from references.layers._spec import KINDS, LAYER_KINDS, Kind, LayerCall, check_call

__all__ = ["BACKENDS", "KINDS", "LAYER_KINDS", "Kind", "LayerCall", "forward", "forward_and_vjp", "vjp"]

_MODULES = {
    "torch": "references.layers._torch",
    "jax": "references.layers._jax",
    "finite_diff": "references.layers.finite_diff",
    "ground_truth": "references.layers.ground_truth",
}


def _run(call: LayerCall, backend: str, device: str, allow_tf32: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    reason = unavailable_reason(backend, device)
    if reason is not None:
        raise BackendUnavailable(reason)
    module = importlib.import_module(_MODULES[backend])
    if backend in ("torch", "jax"):
        out, grads = module.run(call, device=device, allow_tf32=allow_tf32)
    else:
        out, grads = module.run(call)
    return out, grads


def forward_and_vjp(kind: str, inputs: dict[str, np.ndarray], hyper: dict[str, Any] | None = None,
                    dout: np.ndarray | None = None, *, backend: str, device: str = "cpu",
                    allow_tf32: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(out, grads) of one layer call by ``backend``; grads maps "d" + input name to its gradient.

    Float inputs share one dtype, float32 or float64; integer labels (softmax_loss, svm_loss) and the
    bool dropout mask are inputs too, without gradients. dout has out's shape and dtype, or is None
    for a loss kind. device "cpu" or "cuda" and allow_tf32 as for ``references.gradients`` (torch and
    jax only). Pure. Raises ValueError/TypeError on a bad kind, input, hyperparameter or dout, and
    BackendUnavailable when the backend cannot run here.
    """
    backend, device = check_backend(backend), check_device(device)
    return _run(check_call(kind, inputs, hyper, dout), backend, device, allow_tf32)


def forward(kind: str, inputs: dict[str, np.ndarray], hyper: dict[str, Any] | None = None, *, backend: str,
            device: str = "cpu", allow_tf32: bool = False) -> np.ndarray:
    """out of one layer call by ``backend`` (a 0-d array for the loss kinds)."""
    backend, device = check_backend(backend), check_device(device)
    return _run(check_call(kind, inputs, hyper, None, need_dout=False), backend, device, allow_tf32)[0]


def vjp(kind: str, inputs: dict[str, np.ndarray], hyper: dict[str, Any] | None, dout: np.ndarray | None, *,
        backend: str, device: str = "cpu", allow_tf32: bool = False) -> dict[str, np.ndarray]:
    """The gradients of ⟨dout, out⟩ (of the loss, for a loss kind, with dout None) by ``backend``."""
    return forward_and_vjp(kind, inputs, hyper, dout, backend=backend, device=device, allow_tf32=allow_tf32)[1]
