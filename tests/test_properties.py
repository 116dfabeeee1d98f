"""The property suite: manual_bp against every reference, the references against each other,
backprop against the explicit Jacobian product, and SGD against torch.optim.SGD and a plain JAX update.

Every comparison goes through the tolerance model (bpcheck.tolerance) and the assertion helpers
(bpcheck.assertions); each property carries one exact @example per kink and degenerate shape.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import manual_bp
import references
from bpcheck import tolerance as tol
from bpcheck.assertions import assert_deltas_close, assert_gradients_close
from bpcheck.cases import Case, make_case
from bpcheck.strategies import cases
from tests import corners

U64 = tol.unit_roundoff(np.float64)
needs_torch = pytest.mark.skipif(not references.available("torch"), reason="PyTorch is not installed")
needs_jax = pytest.mark.skipif(not references.available("jax"), reason="JAX is not installed")
small = dict(max_depth=4, max_width=8, max_batch=8)


def half_the_examples(test):
    """The properties that call jax run half the profile's random examples (their @example corners all
    run): jax compiles every new network shape (0.1–0.3 s each), which made these three the costliest
    tests of the suite. jax is also measured on 792 cases by every `manual-bp report` and was swept in
    the false-alarm campaigns (docs/tolerance.md)."""
    return settings(max_examples=max(10, settings.default.max_examples // 2))(test)


def _grads(case: Case) -> list:
    return manual_bp.gradients(case.params, case.x, case.y, list(case.activations), case.loss)


def _ref(case: Case, backend: str, **kw) -> list:
    return references.gradients(case.params, case.x, case.y, list(case.activations), case.loss, backend=backend, **kw)


def _resolvable(analysis: tol.Analysis, case: Case) -> None:
    # float32 cases whose bound is as large as the gradient itself test nothing: steer away
    assume(analysis.resolvable)


def with_corners(test=None, *, float64: bool = False):
    """One exact @example per kink and degenerate shape (tests/corners.py); ``float64=True`` for a
    float64-only property: each corner widened to float64 (its values are exact there)."""
    def decorate(test):
        for case in corners.EXACT_CASES.values():
            test = example(case.astype(np.float64) if float64 else case)(test)
        return test

    return decorate if test is None else decorate(test)


@with_corners
@given(cases())
def test_manual_bp_matches_ground_truth(case: Case) -> None:
    analysis = tol.analyse(case)
    _resolvable(analysis, case)
    truth = _ref(case.astype(np.float64), "ground_truth")
    assert_gradients_close(_grads(case), truth, analysis, u_ref=0.0, names=("manual_bp", "ground_truth"), case=case)


@needs_torch
@with_corners
@given(cases(**small))
def test_manual_bp_matches_torch(case: Case) -> None:
    """In the case's dtype both; torch's float32 result is judged against the float64 truth too."""
    analysis = tol.analyse(case)
    _resolvable(analysis, case)
    mine, theirs = _grads(case), _ref(case, "torch")
    u_ref = analysis.u  # both computed in the same dtype: twice the bound
    assert_gradients_close(mine, theirs, analysis, u_ref=u_ref, names=("manual_bp", "torch"), case=case)
    d_mine = manual_bp.backward(case.params, case.x, case.y, list(case.activations), case.loss).deltas
    d_theirs = references.deltas(case.params, case.x, case.y, list(case.activations), case.loss, backend="torch")
    assert_deltas_close(d_mine, d_theirs, analysis, u_ref=u_ref, names=("manual_bp", "torch"), case=case)


@needs_jax
@with_corners
@half_the_examples
@given(cases(**small))
def test_manual_bp_matches_jax(case: Case) -> None:
    analysis = tol.analyse(case)
    _resolvable(analysis, case)
    assert_gradients_close(_grads(case), _ref(case, "jax"), analysis, u_ref=analysis.u, names=("manual_bp", "jax"),
                           case=case)
    d_mine = manual_bp.backward(case.params, case.x, case.y, list(case.activations), case.loss).deltas
    d_theirs = references.deltas(case.params, case.x, case.y, list(case.activations), case.loss, backend="jax")
    assert_deltas_close(d_mine, d_theirs, analysis, u_ref=analysis.u, names=("manual_bp", "jax"), case=case)


@with_corners(float64=True)
@given(cases(dtypes=["float64"], regimes=["simple", "default", "kinks"], max_depth=3, max_width=5, max_batch=4))
def test_manual_bp_matches_finite_differences(case: Case) -> None:
    """Central differences of the active piece (kinks included: they follow the contract there), scaled:
    ‖G − FD‖∞ ≤ 1e-6 · max(1, ‖FD‖∞) per array: FD's truncation error is O(h²) with h ≈ 5e-7·max(1, |θ|)."""
    assert case.dtype == np.float64
    fd = _ref(case, "finite_diff")
    for (gW, gb), (fW, fb) in zip(_grads(case), fd, strict=True):
        for g, f in ((gW, fW), (gb, fb)):
            assert np.max(np.abs(g - f)) <= 1e-6 * max(1.0, float(np.max(np.abs(f)))), case.describe()


