"""``manual-bp report``'s layers section: manual_bp.layers against the layer ground truth, torch and jax.

The reports here measure a few layer kinds beside one network pair (a few seconds each); the sweep's
size and ids are checked on its list, without measuring.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from bpcheck import report
from bpcheck.cli import main as cli_main
from bpcheck.report import layers as lyr
from bpcheck.report.baseline import BIG_MARGIN_FLOOR

KINDS = ["max_pool", "batchnorm", "dropout"]


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> report.ReportResult:
    out = tmp_path_factory.mktemp("layers")
    return report.run_report(out, quick=True, activations=["tanh"], losses=["mse"], layers=KINDS, plots=False)


def _load(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def test_every_sweep_names_each_kind_dtype_and_shape_once():
    for sweep, per_kind in (("quick", 1), ("default", 3), ("large", 4)):
        items = lyr.build(None, sweep, ("float32", "float64"))
        assert len(items) == len(lyr.KINDS) * per_kind * 2
        ids = [lyr.layer_id(k, dt, lyr.shapes(k, sweep)[s]) for k, s, dt in items]
        assert len(set(ids)) == len(ids) and all(i.startswith("layer:") for i in ids)
    assert lyr.build([], "default", ("float64",)) == []
    with pytest.raises(ValueError, match="unknown layer kind 'conv3d'"):
        lyr.build(["conv3d"], "quick", ("float64",))


def test_a_float32_case_is_its_float64_twin_rounded():
    for kind in lyr.KINDS:
        c64, c32 = lyr.make(kind, 1, "float64", "default", 0), lyr.make(kind, 1, "float32", "default", 0)
        for name, value in c64.inputs.items():
            want = value.astype(np.float32) if value.dtype.kind == "f" else value
            assert np.array_equal(c32.inputs[name], want)
        assert c64.digest() != c32.digest()
        assert c64.digest() == lyr.make(kind, 1, "float64", "default", 0).digest()


def test_the_layers_section_measures_each_kind_against_every_reference(small):
    rep = _load(small.paths["report.json"])
    records = rep["layers"]
    assert [r["kind"] for r in records] == [k for k in KINDS for _ in range(2)]
    assert small.exit_status == 0 and rep["summary"]["layers"]["cases"] == 6
    for r in records:
        assert r["status"] == "ok" and r["id"] == lyr.layer_id(r["kind"], r["dtype"], r["shape"])
        mine = r["backends"]["manual_bp"]
        assert mine["status"] == "ok" and mine["margin"] <= 1.0
        assert mine["worst"]["output"] in ("out", "dx", "dgamma", "dbeta")
        for ref in ("torch", "jax"):
            entry = r["agreement"][ref]
            assert entry["status"] == "skipped" or entry["agree"], (r["id"], ref, entry)
        assert "margin" not in r["backends"]["finite_diff"]   # truncation error: no roundoff model
    md = (small.paths["report.md"]).read_text(encoding="utf-8")
    section = md[md.index("## Layers: worst margins"):]
    for kind in KINDS:
        assert f"| {kind} | float32 |" in section and f"| {kind} | float64 |" in section
    assert "conv2d" not in section.split("\n|")[0].split("Shapes:")[1]


def test_a_wrong_layer_backward_is_a_disagreement_naming_its_output(tmp_path, monkeypatch):
    import manual_bp.layers as L

    right = L.batchnorm_backward

    def wrong(dout, cache):
        dx, dgamma, dbeta = right(dout, cache)
        return dx, dgamma * np.asarray(1.001, dgamma.dtype), dbeta

    monkeypatch.setattr(L, "batchnorm_backward", wrong)
    result = report.run_report(tmp_path, quick=True, activations=["tanh"], losses=["mse"], layers=["batchnorm"],
                               dtypes=["float64"], plots=False)
    dis = result.report["summary"]["disagreements"]
    assert result.exit_status == 1 and dis
    assert {d["id"] for d in dis} == {result.report["layers"][0]["id"]}
    assert {d["output"] for d in dis} == {"dgamma"}
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "dgamma\\[0\\]" in md[md.index("## Disagreements"):md.index("## Regressions")]
    assert "and 1 layer cases" in md.split("\n## ")[1]


def test_layer_cases_repeat_and_regress_against_a_baseline(small, tmp_path):
    rep = _load(small.paths["report.json"])
    again = report.run_report(tmp_path / "again", quick=True, activations=["tanh"], losses=["mse"], layers=KINDS,
                              plots=False, baseline=small.paths["report.json"])
    assert again.report["layers"] == rep["layers"]    # deterministic, figure for figure
    base = again.report["summary"]["baseline"]
    assert again.exit_status == 0 and base["matched"] == 2 + 6 and base["current_only"] == []
    old = copy.deepcopy(rep)
    for record in old["layers"]:
        for entry in record["backends"].values():
            if isinstance(entry.get("max_abs_err"), float):
                entry["max_abs_err"] /= 1000.0
    (tmp_path / "old.json").write_text(json.dumps(old), encoding="utf-8")
    result = report.run_report(tmp_path / "new", quick=True, activations=["tanh"], losses=["mse"], layers=KINDS,
                               plots=False, baseline=tmp_path / "old.json")
    regressed = {r["id"] for r in result.report["summary"]["regressions"]}
    worth = {r["id"] for r in rep["layers"] if r["backends"]["manual_bp"]["margin"] > 4 * BIG_MARGIN_FLOOR}
    assert result.exit_status == 1 and worth and worth <= regressed
    assert all(i.startswith("layer:") for i in regressed)


def test_layers_on_the_command_line(tmp_path, capsys):
    assert cli_main(["report", "--quick", "--layers", "conv3d", "--out", str(tmp_path / "a")]) == 2
    assert "unknown layer kind 'conv3d'" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    assert cli_main(["report", "--quick", "--activations", "relu", "--losses", "l1", "--dtypes", "float64",
                     "--layers", "dropout", "--no-plots", "--out", str(tmp_path / "b")]) == 0
    assert "1 cases and 1 layer cases" in capsys.readouterr().out
    rep = _load(tmp_path / "b" / "report.json")
    assert [r["kind"] for r in rep["layers"]] == ["dropout"]
    assert rep["environment"]["definition"]["layers"] == {"dropout": [dict(lyr.LAYER_SWEEP["dropout"][0])]}
    assert cli_main(["report", "--quick", "--activations", "relu", "--losses", "l1", "--dtypes", "float64",
                     "--layers", "none", "--no-plots", "--out", str(tmp_path / "c")]) == 0
    assert _load(tmp_path / "c" / "report.json")["layers"] == []
    assert "Layers:" not in (tmp_path / "c" / "report.md").read_text(encoding="utf-8")
