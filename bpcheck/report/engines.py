"""Where a report's cases are measured: in this process, in a local pool of worker processes, or
(``--scheduler``) on a Dask cluster. Every engine runs the same tasks, ``measurement.measure_group``
on a group of ``sweep.Spec``s (a case by its specification: seed, shape, regime; never arrays), and
hands each group's records back as they come, so the figures never depend on the engine.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from bpcheck.isolation.supervisor import interrupts_held_from_children

Task = tuple[Callable[..., Any], tuple[Any, ...]]


def in_process(tasks: Sequence[Task]) -> Iterator[Any]:
    """Each task's result, in order, computed here."""
    for fn, args in tasks:
        yield fn(*args)


def local_pool(tasks: Sequence[Task], jobs: int) -> Iterator[Any]:
    """Each task's result as it completes, in ``jobs`` spawned worker processes (never forked: jax is
    multithreaded). On any exception or interrupt in the parent, the workers are killed at once, not
    left to finish what they were doing."""
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    try:
        with interrupts_held_from_children():  # the pool starts its workers on the first submit
            futures = [pool.submit(fn, *args) for fn, args in tasks]
        for future in as_completed(futures):
            yield future.result()
    except BaseException:
        _kill(pool)
        pool.shutdown(wait=False, cancel_futures=True)  # its threads may wait on the killed workers
        raise
    pool.shutdown(wait=True)


def _kill(pool: ProcessPoolExecutor) -> None:
    processes: Iterable[Any] = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(2)