@needs_torch
@needs_jax
@with_corners
@half_the_examples
@given(cases(**small))
def test_references_agree_with_each_other(case: Case) -> None:
    """torch and jax against each other in the case's dtype, and each against the ground truth."""
    analysis = tol.analyse(case)
    _resolvable(analysis, case)
    t, j = _ref(case, "torch"), _ref(case, "jax")
    truth = _ref(case.astype(np.float64), "ground_truth")
    assert_gradients_close(t, j, analysis, u_ref=analysis.u, names=("torch", "jax"), case=case)
    assert_gradients_close(t, truth, analysis, u_ref=0.0, names=("torch", "ground_truth"), case=case)
    assert_gradients_close(j, truth, analysis, u_ref=0.0, names=("jax", "ground_truth"), case=case)


@given(cases(dtypes=["float64"], max_depth=4, max_width=5, max_batch=4))
def test_backprop_equals_explicit_jacobian_product(case: Case) -> None:
    """The seed's chain rule, ∇ₓz = (∂y/∂x)ᵀ∇ᵧz, with every Jacobian built explicitly on the batch tensor."""
    analysis = tol.analyse(case)
    by_jacobians = manual_bp.jacobians.gradients_by_jacobians(case.params, case.x, case.y, list(case.activations),
                                                              case.loss)
    assert_gradients_close(_grads(case), by_jacobians, analysis, u_ref=analysis.u,
                           names=("backprop", "explicit Jacobians"), case=case)


@given(st.lists(st.integers(1, 3), min_size=1, max_size=4), st.integers(0, 2**32 - 1))
def test_chain_rule_on_tensors(shape: list[int], seed: int) -> None:
    """A rank-k tensor map y = A·vec(x) reshaped: the flattened chain rule gives the same gradient as
    contracting the tensor Jacobian directly."""
    rng = np.random.default_rng(seed)
    x_shape, y_shape = tuple(shape), tuple(reversed(shape)) + (2,)
    J = rng.normal(size=(int(np.prod(y_shape)), int(np.prod(x_shape))))
    grad_y = rng.normal(size=y_shape)
    got = manual_bp.jacobians.chain_rule(J, grad_y, x_shape)
    tensor_J = J.reshape(y_shape + x_shape)
    want = np.tensordot(grad_y, tensor_J, axes=len(y_shape))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert got.shape == x_shape


@needs_torch
@given(cases(max_depth=3, max_width=6, max_batch=4, regimes=["simple", "default"]),
       st.sampled_from([0.0, 0.9]), st.integers(1, 4))
def test_sgd_follows_torch_optim_sgd(case: Case, momentum: float, steps: int) -> None:
    """k steps of manual_bp.sgd against torch.optim.SGD, both fed the same gradients at every step.

    Before each step torch's parameters are set to manual_bp's (its momentum buffers are its own), so
    each step compares one update on identical inputs. Allowed: a few roundings of p − η·buf, relative
    to |p| + η|buf| (torch may fuse the multiply-add), growing by one per step for the buffers' own
    roundings: 4·eps·(k + 1)·(|p| + η|buf|).
    """
    import torch

    lr = 0.05
    dt = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[case.dtype]
    tensors = [torch.tensor(p, dtype=dt, requires_grad=True) for W, b in case.params for p in (W, b)]
    opt = torch.optim.SGD(tensors, lr=lr, momentum=momentum)
    eps = float(np.finfo(case.dtype).eps)
    params, buffers = case.params, None
    for k in range(steps):
        grads = manual_bp.gradients(params, case.x, case.y, list(case.activations), case.loss)
        with torch.no_grad():
            for t, p in zip(tensors, [p for pair in params for p in pair], strict=True):
                t.copy_(torch.from_numpy(p))
        for t, g in zip(tensors, [g for pair in grads for g in pair], strict=True):
            t.grad = torch.from_numpy(g.copy())
        opt.step()
        old = params
        params, buffers = manual_bp.sgd(params, grads, lr=lr, momentum=momentum, buffers=buffers)
        steps_buf = buffers if buffers is not None else grads
        mine = [p for pair in params for p in pair]
        for t, p, p0, buf in zip(tensors, mine, [p for pair in old for p in pair],
                                 [b for pair in steps_buf for b in pair], strict=True):
            allowed = 4 * eps * (k + 1) * (np.abs(p0) + lr * np.abs(buf)) + np.finfo(case.dtype).tiny
            assert np.all(np.abs(t.detach().numpy() - p) <= allowed), (k, case.describe())


