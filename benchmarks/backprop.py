"""Backprop speed on the CPU: ``manual_bp.gradients`` against torch autograd and ``jax.jit(jax.grad)``.

    python -m benchmarks.backprop [--out PATH] [--repeats N] [--quick] [--single-thread] [--markdown]

Every net has tanh hidden layers, an identity output layer and the loss half_sse,
J = (1/B) Σ_b ½‖a⁽ᴸ⁾_b − y_b‖², in float32 and float64. All contenders run side by side in one
process, interleaved repeat by repeat (the order rotates), so a noisy machine slows them alike; each
time is the median over the repeats of a timeit-style loop (gc off, loops calibrated so one repeat
lasts at least ``min_time``). The framework nets are written here, plainly, for speed only: they are
not oracles (``references/`` is), though the gradients are compared once to be sure every contender
computes the same thing.

manual_bp runs twice: "manual" is the contract's function ``manual_bp.gradients(params, x, y,
activations, loss)``, which checks everything on every call; "plan" is ``manual_bp.Network(widths,
activations, loss, dtype).gradients(params, x, y)``, built once outside the timing, which checks only
what depends on the arrays. Both give the same bits.

At the large size the "floor" is the time NumPy takes for the matrix products alone, the same ones
``manual_bp`` does: a⁽ˡ⁻¹⁾ @ W⁽ˡ⁾ᵀ per layer (forward), δ⁽ˡ⁾ᵀ @ a⁽ˡ⁻¹⁾ per layer and δ⁽ˡ⁾ @ W⁽ˡ⁾ for
l > 1 (backward; nobody computes ∂J/∂x). "torch GEMM" is the same products in torch, on the same
operands (shared memory): floor / torch GEMM says how much of manual_bp's distance to torch is the
matrix library's. Peak memory of one gradient call at the large size is measured for manual_bp and
torch in fresh subprocesses (see ``_memory_child``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import timeit
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import manual_bp

SIZES: tuple[tuple[str, tuple[int, ...], int], ...] = (
    ("tiny", (3, 4, 2), 1),
    ("small", (8, 16, 16, 4), 8),
    ("medium", (64, 128, 128, 10), 64),
    ("large", (512, 1024, 1024, 512), 256),
)
DTYPES = ("float32", "float64")
HIDDEN, OUTPUT, LOSS = "tanh", "identity", "half_sse"
CONTENDERS = ("manual", "plan", "torch", "jax")
MANUAL = ("manual", "plan")  # manual_bp's two paths: the contract's function and a Network
FLOORS = ("floor", "torch_gemm")  # the matrix products alone, NumPy's and torch's (large size only)
GOAL_FRAMEWORKS, GOAL_FLOOR = 1.0, 1.1
SEED = 20240607
REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "backprop.json"

Params = list[tuple[np.ndarray, np.ndarray]]


# ---------------------------------------------------------------------------------------------
# the problem and the contenders


def make_case(widths: tuple[int, ...], batch: int, dtype: str) -> tuple[Params, np.ndarray, np.ndarray]:
    """A random net (W ~ N(0, 1/n_in), b ~ N(0, 0.01)) with inputs x ~ N(0, 1), targets y ~ N(0, 1)."""
    rng = np.random.default_rng(SEED)
    params = [
        ((rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(dtype),
         (0.1 * rng.standard_normal(n_out)).astype(dtype))
        for n_in, n_out in zip(widths[:-1], widths[1:], strict=True)
    ]
    x = rng.standard_normal((batch, widths[0])).astype(dtype)
    y = rng.standard_normal((batch, widths[-1])).astype(dtype)
    return params, x, y


def activations_for(depth: int) -> list[str]:
    return [HIDDEN] * (depth - 1) + [OUTPUT]


def manual_fn(params: Params, x: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    acts = activations_for(len(params))
    return lambda: manual_bp.gradients(params, x, y, acts, LOSS)


def plan_fn(params: Params, x: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    widths = (x.shape[1], *(W.shape[0] for W, _ in params))
    net = manual_bp.Network(widths, activations_for(len(params)), LOSS, x.dtype)  # built once, outside the timing
    return lambda: net.gradients(params, x, y)


def torch_fn(params: Params, x: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    import torch

    # Tensors made once, outside the timing; from_numpy shares memory and keeps the dtype.
    tp = [(torch.from_numpy(W.copy()).requires_grad_(), torch.from_numpy(b.copy()).requires_grad_())
          for W, b in params]
    flat = [t for layer in tp for t in layer]
    tx, ty = torch.from_numpy(x.copy()), torch.from_numpy(y.copy())
    L, B = len(tp), x.shape[0]

    def grads() -> tuple[Any, ...]:
        a = tx
        for l, (W, b) in enumerate(tp, start=1):
            z = a @ W.T + b
            a = torch.tanh(z) if l < L else z
        r = a - ty
        J = 0.5 * (r * r).sum() / B
        return torch.autograd.grad(J, flat)

    return grads


def jax_fn(params: Params, x: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    import jax
    import jax.numpy as jnp

    jp = [(jnp.asarray(W), jnp.asarray(b)) for W, b in params]
    jx, jy = jnp.asarray(x), jnp.asarray(y)
    L, B = len(jp), x.shape[0]

    def loss(ps: list[tuple[Any, Any]], xx: Any, yy: Any) -> Any:
        a = xx
        for l, (W, b) in enumerate(ps, start=1):
            z = a @ W.T + b
            a = jnp.tanh(z) if l < L else z
        r = a - yy
        return 0.5 * jnp.sum(r * r) / B

    g = jax.jit(jax.grad(loss))
    jax.block_until_ready(g(jp, jx, jy))  # compile once, here
    return lambda: jax.block_until_ready(g(jp, jx, jy))


def _operands(params: Params, x: np.ndarray, y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray],
                                                                       list[np.ndarray]]:
    """a⁽⁰⁾..a⁽ᴸ⁾, W⁽¹⁾..W⁽ᴸ⁾ and δ⁽¹⁾..δ⁽ᴸ⁾ of one manual_bp gradient call."""
    acts = activations_for(len(params))
    trace = manual_bp.forward(params, x, acts)
    deltas = manual_bp.backward(params, x, y, acts, LOSS).deltas
    return trace.activations, [W for W, _ in params], deltas


def _products(a: list[Any], Ws: list[Any], deltas: list[Any]) -> Callable[[], None]:
    def products() -> None:
        for l in range(1, len(Ws) + 1):
            a[l - 1] @ Ws[l - 1].T                  # z⁽ˡ⁾ without the bias
        for l in range(len(Ws), 0, -1):
            deltas[l - 1].T @ a[l - 1]              # ∂J/∂W⁽ˡ⁾
            if l > 1:
                deltas[l - 1] @ Ws[l - 1]           # ∂J/∂a⁽ˡ⁻¹⁾

    return products


def floor_fn(params: Params, x: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    """The matrix products of one manual_bp gradient call, alone, on the same operands."""
    return _products(*_operands(params, x, y))


def torch_gemm_fn(params: Params, x: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    """The same matrix products in torch, on the same operands (torch.from_numpy shares their memory)."""
    import torch

    a, Ws, deltas = _operands(params, x, y)
    return _products(*([torch.from_numpy(t) for t in ts] for ts in (a, Ws, deltas)))


BUILDERS: dict[str, Callable[[Params, np.ndarray, np.ndarray], Callable[[], Any]]] = {
    "manual": manual_fn, "plan": plan_fn, "torch": torch_fn, "jax": jax_fn, "floor": floor_fn,
    "torch_gemm": torch_gemm_fn,
}


def to_numpy_grads(name: str, out: Any) -> list[np.ndarray]:
    if name in MANUAL:
        return [g for layer in out for g in layer]
    if name == "torch":
        return [t.detach().numpy() for t in out]
    return [np.asarray(g) for layer in out for g in layer]


def agreement(params: Params, x: np.ndarray, y: np.ndarray, fns: dict[str, Callable[[], Any]]) -> dict:
    """Max |g − g_manual| / max |g_manual| per framework, and every contender's output dtypes."""
    ref = to_numpy_grads("manual", fns["manual"]())
    scale = max(float(np.max(np.abs(g))) for g in ref)
    out: dict[str, Any] = {}
    for name in CONTENDERS:
        got = to_numpy_grads(name, fns[name]())
        out[name] = {
            "dtypes": sorted({str(g.dtype) for g in got}),
            "max_rel_diff_to_manual": max(float(np.max(np.abs(g - r))) for g, r in zip(got, ref, strict=True))
            / scale,
        }
    return out


