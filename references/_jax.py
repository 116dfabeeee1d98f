"""The JAX reference: ``jax.grad`` of the contract's J, jitted once per signature and cached.

    z⁽ˡ⁾ = a⁽ˡ⁻¹⁾ W⁽ˡ⁾ᵀ + b⁽ˡ⁾ (matmul at precision HIGHEST),  a⁽ˡ⁾ = σ_l(z⁽ˡ⁾),  J = loss(a⁽ᴸ⁾, y);
    ∂J/∂W⁽ˡ⁾, ∂J/∂b⁽ˡ⁾ by ``jax.grad``; δ⁽ˡ⁾ = ∂J/∂s⁽ˡ⁾ at s⁽ˡ⁾ = 0 for z⁽ˡ⁾ + s⁽ˡ⁾.

64-bit mode (``jax_enable_x64``) is switched on once, when this module is first imported; without it
float64 inputs are silently computed in float32. Computation runs in the input dtype.

``jax.nn`` is used where it matches the contract: relu, gelu(approximate=False) for gelu,
gelu(approximate=True) for gelu_tanh, sigmoid, softplus, silu, elu, softmax, log_softmax.
softplus keeps ``jax.nn.softplus``'s exact value but takes its derivative as sigmoid(z) through a
``custom_jvp``: JAX differentiates logaddexp(z, 0) as exp(z − softplus(z)), which is off by up to
~10 ulp for z in (20, 37) (at z = 30 it gives 0.9999999999999076; sigmoid(30) = 0.9999999999999065).
JAX's own derivatives differ from the contract (PyTorch's) at two kinks, so two are written here:

* leaky_relu = where(z > 0, z, 0.01 z): derivative 0.01 at z = 0 (``jax.nn.leaky_relu`` gives 1);
* l1 = mean(sign(r)·r), r = a − y: value |r|, derivative sign(r) since sign′ = 0, so 0 at r = ±0
  (``jnp.abs`` has derivative +1 at 0, −0.0 included).

Also written from the formula: huber = where(|r| ≤ 1, ½r², |r| − ½) (only the selected branch is
differentiated, so abs′(0) never enters), binary cross-entropy = y·softplus(−a) + (1 − y)·softplus(a),
whose gradient −y·sigmoid(−a) + (1 − y)·sigmoid(a) is sigmoid(a) − y without cancellation (the usual
max(a, 0) − a·y + log1p(e^{−|a|}) has the wrong gradient at a = 0 under JAX's max/abs ties), and
cross-entropy = −Σ y ⊙ log_softmax(a) / B.

Performance: one ``jax.jit`` per (activations, loss, precision, shapes, dtype, device), compiled on
first use and kept in a bounded LRU (``CACHE_SIZE``), serving both ``gradients`` and ``deltas``.
``compile_count()`` counts the compilations (traces). A cached call costs tens of microseconds on
small nets.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from references._validate import Problem  # noqa: E402

Array = Any  # jax.Array; kept loose so the module reads the same across jax versions

_TRACES = 0


def compile_count() -> int:
    """How many times a gradient function has been traced (so compiled) in this process."""
    return _TRACES


@jax.custom_jvp
def _softplus(z: Array) -> Array:
    """jax.nn.softplus (exact: logaddexp(z, 0)), with derivative sigmoid(z) exactly."""
    return jax.nn.softplus(z)


@_softplus.defjvp
def _softplus_jvp(primals: Any, tangents: Any) -> Any:
    (z,), (z_dot,) = primals, tangents
    return jax.nn.softplus(z), jax.nn.sigmoid(z) * z_dot


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "identity": lambda z: z,
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "leaky_relu": lambda z: jnp.where(z > 0, z, 0.01 * z),
    "elu": jax.nn.elu,
    "softplus": _softplus,
    "gelu": lambda z: jax.nn.gelu(z, approximate=False),
    "gelu_tanh": lambda z: jax.nn.gelu(z, approximate=True),
    "silu": jax.nn.silu,
    "softmax": lambda z: jax.nn.softmax(z, axis=-1),
}


def _huber(a: Array, y: Array) -> Array:
    r = a - y
    return jnp.mean(jnp.where(jnp.abs(r) <= 1, 0.5 * r * r, jnp.abs(r) - 0.5))


def _bce(a: Array, y: Array) -> Array:
    return jnp.mean(y * jax.nn.softplus(-a) + (1 - y) * jax.nn.softplus(a))


def _l1(a: Array, y: Array) -> Array:
    r = a - y
    return jnp.mean(jnp.sign(r) * r)


LOSSES: dict[str, Callable[[Array, Array], Array]] = {
    "half_sse": lambda a, y: 0.5 * jnp.sum((a - y) ** 2) / a.shape[0],
    "mse": lambda a, y: jnp.mean((a - y) ** 2),
    "cross_entropy": lambda a, y: -jnp.sum(y * jax.nn.log_softmax(a, axis=-1)) / a.shape[0],
    "binary_cross_entropy": _bce,
    "huber": _huber,
    "l1": _l1,
}


# Compiled executables are kept per full signature in a bounded LRU: each entry is its own jit
# function holding one executable, dropped with it on eviction. An unbounded cache (jit's own, per
# function) grows with every new shape a long run draws until XLA cannot map more code ("LLVM
# compilation error: Cannot allocate memory", seen after ~1,000 random shapes in one process).
CACHE_SIZE = 256


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compiled(activations: tuple[str, ...], loss: str, highest: bool, signature: tuple[Any, ...]) -> Any:
    """The jitted (∂J/∂params, ∂J/∂shifts) for one network signature (shapes, dtype and device in
    ``signature``): compiled once, on first use. One function serves ``gradients`` and ``deltas``."""
    precision = jax.lax.Precision.HIGHEST if highest else None

    def cost(params: Any, shifts: Any, x: Array, y: Array) -> Array:
        global _TRACES
        _TRACES += 1  # runs only while tracing, i.e. once per compilation
        a = x
        for (W, b), s, name in zip(params, shifts, activations, strict=True):
            a = ACTIVATIONS[name](jnp.matmul(a, W.T, precision=precision) + b + s)
        return LOSSES[loss](a, y)

    return jax.jit(jax.grad(cost, argnums=(0, 1)))


def device_problem(device: str) -> str | None:
    """Why ``device`` cannot be used, or None."""
    if device == "cuda":
        try:
            jax.devices("gpu")
        except RuntimeError as err:
            return f"backend 'jax' on device 'cuda' needs a GPU build of jaxlib and a GPU: {err}"
    return None


def _device(device: str) -> Any:
    """The jax device to put arrays on, or None where numpy arrays can go straight in."""
    if device == "cuda":
        return jax.devices("gpu")[0]
    return None if jax.default_backend() == "cpu" else jax.devices("cpu")[0]


def _run(problem: Problem, device: str, allow_tf32: bool) -> Any:
    """(grads of the params, δ⁽¹⁾..δ⁽ᴸ⁾ as the grads of zero shifts s⁽ˡ⁾ added to z⁽ˡ⁾)."""
    params = [(W, b) for W, b in problem.params]
    x, y = problem.x, problem.y
    signature = (tuple(W.shape for W, _ in params), x.shape, str(x.dtype), device)
    fn = _compiled(problem.activations, problem.loss, not allow_tf32, signature)
    shifts = [np.zeros((x.shape[0], W.shape[0]), x.dtype) for W, _ in params]
    dev = _device(device)
    if dev is not None:
        params, shifts, x, y = jax.device_put((params, shifts, x, y), dev)
    return fn(params, shifts, x, y)


def gradients(problem: Problem, *, device: str, allow_tf32: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """(∂J/∂W⁽ˡ⁾, ∂J/∂b⁽ˡ⁾), l = 1..L, in the input dtype."""
    grads, _ = _run(problem, device, allow_tf32)
    return [(np.array(dW), np.array(db)) for dW, db in grads]


def deltas(problem: Problem, *, device: str, allow_tf32: bool) -> list[np.ndarray]:
    """δ⁽ˡ⁾ = ∂J/∂z⁽ˡ⁾ (B, n_l), l = 1..L, in the input dtype."""
    _, shift_grads = _run(problem, device, allow_tf32)
    return [np.array(d) for d in shift_grads]
