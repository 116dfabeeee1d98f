"""The worked examples (examples/README.md), each checked the way a user checks it.

For every style of examples/ (a folder with ``fixed.py`` and ``buggy.py``):

- the fixed one passes through the real command line (exit 0), and the JSON's ``coverage`` says what
  the example implements (written down here from the example's own docstring, not from the checker);
- the buggy one fails (exit 1) with the right kind, and ``mismatches`` names exactly the (layer, param)
  pairs where the buggy code differs from the fixed code on the counterexample's case, in the
  candidate's own layout; ``check()`` gives the same verdict, and ``assert_backprop`` agrees on the case;
- the README's Hypothesis snippet (``@given(cases(...))`` + ``bpcheck.assert_backprop``) passes the fixed
  code and fails the buggy code with the command line's kind;
- the commands in examples/README.md, README.md and each file's docstring are the commands run here,
  and a buggy file differs from its fixed twin only on the lines marked ``# BUG``.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings

from bpcheck import assert_backprop
from bpcheck import tolerance as tol
from bpcheck.cases import ACTIVATIONS, LOSSES, Case
from bpcheck.check import check
from bpcheck.check.layout import Layout
from bpcheck.strategies import cases

ROOT = Path(__file__).resolve().parents[1]
MANUAL_BP = str(Path(sys.executable).with_name("manual-bp"))  # the installed console script, as a user runs it
EXAMPLES = 50  # random cases after the corner sweep: every bug here shows in the corners already
LAYOUT_KEYS = ("layout", "weights", "targets", "reduction", "l2", "loss_input")


class Style(NamedTuple):
    """One folder of examples/ and what is known about it from its docstring."""

    name: str
    options: dict[str, Any]            # check()'s keywords = the command line's flags, in this order
    hidden: tuple[str, ...]            # the activations it implements, as the candidate sees them
    output: tuple[str, ...]
    losses: tuple[str, ...]
    draw: dict[str, Any]               # bpcheck.strategies.cases() keywords of the README snippet

    @property
    def probed(self) -> bool:
        """No name restriction given: the probe finds what it implements."""
        return not {"activations", "hidden_activations", "output_activations", "losses"} & set(self.options)

    @property
    def layout(self) -> dict[str, Any]:
        """assert_backprop's keywords."""
        return {k: v for k, v in self.options.items() if k in LAYOUT_KEYS}

    def flags(self) -> list[str]:
        out = []
        for key, value in self.options.items():
            out += [f"--{key.replace('_', '-')}", ",".join(value) if isinstance(value, list) else str(value)]
        return out

    def command(self, which: str) -> str:
        return " ".join(["manual-bp check", f"examples/{self.name}/{which}.py:gradients", *self.flags()])

    def load(self, which: str) -> Callable[..., Any]:
        """The example's ``gradients``, imported from its file (nothing added to sys.path)."""
        path = ROOT / "examples" / self.name / f"{which}.py"
        spec = importlib.util.spec_from_file_location(f"example_{self.name}_{which}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.gradients  # type: ignore[no-any-return]


STYLES = [
    Style("sigmoid_only", {}, ("sigmoid",), ("sigmoid",), ("half_sse",),
          {"activations": ["sigmoid"], "losses": ["half_sse"]}),
    Style("columns", {"layout": "columns"}, ("identity", "sigmoid", "tanh", "relu"),
          ("identity", "sigmoid", "tanh", "relu"), ("half_sse", "mse"),
          {"activations": ["identity", "sigmoid", "tanh", "relu"], "losses": ["half_sse", "mse"]}),
    Style("x_at_w", {"weights": "in_out", "hidden_activations": ["relu"], "output_activations": ["identity"],
                     "losses": ["cross_entropy"], "targets": "labels", "reduction": "sum", "l2": 0.1},
          ("relu",), ("identity",), ("cross_entropy",),
          {"hidden_activations": ["relu"], "output_activations": ["identity"], "losses": ["cross_entropy"],
           "targets": "one-hot"}),
    Style("network_class", {}, ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"),
          ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"), ("half_sse", "mse", "cross_entropy"),
          {"activations": ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"],
           "losses": ["half_sse", "mse", "cross_entropy"]}),
    Style("binary_classifier", {"layout": "columns", "output_width": 1, "loss_input": "probabilities",
                                "losses": ["binary_cross_entropy"], "targets": "binary",
                                "hidden_activations": ["relu", "tanh"]},
          ("tanh", "relu"), ("sigmoid",), ("binary_cross_entropy",),
          # the contract's case: an identity output and the logits form; the candidate sees its sigmoid
          {"hidden_activations": ["relu", "tanh"], "output_activations": ["identity"],
           "losses": ["binary_cross_entropy"], "targets": "binary", "output_width": 1}),
]
IDS = [s.name for s in STYLES]


def _cli(style: Style, which: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict[str, Any]]:
    out = tmp_path / f"{which}.json"
    proc = subprocess.run([MANUAL_BP, "check", f"examples/{style.name}/{which}.py:gradients", *style.flags(),
                           "--examples", str(EXAMPLES), "--references", "ground_truth", "--json", str(out),
                           "--repro", str(tmp_path / "repro.py")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return proc, json.loads(out.read_text())


@pytest.mark.parametrize("style", STYLES, ids=IDS)
def test_the_fixed_example_passes_and_says_what_it_covered(style: Style, tmp_path: Path) -> None:
    proc, verdict = _cli(style, "fixed", tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert verdict["verdict"] == "pass" and verdict["counterexample"] is None
    assert verdict["examples"] > EXAMPLES  # the corners, then the random cases
    head, coverage_line = proc.stdout.splitlines()[:2]
    assert head.startswith(f"manual-bp check examples/{style.name}/fixed.py:gradients: PASS (partial) — ")
    cov = verdict["coverage"]
    implemented = set(style.hidden) | set(style.output)
    assert set(cov["activations"]) == implemented
    assert set(cov["hidden_activations"]) == set(style.hidden)
    assert set(cov["output_activations"]) == set(style.output)
    assert set(cov["losses"]) == set(style.losses)
    assert cov["dtypes"] == ["float32", "float64"]
    assert cov["output_width"] == style.options.get("output_width")
    layout_options = {("samples" if k == "layout" else k): v for k, v in style.layout.items()}
    assert cov["options"] == layout_options
    if style.probed:  # what the probe found unsupported is everything the example does not implement
        assert set(cov["unsupported"]["activations"]) == set(ACTIVATIONS) - implemented
        assert set(cov["unsupported"]["losses"]) == set(LOSSES) - set(style.losses)
        assert coverage_line.endswith(", the rest raised NotImplementedError")
    else:
        assert cov["unsupported"] == {"activations": [], "losses": []}
    assert cov["declined"] == 0  # each example declines whole names, never a combination of supported ones
    if style.name == "sigmoid_only":  # the partial coverage line, as issue 12 spells it
        assert coverage_line == ("coverage: 1 of 11 activations (sigmoid), 1 of 6 losses (half_sse), "
                                 "float32 + float64, the rest raised NotImplementedError")
    for name in (*implemented, *style.losses):
        assert name in coverage_line


def _wrong_pairs(style: Style, case: Case) -> set[tuple[int, str]]:
    """The (layer, param) pairs where buggy.py and fixed.py differ on ``case`` beyond the tolerance of a
    correct result, both called in the example's own layout (as test_mutation does for the catalog)."""
    how = Layout(samples=style.options.get("layout", "rows"),
                 **{k: v for k, v in style.layout.items() if k != "layout"})
    answers = []
    for which in ("buggy", "fixed"):
        grads, kind, message = how.canonical(style.load(which)(*how.args(case.copy())), case)
        assert grads is not None and kind == "", f"{which}.py: {kind}: {message}"
        answers.append(grads)
    analysis = how.truth(tol.analyse(case), case)
    wrong = set()
    for l, (pw, pr, pe) in enumerate(zip(*answers, analysis.grad_bounds, strict=True), start=1):
        for p, gw, gr, e in zip("Wb", pw, pr, pe, strict=True):
            ok, *_ = tol.compare_arrays(gw, gr, tol.tolerance(e, analysis.u, analysis.u))
            if not ok:
                wrong.add((l, p))
    return wrong


@pytest.mark.parametrize("style", STYLES, ids=IDS)
def test_the_buggy_example_is_caught_where_the_bug_is(style: Style, tmp_path: Path) -> None:
    proc, cli = _cli(style, "buggy", tmp_path)
    assert proc.returncode == 1, proc.stdout
    assert proc.stdout.splitlines()[0].startswith(f"manual-bp check examples/{style.name}/buggy.py:gradients: "
                                                  "FAIL (partial) — ")
    api = check(target=str(ROOT / "examples" / style.name / "buggy.py:gradients"), examples=EXAMPLES,
                references=["ground_truth"], **style.options)
    assert not api.passed and api.counterexample is not None
    # the command line and the Python API: the same verdict, the same minimal case, the same mismatches
    api_json = api.to_json()
    same = ("widths", "activations", "loss", "dtype", "batch", "kind", "message", "mismatches")
    assert {k: cli["counterexample"][k] for k in same} == {k: api_json["counterexample"][k] for k in same}
    assert (cli["verdict"], cli["examples"], cli["coverage"]) == ("fail", api.examples, api.coverage)
    cex = api.counterexample
    assert cex.kind == "mismatch", cex.message
    # exactly the pairs where the bug changes the answer, found by running the fixed code beside it
    wrong = _wrong_pairs(style, cex.case)
    assert wrong and {(m["layer"], m["param"]) for m in cex.mismatches} == wrong
    in_order = sorted(wrong, key=lambda t: (t[0], t[1] != "W"))
    assert f"wrong: {', '.join(f'{p}⁽{l}⁾' for l, p in in_order)}" in proc.stdout
    # and examples/README.md's table names the same pairs for this example
    row = next(line for line in (ROOT / "examples" / "README.md").read_text(encoding="utf-8").splitlines()
               if line.startswith(f"| [`{style.name}/`]"))
    superscript = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
    assert row.endswith(f"| {', '.join(f'{p}⁽{str(l).translate(superscript)}⁾' for l, p in in_order)} |"), row
    # the repro script, written in the example's layout, fails on the buggy code
    ran = subprocess.run([sys.executable, cli["counterexample"]["repro"]], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert ran.returncode == 1 and "FAILS (mismatch: " in ran.stdout, ran.stdout + ran.stderr
    # assert_backprop on the same case: the buggy code fails with the same kind, the fixed code passes
    with pytest.raises(AssertionError, match=rf"^{cex.kind}: "):
        assert_backprop(style.load("buggy"), cex.case, **style.layout)
    assert_backprop(style.load("fixed"), cex.case, **style.layout)


def _snippet(style: Style, fn: Callable[..., Any]) -> Callable[[], None]:
    """The README's Hypothesis snippet, for this style: every drawn case judged by assert_backprop."""

    @settings(max_examples=40, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(cases(**style.draw))
    def test_my_backprop(case: Case) -> None:
        assert_backprop(fn, case, **style.layout)

    return test_my_backprop


@pytest.mark.parametrize("style", STYLES, ids=IDS)
def test_the_hypothesis_snippet_agrees_with_the_command_line(style: Style) -> None:
    """Pass and fail as the command line (previous tests): the fixed code passes every drawn case; the
    buggy code fails, with the kind the command line reports (mismatch)."""
    _snippet(style, style.load("fixed"))()
    with pytest.raises(AssertionError, match=r"^mismatch: "):
        _snippet(style, style.load("buggy"))()


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def test_the_readme_snippet_runs_and_agrees_with_the_command_line() -> None:
    """README.md's assert_backprop snippet, run as written on the sigmoid-only example (its import of
    the user's function replaced by the example's): it passes fixed.py and fails buggy.py (mismatch)."""
    blocks = [b for b in _python_blocks((ROOT / "README.md").read_text(encoding="utf-8")) if "@given" in b]
    assert len(blocks) == 1 and "assert_backprop(" in blocks[0]
    source = blocks[0]
    assert "from my_backprop import gradients" in source
    style = STYLES[0]
    results = {}
    for which in ("fixed", "buggy"):
        namespace: dict[str, Any] = {"gradients": style.load(which)}
        exec(compile(source.replace("from my_backprop import gradients", ""), "README.md", "exec"), namespace)
        tests = [v for k, v in namespace.items() if k.startswith("test_") and callable(v)]
        assert len(tests) == 1
        try:
            tests[0]()
            results[which] = "pass"
        except AssertionError as exc:
            results[which] = str(exc).split(":")[0]
    assert results == {"fixed": "pass", "buggy": "mismatch"}


def _squash(text: str) -> str:
    """A command as one line: backslash-newline continuations and runs of spaces joined."""
    return re.sub(r"\s+", " ", text.replace("\\\n", " "))


@pytest.mark.parametrize("style", STYLES, ids=IDS)
def test_every_example_is_documented_with_the_command_that_checks_it(style: Style) -> None:
    readme = _squash((ROOT / "examples" / "README.md").read_text(encoding="utf-8"))
    main_readme = _squash((ROOT / "README.md").read_text(encoding="utf-8"))
    for which in ("fixed", "buggy"):
        path = ROOT / "examples" / style.name / f"{which}.py"
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert docstring is not None
        assert style.command(which) in _squash(docstring), f"{path}: its docstring lacks {style.command(which)}"
        assert style.command(which) in readme, f"examples/README.md lacks {style.command(which)}"
    assert style.command("fixed") in main_readme, f"README.md lacks {style.command('fixed')}"


@pytest.mark.parametrize("style", STYLES, ids=IDS)
def test_a_buggy_example_differs_from_its_fixed_twin_only_on_lines_marked_bug(style: Style) -> None:
    def code(which: str) -> list[str]:
        text = (ROOT / "examples" / style.name / f"{which}.py").read_text(encoding="utf-8")
        first = ast.parse(text).body[0]
        assert isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)  # the docstring
        return text.splitlines()[first.end_lineno:]

    fixed, buggy = code("fixed"), code("buggy")
    assert len(fixed) == len(buggy)
    changed = [(f, b) for f, b in zip(fixed, buggy, strict=True) if f != b]
    assert changed and all("# BUG" in b for _, b in changed)
    assert not any("BUG" in line for line in fixed)