# ---------------------------------------------------------------------------------------------
# timing


def calibrate(fn: Callable[[], Any], min_time: float, timer: Callable[[], float] = time.perf_counter) -> int:
    """Loops per repeat: the smallest 1, 2, 5, 10, ... whose total lasts at least ``min_time``."""
    t = timeit.Timer(fn, timer=timer)
    for decade in (10**k for k in range(9)):
        for mult in (1, 2, 5):
            n = mult * decade
            if t.timeit(n) >= min_time:
                return n
    return n


def side_by_side(fns: dict[str, Callable[[], Any]], repeats: int, min_time: float, rounds: int,
                 settle: float, timer: Callable[[], float] = time.perf_counter) -> dict[str, dict]:
    """Median seconds per call for each contender (wall-clock seconds, or ``timer``'s).

    The repeats are split into ``rounds``; in each round every contender, in a rotating order,
    runs its share of repeats back to back, after a pause of ``settle`` seconds and one untimed call.
    The pause matters: NumPy's OpenBLAS, torch's OpenMP and XLA each keep their own worker threads,
    which stay awake for a while after a call; measured on a busy 2-core machine, a medium torch call
    started right after NumPy work ran ~10× slower than after a 1 s pause. Rounds keep the
    side-by-side comparison (a slow phase of a noisy machine hits every contender) without that
    cross-talk. With one thread everywhere there are no worker threads to wait for, so every repeat
    is its own round (``rounds == repeats``): a burst of load from another process then costs one
    repeat of each contender, not a whole share of one.
    """
    names = list(fns)
    for fn in fns.values():
        fn()  # warm-up (and, for jax, nothing to compile any more)
    loops = {n: calibrate(fns[n], min_time, timer) for n in names}
    times: dict[str, list[float]] = {n: [] for n in names}
    shares = [repeats // rounds + (i < repeats % rounds) for i in range(rounds)]
    for r, share in enumerate(shares):
        for n in names[r % len(names):] + names[:r % len(names)]:
            time.sleep(settle)
            fns[n]()
            times[n] += [timeit.Timer(fns[n], timer=timer).timeit(loops[n]) / loops[n] for _ in range(share)]
    return {n: {"median_s": float(np.median(times[n])), "min_s": float(np.min(times[n])),
                "loops": loops[n], "repeats": len(times[n]), "samples_s": times[n]} for n in names}


# ---------------------------------------------------------------------------------------------
# peak memory
#
# NumPy reports its array allocations to tracemalloc, so for manual_bp the tracemalloc peak of one
# call is exact. torch's CPU allocator does not, so for an honest side-by-side number both are also
# measured the same way, by the operating system: in a fresh subprocess, after the imports, the
# inputs and a warm-up call on the tiny net (lazy library set-up, thread pools), the kernel's
# peak-RSS mark is reset (``/proc/self/clear_refs`` ← 5), one large gradient call runs, and the rise
# of the peak (VmHWM) over the RSS before the call is its peak memory, the returned gradients
# included. glibc's malloc is pinned to mmap every block above 64 KiB and to return it on free
# (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_): otherwise freed heap memory left resident by
# the set-up could be reused unseen and the figure would depend on allocation history. Pages are
# counted when touched; every array here is written in full, so nothing is hidden by lazy zeroing.

_SINGLE_THREAD_MARK = "MANUAL_BP_BENCH_SINGLE_THREAD"
_SINGLE_THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") +
                  " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip(),
}
_MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0", "MALLOC_ARENA_MAX": "2"}