@needs_jax
@half_the_examples
@given(cases(max_depth=3, max_width=6, max_batch=4, regimes=["simple", "default"], dtypes=["float64"]),
       st.sampled_from([0.0, 0.9]), st.integers(1, 4))
def test_training_follows_a_plain_jax_update(case: Case, momentum: float, steps: int) -> None:
    """manual_bp.train is its steps exactly, and each step follows a plain JAX update within the model.

    Step k starts both from manual_bp's parameters p_k. The gradients differ by at most τ_k, the
    tolerance model's bound for that network (both in float64: u_ref = u); the momentum buffers then
    differ by at most D_k = μ D_{k−1} + τ_k, and the parameters by η D_k plus the update's own roundings,
    4·eps·(|p_k| + η|buf_k|) as in the torch.optim.SGD property above.
    """
    import jax.numpy as jnp

    lr = 0.05
    result = manual_bp.train(case.params, case.x, case.y, list(case.activations), case.loss, lr=lr, steps=steps,
                             momentum=momentum)
    params, buffers, jax_buf, drift = case.params, None, None, None
    eps = float(np.finfo(np.float64).eps)
    for _ in range(steps):
        grads = manual_bp.gradients(params, case.x, case.y, list(case.activations), case.loss)
        analysis = tol.analyse(Case(params, case.x, case.y, case.activations, case.loss))
        tau = [tuple(tol.tolerance(e, analysis.u, analysis.u) for e in pair) for pair in analysis.grad_bounds]
        drift = tau if drift is None else [tuple(momentum * d + t for d, t in zip(dp, tp, strict=True))
                                          for dp, tp in zip(drift, tau, strict=True)]
        g = [(jnp.asarray(dW), jnp.asarray(db)) for dW, db in _ref(Case(params, case.x, case.y, case.activations,
                                                                        case.loss), "jax")]
        jax_buf = g if jax_buf is None or momentum == 0 else [
            (momentum * bW + dW, momentum * bb + db) for (bW, bb), (dW, db) in zip(jax_buf, g, strict=True)]
        jax_params = [(W - lr * bW, b - lr * bb) for (W, b), (bW, bb) in zip(params, jax_buf, strict=True)]
        new, buffers = manual_bp.sgd(params, grads, lr=lr, momentum=momentum, buffers=buffers)
        used = buffers if buffers is not None else grads
        for l, ((W, b), (bW, bb), (rW, rb), (nW, nb), (jW, jb)) in enumerate(
                zip(params, used, drift, new, jax_params, strict=True), start=1):
            for p, buf, dr, mine, theirs in ((W, bW, rW, nW, jW), (b, bb, rb, nb, jb)):
                allowed = lr * dr + 4 * eps * (np.abs(p) + lr * np.abs(buf))
                assert np.all(np.abs(mine - np.asarray(theirs)) <= allowed), (l, case.describe())
        params = new
    for (W, b), (rW, rb) in zip(result.params, params, strict=True):  # train() is exactly these steps
        np.testing.assert_array_equal(W, rW)
        np.testing.assert_array_equal(b, rb)


def test_gradient_descent_decreases_the_loss() -> None:
    """Full-batch gradient descent on a smooth loss with a small step: J falls at every step, and far."""
    rng = np.random.default_rng(0)
    case = make_case(rng, [3, 8, 2], ["tanh", "identity"], "half_sse", batch=16, dtype="float64")
    plain = manual_bp.train(case.params, case.x, case.y, list(case.activations), case.loss, lr=0.1, steps=200)
    assert len(plain.losses) == 201
    assert all(b < a for a, b in zip(plain.losses, plain.losses[1:], strict=False))
    assert plain.losses[-1] < 0.5 * plain.losses[0]
    heavy = manual_bp.train(case.params, case.x, case.y, list(case.activations), case.loss, lr=0.1, steps=200,
                            momentum=0.9)
    assert heavy.losses[-1] < plain.losses[-1]  # momentum gets further in as many steps here
