"""Where a campaign's tasks run: in this process, in a local pool of worker processes, or
(``--scheduler ADDRESS``) on a Dask distributed cluster.

A task is ``(function, args)`` with args that describe cases by specification (a seed, a
``sweep.Spec``, a regime, a range of case numbers), never arrays, so any engine can run it anywhere
the code is installed. Every engine hands back each task's result as it completes; the caller puts
the results in a fixed order, so the figures never depend on the engine. On an exception or an
interrupt in the caller, every engine stops at once: the pool's workers are killed, the cluster's
tasks cancelled.

| engine | when | what an interrupt does to a running task |
|---|---|---|
| ``in_process`` | one job, no scheduler | stops it (it runs here) |
| ``local_pool`` | ``--jobs N`` (the default engine) | its worker process is killed at once |
| ``Cluster.run`` | ``--scheduler ADDRESS`` | cancelled at the scheduler: the worker drops its result |

A worker of the cluster that dies is the scheduler's business: Dask gives its tasks to other workers
(a task is given up, ``KilledWorker``, only after ``distributed.scheduler.allowed-failures`` workers,
3 by default, died while running it), so a campaign survives lost machines.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import multiprocessing
import platform
import signal
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from bpcheck.errors import UsageError
from bpcheck.isolation.supervisor import interrupts_held_from_children

Task = tuple[Callable[..., Any], tuple[Any, ...]]

CONNECT_TIMEOUT_S = 5.0    # an address that does not answer in this time is a usage error
WORKERS_TIMEOUT_S = 30.0   # how long to wait for a first worker to join a scheduler that has none
PACKAGES = ("manual_bp", "references", "bpcheck")   # the code whose source must be the same everywhere
DISTRIBUTIONS = ("numpy", "torch", "jax", "jaxlib", "mpmath")


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Ctrl-C held back until the block ends, then raised (KeyboardInterrupt) if it came.

    For the imports of torch and jax: a KeyboardInterrupt raised inside them lands in their C++
    callbacks, where it was seen to be swallowed (the run went on and exited 0), to abort the process,
    or to hang it. Outside the main thread (where no signal handler can be set) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: came.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if came:
        raise KeyboardInterrupt


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


def _source_digest() -> str:
    digest = hashlib.sha256()
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        roots = list(spec.submodule_search_locations or []) if spec is not None else []
        for root in roots:
            for path in sorted(Path(root).rglob("*.py")):
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


# The source as this process found it when it first imported this module, not as it is on disk now:
# a long-lived worker keeps the code it imported, so an edit since then makes it run other code.
_SOURCE = _source_digest()


def fingerprint() -> dict[str, Any]:
    """What must be the same on every machine of a campaign for its figures to be this code's: the
    Python and package versions, the long double, and a digest of the source of ``PACKAGES`` as this
    process loaded it."""
    import numpy as np

    versions: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine(),
                                "longdouble_bits": int(np.finfo(np.longdouble).nmant) + 1}
    for name in DISTRIBUTIONS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    versions["source"] = _SOURCE
    return versions


def _distributed(option: str) -> Any:
    try:
        import distributed
    except ImportError:
        raise UsageError(f"{option} needs Dask distributed: pip install -c constraints.txt "
                         "-e '.[distributed]'") from None
    return distributed


def check_address(option: str, address: str) -> str:
    """``address`` if it is the address of a scheduler by its form (scheme://host:port, tcp by default;
    nothing is contacted), else UsageError (one line)."""
    _distributed(option)
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import backends

    try:
        scheme, location = parse_address(address)
        if scheme not in backends:
            raise ValueError(f"unknown protocol {scheme!r}")
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except ValueError as exc:
        raise UsageError(f"{option} {address!r} is not a scheduler address ({' '.join(str(exc).split())}); "
                         "expected e.g. tcp://127.0.0.1:8786") from None
    return address


class Cluster:
    """A Dask distributed scheduler, connected to and checked before any work.

    ``Cluster(address)`` raises ``UsageError`` (one line) when the address is malformed or does not
    answer within ``CONNECT_TIMEOUT_S``, when no worker joins within ``WORKERS_TIMEOUT_S``, or when a
    worker cannot import this code or runs other versions of it (``fingerprint``). Use it as a context
    manager, or ``close()`` it.
    """

    def __init__(self, address: str, *, option: str = "--scheduler", timeout: float = CONNECT_TIMEOUT_S,
                 workers_timeout: float = WORKERS_TIMEOUT_S) -> None:
        Client = _distributed(option).Client
        self.address, self.option = check_address(option, address), option
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except OSError as exc:
            raise UsageError(f"{option} {address!r}: cannot reach a Dask scheduler there within {timeout:g} s "
                             f"({' '.join(str(exc).split()) or type(exc).__name__}); expected the address of a "
                             "running `dask scheduler`, e.g. tcp://127.0.0.1:8786") from None
        try:
            self._check(workers_timeout)
        except BaseException:
            self.close()
            raise

    def _check(self, workers_timeout: float) -> None:
        if not self.client.scheduler_info(n_workers=-1).get("workers"):
            try:
                self.client.wait_for_workers(1, timeout=workers_timeout)
            except TimeoutError:
                raise UsageError(f"{self.option} {self.address!r}: no worker joined the scheduler within "
                                 f"{workers_timeout:g} s; start some with `dask worker {self.address}`") from None
        mine = fingerprint()
        theirs = self.everywhere(fingerprint)
        if theirs != mine:
            differ = [f"{k} {theirs.get(k)} there, {mine.get(k)} here" for k in mine if theirs.get(k) != mine.get(k)]
            hint = "; restart them (a worker keeps the code it imported)" if "source" in differ[0] else ""
            raise UsageError(f"{self.option} {self.address!r}: the workers run other code or versions than this "
                             f"process ({'; '.join(differ)}), so their figures would not be this code's{hint}")

    def everywhere(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` run on every worker now; its one answer, or UsageError if a worker fails or the
        workers answer differently."""
        answers = self.client.run(fn, *args, on_error="return")
        for worker, answer in answers.items():
            if isinstance(answer, BaseException):
                raise UsageError(f"{self.option} {self.address!r}: worker {worker} cannot run this code "
                                 f"({type(answer).__name__}: {' '.join(str(answer).split())[:200]}); install "
                                 "manual-bp in the workers' environment")
        distinct = {repr(a): a for a in answers.values()}
        if len(distinct) > 1:
            raise UsageError(f"{self.option} {self.address!r}: the workers differ among themselves: "
                             + "; ".join(sorted(distinct))[:300])
        return next(iter(distinct.values()))

    def describe(self) -> str:
        info = self.client.scheduler_info(n_workers=-1)
        workers = info.get("workers", {})
        threads = sum(int(w.get("nthreads", 0)) for w in workers.values())
        return f"Dask scheduler {self.address} ({len(workers)} workers, {threads} threads)"

    def run(self, tasks: Sequence[Task], name: str = "manual-bp") -> Iterator[Any]:
        """Each task's result as it completes, computed on the cluster's workers. An exception or an
        interrupt here cancels every task of this run; a task the cluster gave up on (its workers kept
        dying: ``KilledWorker``) or lost (the scheduler went away) is a UsageError naming the scheduler."""
        from distributed import as_completed as completed

        token = uuid.uuid4().hex[:12]
        futures = [self.client.submit(fn, *args, key=f"{name}-{token}-{i}", retries=0)
                   for i, (fn, args) in enumerate(tasks)]
        try:
            for future in completed(futures, loop=self.client.loop):
                try:
                    result = future.result()
                except Exception as exc:
                    lost = self._lost(exc)
                    if lost is None:
                        raise
                    raise UsageError(f"{self.option} {self.address!r}: {lost}") from None
                future.release()
                yield result
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.cancel(futures, force=True)
            raise

    @staticmethod
    def _lost(exc: Exception) -> str | None:
        """Why the cluster lost a task (not the task's own exception), or None."""
        from distributed import CancelledError
        from distributed.scheduler import KilledWorker

        if isinstance(exc, KilledWorker):
            return (f"a task was given up after its workers died while running it ({exc}); see "
                    "distributed.scheduler.allowed-failures")
        if isinstance(exc, CancelledError | OSError):
            return f"the cluster lost the run ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
        return None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close(timeout=2)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def results(tasks: Sequence[Task], *, jobs: int, cluster: Cluster | None = None,
            name: str = "manual-bp") -> Iterator[Any]:
    """Each task's result as it completes, on the engine these settings choose: the cluster if given,
    else a local pool of ``jobs`` processes, else (one job) this process."""
    if cluster is not None:
        return cluster.run(tasks, name)
    return in_process(tasks) if jobs == 1 else local_pool(tasks, jobs)
