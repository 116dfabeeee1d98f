"""The PyTorch reference for the layer kinds: autograd through torch's own ops, in the input dtype.

- affine: ``x.reshape(N, -1) @ w + b`` (``torch.matmul``);
- the activations and the 6 losses: the network reference's tables (``references._torch``);
- softmax_loss: ``F.cross_entropy(x, y)`` with integer targets;
- svm_loss: ``C · F.multi_margin_loss(x, y, margin=1)`` (torch divides by the C classes; its
  subgradient at a zero margin is 0, the contract's);
- conv2d: ``F.conv2d(x, w, b, stride, padding)``;
- max_pool: ``F.max_pool2d(x, (PH, PW), stride)`` (a tie's gradient goes to the first maximal
  entry of the window, row-major);
- batchnorm: ``torch.batch_norm(…, training=True)``, the op under ``F.batch_norm``, whose Python
  wrapper refuses a batch of 1 that the op itself normalises with torch's eps semantics (x̂ = 0);
- layernorm: ``F.layer_norm(x, (D,), gamma, beta, eps)``;
- dropout: ``x * mask / p``.

Gradients by ``torch.autograd.grad`` of out against dout (of the loss itself for the loss kinds).
Precision is pinned per call as for the network (``references._torch._precision``): full float32 in
cuBLAS, cuDNN (convolutions included) and oneDNN unless ``allow_tf32``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from references._torch import ACTIVATIONS, LOSSES, _precision, device_problem
from references.layers._spec import LayerCall

Tensor = torch.Tensor

__all__ = ["device_problem", "run"]


def _norm(kind: str, t: dict[str, Tensor], hyper: dict[str, Any]) -> Tensor:
    if kind == "batchnorm":
        return torch.batch_norm(t["x"], t["gamma"], t["beta"], None, None, True, 0.0, hyper["eps"], False)
    return F.layer_norm(t["x"], (t["x"].shape[1],), t["gamma"], t["beta"], hyper["eps"])


def _svm(x: Tensor, y: Tensor) -> Tensor:
    return F.multi_margin_loss(x, y, p=1, margin=1.0) * x.shape[1]


_FAMILIES: dict[str, Callable[[str, dict[str, Tensor], dict[str, Any]], Tensor]] = {
    "affine": lambda k, t, h: torch.matmul(t["x"].reshape(t["x"].shape[0], -1), t["w"]) + t["b"],
    "activation": lambda k, t, h: ACTIVATIONS[k](t["x"]),
    "loss": lambda k, t, h: LOSSES[k](t["x"], t["y"]),
    "label_loss": lambda k, t, h: F.cross_entropy(t["x"], t["y"]) if k == "softmax_loss" else _svm(t["x"], t["y"]),
    "conv2d": lambda k, t, h: F.conv2d(t["x"], t["w"], t["b"], stride=h["stride"], padding=h["pad"]),
    "max_pool": lambda k, t, h: F.max_pool2d(t["x"], (h["pool_height"], h["pool_width"]), stride=h["stride"]),
    "norm": _norm,
    "dropout": lambda k, t, h: t["x"] * t["mask"] / h["p"],
}


def run(call: LayerCall, *, device: str, allow_tf32: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(out, {"d" + name: gradient}) in the input dtype."""
    dev = torch.device(device)
    kind = call.kind
    with _precision(allow_tf32), torch.enable_grad():
        t = {name: torch.tensor(arr, device=dev, requires_grad=name in kind.differentiable)
             for name, arr in call.inputs.items()}
        if kind.family == "dropout":
            t["mask"] = t["mask"].to(t["x"].dtype)
        if kind.family == "label_loss":
            t["y"] = t["y"].long()
        out = _FAMILIES[kind.family](kind.name, t, call.hyper)
        grad_out = None if call.dout is None else torch.tensor(call.dout, device=dev)
        grads = torch.autograd.grad(out, [t[name] for name in kind.differentiable], grad_out)
    return out.detach().cpu().numpy(), {"d" + name: g.cpu().numpy() for name, g in zip(kind.differentiable, grads,
                                                                                      strict=True)}
