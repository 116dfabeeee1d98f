"""``bpcheck.assert_backprop`` with the layout options: a case drawn for another layout is a ValueError
that says how to draw it, never a false verdict on correct code."""

from __future__ import annotations

import numpy as np
import pytest

import manual_bp
from bpcheck import assert_backprop
from bpcheck.cases import make_case


def on_probabilities(params, x, y, activations, loss):
    """Correct, written with the sigmoid in its own output layer and the loss on probabilities: the
    contract's gradients of the identity-output network with the logits-form loss (the same J)."""
    assert activations[-1] == "sigmoid" and loss == "binary_cross_entropy"
    return manual_bp.gradients(params, x, y, [*activations[:-1], "identity"], loss)


def on_labels(params, x, labels, activations, loss):
    """Correct, written for integer class labels y of shape (B,)."""
    n = params[-1][0].shape[0]
    return manual_bp.gradients(params, x, np.eye(n, dtype=x.dtype)[labels], activations, loss)


def test_a_sigmoid_output_case_for_a_loss_on_probabilities_is_refused() -> None:
    """Drawn the natural way (the user's network ends in a sigmoid), the case would have the sigmoid
    twice: the candidate's own on top of the case's. Before, correct code failed with 'mismatch'."""
    case = make_case(np.random.default_rng(0), [2, 3, 1], ("relu", "sigmoid"), "binary_cross_entropy", batch=3,
                     targets="binary")
    with pytest.raises(ValueError, match=r"draw cases\(output_activations=\['identity'\]\)"):
        assert_backprop(on_probabilities, case, loss_input="probabilities", targets="binary")
    # the same network as the contract writes it: identity output, the loss on logits; it passes
    assert_backprop(on_probabilities, case._replace(activations=("relu", "identity")), loss_input="probabilities",
                    targets="binary")


def test_soft_targets_for_a_labels_candidate_are_refused() -> None:
    """Soft targets would reach the candidate as their argmax and be judged against the soft truth.
    Before, correct code failed with 'mismatch'."""
    case = make_case(np.random.default_rng(1), [2, 3, 2], ("tanh", "identity"), "cross_entropy", batch=4,
                     targets="one-hot")
    soft = case._replace(y=np.full_like(case.y, 0.5))
    with pytest.raises(ValueError, match=r"one-hot rows of y: draw cases\(targets='one-hot'\)"):
        assert_backprop(on_labels, soft, targets="labels")
    assert_backprop(on_labels, case, targets="labels")


@pytest.mark.parametrize(("options", "words"), [
    ({"targets": "labels"}, "takes the loss cross_entropy, got 'half_sse'"),
    ({"targets": "binary"}, "takes the loss binary_cross_entropy, got 'half_sse'"),
    ({"loss_input": "probabilities"}, "takes the loss cross_entropy or binary_cross_entropy, got 'half_sse'"),
])
def test_a_loss_the_options_cannot_express_is_refused(options: dict[str, str], words: str) -> None:
    case = make_case(np.random.default_rng(2), [2, 2], ("identity",), "half_sse", batch=2)
    with pytest.raises(ValueError, match=words):
        assert_backprop(manual_bp.gradients, case, **options)
