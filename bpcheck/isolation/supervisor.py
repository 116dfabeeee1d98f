"""The checker's side of isolation: run a candidate's plans in a worker process, and survive it.

    with open_candidate(source, isolate=True, timeout=30, memory_limit_gib=4) as candidate:
        replies = candidate.submit("twice", "gradients", args)   # sent now: the checker works meanwhile
        first = next(replies)                                     # a worker.Reply, or a Crash

The worker is persistent: one process serves every call of a check, and it is restarted (lazily,
at the next request) after anything that ends it. What ends it becomes a ``Crash`` with a message:

| what the candidate did | ``Crash.message`` |
|---|---|
| ``os._exit(3)`` (or any exit of the process) | ``exited with status 3`` |
| a segfault, an abort, any fatal signal | ``killed by SIGSEGV`` (with the faulting Python frame, from faulthandler) |
| a call past the deadline, exceptions swallowed or not | ``did not return within 30 s`` (killed from outside) |
| resident memory past the limit | ``ran out of memory (limit 4 GiB)`` (killed from outside) |

Arrays cross by pickle over a pipe (protocol 5): measured, a small network's case and its gradients
make a round trip in well under a millisecond (README, "Isolation"). The worker starts from a fork
server that has NumPy and the worker module loaded, so a restart costs a fork and the candidate's
own import, not a fresh interpreter.

``isolate=False`` runs the same plans in this process (for debugging), with a SIGALRM deadline.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import sys
import sysconfig
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from bpcheck.errors import UsageError
from bpcheck.isolation import worker

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MEMORY_LIMIT_GIB = 4.0  # far above any case the checker builds (< 0.1 GiB), far below a machine's RAM
# after one call has run past the deadline, shrinking replays many cases that would too: they get this
SHRINK_TIMEOUT_S = 1.0
START_TIMEOUT_S = 120.0  # the candidate's own import (torch, say) at the worker's start
_FIRST_WAIT_S = 0.02     # a reply is usually there by now; after it, memory is watched while waiting
_POLL_S = 0.02
_GIB = 1 << 30


class Crash(NamedTuple):
    """The worker gave no answer to a call: the message says why (see the module docstring)."""

    message: str


Answer = worker.Reply | Crash


def _context() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["numpy", "bpcheck.isolation.worker"])
    return ctx


@contextlib.contextmanager
def interrupts_held_from_children() -> Iterator[None]:
    """Start child processes inside this: SIGINT is blocked while they start, and they inherit the
    blocked mask, so a Ctrl-C that reaches the whole process group never interrupts (and never prints a
    traceback from) a child; this process receives it when the block ends, and stops the children."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextlib.contextmanager
