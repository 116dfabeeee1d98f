"""The seed's backpropagation for a dense network, written by hand.

Layer l = 1..L, one sample per row of a batch (so W⁽ˡ⁾ a⁽ˡ⁻¹⁾ is written ``a @ W.T``):

    z⁽ˡ⁾ = W⁽ˡ⁾ a⁽ˡ⁻¹⁾ + b⁽ˡ⁾,   a⁽ˡ⁾ = σ_l(z⁽ˡ⁾),   a⁽⁰⁾ = x                  (forward)

    δ⁽ᴸ⁾ = ∂J/∂a⁽ᴸ⁾ ⊙ σ′(z⁽ᴸ⁾)            — for the seed's loss, (a⁽ᴸ⁾ − y) ⊙ σ′(z⁽ᴸ⁾)
    δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀ δ⁽ˡ⁺¹⁾ ⊙ σ′(z⁽ˡ⁾)     for l = L−1 .. 1                    (backward)
    ∂J/∂W⁽ˡ⁾ = δ⁽ˡ⁾ (a⁽ˡ⁻¹⁾)ᵀ,   ∂J/∂b⁽ˡ⁾ = δ⁽ˡ⁾, each summed over the batch

Here δ⁽ˡ⁾ = ∂J/∂z⁽ˡ⁾ of the batch cost J, so it already carries the loss's reduction (the 1/B of a
batch mean): summing the per-sample outer products over the batch then gives ∂J/∂W⁽ˡ⁾ exactly.
A softmax layer replaces "⊙ σ′(z)" by its Jacobian-vector product (see ``activations``).

A :class:`Network` is the plan of one structure (widths, activations, loss, dtype): checked once, its
activation and loss rules looked up once, so each call checks only what depends on the arrays given.
The contract's functions at the end (``gradients`` and its companions) run a Network kept per
structure. Products are written ``u.dot(v)``: the same product as ``u @ v``, at half the call overhead
on small arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np

from manual_bp import _validate
from manual_bp import activations as _act
from manual_bp import losses as _loss

Array = np.ndarray
Params = list[tuple[Array, Array]]


class Trace(NamedTuple):
    """What the forward pass records: ``zs[l-1]`` = z⁽ˡ⁾ and ``activations[l]`` = a⁽ˡ⁾ (a⁽⁰⁾ = x)."""

    zs: list[Array]
    activations: list[Array]


class Backward(NamedTuple):
    """What the backward pass computes.

    ``deltas[l-1]`` = δ⁽ˡ⁾ (B, n_l) and ``grads[l-1]`` = (∂J/∂W⁽ˡ⁾, ∂J/∂b⁽ˡ⁾).
    """

    deltas: list[Array]
    grads: list[tuple[Array, Array]]


def _forward(params: Params, x: Array, layers: Sequence[_act.Activation]) -> Trace:
    a = x
    zs, acts = [], [x]
    for (W, b), layer in zip(params, layers, strict=True):
        z = a.dot(W.T)
        z += b[None]          # z⁽ˡ⁾ = W⁽ˡ⁾ a⁽ˡ⁻¹⁾ + b⁽ˡ⁾ (in place; b as a row broadcasts 2× cheaper)
        a = layer.value(z)    # a⁽ˡ⁾ = σ(z⁽ˡ⁾)
        zs.append(z)
        acts.append(a)
    return Trace(zs, acts)


def _backward(params: Params, trace: Trace, y: Array, layers: Sequence[_act.Activation], loss: _loss.Loss,
              keep_deltas: bool) -> Backward:
    """The seed's recursion, using the trace up: z⁽ˡ⁾ and a⁽ˡ⁾ leave it (and z⁽ˡ⁾'s memory may be
    reused) once layer l is done, so the memory of the forward pass is given back as it goes."""
    L = len(params)
    zs, acts = trace
    ones = np.empty(y.shape[0], y.dtype)
    ones.fill(1)  # Σ over the batch as one product, ones·δ: 3× faster than a reduction at B = 64
    deltas, grads = [], []
    g = loss.gradient(acts[L], y)                       # ∂J/∂a⁽ᴸ⁾
    for l in range(L, 0, -1):
        W, _ = params[l - 1]
        z, a = zs.pop(), acts.pop()                     # z⁽ˡ⁾, a⁽ˡ⁾; acts[-1] is now a⁽ˡ⁻¹⁾
        delta = layers[l - 1].delta(z, a, g)            # δ⁽ˡ⁾ = g ⊙ σ′(z⁽ˡ⁾)
        dW = delta.T.dot(acts[-1])                      # ∂J/∂W⁽ˡ⁾ = δ⁽ˡ⁾ (a⁽ˡ⁻¹⁾)ᵀ
        db = ones.dot(delta)                            # ∂J/∂b⁽ˡ⁾ = Σ_b δ⁽ˡ⁾_b
        if l > 1:
            g = delta.dot(W)                            # (W⁽ˡ⁾)ᵀ δ⁽ˡ⁾ = ∂J/∂a⁽ˡ⁻¹⁾
        grads.append((dW, db))
        if keep_deltas:
            deltas.append(delta)
    return Backward(deltas[::-1], grads[::-1])


class Network:
    """The plan of one network structure: what ``gradients`` checks once, checked once.

        net = Network((3, 4, 2), ("tanh", "identity"), "half_sse", "float64")
        net.gradients(params, x, y)   # = gradients(params, x, y, ["tanh", "identity"], "half_sse")

    ``widths`` (n₀, n₁, …, n_L), one activation name per layer, a loss name and a dtype (float32 or
    float64) are checked at construction, each error naming the argument. A call then checks only
    what depends on the arrays given: W⁽ˡ⁾ of shape (n_l, n_{l−1}) and b⁽ˡ⁾ of shape (n_l,) as
    ``params[l-1]``, x of shape (B, n₀) with B ≥ 1, y of shape (B, n_L), every array of the
    Network's dtype and finite, and y in the loss's domain. The results are those of the contract's
    functions, bit for bit. A Network keeps nothing between calls (it holds names and shapes, never
    arrays): its calls are pure, like the contract's.
    """

    __slots__ = ("_widths", "_activations", "_loss_name", "_dtype", "_layers", "_loss", "_shapes", "_n_params")

    def __init__(self, widths: Sequence[int], activations: Sequence[str], loss: str, dtype: Any) -> None:
        self._widths = _validate.check_widths(widths)
        self._activations = tuple(_validate.check_activations(
            activations, len(self._widths) - 1, source=f"widths {self._widths}"))
        self._loss_name = _validate.check_loss(loss)
        self._dtype = _validate.check_dtype(dtype)
        self._layers = tuple(_act.ACTIVATIONS[name] for name in self._activations)
        self._loss = _loss.LOSSES[self._loss_name]
        self._shapes = tuple(((n_out, n_in), (n_out,)) for n_in, n_out in pairwise(self._widths))
        self._n_params = sum(n_out * (n_in + 1) for (n_out, n_in), _ in self._shapes)

    widths = property(lambda self: self._widths, doc="(n₀, n₁, …, n_L)")
    activations = property(lambda self: self._activations, doc="one activation name per layer")
    loss = property(lambda self: self._loss_name, doc="the loss name")
    dtype = property(lambda self: self._dtype, doc="float32 or float64, the dtype of every array")

    def __repr__(self) -> str:
        return (f"Network(widths={self._widths}, activations={self._activations}, loss={self._loss_name!r}, "
                f"dtype={self._dtype.name!r})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Network) and self._structure() == other._structure()

    def __hash__(self) -> int:
        return hash(self._structure())

    def _structure(self) -> tuple[Any, ...]:
        return self._widths, self._activations, self._loss_name, self._dtype

    def _check(self, params: Any, x: Any, y: Any) -> tuple[Params, Array, Array]:
        return _validate.check_arrays(params, x, y, self._shapes, self._dtype, self._loss_name, self._n_params)

    def gradients(self, params: Params, x: Array, y: Array) -> list[tuple[Array, Array]]:
        """∂J/∂W⁽ˡ⁾ and ∂J/∂b⁽ˡ⁾ for every layer, layer 1 first, as :func:`gradients` computes them."""
        p, xx, yy = self._check(params, x, y)
        return _backward(p, _forward(p, xx, self._layers), yy, self._layers, self._loss, keep_deltas=False).grads

    def backward(self, params: Params, x: Array, y: Array) -> Backward:
        """Every δ⁽ˡ⁾ and every gradient, as :func:`backward` computes them."""
        p, xx, yy = self._check(params, x, y)
        return _backward(p, _forward(p, xx, self._layers), yy, self._layers, self._loss, keep_deltas=True)

    def forward(self, params: Params, x: Array) -> Trace:
        """Every z⁽ˡ⁾ and a⁽ˡ⁾, as :func:`forward` computes them."""
        p, xx, _ = _validate.check_arrays(params, x, None, self._shapes, self._dtype, self._loss_name,
                                          self._n_params)
        return _forward(p, xx, self._layers)

    def loss_value(self, params: Params, x: Array, y: Array) -> float:
        """The batch cost J of the network's output a⁽ᴸ⁾ against y."""
        p, xx, yy = self._check(params, x, y)
        return self._loss.value(_forward(p, xx, self._layers).activations[-1], yy)


