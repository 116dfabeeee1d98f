"""The layers: manual_bp.layers against every reference within the layer tolerance model, the
references against each other, naive against vectorised convolution, and every convention point
pinned by an exact case.

Each property runs per group of kinds (the five layers of the issue on their own, then affine, the
activations and the losses) in both dtypes, judged by ``bpcheck.layers.judge`` like ``check-layer``
will: first against the float64 truth of ``bpcheck.layers.tolerance``, then against a reference.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings

import manual_bp.layers as L
import references
import references.layers as RL
from bpcheck.layers.api import call_layer
from bpcheck.layers.cases import LayerCase
from bpcheck.layers.judge import judge_outputs
from bpcheck.layers.strategies import layer_cases
from bpcheck.layers.tolerance import LayerAnalysis, analyse
from bpcheck.tolerance import unit_roundoff
from tests.layer_styles import MANUAL, implementations

ACTIVATIONS = tuple(k for k, v in RL.KINDS.items() if v.family == "activation")
LOSSES = tuple(k for k, v in RL.KINDS.items() if v.family in ("loss", "label_loss"))
GROUPS: dict[str, tuple[str, ...]] = {
    "conv2d": ("conv2d",), "max_pool": ("max_pool",), "batchnorm": ("batchnorm",), "layernorm": ("layernorm",),
    "dropout": ("dropout",), "affine": ("affine",), "activations": ACTIVATIONS, "losses": LOSSES,
}
needs_torch = pytest.mark.skipif(not references.available("torch"), reason="PyTorch is not installed")
needs_jax = pytest.mark.skipif(not references.available("jax"), reason="JAX is not installed")
# a third of the profile's examples per group (8 groups): 20 under ci, 666 under thorough
PER_GROUP = settings(max_examples=max(5, settings.default.max_examples // 3))


def _resolvable(analysis: LayerAnalysis, case: LayerCase) -> None:
    # float32 cases whose bound is as large as the output itself test nothing: steer away
    assume(case.dtype != np.float32 or analysis.resolution <= 1e-2)


def _outputs(case: LayerCase, forward: Any, backward: Any) -> tuple[dict[str, Any], LayerCase]:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return call_layer(case, forward, backward, masked=case.kind == "dropout")


def _reference(case: LayerCase, backend: str) -> dict[str, np.ndarray]:
    out, grads = RL.forward_and_vjp(case.kind, case.inputs, case.hyper, case.dout, backend=backend)
    return {"out": out, **grads}


def _assert_passes(outputs: dict[str, Any], analysis: LayerAnalysis, case: LayerCase, who: str, *,
                   u_ref: float = unit_roundoff(np.float64), reference: dict[str, np.ndarray] | None = None) -> None:
    __tracebackhide__ = True
    fault = judge_outputs(outputs, analysis, u_ref=u_ref, reference=reference)
    if fault is not None:
        pytest.fail(f"{who} on {case.describe()}: {fault.kind} in {', '.join(fault.outputs)}: {fault.message}")


# ---------------------------------------------------------------- names


def test_kind_names_agree_between_subject_and_references() -> None:
    """Independence forces two copies of the kind names: they must be the same list."""
    assert L.LAYER_KINDS == RL.LAYER_KINDS
    assert set(MANUAL) == set(RL.LAYER_KINDS)


# ---------------------------------------------------------------- manual_bp against every reference


@pytest.mark.parametrize("group", GROUPS)
def test_manual_bp_matches_ground_truth(group: str) -> None:
    @PER_GROUP
    @given(layer_cases(GROUPS[group]))
    def check(case: LayerCase) -> None:
        analysis = analyse(case)
        _resolvable(analysis, case)
        name, forward, backward = MANUAL[case.kind]
        outputs, _ = _outputs(case, forward, backward)
        _assert_passes(outputs, analysis, case, "manual_bp vs its float64 truth")
        _assert_passes(outputs, analysis, case, "manual_bp vs ground_truth", u_ref=0.0,
                       reference=_reference(case, "ground_truth"))
    check()


@needs_torch
@pytest.mark.parametrize("group", GROUPS)
def test_manual_bp_and_torch_match(group: str) -> None:
    """In the case's dtype both (twice the bound), and torch against the long-double truth."""
    @PER_GROUP
    @given(layer_cases(GROUPS[group]))
    def check(case: LayerCase) -> None:
        analysis = analyse(case)
        _resolvable(analysis, case)
        outputs, _ = _outputs(case, *MANUAL[case.kind][1:])
        theirs = _reference(case, "torch")
        _assert_passes(outputs, analysis, case, "manual_bp vs torch", u_ref=analysis.u, reference=theirs)
        _assert_passes(theirs, analysis, case, "torch vs ground_truth", u_ref=0.0,
                       reference=_reference(case, "ground_truth"))
    check()