def _proc_status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _memory_child(contender: str, dtype: str) -> dict:
    _, widths, batch = SIZES[-1]
    tiny = make_case(SIZES[0][1], SIZES[0][2], dtype)
    BUILDERS[contender](*tiny)()  # warm-up
    fn = BUILDERS[contender](*make_case(widths, batch, dtype))
    gc.collect()
    result: dict[str, Any] = {}
    try:
        Path("/proc/self/clear_refs").write_text("5")
        method = "VmHWM after clear_refs"
    except OSError:
        method = "ru_maxrss (peak could not be reset: an upper bound on the rise is unknown)"
    before = _proc_status_kib("VmRSS")
    out = fn()
    peak = _proc_status_kib("VmHWM")
    result.update(method=method, rss_before_kib=before, peak_rise_bytes=(peak - before) * 1024)
    del out
    if contender == "manual":
        gc.collect()
        tracemalloc.start()
        fn()  # the result stays alive until the peak is read: it counts
        result["tracemalloc_peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result


def measure_memory(dtype: str) -> dict:
    env = {**os.environ, **_MEMORY_ENV, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
    out = {}
    for contender in ("manual", "torch"):
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.backprop", "--memory-child", contender, dtype],
            cwd=REPO, env=env, capture_output=True, text=True, check=True,
        )
        out[contender] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["ratio_manual_torch"] = out["manual"]["peak_rise_bytes"] / out["torch"]["peak_rise_bytes"]
    return out


# ---------------------------------------------------------------------------------------------
# the machine


def _openblas_runtime() -> dict:
    """Thread count and kernel set ("core") of the OpenBLAS that NumPy has loaded, asked of the library."""
    import ctypes

    out: dict[str, Any] = {"threads": None, "core": None}
    try:
        libs = {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
                if "openblas" in line.lower() and line.split()[-1].startswith("/")}
    except OSError:
        return out
    for lib in sorted(libs):
        handle = ctypes.CDLL(lib)
        for prefix in ("scipy_openblas_", "openblas_"):
            for suffix in ("64_", ""):
                threads = getattr(handle, f"{prefix}get_num_threads{suffix}", None)
                core = getattr(handle, f"{prefix}get_corename{suffix}", None)
                if threads is not None and core is not None:
                    core.restype = ctypes.c_char_p
                    return {"threads": int(threads()), "core": core().decode()}
    return out


def machine() -> dict:
    import jax
    import torch

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    return {
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "jax": jax.__version__,
        "numpy_blas": {k: blas.get(k) for k in ("name", "version", "openblas configuration")},
        "numpy_blas_runtime": _openblas_runtime(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "jax_devices": [str(d) for d in jax.devices()],
        "jax_x64": bool(jax.config.read("jax_enable_x64")),
        "env": {k: os.environ.get(k) for k in (
            "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS")},
    }


# ---------------------------------------------------------------------------------------------
# running, printing, writing


def run(repeats: int, min_time: float, rounds: int, settle: float, quick: bool) -> dict:
    import jax

    jax.config.update("jax_enable_x64", True)  # once, at start-up: float64 is computed in float64
    load_before = os.getloadavg()  # other processes on a shared machine: recorded, to judge the numbers
    results = []
    for dtype in DTYPES:
        for name, widths, batch in SIZES:
            case = make_case(widths, batch, dtype)
            fns = {c: BUILDERS[c](*case) for c in CONTENDERS + (FLOORS if name == "large" else ())}
            agree = agreement(*case, fns)
            timed = side_by_side(fns, repeats, min_time, rounds, settle)
            ratios = ratios_of({c: t["median_s"] for c, t in timed.items()})
            # Each repeat of one contender has a partner, the same repeat of another, taken moments apart:
            # the median of their ratios cancels the machine's slow swings (the headline figure).
            paired = [ratios_of({c: t["samples_s"][i] for c, t in timed.items()}) for i in range(repeats)]
            ratios_paired = {k: float(np.median([q[k] for q in paired])) for k in paired[0]}
            # The fastest repeat is the least disturbed by other processes: its ratios are a cross-check.
            ratios_min = ratios_of({c: t["min_s"] for c, t in timed.items()})
            med = {c: t["median_s"] for c, t in timed.items()}
            results.append({"size": name, "widths": list(widths), "batch": batch, "dtype": dtype,
                            "timings": timed, "ratios_paired": ratios_paired, "ratios_of_medians": ratios,
                            "ratios_of_minima": ratios_min,
                            "agreement": agree})
            print(f"  {dtype} {name}: " + ", ".join(f"{c} {_fmt(t)}" for c, t in med.items()),
                  file=sys.stderr, flush=True)
    memory = {dtype: measure_memory(dtype) for dtype in DTYPES}
    return {
        "benchmark": "backprop",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.backprop " + " ".join(sys.argv[1:]),
        "config": {"activations": f"{HIDDEN} hidden layers, {OUTPUT} output", "loss": LOSS,
                   "dtypes": list(DTYPES), "repeats": repeats, "min_time_s": min_time, "rounds": rounds,
                   "settle_s": settle, "quick": quick,
                   "threads": "1 everywhere (--single-thread)" if os.environ.get(_SINGLE_THREAD_MARK) == "1"
                   else "each library's default",
                   "seed": SEED, "statistic": "median of repeats, seconds per gradient call; ratios_paired: "
                                              "median over repeats of the ratio of the i-th repeats of two contenders",
                   "goals": {f"{m}/{c}": goal for m in MANUAL for c, goal in (
                       ("torch", GOAL_FRAMEWORKS), ("jax", GOAL_FRAMEWORKS), ("floor", GOAL_FLOOR))},
                   "contenders": {"manual": "manual_bp.gradients(params, x, y, activations, loss), the contract's "
                                            "function: every check on every call",
                                  "plan": "manual_bp.Network(widths, activations, loss, dtype).gradients(params, x, "
                                          "y), the Network built once: only the checks that depend on the arrays",
                                  "torch": "torch.autograd.grad of a plain functional net",
                                  "jax": "jax.jit(jax.grad(loss)), compiled once"},
                   "floor": "NumPy matrix products alone: a@W.T per layer, delta.T@a_prev per layer, "
                            "delta@W for layers > 1",
                   "torch_gemm": "the same matrix products in torch, on the same operands"},
        "machine": {**machine(), "load_average_1_5_15min": {"start": load_before, "end": os.getloadavg()}},
        "results": results,
        "memory_large": memory,
    }


def ratios_of(t: dict[str, float]) -> dict[str, float]:
    """manual_bp's two paths against each other, the frameworks and the floor; NumPy's GEMM against torch's."""
    out = {"plan/manual": t["plan"] / t["manual"]}
    out |= {f"{m}/{c}": t[m] / t[c] for m in MANUAL for c in ("torch", "jax", "floor") if c in t}
    if "floor" in t and "torch_gemm" in t:
        out["floor/torch_gemm"] = t["floor"] / t["torch_gemm"]
    return out


def _fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1e3:.2f} ms"


def _ratio(r: float | None, goal: float, r_min: float | None = None) -> str:
    if r is None:
        return ""
    return f"{r:.2f}" + ("" if r <= goal else " !") + ("" if r_min is None else f" ({r_min:.2f})")


def table_rows(report: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of each table: times, ratios, memory."""
    times_head = ["size", "dtype", "manual_bp", "plan", "torch", "jax.jit", "floor (NumPy GEMM)", "torch GEMM"]
    ratio_head = ["size", "dtype", "manual/torch", "manual/jax", "plan/torch", "plan/jax", "manual/floor",
                  "plan/floor", "NumPy GEMM / torch GEMM"]
    times, ratios = [], []
    for r in report["results"]:
        t, q, qm = {c: v["median_s"] for c, v in r["timings"].items()}, r["ratios_paired"], r["ratios_of_minima"]
        label = [f"{r['size']} {'-'.join(map(str, r['widths']))} B={r['batch']}", r["dtype"]]
        times.append(label + [_fmt(t[c]) if c in t else "" for c in ("manual", "plan", "torch", "jax", *FLOORS)])
        ratios.append(label + [_ratio(q.get(k), goal, qm.get(k)) for k, goal in (
            ("manual/torch", GOAL_FRAMEWORKS), ("manual/jax", GOAL_FRAMEWORKS), ("plan/torch", GOAL_FRAMEWORKS),
            ("plan/jax", GOAL_FRAMEWORKS), ("manual/floor", GOAL_FLOOR), ("plan/floor", GOAL_FLOOR),
            ("floor/torch_gemm", float("inf")))])
    mhead = ["dtype", "manual_bp peak RSS rise", "torch peak RSS rise", "manual/torch",
             "manual_bp tracemalloc peak"]
    mrows = [[dt, f"{m['manual']['peak_rise_bytes'] / 2**20:.1f} MiB",
              f"{m['torch']['peak_rise_bytes'] / 2**20:.1f} MiB", f"{m['ratio_manual_torch']:.2f}",
              f"{m['manual']['tracemalloc_peak_bytes'] / 2**20:.1f} MiB"]
             for dt, m in report["memory_large"].items()]
    n = report["config"]["repeats"]
    return [
        (f"seconds per gradient call, median of {n} repeats — {HIDDEN} hidden, {OUTPUT} output, loss {LOSS}",
         times_head, times),
        (f"ratios: median over the repeats of each repeat's ratio to its partner repeat, in brackets the ratio "
         f"of the fastest repeats; goals: manual_bp/framework ≤ {GOAL_FRAMEWORKS}, manual_bp/floor ≤ {GOAL_FLOOR} "
         "(! = missed)", ratio_head, ratios),
        ("peak memory of one large gradient call (fresh subprocess; see benchmarks/backprop.py)", mhead, mrows),
    ]


def print_report(report: dict) -> None:
    tables = table_rows(report)
    m = report["machine"]
    footer = (f"{m['cpu_model']}, {m['cpus_usable']} usable cores; numpy {m['numpy']} "
              f"({m['numpy_blas']['name']} {m['numpy_blas']['version']}, core {m['numpy_blas_runtime']['core']}, "
              f"{m['numpy_blas_runtime']['threads']} threads), "
              f"torch {m['torch']} ({m['torch_threads']} threads), jax {m['jax']}; "
              f"threads: {report['config']['threads']}; OPENBLAS_CORETYPE={m['env']['OPENBLAS_CORETYPE']}; "
              f"load average {m['load_average_1_5_15min']['start'][0]:.1f} at start, "
              f"{m['load_average_1_5_15min']['end'][0]:.1f} at end")
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        for t, h, rs in tables:
            print(t)
            widths = [max(len(x) for x in col) for col in zip(h, *rs, strict=True)]
            for r in (h, *rs):
                print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
            print()
        print(footer)
        return
    console = Console() if sys.stdout.isatty() else Console(width=160)  # no wrapping in a log
    for t, h, rs in tables:
        table = Table(title=t, title_justify="left")
        for i, c in enumerate(h):
            table.add_column(c, justify="left" if i < 2 else "right")
        for r in rs:
            table.add_row(*r)
        console.print(table)
    console.print(footer)


def markdown_table(report: dict) -> str:
    lines = []
    for _, h, rs in table_rows(report):
        lines += ["| " + " | ".join(h) + " |", "|" + "---|" * len(h)]
        lines += ["| " + " | ".join(r) + " |" for r in rs]
        lines.append("")
    return "\n".join(lines)


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backprop", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON report (default {DEFAULT_OUT})")
    parser.add_argument("--repeats", type=int, default=None,
                        help="repeats per contender (default 21; 5 quick)")
    parser.add_argument("--quick", action="store_true", help="few, short repeats: a smoke run, noisy")
    parser.add_argument("--markdown", action="store_true", help="also print the tables as Markdown")
    parser.add_argument("--single-thread", action="store_true",
                        help="one thread for OpenBLAS, torch and XLA alike (default: each library's own)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds the repeats are interleaved in (default: every repeat with --single-thread, "
                             "else 3; 1 quick)")
    parser.add_argument("--memory-child", nargs=2, metavar=("CONTENDER", "DTYPE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        print(json.dumps(_memory_child(*args.memory_child)))
        return 0
    if args.single_thread and os.environ.get(_SINGLE_THREAD_MARK) != "1":
        # Thread pools are sized when the libraries load, and NumPy already has: start again with
        # the environment set (the same process image, the same arguments).
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks.backprop", *(argv or sys.argv[1:])],
                  {**os.environ, **_SINGLE_THREAD_ENV, _SINGLE_THREAD_MARK: "1"})
    repeats = args.repeats or (5 if args.quick else 21)
    if repeats < 1:
        parser.error("--repeats must be at least 1")
    single = os.environ.get(_SINGLE_THREAD_MARK) == "1"
    rounds = min(repeats, args.rounds or (1 if args.quick else repeats if single else 3))
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    settle = 0.05 if args.quick else 0.02 if single else 0.3
    report = run(repeats, 0.005 if args.quick else 0.02, rounds, settle, args.quick)
    print_report(report)
    if args.markdown:
        print(markdown_table(report))
    write_json_atomic(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
