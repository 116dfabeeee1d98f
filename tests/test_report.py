"""``manual-bp report``: exit statuses, baselines, regressions, determinism, atomic self-contained files.

The sweeps here are the quick sweep restricted to a few names (a few seconds each); the full quick
sweep's coverage is checked on its list of cases, without measuring them.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bpcheck import report, writing
from bpcheck.cases import ACTIVATIONS, DTYPES, LOSSES
from bpcheck.cli import main as cli_main
from bpcheck.report.baseline import BIG_MARGIN_FLOOR, GROWTH, MARGIN_FLOOR, regression
from bpcheck.report.render.markdown import escape
from bpcheck.report.sweep import build_sweep

ROOT = Path(__file__).resolve().parents[1]
ACTS, LOSS_NAMES = ["relu", "softmax"], ["cross_entropy", "l1"]   # 8 cases with both dtypes


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> report.ReportResult:
    """A small quick report with plots, measured once for the module."""
    out = tmp_path_factory.mktemp("first")
    return report.run_report(out, quick=True, activations=ACTS, losses=LOSS_NAMES)


def _cli(*argv: str) -> int:
    return cli_main(["report", *argv])


def _load(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


# --- the sweep --------------------------------------------------------------------------------------

def test_quick_sweep_covers_every_activation_loss_and_dtype():
    specs = build_sweep(quick=True)
    assert len(specs) == len(ACTIVATIONS) * len(LOSSES) * len(DTYPES) == 132
    assert {(s.activation, s.loss, s.dtype) for s in specs} == \
        {(a, x, d) for a in ACTIVATIONS for x in LOSSES for d in DTYPES}
    assert len({s.id for s in specs}) == len(specs)


def test_default_sweep_size_and_ids_contain_the_quick_ones():
    default = build_sweep(quick=False)
    assert len(default) == 792 and len({s.id for s in default}) == 792
    assert {s.id for s in build_sweep(quick=True)} <= {s.id for s in default}
    assert {s.regime for s in default} == {"default", "extreme", "kinks"}


def test_a_case_is_drawn_from_its_id_not_its_position():
    a = build_sweep(quick=True, activations=["tanh"], losses=["mse"], dtypes=["float64"])[0]
    b = [s for s in build_sweep(quick=False) if s.id == a.id][0]
    np.testing.assert_array_equal(a.case(3).x, b.case(3).x)
    assert not np.array_equal(a.case(3).x, a.case(4).x)
    f32 = a._replace(dtype="float32").case(3)
    np.testing.assert_array_equal(f32.params[0][0], a.case(3).params[0][0].astype(np.float32))


# --- the report's content ---------------------------------------------------------------------------

def test_report_json_format(first):
    rep = _load(first.paths["report.json"])
    assert rep["schema"] == report.SCHEMA == 2 and first.exit_status == 0 and rep["summary"]["exit_status"] == 0
    env = rep["environment"]
    for key in ("python", "numpy", "torch", "jax", "seed", "quick", "device", "allow_tf32",
                "reduced_precision"):
        assert key in env, key
    assert env["seed"] == 0 and env["quick"] is True and env["reduced_precision"] is False
    assert len(rep["cases"]) == 8
    for case in rep["cases"]:
        assert re.fullmatch(r"[a-z_-]+\|[a-z0-9_]+\|float(32|64)\|[0-9-]+\|b[0-9]+\|[a-z]+", case["id"])
        gt = case["backends"]["manual_bp"]
        assert gt["status"] == "ok" and all(isinstance(gt[k], float) for k in ("max_abs_err", "max_rel_err"))
        assert 0.0 <= gt["margin"] <= 1.0
        assert any("err" in k for k in gt)
        for ref in ("torch", "jax"):
            entry = case["agreement"][ref]
            assert entry["status"] == "skipped" or entry["agree"] is True
        fd = case["backends"]["finite_diff"]
        assert (fd["status"] == "ok") == (case["dtype"] == "float64")
    best = rep["summary"]["most_accurate"]
    assert set(best) == {"float32", "float64"}
    assert best["float32"]["by_median"] in ("manual_bp", "torch", "jax")


def test_markdown_leads_with_the_summary(first):
    md = first.paths["report.md"].read_text(encoding="utf-8")
    assert md.startswith("# manual-bp accuracy report")
    heads = re.findall(r"^## (.*)$", md, flags=re.M)
    assert heads[:3] == ["Summary", "Most accurate backend", "Disagreements with manual_bp"]
    assert "Verdict: PASS" in md


def test_html_is_one_self_contained_file(first):
    text = first.paths["report.html"].read_text(encoding="utf-8")
    assert text.count("<img") >= 3
    assert re.findall(r'src="(?!data:image/png;base64,)', text) == []
    # nothing fetched: no scripts, stylesheets or remote references (a URL in a message is only text)
    assert not re.search(r'<script|<link|@import|url\(|(src|href)\s*=\s*"?https?://', text)
    assert "Every case" in text and "relu-relu|l1|float32|4-6-5|b3|default" in text


# --- baselines --------------------------------------------------------------------------------------

def test_own_report_as_baseline_passes_and_figures_repeat(first, tmp_path, capsys):
    assert _cli("--quick", "--no-plots", "--activations", ",".join(ACTS), "--losses", ",".join(LOSS_NAMES),
                "--out", str(tmp_path), "--baseline", str(first.paths["report.json"])) == 0
    again = _load(tmp_path / "report.json")
    assert again["cases"] == _load(first.paths["report.json"])["cases"]  # deterministic, figure for figure
    base = again["summary"]["baseline"]
    assert base["matched"] == 8 and base["baseline_only"] == [] and base["current_only"] == []
    assert again["summary"]["regressions"] == []
    assert "pass" in capsys.readouterr().out


def _shrunk(rep: dict, factor: float) -> dict:
    old = copy.deepcopy(rep)
    for case in old["cases"]:
        for entry in case["backends"].values():
            for key in list(entry):
                if "err" in key and isinstance(entry[key], float):
                    entry[key] /= factor
    return old


def test_errors_1000_times_smaller_in_the_baseline_are_regressions(first, tmp_path):
    rep = _load(first.paths["report.json"])
    (tmp_path / "old.json").write_text(json.dumps(_shrunk(rep, 1000.0)), encoding="utf-8")
    result = report.write_report_from_records(rep["cases"], tmp_path / "new", rep["environment"],
                                              baseline=tmp_path / "old.json", plots=False)
    regs = result.report["summary"]["regressions"]
    flagged = {(r["id"], r["backend"]) for r in regs}
    clear = {(c["id"], b) for c in rep["cases"] for b, e in c["backends"].items()
             if e["status"] == "ok" and e.get("margin", 1.0) > 4 * BIG_MARGIN_FLOOR}
    assert result.exit_status == 1 and clear and clear <= flagged
    assert all(r["growth"] == pytest.approx(1000.0) for r in regs)
    md = (tmp_path / "new" / "report.md").read_text(encoding="utf-8")
    html = (tmp_path / "new" / "report.html").read_text(encoding="utf-8")
    for r in regs:
        assert r["id"].replace("|", "\\|") in md and r["id"] in html
    assert _load(tmp_path / "new" / "report.json")["summary"]["verdict"] == "fail"


def test_a_few_roundoffs_of_growth_do_not_regress(first, tmp_path):
    rep = _load(first.paths["report.json"])
    (tmp_path / "old.json").write_text(json.dumps(_shrunk(rep, 3.0)), encoding="utf-8")
    result = report.write_report_from_records(rep["cases"], tmp_path / "new", rep["environment"],
                                              baseline=tmp_path / "old.json", plots=False)
    assert result.exit_status == 0 and result.report["summary"]["regressions"] == []


def test_unmatched_cases_are_listed_not_failed(first, tmp_path):
    rep = _load(first.paths["report.json"])
    old = copy.deepcopy(rep)
    gone = old["cases"].pop(0)["id"]
    old["cases"].append({"id": "made-up|mse|float64|1-1|b1|default", "backends": {}})
    old["schema"] = 0  # an older schema is matched by id all the same
    (tmp_path / "old.json").write_text(json.dumps(old), encoding="utf-8")
    result = report.write_report_from_records(rep["cases"], tmp_path, rep["environment"],
                                              baseline=tmp_path / "old.json", plots=False)
    base = result.report["summary"]["baseline"]
    assert result.exit_status == 0
    assert base["baseline_only"] == ["made-up|mse|float64|1-1|b1|default"] and base["current_only"] == [gone]
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert escape("made-up|mse|float64|1-1|b1|default") in md and escape(gone) in md


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"cases": [{"no_id": 1}]}', "\udcff"])
def test_unusable_baselines_exit_2_with_one_line(tmp_path, capsys, content):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content.encode("utf-8", "surrogateescape"))
    assert _cli("--quick", "--out", str(tmp_path / "out"), "--baseline", str(bad)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "baseline" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_corrupt_baseline_from_the_command_line(tmp_path):
    bad = tmp_path / "report.json"
    bad.write_text('{"schema": 1, "cases": [', encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    argv = [sys.executable, "-m", "bpcheck.cli", "report", "--quick", "--baseline", str(bad),
            "--out", str(tmp_path / "out")]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "not valid JSON" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("argv", [["--jobs", "0"], ["--seed", "-1"], ["--activations", "swish"]])
def test_bad_options_exit_2(tmp_path, capsys, argv):
    assert _cli("--quick", "--out", str(tmp_path / "out"), *argv) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_cuda_without_a_gpu_exits_2(tmp_path, capsys):
    import references

    if references.available("torch", "cuda") or references.available("jax", "cuda"):
        pytest.skip("a CUDA device is available here")
    assert _cli("--quick", "--device", "cuda", "--out", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cuda" in err


# --- the rule ---------------------------------------------------------------------------------------

def _entry(err: float, margin: float) -> dict:
    return {"status": "ok", "max_abs_err": err, "max_rel_err": err, "margin": margin}


def test_regression_rule():
    old = _entry(1e-16, 0.01)
    assert regression("manual_bp", old, _entry(1e-16, 0.01)) is None             # equal never regresses
    assert regression("manual_bp", old, _entry(GROWTH * 0.9e-16, 0.04)) is None   # a few roundoffs
    assert regression("manual_bp", old, _entry(8e-16, 0.08)) is None              # 8×, well inside the bound
    assert regression("manual_bp", old, _entry(8e-16, 2 * MARGIN_FLOOR)) is not None  # 8×, past the bound
    assert regression("manual_bp", old, _entry(1e-13, 0.01)) is not None          # 1000×, not negligible
    assert regression("manual_bp", _entry(1e-20, 1e-9), _entry(1e-17, BIG_MARGIN_FLOOR / 2)) is None
    assert regression("manual_bp", _entry(0.0, 0.0), _entry(0.0, 0.0)) is None
    assert regression("manual_bp", old, _entry(float("inf"), float("inf"))) is not None
    assert regression("manual_bp", old, {"status": "error", "message": "boom"}) is not None
    assert regression("manual_bp", old, {"status": "skipped", "reason": "no jax"}) is None
    fd = {"status": "ok", "max_abs_err": 1e-12}
    assert regression("finite_diff", fd, {"status": "ok", "max_abs_err": 1e-9}, scale=1.0) is not None
    assert regression("finite_diff", fd, {"status": "ok", "max_abs_err": 3e-12}, scale=1.0) is None


def test_non_finite_figures_round_trip():
    text = writing.dumps({"a": float("inf"), "b": [float("nan")], "c": np.float64(2.5)})
    back = json.loads(text)
    assert back == {"a": "inf", "b": ["nan"], "c": 2.5}
    assert writing.number(back["a"]) == float("inf") and writing.number("x") is None


# --- failures the report must catch -----------------------------------------------------------------

def test_a_wrong_gradient_is_a_disagreement(tmp_path, monkeypatch):
    import manual_bp

    right = manual_bp.gradients

    def wrong(params, x, y, activations, loss):
        grads = right(params, x, y, activations, loss)
        (dW, db), *rest = grads
        return [(dW * np.asarray(1.001, dW.dtype), db), *rest]

    monkeypatch.setattr(manual_bp, "gradients", wrong)
    result = report.run_report(tmp_path, quick=True, activations=["tanh"], losses=["mse"], plots=False)
    dis = result.report["summary"]["disagreements"]
    ran = {b for b in ("torch", "jax") if result.report["cases"][0]["agreement"][b]["status"] == "ok"}
    assert ran, "neither torch nor jax ran"
    assert result.exit_status == 1 and {d["reference"] for d in dis} == ran
    assert all(d["layer"] == 1 and d["param"] == "W" for d in dis)
    assert "Disagreements with manual_bp" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_an_unavailable_backend_is_skipped_with_its_reason(tmp_path, monkeypatch):
    from bpcheck.report import measurement as msr

    real = msr.unavailable
    monkeypatch.setattr(msr, "unavailable",
                        lambda b, d: "jax is not installed here" if b == "jax" else real(b, d))
    result = report.run_report(tmp_path, quick=True, activations=["sigmoid"], losses=["huber"], plots=False)
    assert result.exit_status == 0
    for case in result.report["cases"]:
        assert case["backends"]["jax"] == {"status": "skipped", "reason": "jax is not installed here"}
        assert case["agreement"]["jax"]["status"] == "skipped"
    assert "jax is not installed here" in result.report["summary"]["skipped"]["jax"]


def test_process_pool_gives_the_same_figures(first, tmp_path):
    pooled = report.run_report(tmp_path, quick=True, activations=ACTS, losses=LOSS_NAMES, jobs=2, plots=False)
    assert pooled.report["cases"] == _load(first.paths["report.json"])["cases"]
    other_seed = report.run_report(tmp_path / "s1", quick=True, activations=["relu"], losses=["l1"],
                                   dtypes=["float64"], seed=1, plots=False)
    [moved] = other_seed.report["cases"]
    same_id = [c for c in _load(first.paths["report.json"])["cases"] if c["id"] == moved["id"]]
    assert same_id and same_id[0]["backends"] != moved["backends"]


# --- files ------------------------------------------------------------------------------------------

def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "report.json"
    target.write_text("OLD", encoding="utf-8")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(writing.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writing.write_atomic(target, "NEW" * 100000)
    assert target.read_text(encoding="utf-8") == "OLD"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary left behind


def test_a_failed_render_writes_nothing(first, tmp_path, monkeypatch):
    for name in report.FILES:
        shutil.copy(first.paths[name], tmp_path / name)
    before = {name: (tmp_path / name).read_bytes() for name in report.FILES}
    rep = _load(first.paths["report.json"])

    def broken(*args, **kwargs):
        raise RuntimeError("render failed")

    monkeypatch.setattr(report.runner, "render_html", broken)
    with pytest.raises(RuntimeError):
        report.write_report_from_records(rep["cases"], tmp_path, rep["environment"])
    assert {name: (tmp_path / name).read_bytes() for name in report.FILES} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(report.FILES)


def test_records_api_dedupes_and_fills_ids(first, tmp_path):
    rep = _load(first.paths["report.json"])
    records = [rep["cases"][0], rep["cases"][0], {k: v for k, v in rep["cases"][1].items() if k != "id"}]
    result = report.write_report_from_records(records, tmp_path, {"sweep": "records"}, plots=False)
    ids = [c["id"] for c in result.report["cases"]]
    assert ids == [rep["cases"][0]["id"], rep["cases"][0]["id"] + "#2", rep["cases"][1]["id"]]


def test_measure_one_case():
    from bpcheck.cases import make_case

    case = make_case(np.random.default_rng(7), [3, 4, 2], ["gelu", "softmax"], "cross_entropy", batch=2)
    record = report.measure(case, backends=("manual_bp", "finite_diff"))
    assert record["id"] == "gelu-softmax|cross_entropy|float64|3-4-2|b2|hypothesis"
    assert record["backends"]["manual_bp"]["margin"] <= 1.0
    assert record["backends"]["finite_diff"]["max_rel_err"] < 1e-8


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_html_renders_in_chromium(first, tmp_path):
    png = tmp_path / "report.png"
    script = ROOT / "scripts" / "render_report.sh"
    proc = subprocess.run(["bash", str(script), str(first.paths["report.html"]), str(png)],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert png.stat().st_size > 10_000
    from matplotlib import image

    pixels = image.imread(png)
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 1000
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1])[::97], axis=0)) > 20  # not one colour


# --- the GPU precision section ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def precision_on_cpu() -> dict:
    """The section's measurement, made on the CPU (no TF32 there: the allowed rows must not move)."""
    from bpcheck.report import measurement as msr
    from bpcheck.report.precision import measure_precision

    return measure_precision("cpu", skip={b: r for b in msr.REFERENCES if (r := msr.unavailable(b, "cpu"))})


