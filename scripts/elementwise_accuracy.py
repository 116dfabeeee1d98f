"""How close each framework's activations come to the tolerance model's allowance for one elementwise step.

    python scripts/elementwise_accuracy.py [--points N]

For every activation but softmax, torch's and jax's value σ(z) and derivative σ′(z) (the references'
own functions, differentiated by each framework) are compared with the model's float64 truth on a grid
of z over [−60, 60] and out to ±10⁴, in float32 and float64. Each line is the largest ratio of the
error to the allowance SAFETY·C_ELEM·u·(M + underflow floor) that bpcheck.tolerance gives that step
(bpcheck._elementwise's M and M′). A ratio near 1 is a false alarm in waiting: one saturated unit alone
on its row of a gradient is judged against that allowance and little else. Exits 1 if any ratio
exceeds 0.5.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bpcheck import _elementwise as ew  # noqa: E402
from bpcheck.tolerance import C_ELEM, SAFETY, unit_roundoff  # noqa: E402

LIMIT = 0.5


def grid(points: int) -> np.ndarray:
    tails = np.geomspace(60.0, 1e4, 2000)
    return np.concatenate([np.linspace(-60.0, 60.0, points), -tails, tails])


def framework_values(framework: str, name: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """σ(z) and σ′(z) as the framework's reference computes them, in z's dtype."""
    if framework == "torch":
        import torch

        from references import _torch

        t = torch.tensor(z, requires_grad=True)
        a = _torch.ACTIVATIONS[name](t)
        a.sum().backward()
        return a.detach().numpy(), t.grad.numpy()
    import jax
    import jax.numpy as jnp

    from references import _jax

    f = _jax.ACTIVATIONS[name]
    return np.asarray(f(jnp.asarray(z))), np.asarray(jax.vmap(jax.grad(f))(jnp.asarray(z)))


def ratios(framework: str, name: str, z: np.ndarray) -> tuple[float, float, float, float]:
    """(value ratio, at z; derivative ratio, at z)."""
    u = unit_roundoff(z.dtype)
    z64 = z.astype(np.float64)
    step = ew.ELEMENTWISE[name]
    a_true, d_true = step.f(z64), step.fp(z64)
    floor = float(np.finfo(z.dtype).tiny) / u * (1.0 + np.minimum(np.abs(z64), 1e4)) ** 3
    a, d = framework_values(framework, name, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        ra = np.abs(a.astype(np.float64) - a_true) / (SAFETY * C_ELEM * u * (step.M(z64, a_true) + floor))
        rd = np.abs(d.astype(np.float64) - d_true) / (SAFETY * C_ELEM * u * (step.Mp(z64, d_true) + floor))
    ia, idd = int(np.nanargmax(ra)), int(np.nanargmax(rd))
    return float(ra[ia]), float(z64[ia]), float(rd[idd]), float(z64[idd])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--points", type=int, default=240_001, help="grid points on [−60, 60] (default 240001)")
    args = parser.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)
    worst = 0.0
    print(f"{'framework':9} {'dtype':7} {'activation':10} {'value':>6} {'at z':>9} {'σ′':>6} {'at z':>9}")
    for dtype in ("float32", "float64"):
        z = grid(args.points).astype(dtype)
        for framework in ("torch", "jax"):
            for name in ew.ELEMENTWISE:
                ra, za, rd, zd = ratios(framework, name, z)
                worst = max(worst, ra, rd)
                print(f"{framework:9} {dtype:7} {name:10} {ra:6.2f} {za:9.4g} {rd:6.2f} {zd:9.4g}")
    print(f"largest ratio {worst:.2f} (limit {LIMIT})")
    return 0 if worst <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
