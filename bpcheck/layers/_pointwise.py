"""Truth and bounds of the activation and loss layers.

The activations and the six losses reuse the network model's own pieces (bpcheck.tolerance's
``_activation`` and ``_loss_grad`` with bpcheck._elementwise's magnitudes) for out = σ(x), σ′(x) and
the loss gradients, with exact inputs (e(x) = 0); what is new here is dx = dout ⊙ σ′(x) (exact where
σ′(x) is an exact 0 or 1: relu's and the identity's), softmax's Jacobian-vector product taken alone,
the loss *values*, and svm_loss:

    m = x_j − x_y + 1          e(m) = 0 where m = 0 exactly (x_y = x_j + 1: every order of the three-term
                               sum is then exact), else u(|x_j| + |x_y| + 1 + |m|)
    counted: m > 0; a margin with 0 < |m| ≤ e(m) may fall on either side in the candidate's dtype, so
    its 1/N may be in dx_j and dx_y or not: e(dx) gets 1/N per such margin. dx_j = 1/N may be rounded
    and rescaled (torch's multi_margin_loss divides by C, the reference multiplies back), and
    dx_y = −k/N may be a sum of k rounded copies of 1/N: C u |dx| and u√(2(k+1))·k/N.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bpcheck import _elementwise as ew
from bpcheck import tolerance as tol
from bpcheck.layers._bounds import C_ELEM, ELEMENTARY, dot, plain_sum

Array = np.ndarray
Outputs = dict[str, tuple[Array, Array]]


_ARITHMETIC = ("identity", "relu", "leaky_relu", "softmax")   # no transcendental step of their own in σ, σ′


def activation(name: str, x: Array, dout: Array, u: float, tiny: float) -> Outputs:
    """out = σ(x) and dx = dout ⊙ σ′(x) (softmax: s ⊙ (dout − ⟨dout, s⟩) per row), x (N, D)."""
    a, ea, d, ed = tol._activation(name, x, np.zeros_like(x), u, tiny / u)
    # a framework's tanh, exp, erf: a few ulps, not C_ELEM/2 (_bounds); tanh's and erf's scales carry it
    if name not in _ARITHMETIC and name not in ew.FRAMEWORK_SCALED:
        f = ew.ELEMENTWISE[name]
        ea = np.where(ea > 0, ea + (ELEMENTARY - C_ELEM) * u * f.M(x, a), 0.0)
        ed = np.where(ed > 0, ed + (ELEMENTARY - C_ELEM) * u * f.Mp(x, d), 0.0)
    if d is None:   # softmax
        n = x.shape[1]
        t = (dout * a).sum(axis=1, keepdims=True)
        et = (np.abs(dout) * ea).sum(axis=1, keepdims=True) + dot(n, u) * np.abs(dout * a).sum(axis=1, keepdims=True)
        v = dout - t
        ev = et + u * (np.abs(v) + tiny / u)
        dx = a * v
        return {"out": (a, ea), "dx": (dx, ea * np.abs(v) + a * ev + ea * ev + u * np.abs(dx) + tiny)}
    dx = dout * d
    e_dx = np.abs(dout) * ed + u * np.abs(dx) + tiny * (dx != 0)
    e_dx = np.where((ed == 0) & ((d == 0) | (d == 1)), 0.0, e_dx)   # dout·0 and dout·1 are exact
    return {"out": (a, ea), "dx": (dx, e_dx)}


def _mean_of(f: Array, e_f: Array, n: int, u: float, tiny: float) -> tuple[Array, Array]:
    """J = (1/n) Σ f with e(f) per term: (J, e(J)) as 0-d arrays."""
    J = np.sum(f) / n
    bound = (np.sum(e_f) + dot(n, u) * np.sum(np.abs(f)) + n * tiny * (f != 0).any()) / n + u * abs(J)
    return np.asarray(J), np.asarray(bound)


def _log_softmax(x: Array) -> tuple[Array, Array]:
    """(log softmax(x) per row, the magnitude of its roundings): the shift x − max, exp, the sum, log,
    the subtraction; or, unshifted, x − lse(x) with lse(x) = log Σ e^x built up term by term (e.g.
    logaddexp.reduce), whose roundings scale with √D·|lse(x)|."""
    shift = x - x.max(axis=1, keepdims=True)
    lse = np.log(np.exp(shift).sum(axis=1, keepdims=True))
    logp = shift - lse
    root = math.sqrt(x.shape[1])
    return logp, np.abs(shift) + np.abs(lse) + root * (1 + np.abs(x - logp)) + np.abs(logp)


def loss_value(name: str, x: Array, y: Array, u: float, tiny: float) -> tuple[Array, Array]:
    """The loss J and its bound: each term's own roundings, then the mean (or batch mean)."""
    N, D = x.shape
    r = x - y
    e_r = u * np.abs(r)
    if name in ("half_sse", "mse"):
        f = r * r
        J, e = _mean_of(f, 2 * np.abs(r) * e_r + e_r**2 + u * f, f.size, u, tiny)
        return (J * D / 2, e * D / 2 + u * abs(J * D / 2)) if name == "half_sse" else (J, e)
    if name == "l1":
        return _mean_of(np.abs(r), e_r, r.size, u, tiny)
    if name == "huber":
        def h(t: Array) -> Array:
            return np.where(np.abs(t) <= 1, 0.5 * t * t, np.abs(t) - 0.5)
        f = h(r)
        return _mean_of(f, tol._perturb(h, r, e_r) + C_ELEM * u * (np.abs(f) + 0.5), f.size, u, tiny)
    if name == "binary_cross_entropy":   # softplus(x) − x y, or y softplus(−x) + (1 − y) softplus(x)
        f = ew.ELEMENTWISE["softplus"].f(x) - x * y
        M = ew.ELEMENTWISE["softplus"].f(np.abs(x)) + np.abs(x * y)
        return _mean_of(f, ELEMENTARY * u * M, f.size, u, tiny)
    if name == "cross_entropy":          # −(1/N) Σ y log softmax(x): per row, then the batch mean
        logp, M = _log_softmax(x)
        f = -(y * logp)
        ysum = y.sum(axis=1, keepdims=True)
        # a candidate may take Σ_j y_j = 1 for granted: its J differs by |Σy − 1|·|lse| per row
        e_f = ELEMENTARY * u * np.abs(y) * M + np.abs(ysum - 1) * np.abs(x - logp) / D   # x − log p = log Σ e^x
        J, e = _mean_of(f, e_f, f.size, u, tiny)
        return J * D, e * D
    raise ValueError(f"unknown loss {name!r}")