def test_precision_rows_on_a_cpu(precision_on_cpu):
    from bpcheck.report.precision import SETTINGS

    rows = precision_on_cpu["rows"]
    assert [(r["backend"], r["setting"]) for r in rows] == [("manual_bp", "NumPy float32")] + [
        (b, SETTINGS[tf32]) for b in ("torch", "jax") for tf32 in (False, True)]
    assert [r["allow_tf32"] for r in rows] == [False, False, True, False, True]
    ok = {(r["backend"], r["setting"]): r for r in rows if r["status"] == "ok"}
    assert ("manual_bp", "NumPy float32") in ok
    for r in rows:
        assert r["status"] in ("ok", "skipped"), r
    for (backend, _), r in ok.items():
        assert 0 < r["max_rel_err"] < 1e-5 and r["margin"] <= 1  # float32 roundoff, within the model
        if backend != "manual_bp":
            assert r["manual_bp_margin"] <= 1
    for backend in ("torch", "jax"):
        if (backend, SETTINGS[False]) in ok:
            assert ok[backend, SETTINGS[True]]["max_rel_err"] == ok[backend, SETTINGS[False]]["max_rel_err"]


def test_precision_section_in_markdown_and_html(first, precision_on_cpu):
    from bpcheck.report.render.html import render_html
    from bpcheck.report.render.markdown import render_markdown

    assert "GPU precision" not in first.paths["report.md"].read_text(encoding="utf-8")  # a CPU report has none
    rep = copy.deepcopy(first.report) | {"precision": precision_on_cpu}
    md = render_markdown(rep, {"elapsed_s": None})
    section = md[md.index("## GPU precision"):]
    section = section[:section.index("\n## ", 1)]
    assert "MLP 64-256-256-10, batch 128" in section
    assert section.count("allow_tf32 (TF32 allowed)") == sum(
        r["setting"] == "allow_tf32 (TF32 allowed)" for r in precision_on_cpu["rows"])
    assert "GPU precision" in render_html(rep, {"elapsed_s": None}, plots=False)


