"""The report's figures, as PNG bytes: matplotlib's Agg canvas directly, no pyplot and no global backend.

* error distributions: per dtype, histograms of log10 max_rel_err and of log10 margin for each
  backend (exact results, error 0, cannot go on a log axis: their count is in the legend);
* worst-margin heat maps: per dtype and backend, output activation × loss, colour log10 margin;
* pairs: per dtype, manual_bp's margin against each reference's, case by case.
"""

from __future__ import annotations

import io
import math
from typing import Any

from bpcheck.cases import ACTIVATIONS, LOSSES
from bpcheck.report.render.sections import MARGIN_BACKENDS, grid
from bpcheck.writing import number

DPI = 80


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def _values(cases: list[dict[str, Any]], dtype: str, backend: str, key: str) -> list[float]:
    out = []
    for c in cases:
        e = c.get("backends", {}).get(backend, {})
        v = number(e.get(key)) if c["dtype"] == dtype and e.get("status") == "ok" else None
        if v is not None:
            out.append(v)
    return out


def _dtypes(cases: list[dict[str, Any]]) -> list[str]:
    return sorted({c["dtype"] for c in cases if c.get("status") == "ok"})


def _backends(cases: list[dict[str, Any]]) -> list[str]:
    names = {b for c in cases for b, e in c.get("backends", {}).items() if e.get("status") == "ok"}
    order = ["manual_bp", "torch", "jax", "finite_diff"]
    return [b for b in order if b in names] + sorted(names - set(order))


MARGIN_FLOOR = 1e-6  # smaller margins are drawn at this value: nothing to see below it


def _histogram(ax, series: dict[str, list[float]], xlabel: str, floor: float = 0.0) -> None:
    """Step histograms of log10 of each series on shared bins; zeros (exact) are counted in the legend.

    Values in (0, floor) are drawn at floor.
    """
    import numpy as np

    logs = {b: [math.log10(max(v, floor)) for v in vs if 0 < v < math.inf] for b, vs in series.items()}
    pooled = [x for xs in logs.values() for x in xs]
    if not pooled:
        return
    bins = np.linspace(min(pooled), max(pooled) + 1e-9, 41)
    for b, xs in logs.items():
        exact = sum(1 for v in series[b] if v == 0)
        label = f"{b} ({exact} exact)" if exact else b
        if xs:
            ax.hist(xs, bins=bins, histtype="step", linewidth=1.4, label=label, log=True)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("cases")
    ax.legend(fontsize=7)


def error_distributions(cases: list[dict[str, Any]]) -> bytes:
    """Per dtype: histograms of log10 max_rel_err (top) and log10 margin (bottom) per backend."""
    import numpy as np

    dtypes, backends = _dtypes(cases), _backends(cases)
    fig = _figure(5.8 * max(1, len(dtypes)), 7.5)
    for k, dt in enumerate(dtypes):
        ax = fig.add_subplot(2, len(dtypes), k + 1)
        _histogram(ax, {b: _values(cases, dt, b, "max_rel_err") for b in backends}, "log10 max_rel_err")
        ax.axvline(math.log10(float(np.finfo(dt).eps) / 2), color="grey", linestyle=":")
        ax.set_title(f"{dt}: max_rel_err against the ground truth (dotted: u)", fontsize=9)
        ax = fig.add_subplot(2, len(dtypes), len(dtypes) + k + 1)
        _histogram(ax, {b: _values(cases, dt, b, "margin") for b in backends if b in MARGIN_BACKENDS},
                   "log10 margin (below 1e-6 drawn at 1e-6)", floor=MARGIN_FLOOR)
        ax.axvline(0.0, color="red", linestyle=":")
        ax.set_title(f"{dt}: margin = error / tolerance (dotted: 1, the tolerance)", fontsize=9)
    return _png(fig)


def margin_heatmaps(cases: list[dict[str, Any]]) -> bytes:
    import numpy as np
    from matplotlib.colors import LogNorm

    dtypes = _dtypes(cases)
    backends = [b for b in MARGIN_BACKENDS if any(b in c.get("backends", {}) for c in cases)]
    grids = {(dt, b): grid(cases, dt, b) for dt in dtypes for b in backends}
    acts = [a for a in ACTIVATIONS if any(a == k[0] for g in grids.values() for k in g)]
    losses = [x for x in LOSSES if any(x == k[1] for g in grids.values() for k in g)]
    values = [v for g in grids.values() for v in g.values() if 0 < v < math.inf]
    lo, hi = (min(values), max(max(values), 1.0)) if values else (1e-3, 1.0)
    norm = LogNorm(vmin=lo, vmax=hi if hi > lo else lo * 10)
    fig = _figure(4.2 * len(backends) + 1.0, 0.3 * len(acts) * len(dtypes) + 2.0 * len(dtypes))
    image = None
    for r, dt in enumerate(dtypes):
        for k, b in enumerate(backends):
            ax = fig.add_subplot(len(dtypes), len(backends), r * len(backends) + k + 1)
            g = grids[(dt, b)]
            m = np.full((len(acts), len(losses)), np.nan)
            for (a, loss), v in g.items():
                if a in acts and loss in losses:
                    m[acts.index(a), losses.index(loss)] = max(v, lo)
            image = ax.imshow(np.ma.masked_invalid(m), norm=norm, cmap="viridis", aspect="auto")
            middle = math.sqrt(lo * norm.vmax)
            for (a, loss), v in g.items():
                ax.text(losses.index(loss), acts.index(a), "0" if v == 0 else f"{v:.0e}", ha="center",
                        va="center", fontsize=6, color="white" if max(v, lo) < middle else "black")
            ax.set_xticks(range(len(losses)), [x.replace("_", " ") for x in losses], rotation=35, ha="right",
                          fontsize=7)
            ax.set_yticks(range(len(acts)), acts if k == 0 else [""] * len(acts), fontsize=7)
            ax.set_title(f"{b}, {dt}: worst margin", fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=fig.axes, shrink=0.6, label="margin = error / tolerance")
    return _png(fig)


def _positive(v: float | None) -> bool:
    return v is not None and 0 < v < math.inf


def pairs(cases: list[dict[str, Any]]) -> bytes | None:
    from matplotlib.ticker import LogLocator, NullFormatter

    dtypes = _dtypes(cases)
    refs = [r for r in ("torch", "jax") if any(r in c.get("backends", {}) for c in cases)]
    if not refs:
        return None
    fig = _figure(4.5 * len(refs), 4.2 * max(1, len(dtypes)))
    for r, dt in enumerate(dtypes):
        for k, ref in enumerate(refs):
            ax = fig.add_subplot(len(dtypes), len(refs), r * len(refs) + k + 1)
            xs, ys = [], []
            for c in cases:
                e, f = c.get("backends", {}).get(ref, {}), c.get("backends", {}).get("manual_bp", {})
                x, y = number(e.get("margin")), number(f.get("margin"))
                if c["dtype"] == dt and _positive(x) and _positive(y):
                    xs.append(max(x, MARGIN_FLOOR))
                    ys.append(max(y, MARGIN_FLOOR))
            ax.scatter(xs, ys, s=8, alpha=0.6)
            if xs:
                lo, hi = min(xs + ys), max(xs + ys)
                ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8)
                ax.set_xscale("log")
                ax.set_yscale("log")
                for axis in (ax.xaxis, ax.yaxis):
                    axis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 3.0)))
                    axis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(f"{ref} margin (below 1e-6 drawn at 1e-6)")
            ax.set_ylabel("manual_bp margin")
            ax.set_title(f"{dt}: below the line, manual_bp is closer", fontsize=9)
    return _png(fig)