# ---------------------------------------------------------------------------------------------------
# The contract's functions: each looks up the Network of its call's structure (kept, up to
# _MAX_NETWORKS of them: a Network holds no arrays and never changes, so keeping it cannot change a
# result). Whatever does not fit a kept Network goes through _validate.check_call, so every error is
# the contract's, word for word.

_NETWORKS: dict[tuple[Any, ...], Network] = {}
_MAX_NETWORKS = 256


def _structure_key(params: Any, x: Any, activations: Any, loss: Any) -> tuple[Any, ...]:
    return x.dtype, loss, tuple(activations), tuple([W.shape for W, _ in params])


def _checked_call(params: Any, x: Any, y: Any, activations: Any, loss: Any
                  ) -> tuple[Network, Params, Array, Array]:
    """The Network of this call and its checked arrays; raises the contract's error for bad input."""
    try:
        net = _NETWORKS[_structure_key(params, x, activations, loss)]
        return (net, *net._check(params, x, y))
    except (LookupError, AttributeError, TypeError, ValueError):
        pass  # not seen before, or not valid: the full check says which, in the contract's words
    p, xx, yy, acts, name = _validate.check_call(params, x, y, activations, loss)
    widths = (p[0][0].shape[1], *(W.shape[0] for W, _ in p))
    net = Network(widths, acts, name, xx.dtype)
    if len(_NETWORKS) >= _MAX_NETWORKS:
        _NETWORKS.clear()  # start afresh: one step, safe under threads; a Network costs microseconds to make
    _NETWORKS[_structure_key(p, xx, acts, name)] = net
    return net, p, xx, yy