def loss(name: str, x: Array, y: Array, u: float, tiny: float) -> Outputs:
    _, g, eg = tol._loss_grad(name, x, np.zeros_like(x), y, u, tiny / u)
    if name == "binary_cross_entropy":   # sigmoid(x) − y: the sigmoid of a framework, a few ulps (_bounds)
        eg = eg + ELEMENTARY * u / x.size
    if name == "cross_entropy":          # p = exp(log p) carries log p's roundings relatively (_log_softmax)
        logp, M = _log_softmax(x)
        eg = eg + ELEMENTARY * u * np.exp(logp) * M * np.abs(y).sum(axis=1, keepdims=True) / x.shape[0]
    return {"out": loss_value(name, x, y, u, tiny), "dx": (g, eg)}


def softmax_loss(x: Array, labels: Array, u: float, tiny: float) -> Outputs:
    """The contract's cross-entropy with one-hot targets."""
    return loss("cross_entropy", x, np.eye(x.shape[1])[labels], u, tiny)


def svm_loss(x: Array, labels: Array, u: float, tiny: float) -> Outputs:
    N, C = x.shape
    rows = np.arange(N)
    xy = x[rows, labels][:, None]
    m = x - xy + 1
    others = np.ones_like(m, dtype=bool)
    others[rows, labels] = False
    e_m = np.where(m == 0, 0.0, u * (np.abs(x) + np.abs(xy) + 1 + np.abs(m)))
    counted = others & (m > 0)
    either = others & (m != 0) & (np.abs(m) <= e_m)   # may land on either side of the kink
    hinge = np.where(counted, m, 0.0)
    J = hinge.sum() / N
    e_J = (np.sum(np.where(counted | either, e_m, 0.0)) + plain_sum(N * (C - 1), u) * hinge.sum()) / N + u * abs(J)
    dx = counted / N
    k = counted.sum(axis=1)
    dx[rows, labels] = -k / N
    # 1/N may be rounded and rescaled (torch: (1/C)·C/N), and dx_y may sum k rounded copies of it
    e_dx = C_ELEM * u * np.abs(dx) + either / N
    e_dx[rows, labels] += math.sqrt(2) * np.sqrt(k + 1) * u * k / N + either.sum(axis=1) / N
    return {"out": (np.asarray(J), np.asarray(e_J)), "dx": (dx, e_dx)}


def layer(kind: str, family: str, a: dict[str, Array], hyper: dict[str, Any], dout: Array | None, u: float,
          tiny: float) -> Outputs:
    if family == "activation":
        if dout is None:
            raise ValueError(f"an activation layer ({kind}) needs dout")
        return activation(kind, a["x"], dout, u, tiny)
    if kind == "softmax_loss":
        return softmax_loss(a["x"], a["y"], u, tiny)
    if kind == "svm_loss":
        return svm_loss(a["x"], a["y"], u, tiny)
    return loss(kind, a["x"], a["y"], u, tiny)