def test_precision_section_states_the_drift():
    from bpcheck.report.render.sections import precision

    def row(backend, setting, err, margin=None, **kw):
        return {"backend": backend, "device": "cuda", "setting": setting, "status": "ok", "max_rel_err": err,
                "margin": 0.1, **({"manual_bp_margin": margin} if margin is not None else {}), **kw}

    rep = {"precision": {"case": {"widths": [64, 256, 256, 10], "activations": ["tanh", "tanh", "identity"],
                                  "loss": "half_sse", "batch": 128}, "rows": [
        row("manual_bp", "NumPy float32", 4.7e-7),
        row("torch", "pinned (full float32)", 3.7e-7, 0.01),
        row("torch", "allow_tf32 (TF32 allowed)", 4.2e-4, 2.5, allow_tf32=True),
        {"backend": "jax", "device": "cuda", "setting": "pinned (full float32)", "status": "error",
         "message": "XlaRuntimeError: out of memory"}]}}
    sec = precision(rep)
    assert "torch 1,135× (manual_bp margin 2.500e+00)" in sec.lines[-1]
    headers, rows = sec.table
    assert headers[-1] == "note" and rows[-1][3] == "error" and rows[-1][-1] == "XlaRuntimeError: out of memory"
    assert rows[2][4] == "1,135×" and rows[1][4] == "1×"
    assert precision({}) is None
    rep |= {"environment": {"allow_tf32": True},
            "summary": {"accuracy": {"float32": {"manual_bp": {"max_margin": 0.1}, "torch": {"max_margin": 585.0},
                                                 "jax": {"max_margin": 0.117}}}}}
    assert "the worst float32 margins against the truth: torch 5.850e+02, jax 1.170e-01" in precision(rep).lines[-1]


def test_a_cuda_report_measures_the_precision_section(tmp_path, monkeypatch):
    """The --device cuda path on a CPU machine, with torch and jax reported unavailable."""
    monkeypatch.setattr(report.runner, "_skips",
                        lambda device, backends: {"torch": "pretend: no GPU", "jax": "pretend"})
    monkeypatch.delenv("XLA_PYTHON_CLIENT_PREALLOCATE", raising=False)
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/nowhere")
    result = report.run_report(tmp_path, quick=True, device="cuda", activations=["tanh"], losses=["mse"],
                               dtypes=["float32"], plots=False)
    assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"  # worker processes share the GPU
    assert os.environ["XLA_FLAGS"] == "--xla_dump_to=/nowhere --xla_gpu_deterministic_ops=true"  # and repeat
    rows = _load(result.paths["report.json"])["precision"]["rows"]
    assert [(r["backend"], r["status"]) for r in rows] == [("manual_bp", "ok")] + [("torch", "skipped")] * 2 + [
        ("jax", "skipped")] * 2
    assert "pretend: no GPU" in result.paths["report.md"].read_text(encoding="utf-8")
