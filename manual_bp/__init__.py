"""manual_bp: the seed's backpropagation, written by hand in NumPy.

    z⁽ˡ⁾ = W⁽ˡ⁾ a⁽ˡ⁻¹⁾ + b⁽ˡ⁾,  a⁽ˡ⁾ = σ(z⁽ˡ⁾)
    δ⁽ᴸ⁾ = ∂J/∂a⁽ᴸ⁾ ⊙ σ′(z⁽ᴸ⁾),  δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀ δ⁽ˡ⁺¹⁾ ⊙ σ′(z⁽ˡ⁾)
    ∂J/∂W⁽ˡ⁾ = δ⁽ˡ⁾ (a⁽ˡ⁻¹⁾)ᵀ,  ∂J/∂b⁽ˡ⁾ = δ⁽ˡ⁾

The backward recursion is in ``manual_bp/network.py`` (``_backward``). ``Network(widths, activations,
loss, dtype)`` checks a structure once and then computes ``gradients(params, x, y)`` checking only the
arrays; ``gradients(params, x, y, activations, loss)`` is the contract's function and runs one. This
package imports NumPy and nothing heavier.
"""

from manual_bp import jacobians, layers
from manual_bp.activations import ACTIVATION_NAMES
from manual_bp.losses import LOSS_NAMES
from manual_bp.network import Backward, Network, Trace, backward, forward, gradients, loss_value
from manual_bp.optim import TrainResult, sgd, train

ACTIVATIONS = ACTIVATION_NAMES
LOSSES = LOSS_NAMES

__all__ = [
    "ACTIVATIONS", "LOSSES", "Backward", "Network", "Trace", "TrainResult", "backward", "forward",
    "gradients", "jacobians", "layers", "loss_value", "sgd", "train",
]
__version__ = "0.2.0"
