"""How arrays should cross to the checker's worker process: pickled through its pipe, or in shared memory.

    python -m benchmarks.transfer [--repeats N] [--out PATH]

For payloads the size of a check's cases (a network's parameters, x, y and the gradients coming
back), a round trip to a child process and back, two ways, taking turns repeat by repeat:

- ``pipe``: the arrays pickled (protocol 5) through a ``multiprocessing`` pipe, as the worker's plans
  and replies travel (bpcheck.isolation);
- ``shared memory``: the arrays copied into a fresh ``multiprocessing.shared_memory`` block, only its
  name and the arrays' layout sent through the pipe, the child mapping it, copying the arrays out (as
  the candidate must own its inputs) and answering with a block of its own; each block unlinked after.

Medians of ``--repeats`` round trips per size, and the ratio shared memory / pipe of each pair. A
benchmark: it measures and reports; it never fails on a time.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from multiprocessing import shared_memory
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.backprop import REPO, machine, write_json_atomic

DEFAULT_OUT = REPO / "benchmarks" / "results" / "transfer.json"
# float64 elements of a payload: a tiny case, a typical random case (widths ≤ 32), a size corner
# (a 1030-wide layer at batch 4), the largest size corner (depth 12 at widths 70–130, batch 75)
SIZES = {"tiny (3-4-2, B=1)": 30, "typical (8-32-32-4, B=16)": 1_800, "wide corner (4-1030-3, B=4)": 12_500,
         "largest corner (≈ 230k elements)": 230_000}


def _to_shm(arrays: list[np.ndarray]) -> tuple[shared_memory.SharedMemory, list[tuple[int, tuple, str]]]:
    total = sum(a.nbytes for a in arrays)
    block = shared_memory.SharedMemory(create=True, size=max(total, 1))
    layout, offset = [], 0
    for a in arrays:
        np.ndarray(a.shape, a.dtype, buffer=block.buf, offset=offset)[...] = a
        layout.append((offset, a.shape, a.dtype.str))
        offset += a.nbytes
    return block, layout


def _from_shm(name: str, layout: list[tuple[int, tuple, str]]) -> list[np.ndarray]:
    block = shared_memory.SharedMemory(name=name)
    try:
        return [np.ndarray(shape, np.dtype(dt), buffer=block.buf, offset=off).copy() for off, shape, dt in layout]
    finally:
        block.close()


def _child(conn: Any) -> None:
    while True:
        msg = conn.recv()
        if msg is None:
            return
        how, payload = msg
        if how == "pipe":
            conn.send(("pipe", [a * 1.0 for a in payload]))   # the answer: arrays of the same sizes
        else:
            name, layout = payload
            arrays = [a * 1.0 for a in _from_shm(name, layout)]
            block, out_layout = _to_shm(arrays)
            conn.send(("shm", (block.name, out_layout)))
            conn.recv()          # the parent has read it: release
            block.close()
            block.unlink()


def _round_trip(conn: Any, how: str, arrays: list[np.ndarray]) -> float:
    t = time.perf_counter()
    if how == "pipe":
        conn.send(("pipe", arrays))
        conn.recv()
    else:
        block, layout = _to_shm(arrays)
        conn.send(("shm", (block.name, layout)))
        _, (name, out_layout) = conn.recv()
        _from_shm(name, out_layout)
        conn.send("done")
        block.close()
        block.unlink()
    return time.perf_counter() - t


def measure(repeats: int) -> dict[str, Any]:
    ctx = mp.get_context("forkserver")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child,), daemon=True)
    proc.start()
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}
    try:
        for label, n in SIZES.items():
            arrays = [rng.standard_normal(max(1, n // 4)) for _ in range(4)]
            for how in ("pipe", "shm"):   # warm both paths
                _round_trip(parent, how, arrays)
            pipe, shm = [], []
            for _ in range(repeats):
                pipe.append(_round_trip(parent, "pipe", arrays))
                shm.append(_round_trip(parent, "shm", arrays))
            out[label] = {"elements": n, "bytes": sum(a.nbytes for a in arrays),
                          "pipe_us_median": 1e6 * statistics.median(pipe),
                          "shm_us_median": 1e6 * statistics.median(shm),
                          "shm_over_pipe_paired": statistics.median(s / p for s, p in zip(shm, pipe, strict=True))}
    finally:
        parent.send(None)
        proc.join(5)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.transfer", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=201)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    import os

    result = {"machine": machine(), "load_start": os.getloadavg(), "sizes": measure(args.repeats),
              "load_end": os.getloadavg()}
    write_json_atomic(args.out, result)
    print("| payload | bytes | pipe (pickle) | shared memory | shared memory / pipe (paired median) |")
    print("|---|---|---|---|---|")
    for label, r in result["sizes"].items():
        print(f"| {label} | {r['bytes']:,} | {r['pipe_us_median']:.0f} µs | {r['shm_us_median']:.0f} µs | "
              f"{r['shm_over_pipe_paired']:.2f} |")
    print(f"load average {result['load_start']} → {result['load_end']}; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