@needs_jax
@pytest.mark.parametrize("group", ["new layers", "affine, activations and losses"])
def test_manual_bp_and_jax_match(group: str) -> None:
    """Small shapes only: every new shape costs jax a compilation (~0.2 s)."""
    kinds = ("conv2d", "max_pool", "batchnorm", "layernorm", "dropout") if group == "new layers" else \
        ("affine",) + ACTIVATIONS + LOSSES

    @settings(max_examples=max(5, settings.default.max_examples // 4))
    @given(layer_cases(kinds, max_batch=2, max_features=3, max_channels=1, max_image=3, max_filters=2,
                       max_kernel=2))
    def check(case: LayerCase) -> None:
        analysis = analyse(case)
        _resolvable(analysis, case)
        outputs, _ = _outputs(case, *MANUAL[case.kind][1:])
        theirs = _reference(case, "jax")
        _assert_passes(outputs, analysis, case, "manual_bp vs jax", u_ref=analysis.u, reference=theirs)
        _assert_passes(theirs, analysis, case, "jax vs ground_truth", u_ref=0.0,
                       reference=_reference(case, "ground_truth"))
    check()


@pytest.mark.parametrize("group", GROUPS)
def test_finite_differences_agree_with_ground_truth(group: str) -> None:
    """Central differences of the active piece against forward-mode tangents, float64, scaled:
    ‖FD − GT‖∞ ≤ 1e-6 · max(1, ‖GT‖∞) per output (FD's truncation is O(h²), h ≈ 5e-7·max(1, |θ|))."""
    @PER_GROUP
    @given(layer_cases(GROUPS[group], dtypes=("float64",), regimes=("simple", "default", "kinks"), max_batch=4,
                       max_features=5, max_image=5))
    def check(case: LayerCase) -> None:
        fd, gt = _reference(case, "finite_diff"), _reference(case, "ground_truth")
        for name, value in gt.items():
            scale = max(1.0, float(np.max(np.abs(value))))
            assert float(np.max(np.abs(fd[name] - value))) <= 1e-6 * scale, (name, case.describe())
    check()


@pytest.mark.parametrize("group", GROUPS)
def test_other_correct_styles_are_never_flagged(group: str) -> None:
    """tests/layer_styles.py (and conv2d's vectorised pair): other correct implementations."""
    @PER_GROUP
    @given(layer_cases(GROUPS[group]))
    def check(case: LayerCase) -> None:
        analysis = analyse(case)
        for name, forward, backward in implementations(case.kind)[1:]:
            outputs, _ = _outputs(case, forward, backward)
            _assert_passes(outputs, analysis, case, name)
    check()


@given(layer_cases("conv2d"))
def test_naive_and_vectorised_convolution_agree(case: LayerCase) -> None:
    """Within the model against each other (two inexact results: twice the bound); bit for bit
    where the arithmetic is exact (the simple regime's dyadic values)."""
    analysis = analyse(case)
    naive, _ = _outputs(case, L.conv_forward_naive, L.conv_backward_naive)
    fast, _ = _outputs(case, L.conv_forward_fast, L.conv_backward_fast)
    _assert_passes(fast, analysis, case, "conv fast vs naive", u_ref=analysis.u, reference=naive)
    for name in analysis.outputs:
        exact = analysis.bounds[name] == 0
        np.testing.assert_array_equal(np.asarray(fast[name])[exact], np.asarray(naive[name])[exact])


# ---------------------------------------------------------------- the packages' boundaries


def test_layer_packages_import_no_framework_and_work_without_one() -> None:
    """references.layers loads torch/jax only for their backends; manual_bp.layers and bpcheck.layers
    never do; the NumPy backends run with both frameworks absent, and the framework ones then raise
    BackendUnavailable."""
    import os
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    code = """
        import sys
        import manual_bp.layers, references.layers, bpcheck.layers.tolerance, bpcheck.layers.strategies
        print(sorted(m for m in ("torch", "jax") if m in sys.modules))
        sys.modules["torch"] = None
        sys.modules["jax"] = None
        import numpy as np
        import references, references.layers as RL
        x = np.ones((2, 2))
        print(RL.forward("relu", {"x": x}, {}, backend="ground_truth").astype(float).tolist())
        try:
            RL.forward("relu", {"x": x}, {}, backend="torch")
        except references.BackendUnavailable as err:
            print("unavailable")
    """
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-W", "error", "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(repo)}, cwd=repo, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:3] == ["[]", "[[1.0, 1.0], [1.0, 1.0]]", "unavailable"]


@given(layer_cases("dropout"))
def test_a_dropout_mask_is_recovered_from_the_candidates_own_draw(case: LayerCase) -> None:
    """check-layer's path for a forward that draws its own mask: m = out ≠ 0 (x has no zero)."""
    seed = int(abs(case.inputs["x"]).sum() * 1000) % 2**31
    outputs, answered = call_layer(case._replace(hyper={**case.hyper, "seed": seed}), L.dropout_forward,
                                   L.dropout_backward)
    _, cache = L.dropout_forward(case.inputs["x"], {"p": case.hyper["p"], "seed": seed})
    np.testing.assert_array_equal(answered.inputs["mask"], cache.mask)
    _assert_passes(outputs, analyse(answered), answered, "manual_bp's dropout_forward")


@needs_jax
def test_jax_convolution_gradient_where_xla_aborted() -> None:
    """jaxlib 0.10.2's XLA aborts the process compiling this gradient when the padding is given to
    conv_general_dilated (references/layers/_jax.py pads and crops first): the reference must answer,
    and agree with the long-double truth."""
    rng = np.random.default_rng(0)
    inputs = {"x": rng.normal(size=(6, 1, 1, 6)), "w": rng.normal(size=(3, 1, 2, 2)), "b": rng.normal(size=3)}
    case = LayerCase("conv2d", inputs, {"stride": 2, "pad": 1}, rng.normal(size=(6, 3, 1, 4)))
    _assert_passes(_reference(case, "jax"), analyse(case), case, "jax", u_ref=0.0,
                   reference=_reference(case, "ground_truth"))
