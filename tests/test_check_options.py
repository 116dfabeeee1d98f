"""How the layout options of ``manual-bp check`` combine: the losses a check draws are those that every
option allows."""

from __future__ import annotations

import pytest

from bpcheck.check.coverage import scope
from bpcheck.check.layout import Layout
from bpcheck.cli import main


@pytest.mark.parametrize(("options", "losses"), [
    ({"targets": "labels"}, ("cross_entropy",)),
    ({"targets": "binary"}, ("binary_cross_entropy",)),
    ({"loss_input": "probabilities"}, ("cross_entropy", "binary_cross_entropy")),
    # a softmax classifier on probabilities with integer labels: never a binary cross-entropy case, whose
    # soft targets would reach the candidate as their argmax (before: both losses were drawn)
    ({"loss_input": "probabilities", "targets": "labels"}, ("cross_entropy",)),
    ({"loss_input": "probabilities", "targets": "one-hot"}, ("cross_entropy",)),
    ({"loss_input": "probabilities", "targets": "binary"}, ("binary_cross_entropy",)),
])
def test_the_losses_drawn_are_those_every_option_allows(options: dict[str, str], losses: tuple[str, ...]) -> None:
    layout = Layout(**options)
    assert layout.losses() == losses
    drawn = scope(layout=layout, activations=None, hidden_activations=None, output_activations=None, losses=None,
                  dtypes=("float64",), output_width=None)
    assert drawn.losses == losses



@pytest.mark.parametrize(("options", "words"), [
    # the option's name is spelt as on the command line, the names in the message as they are
    (["--targets", "labels", "--losses", "binary_cross_entropy"],
     "--losses: none of ['binary_cross_entropy'] can be checked"),
    (["--loss-input", "probabilities", "--targets", "labels", "--losses", "binary_cross_entropy"],
     "--losses: none of ['binary_cross_entropy'] can be checked"),
    (["--activations", "relu,leaky_rel"], "--activations: 'leaky_rel' — expected names among identity"),
    (["--output-width", "3", "--max-width", "2"], "--output-width 3 exceeds max_width 2"),
])
def test_a_combination_of_options_that_cannot_be_checked_is_one_line_exit_2(
        options: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "manual_bp:gradients", *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
