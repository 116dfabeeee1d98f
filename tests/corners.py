"""Named exact cases for every kink and degenerate shape, so the corners never depend on luck.

Each is a ``Case`` built by hand; the property tests carry them all as ``@example``s.
"""

from __future__ import annotations

import numpy as np

from bpcheck.cases import Case


def _case(layers, x, y, activations, loss, dtype="float64") -> Case:
    dt = np.dtype(dtype)
    params = [(np.array(W, dtype=dt), np.array(b, dtype=dt)) for W, b in layers]
    return Case(params, np.array(x, dtype=dt), np.array(y, dtype=dt), tuple(activations), loss)


# z⁽¹⁾ = 0 exactly on unit 0 (zero row, zero bias) in every precision; unit 1 is away from the kink
_KINK_LAYER1 = ([[0.0, 0.0], [1.0, -0.5]], [0.0, 0.25])
_TOP = ([[1.5, -2.0]], [0.5])

EXACT_CASES: dict[str, Case] = {
    # kinks, exactly on them
    "relu_at_zero": _case([_KINK_LAYER1, _TOP], [[1.0, 2.0], [-1.0, 0.5]], [[0.3], [-0.2]], ["relu", "identity"],
                          "half_sse"),
    "leaky_relu_at_zero": _case([_KINK_LAYER1, _TOP], [[1.0, 2.0]], [[0.3]], ["leaky_relu", "identity"], "mse"),
    "elu_at_zero": _case([_KINK_LAYER1, _TOP], [[1.0, 2.0]], [[0.3]], ["elu", "tanh"], "half_sse", "float32"),
    "relu_at_zero_float32": _case([_KINK_LAYER1, _TOP], [[1.0, 2.0]], [[0.3]], ["relu", "sigmoid"], "mse", "float32"),
    "l1_at_a_equals_y": _case([([[0.0, 0.0], [0.5, 1.0]], [0.5, 0.0])], [[1.0, -2.0], [2.0, 1.0]],
                              [[0.5, 1.0], [0.5, -3.0]], ["identity"], "l1"),
    "l1_at_a_equals_y_float32": _case([([[0.0, 0.0], [0.5, 1.0]], [0.5, 0.0])], [[1.0, -2.0]], [[0.5, 1.0]],
                                      ["relu"], "l1", "float32"),
    "huber_at_r_equals_one": _case([([[0.0, 0.0]], [1.5])], [[1.0, -2.0], [0.5, 0.5]], [[0.5], [2.5]], ["identity"],
                                   "huber"),
    "gelu_at_zero": _case([_KINK_LAYER1, _TOP], [[1.0, 2.0]], [[0.3]], ["gelu", "gelu_tanh"], "half_sse"),
    # saturation and large logits
    "sigmoid_saturated_400": _case([([[400.0], [-400.0]], [0.0, 0.0])], [[1.0]], [[0.0, 1.0]], ["sigmoid"], "mse"),
    "tanh_saturated": _case([([[30.0], [-30.0]], [0.0, 0.0])], [[1.0]], [[0.5, -0.5]], ["tanh"], "half_sse",
                            "float32"),
    "softplus_above_20": _case([([[25.0], [-25.0]], [5.0, 0.0])], [[1.0]], [[0.0, 1.0]], ["softplus"], "half_sse"),
    "cross_entropy_large_logits": _case([([[300.0], [-300.0], [0.0]], [0.0, 0.0, 0.0])], [[1.0]],
                                        [[0.0, 1.0, 0.0]], ["identity"], "cross_entropy"),
    "bce_large_logits": _case([([[60.0], [-60.0]], [0.0, 0.0])], [[1.0]], [[0.0, 1.0]], ["identity"],
                              "binary_cross_entropy", "float32"),
    # degenerate shapes
    "depth1_width1_batch1": _case([([[2.0]], [0.5])], [[1.5]], [[0.25]], ["tanh"], "half_sse"),
    "softmax_single_output": _case([([[1.0, -1.0]], [0.5])], [[0.5, 1.0]], [[1.0]], ["softmax"], "mse"),
    "square_W_depth3": _case([([[1.0, 2.0], [-1.0, 0.5]], [0.1, -0.1]), ([[0.5, -1.0], [2.0, 1.0]], [0.0, 0.2]),
                              ([[1.0, 0.5], [-0.5, 1.5]], [0.3, 0.0])], [[1.0, -1.0], [0.5, 2.0]],
                             [[0.2, 0.8], [0.6, 0.4]], ["tanh", "sigmoid", "softmax"], "cross_entropy"),
    "batch_equals_width": _case([([[1.0, -0.5, 2.0], [0.5, 1.0, -1.0], [0.25, 0.5, 0.75]], [0.0, 0.1, -0.1])],
                                [[1.0, 2.0, 3.0], [0.5, -1.0, 0.0], [2.0, 0.0, -2.0]],
                                [[0.0, 1.0, 0.5], [1.0, 0.0, 0.25], [0.5, 0.5, 1.0]], ["silu"], "binary_cross_entropy"),
    "one_output_mse": _case([([[1.0, -1.0], [0.5, 0.5]], [0.0, 0.0]), ([[1.0, 2.0]], [0.0])],
                            [[1.0, 2.0], [3.0, -1.0]], [[1.0], [0.0]], ["elu", "identity"], "mse"),
}
