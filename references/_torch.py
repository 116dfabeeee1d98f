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
sign(0) = 0 (pinned by tests). Computation runs in the input dtype. Unless ``allow_tf32=True``,
each call pins full float32 precision (no TF32 in matmul or cuDNN, float32 matmul precision
"highest") and restores the previous global settings on return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

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


@contextmanager
def _precision(allow_tf32: bool) -> Iterator[None]:
    """Pin full float32 precision for the call (unless allowed TF32), then restore the globals."""
    if allow_tf32:
        yield
        return
    saved = (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.get_float32_matmul_precision(),
    )
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved[0]
        torch.backends.cudnn.allow_tf32 = saved[1]
        torch.set_float32_matmul_precision(saved[2])


def _run(problem: Problem, device: str, allow_tf32: bool, want_deltas: bool) -> list[Tensor]:
    """[dW⁽¹⁾, db⁽¹⁾, ..., dW⁽ᴸ⁾, db⁽ᴸ⁾] then, if asked, [δ⁽¹⁾, ..., δ⁽ᴸ⁾]."""
    dev = torch.device(device)
    with _precision(allow_tf32), torch.enable_grad():
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
