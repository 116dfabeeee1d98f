"""The PyTorch reference: autograd through torch's own functional ops.

    z⁽ˡ⁾ = a⁽ˡ⁻¹⁾ W⁽ˡ⁾ᵀ + b⁽ˡ⁾ (``F.linear``),  a⁽ˡ⁾ = σ_l(z⁽ˡ⁾),  J = loss(a⁽ᴸ⁾, y);
    (∂J/∂W⁽ˡ⁾, ∂J/∂b⁽ˡ⁾) and δ⁽ˡ⁾ = ∂J/∂z⁽ˡ⁾ by ``torch.autograd.grad``.

Each contract name maps to the torch op that defines it: ``F.relu``, ``F.leaky_relu(·, 0.01)``,
``F.elu``, ``F.gelu`` (erf form), ``F.gelu(approximate="tanh")``, ``F.silu``, ``torch.sigmoid``,
``torch.tanh``, ``torch.softmax``; ``F.mse_loss``, ``F.cross_entropy`` with probability targets,
``F.binary_cross_entropy_with_logits``, ``F.huber_loss(delta=1.0)``, ``F.l1_loss``; half_sse is
½ Σ (a − y)² / B. One exception: softplus is ``torch.logaddexp(z, 0)``, exact, because
``F.softplus`` returns z itself above its ``threshold=20`` (derivative 1 instead of 1 − 2e-9).

Torch's own kinks are the contract's: relu′(0) = 0, leaky_relu′(0) = 0.01, elu′(0) = 1 and l1's
sign(0) = 0 (pinned by tests). Computation runs in the input dtype. Each call pins full float32
precision (IEEE float32 in cuBLAS, cuDNN and oneDNN), or with ``allow_tf32=True`` switches TF32 on
for cuBLAS matmuls and cuDNN, and restores the previous global settings on return (see _precision).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from references._validate import Problem

Tensor = torch.Tensor


def _softplus(z: Tensor) -> Tensor:
    return torch.logaddexp(z, torch.zeros_like(z))


ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": F.elu,
    "softplus": _softplus,
    "gelu": F.gelu,
    "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"),
    "silu": F.silu,
    "softmax": lambda z: torch.softmax(z, dim=-1),
}

LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "half_sse": lambda a, y: 0.5 * ((a - y) ** 2).sum() / a.shape[0],
    "mse": F.mse_loss,
    "cross_entropy": F.cross_entropy,  # y has a's shape and dtype: class-probability targets
    "binary_cross_entropy": F.binary_cross_entropy_with_logits,
    "huber": lambda a, y: F.huber_loss(a, y, delta=1.0),
    "l1": F.l1_loss,
}


def device_problem(device: str) -> str | None:
    """Why ``device`` cannot be used, or None."""
    if device == "cuda" and not torch.cuda.is_available():
        return (
            "backend 'torch' on device 'cuda' needs a CUDA build of torch and a GPU: torch.cuda.is_available() is False"
        )
    return None


_KNOBS = {  # name → (module path under torch.backends, setting when TF32 is allowed; None: leave as found)
    "cuda_matmul": ("cuda.matmul", "tf32"),
    "cudnn_conv": ("cudnn.conv", "tf32"),
    "cudnn_rnn": ("cudnn.rnn", "tf32"),
    "mkldnn_matmul": ("mkldnn.matmul", None),  # oneDNN on the CPU: no TF32 there
}


@cache  # torch's version, and so its settings objects, do not change within a process
def _fp32_knobs() -> dict[str, Any]:
    """The per-backend float32 precision settings of torch ≥ 2.9 (``.fp32_precision``), or {} before them.

    Torch 2.9 replaced ``allow_tf32`` and ``set_float32_matmul_precision`` with these; it warns about
    the old ones and refuses to read them once the new ones are set, so a version that has the new
    knobs gets only those (the cuBLAS one must exist; the others are used where they exist).
    """
    knobs = {}
    for name, (path, _) in _KNOBS.items():
        obj: Any = torch.backends
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
            obj.fp32_precision  # noqa: B018 - probes for the attribute
        except (AttributeError, RuntimeError):
            if name == "cuda_matmul":
                return {}
            continue
        knobs[name] = obj
    return knobs


@contextmanager
def _precision(allow_tf32: bool) -> Iterator[None]:
    """Set float32 precision for the call, then restore the global settings.

    Pinned (the default): full float32 (IEEE) in cuBLAS matmuls, cuDNN and oneDNN. ``allow_tf32``:
    TF32 in cuBLAS matmuls and cuDNN (what ``torch.backends.cuda.matmul.allow_tf32 = True`` gives;
    torch's own default keeps matmuls at full precision and lets cuDNN use TF32). Neither changes
    anything on a CPU: it has no TF32.
    """
    knobs = _fp32_knobs()
    if knobs:
        saved = {name: knob.fp32_precision for name, knob in knobs.items()}
        try:
            for name, knob in knobs.items():
                knob.fp32_precision = (_KNOBS[name][1] or saved[name]) if allow_tf32 else "ieee"
            yield
        finally:
            for name, knob in knobs.items():
                knob.fp32_precision = saved[name]
        return
    legacy = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
              torch.get_float32_matmul_precision())
    try:
        torch.backends.cuda.matmul.allow_tf32 = allow_tf32
        torch.backends.cudnn.allow_tf32 = allow_tf32
        torch.set_float32_matmul_precision("high" if allow_tf32 else "highest")
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = legacy[0]
        torch.backends.cudnn.allow_tf32 = legacy[1]
        torch.set_float32_matmul_precision(legacy[2])


@contextmanager
def _one_thread() -> Iterator[None]:
    """torch on one intra-op thread for the call, then its setting restored. Its CPU kernels split some
    reductions across threads (float32 softmax over 40–136 wide rows, for one), which changes their
    order of summation, so the same call gave other last bits in a process with another thread count
    (a pool worker on 2 threads, a Dask worker on 1): a reference must not depend on that."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def settings() -> dict[str, Any]:
    """torch's current float32 precision settings, read through the API this version prefers."""
    knobs = _fp32_knobs()
    if knobs:
        return {"fp32_precision": {name: knob.fp32_precision for name, knob in knobs.items()}}
    return {"tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
            "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),
            "float32_matmul_precision": torch.get_float32_matmul_precision()}


def _run(problem: Problem, device: str, allow_tf32: bool, want_deltas: bool) -> list[Tensor]:
    """[dW⁽¹⁾, db⁽¹⁾, ..., dW⁽ᴸ⁾, db⁽ᴸ⁾] then, if asked, [δ⁽¹⁾, ..., δ⁽ᴸ⁾]."""
    dev = torch.device(device)
    with _precision(allow_tf32), _one_thread(), torch.enable_grad():
        leaves = [torch.tensor(arr, device=dev, requires_grad=True) for pair in problem.params for arr in pair]
        a = torch.tensor(problem.x, device=dev)
        zs = []
        for l, name in enumerate(problem.activations):
            zs.append(F.linear(a, leaves[2 * l], leaves[2 * l + 1]))
            a = ACTIVATIONS[name](zs[-1])
        J = LOSSES[problem.loss](a, torch.tensor(problem.y, device=dev))
        inputs = leaves + zs if want_deltas else leaves
        return list(torch.autograd.grad(J, inputs))


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def gradients(problem: Problem, *, device: str, allow_tf32: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """(∂J/∂W⁽ˡ⁾, ∂J/∂b⁽ˡ⁾), l = 1..L, in the input dtype."""
    flat = [_numpy(t) for t in _run(problem, device, allow_tf32, want_deltas=False)]
    return list(zip(flat[0::2], flat[1::2], strict=True))


def deltas(problem: Problem, *, device: str, allow_tf32: bool) -> list[np.ndarray]:
    """δ⁽ˡ⁾ = ∂J/∂z⁽ˡ⁾ (B, n_l), l = 1..L, in the input dtype."""
    out = _run(problem, device, allow_tf32, want_deltas=True)
    return [_numpy(t) for t in out[2 * len(problem.params) :]]