def _without_main_module() -> Iterator[None]:
    """While a worker starts, hide ``__main__`` from multiprocessing, which would otherwise re-run the
    user's script (or our own command line, and with it every module of ours) in the worker."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _resident_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _fault_site(output: str) -> str:
    """Where faulthandler says the worker crashed: the innermost frame outside this package and the
    standard library (else outside this package), as "file.py:12 in function"."""
    stdlib = sysconfig.get_paths()["stdlib"]
    frames = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith('File "'):
            path, _, rest = line[6:].partition('", line ')
            if not path.startswith(worker.PACKAGE_DIR):
                frames.append((path, f"{os.path.basename(path)}:{rest}"))
    own = [site for path, site in frames if not path.startswith(stdlib)]
    return (own or [site for _, site in frames] or [""])[0]


def _gib(value: float) -> str:
    return f"{value:g} GiB"


class Isolated:
    """A candidate in a supervised worker process (see the module docstring)."""

    def __init__(self, source: tuple[Any, ...], *, timeout: float = DEFAULT_TIMEOUT_S,
                 memory_limit_gib: float | None = DEFAULT_MEMORY_LIMIT_GIB) -> None:
        self.source = source
        self.timeout = float(timeout)
        self.memory_limit = None if memory_limit_gib is None else int(memory_limit_gib * _GIB)
        self.memory_limit_gib = memory_limit_gib
        self.timed_out = False  # once a call has timed out, later calls get SHRINK_TIMEOUT_S
        self.starts = 0
        self._dir = tempfile.mkdtemp(prefix="manual-bp-worker-")
        self._output = os.path.join(self._dir, "output")
        self._proc: Any = None
        self._conn: Any = None
        self._pending = False  # replies of an earlier request still to be read

    # -- life cycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker and load the candidate in it; UsageError if its import fails."""
        ctx = _context()
        self.starts += 1
        with open(self._output, "wb"):
            pass  # each worker's output file starts empty: a crash report quotes this worker's only
        parent, child = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(target=worker.serve, args=(child, self.source, self._output), daemon=True,
                                 name="manual-bp candidate")
        with _without_main_module(), interrupts_held_from_children():
            self._proc.start()
        child.close()
        self._conn = parent
        self._pending = False
        answer = self._receive(START_TIMEOUT_S)
        if isinstance(answer, Crash):
            self.close()
            raise UsageError(f"cannot import {self._where()}: the import {answer.message}")
        status, message = answer
        if status == "failed":
            self.close()
            raise UsageError(message)

    def _where(self) -> str:
        kind, where, _, *names = self.source
        return str(where) if kind in ("file", "module") else "the candidate"

    def _ensure(self) -> None:
        if self._proc is None or not self._proc.is_alive():
            self._stop()
            self.start()

    def _stop(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(Exception):
                if self._proc.is_alive():
                    self._proc.kill()
                self._proc.join(5)
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._proc = self._conn = None
        self._pending = False

    def close(self) -> None:
        """Stop the worker (killed: it may be stuck in the candidate) and remove its files."""
        self._stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Isolated:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- calls -------------------------------------------------------------------------------------
    @property
    def deadline(self) -> float:
        return min(self.timeout, SHRINK_TIMEOUT_S) if self.timed_out else self.timeout

    def submit(self, plan: str, names: str | tuple[str, ...], args: tuple[Any, ...]) -> Iterator[Answer]:
        """Send a request now: the plan, the candidate's functions it uses (by name, in order), its
        arguments. The returned iterator yields one answer per call of the plan as it comes."""
        request = (plan, (names,) if isinstance(names, str) else tuple(names), args)
        self._drain()
        self._ensure()
        try:
            self._conn.send(request)
        except (BrokenPipeError, OSError):
            self._stop()
            self._ensure()
            self._conn.send(request)
        self._pending = True
        return self._replies()

    def _replies(self) -> Iterator[Answer]:
        while self._pending:
            answer = self._receive(self.deadline)
            if isinstance(answer, Crash):
                self._stop()
                yield answer
                return
            self._pending = answer.more
            yield answer

    def _drain(self) -> None:
        """Read what an earlier request still has to say; a worker that does not say it is restarted."""
        if self._pending:
            for answer in self._replies():
                if isinstance(answer, Crash):
                    break

    def _receive(self, seconds: float) -> Any:
        """The next message from the worker, or a Crash: it exited, ran past ``seconds`` or its memory."""
        conn, proc = self._conn, self._proc
        start = time.monotonic()
        wait = min(_FIRST_WAIT_S, seconds)
        while True:
            try:
                if conn.poll(wait):
                    return conn.recv()
            except (EOFError, OSError):
                return self._crashed()
            if not proc.is_alive():
                return self._crashed()
            if self.memory_limit is not None:
                rss = _resident_bytes(proc.pid)
                if rss is not None and rss > self.memory_limit:
                    proc.kill()
                    proc.join(5)
                    limit = _gib(self.memory_limit_gib or 0)
                    return Crash(f"the candidate's process ran out of memory (limit {limit})")
            left = seconds - (time.monotonic() - start)
            if left <= 0:
                proc.kill()
                proc.join(5)
                return Crash(self._timeout_message(seconds))
            wait = min(_POLL_S, left)

    def _timeout_message(self, seconds: float) -> str:
        return timeout_message(self, seconds)

    def _crashed(self) -> Crash:
        proc = self._proc
        proc.join(5)
        code = proc.exitcode
        if code is None:
            proc.kill()
            proc.join(5)
            return Crash("the candidate's process stopped answering")
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            message = f"the candidate's process was killed by {name}"
        else:
            message = f"the candidate's process exited with status {code}"
        site = _fault_site(self._output_tail())
        return Crash(message + (f" (at {site})" if site else ""))

    def _output_tail(self, limit: int = 8192) -> str:
        try:
            with open(self._output, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - limit))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def timeout_message(candidate: Isolated | InProcess, seconds: float) -> str:
    """What a call that ran past ``seconds`` is told; the first sets ``timed_out`` (shorter deadlines after)."""
    if candidate.timed_out and seconds < candidate.timeout:
        return (f"the call did not return within {seconds:g} s (the deadline while shrinking, after a call "
                f"had run past {candidate.timeout:g} s)")
    candidate.timed_out = True
    return f"the call did not return within {seconds:g} s"


class InProcess:
    """The same plans in this process (``isolate=False``), with a SIGALRM deadline (POSIX, main thread)."""

    def __init__(self, functions: dict[str, Callable[..., Any]], *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.functions = functions
        self.timeout = float(timeout)
        self.timed_out = False

    @property
    def deadline(self) -> float:
        return min(self.timeout, SHRINK_TIMEOUT_S) if self.timed_out else self.timeout

    def submit(self, plan: str, names: str | tuple[str, ...], args: tuple[Any, ...]) -> Iterator[Answer]:
        seconds = self.deadline
        functions = tuple(self.functions[n] for n in ((names,) if isinstance(names, str) else names))
        for reply in worker.PLANS[plan](functions, args, seconds):
            if reply.exception == "CandidateTimeout":
                yield Crash(timeout_message(self, seconds))
                return
            yield reply

    def close(self) -> None:
        pass

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


Candidate = Isolated | InProcess


def pickled_source(fn: Callable[..., Any], name: str = "gradients") -> tuple[Any, ...]:
    """A function as the worker can load it: cloudpickled (by reference when it is importable by its
    module and name, by value otherwise: a lambda, a closure, a function of ``__main__``), with this
    process's ``sys.path`` so the worker imports what it refers to from the same places."""
    import cloudpickle

    try:
        data = cloudpickle.dumps(fn)
    except Exception as exc:  # noqa: BLE001 - e.g. a closure over a lock or an open file
        raise ValueError(f"fn cannot be sent to the isolated worker process ({type(exc).__name__}: {exc}); "
                         "pass isolate=False to check it in this process") from None
    return ("pickled", data, tuple(p for p in sys.path if p), name)


def target_source(target: Any, alias: str) -> tuple[Any, ...]:
    """A ``bpcheck.check.target.Target`` as the worker loads it: the file or the module, its directory
    first on ``sys.path``, the function known there as ``alias``."""
    entries = (target.sys_path,) if target.sys_path else ()
    if target.path is not None:
        return ("file", target.path, entries, (alias, target.name))
    return ("module", target.module, entries, (alias, target.name))