def forward(params: Params, x: Array, activations: list[str]) -> Trace:
    """The forward pass: z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾ and a⁽ˡ⁾ = σ(z⁽ˡ⁾) for l = 1..L, recorded.

    x: (B, n₀); W⁽ˡ⁾: (n_l, n_{l−1}); b⁽ˡ⁾: (n_l,). Returns ``Trace(zs, activations)`` with
    z⁽ˡ⁾ and a⁽ˡ⁾ of shape (B, n_l), and a⁽⁰⁾ = x first in ``activations``.
    """
    p = _validate.check_params(params)
    acts = _validate.check_activations(activations, len(p))
    xx = _validate.check_x(x, p)
    _validate.check_same_dtype(p, xx)
    return _forward(p, xx, [_act.ACTIVATIONS[name] for name in acts])


def backward(params: Params, x: Array, y: Array, activations: list[str], loss: str) -> Backward:
    """Forward, then the seed's backward recursion; returns every δ⁽ˡ⁾ and every gradient.

    δ⁽ᴸ⁾ = ∂J/∂a⁽ᴸ⁾ ⊙ σ′(z⁽ᴸ⁾) and δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ σ′(z⁽ˡ⁾), each of shape (B, n_l) and
    equal to ∂J/∂z⁽ˡ⁾ of the batch cost; grads as in :func:`gradients`.
    """
    net, p, xx, yy = _checked_call(params, x, y, activations, loss)
    return _backward(p, _forward(p, xx, net._layers), yy, net._layers, net._loss, keep_deltas=True)


def gradients(
    params: Params, x: Array, y: Array, activations: list[str], loss: str
) -> list[tuple[Array, Array]]:
    """∂J/∂W⁽ˡ⁾ and ∂J/∂b⁽ˡ⁾ for every layer, layer 1 first: the contract's gradient function.

    ∂J/∂W⁽ˡ⁾ = Σ_b δ⁽ˡ⁾_b (a⁽ˡ⁻¹⁾_b)ᵀ with the shape of W⁽ˡ⁾ (n_l, n_{l−1}), ∂J/∂b⁽ˡ⁾ = Σ_b δ⁽ˡ⁾_b with
    the shape of b⁽ˡ⁾, in the dtype of the inputs (float32 or float64). Pure: the arguments are not
    modified and nothing is kept between calls that could change a result (the Network of each
    structure is kept; it holds no arrays).
    """
    net, p, xx, yy = _checked_call(params, x, y, activations, loss)
    return _backward(p, _forward(p, xx, net._layers), yy, net._layers, net._loss, keep_deltas=False).grads


def loss_value(params: Params, x: Array, y: Array, activations: list[str], loss: str) -> float:
    """The batch cost J (see ``manual_bp.losses``) of the network's output a⁽ᴸ⁾ against y."""
    net, p, xx, yy = _checked_call(params, x, y, activations, loss)
    return net._loss.value(_forward(p, xx, net._layers).activations[-1], yy)
