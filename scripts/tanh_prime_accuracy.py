"""How close each way of computing tanh′(z) = sech²(z) comes to the truth, in float32 and float64.

    python scripts/tanh_prime_accuracy.py [--points N] [--seed S]

The truth is 1/cosh²(z) in long double (x87, 64-bit significand: accurate far beyond float64). Each
form is evaluated in the tested dtype; the error is |got − truth| / truth in units of the dtype's eps,
over z uniform on the range where tanh′ is a normal number, z ~ N(0, 2²) and z ~ N(0, 10⁻⁶).

- manual_bp: ``manual_bp.activations.derivative("tanh", z)``, 2/(cosh 2z + 1)
- 1/cosh²: cosh, square, reciprocal (3 passes)
- 4e/(1+e)², e = e^{−2|z|}: manual_bp's form before 2026-11-29 (7 passes)
- 1 − a², a = tanh z: what autograd frameworks use; loses every digit where tanh saturates
"""

from __future__ import annotations

import argparse

import numpy as np

from manual_bp import activations


def forms(z: np.ndarray) -> dict[str, np.ndarray]:
    with np.errstate(over="ignore"):
        c = np.cosh(z)
        e = np.exp(-2 * np.abs(z))
        a = np.tanh(z)
        return {
            "manual_bp: 2/(cosh 2z + 1)": activations.derivative("tanh", z),
            "1/cosh²": 1 / (c * c),
            "4e/(1+e)², e = e^(-2|z|)": 4 * e / ((1 + e) * (1 + e)),
            "1 − a², a = tanh z": 1 - a * a,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    print(f"{'dtype':8} {'form':30} {'max':>10} {'median':>8} {'mean':>8}   (eps of the dtype)")
    for dtype, lim in ((np.float32, 43.0), (np.float64, 354.0)):  # tanh′ stays a normal number up to here
        n = args.points // 3
        z = np.concatenate([rng.uniform(-lim, lim, n), rng.normal(0, 2, n), rng.normal(0, 1e-6, n)]).astype(dtype)
        truth = 1 / np.cosh(z.astype(np.longdouble)) ** 2
        eps = np.longdouble(np.finfo(dtype).eps)
        for name, got in forms(z).items():
            rel = np.abs(got.astype(np.longdouble) - truth) / truth / eps
            print(f"{np.dtype(dtype).name:8} {name:30} {float(rel.max()):10.3g} {float(np.median(rel)):8.3f} "
                  f"{float(rel.mean()):8.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
