"""The worker side of isolation: load a candidate, call it on fresh copies, answer with plain data.

This module imports the standard library and NumPy only (never ``references`` or the rest of
``bpcheck``), so in the worker process the candidate's own modules import as they would for the
user, even one called ``references.py``, and nothing the candidate does at import or call time
(``np.seterr``, print options, monkeypatching NumPy, ``os.chdir``, signal handlers) reaches the
checker's own arithmetic, which runs in another process.

A *plan* runs calls and yields one ``Reply`` per call. ``twice`` is the judge's plan: call, then call
again on fresh copies (a second answer that differs is state kept between calls). Every value that
leaves the worker is ``plain``: arrays (copied, as base ``ndarray``), lists, tuples, dicts, numbers,
strings, and ``Opaque`` for anything else, so unpickling an answer never imports the candidate's code.

The same plans run in-process (``isolate=False``), with the SIGALRM deadline of ``deadline``.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib
import importlib.util
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

# the bpcheck package: its frames are left out of a candidate's traceback
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_MAX_DEPTH = 6


class Opaque(NamedTuple):
    """A value that is not plain data (a tensor, a generator, an object array): only its type's name."""

    type_name: str


class Same(NamedTuple):
    """The second answer, when it equals the first bit for bit."""


class Reply(NamedTuple):
    """One call's outcome. ``kind``: "returned" (``value`` is the plain answer) or "raised" (``value`` is
    a one-line summary of the exception and ``exception`` its type's name); ``mutated``: the index path
    of the first argument array the call modified in place, e.g. (0, 1, 0) for args[0][1][0], or None;
    ``more``: whether the plan has another reply to come; ``case``: which of the request's cases it
    answers (plans over several cases)."""

    kind: str
    value: Any
    mutated: tuple[int | str, ...] | None = None
    exception: str | None = None
    more: bool = False
    case: int = 0


class LoadError(Exception):
    """The candidate cannot be loaded: the message says why, in one line."""


class CandidateTimeout(Exception):
    """The candidate did not return within the in-process deadline."""


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as plain data (see the module docstring); never runs the candidate's code."""
    if value is None or isinstance(value, bool | int | float | complex | str | bytes | np.generic):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            return Opaque(f"numpy array of dtype {value.dtype}")
        return np.array(value, copy=True, subok=False)
    if depth >= _MAX_DEPTH:
        return Opaque(type(value).__name__)
    if type(value) in (list, tuple):
        return type(value)(plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return {k if isinstance(k, str | int) else repr(type(k)): plain(v, depth + 1) for k, v in value.items()}
    return Opaque(type(value).__name__)


def _equal_arrays(a: np.ndarray, b: Any) -> bool:
    """Bit for bit: same dtype, shape and bytes (so NaN equals NaN, and −0.0 differs from 0.0)."""
    return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def same(a: Any, b: Any) -> bool:
    """Whether two plain values are equal bit for bit."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return _equal_arrays(a, b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and a != a:
        return b != b
    return bool(a == b)


def fresh(value: Any) -> Any:
    """A copy of the arguments that the candidate may do anything with: arrays copied, containers rebuilt."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) in (list, tuple):
        return type(value)(fresh(v) for v in value)
    if type(value) is dict:
        return {k: fresh(v) for k, v in value.items()}
    return value


def changed(before: Any, after: Any, path: tuple[int | str, ...] = ()) -> tuple[int | str, ...] | None:
    """The path of the first array of ``before`` that differs in ``after`` (its copy given to a call)."""
    if isinstance(before, np.ndarray):
        return None if _equal_arrays(before, after) else path
    if type(before) in (list, tuple):
        if type(after) is not type(before) or len(after) != len(before):
            return path
        for i, (x, y) in enumerate(zip(before, after, strict=True)):
            found = changed(x, y, (*path, i))
            if found is not None:
                return found
    return None


def summarise_exception(exc: BaseException) -> str:
    """``Type: message (at file:line in function; …)``, the candidate's own last three frames."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(PACKAGE_DIR)]
    where = "; ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}" for f in frames[-3:])
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a candidate's exception whose __str__ fails
        text = "(its message could not be read)"
    summary = f"{type(exc).__name__}: {text}" + (f" (at {where})" if where else "")
    if isinstance(exc, MemoryError):
        summary = f"ran out of memory ({summary})"
    return summary


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """In-process only: raise CandidateTimeout in the main thread after ``seconds`` (SIGALRM, POSIX).

    Between Python bytecodes, so a single long NumPy operation finishes first, and a candidate that
    catches every exception can swallow it: the worker process is the robust way."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or not seconds or seconds <= 0:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise CandidateTimeout(f"the call did not return within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call(fn: Callable[..., Any], args: tuple[Any, ...], in_process: float | None = None) -> Reply:
    """``fn(*args)`` on fresh copies, NumPy's warnings silenced (a warning is no verdict).

    ``in_process``: None in the worker process (the supervisor keeps time); in the checker's own
    process, the deadline in seconds, and a KeyboardInterrupt is the user's Ctrl-C, not an answer.
    """
    given = fresh(args)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"), deadline(in_process):
            warnings.simplefilter("ignore")
            out = fn(*given)
    except BaseException as exc:  # noqa: BLE001 - any failure of the candidate is an answer
        if isinstance(exc, KeyboardInterrupt) and in_process is not None:
            raise
        return Reply("raised", summarise_exception(exc), changed(args, given), type(exc).__name__)
    return Reply("returned", plain(out), changed(args, given))


def twice(fn: Callable[..., Any], args: tuple[Any, ...], in_process: float | None = None) -> Iterator[Reply]:
    """The judge's plan: call, and if that returned, call again on fresh copies; the second value is
    ``Same()`` when it equals the first bit for bit."""
    first = call(fn, args, in_process)
    if first.kind != "returned":
        yield first
        return
    yield first._replace(more=True)
    second = call(fn, args, in_process)
    if second.kind == "returned" and same(first.value, second.value):
        second = second._replace(value=Same())
    yield second


def twice_each(fn: Callable[..., Any], batch: list[tuple[Any, ...]],
               in_process: float | None = None) -> Iterator[Reply]:
    """``twice`` on each of several cases, in order (one request, one wake-up of the worker for them
    all); every reply says which case it answers."""
    for j, args in enumerate(batch):
        for reply in twice(fn, args, in_process):
            yield reply._replace(case=j, more=reply.more or j < len(batch) - 1)


def _layer_once(forward: Callable[..., Any], backward: Callable[..., Any] | None, args: tuple[Any, ...],
                in_process: float | None) -> Reply:
    """One forward (and backward) of a layer in the CS231n API, on fresh copies. ``args`` is
    (forward's arguments, dout, scalar): a scalar kind's forward returns (loss, dx) and has no backward;
    the others' returns (out, cache), and backward(dout, cache) gives the gradients. The value is
    {"forward": out (the cache stays here), "backward": the gradients, "problem": why backward was not
    called, or None}; a raised exception's summary says which of the two raised."""
    fwd_args, dout, scalar = args
    given = fresh((fwd_args, dout))
    stage = "forward"
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"), deadline(in_process):
            warnings.simplefilter("ignore")
            result = forward(*given[0])
            if scalar or backward is None:
                value = {"forward": plain(result), "backward": None, "problem": None}
            elif type(result) in (tuple, list) and len(result) == 2:
                stage = "backward"
                grads = backward(given[1], result[1])
                value = {"forward": plain(result[0]), "backward": plain(grads), "problem": None}
            else:
                value = {"forward": plain(result), "backward": None,
                         "problem": f"forward returned {_shape_of(result)}, not an (out, cache) pair"}
    except BaseException as exc:  # noqa: BLE001 - any failure of the candidate is an answer
        if isinstance(exc, KeyboardInterrupt) and in_process is not None:
            raise
        return Reply("raised", f"in {stage}: {summarise_exception(exc)}", changed((fwd_args, dout), given),
                     type(exc).__name__)
    return Reply("returned", value, changed((fwd_args, dout), given))


def _shape_of(value: Any) -> str:
    if type(value) in (tuple, list):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"


def layer_twice(functions: tuple[Callable[..., Any], ...], args: tuple[Any, ...],
                in_process: float | None = None) -> Iterator[Reply]:
    """check-layer's plan: forward then backward, twice (the second value ``Same()`` when equal)."""
    forward, backward = functions[0], (functions[1] if len(functions) > 1 else None)
    first = _layer_once(forward, backward, args, in_process)
    if first.kind != "returned":
        yield first
        return
    yield first._replace(more=True)
    second = _layer_once(forward, backward, args, in_process)
    if second.kind == "returned" and same(first.value, second.value):
        second = second._replace(value=Same())
    yield second


def _one(plan: Callable[..., Iterator[Reply]]) -> Callable[..., Iterator[Reply]]:
    """A plan of one function, called with the tuple of the request's functions."""
    def run(functions: tuple[Callable[..., Any], ...], args: tuple[Any, ...],
            in_process: float | None = None) -> Iterator[Reply]:
        return plan(functions[0], args, in_process)

    return run


# a request names its plan and the candidate's functions it uses, by name, in order
PLANS: dict[str, Callable[..., Iterator[Reply]]] = {"twice": _one(twice), "twice_each": _one(twice_each),
                                                    "layer_twice": layer_twice}


# --- the worker process ---------------------------------------------------------------------------

def load(source: tuple[Any, ...]) -> dict[str, Callable[..., Any]]:
    """The candidate's functions by name. ``source`` is ("file", path, path_entries, *names),
    ("several", (source, …), ()),
    ("module", module, path_entries, *names) or ("pickled", data, path_entries, name): a function
    pickled by the checker (cloudpickle: by reference when importable, by value otherwise).
    ``path_entries`` (a tuple of directories) go first on ``sys.path``, in that order. A name is the
    module's attribute, or an (alias, attribute) pair: the function is then known by the alias."""
    kind, where, path_entries, *names = source
    sys.path[:0] = [p for p in path_entries if p not in sys.path]
    if kind == "several":  # a candidate of several functions from several places (check-layer's)
        return {alias: fn for part in where for alias, fn in load(part).items()}
    if kind == "pickled":
        import pickle

        try:
            return {names[0]: pickle.loads(where)}  # noqa: S301 - bytes made by the checker itself
        except BaseException as exc:  # noqa: BLE001
            raise LoadError(f"cannot load the candidate in its worker: {type(exc).__name__}: {exc}") from None
    try:
        if kind == "file":
            spec = importlib.util.spec_from_file_location("_manual_bp_candidate", where)
            if spec is None or spec.loader is None:
                raise LoadError(f"cannot import {where}: not a Python file")
            module = importlib.util.module_from_spec(spec)
            sys.modules["_manual_bp_candidate"] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except LoadError:
        raise
    except BaseException as exc:  # noqa: BLE001 - the user's module failed to import, SystemExit included
        what = where if kind == "file" else f"module {where!r}"
        raise LoadError(f"cannot import {what}: {type(exc).__name__}: {exc}") from None
    out = {}
    for entry in names:
        alias, name = (entry, entry) if isinstance(entry, str) else entry
        if not hasattr(module, name):
            raise LoadError(f"{where} has no attribute {name!r}")
        fn = getattr(module, name)
        if not callable(fn):
            raise LoadError(f"{where}:{name} is not callable (it is a {type(fn).__name__})")
        out[alias] = fn
    return out


def _quiet(output_path: str | None) -> None:
    """The candidate's prints go to a file the supervisor reads on a crash, never to our stdout."""
    target = os.open(output_path or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(target, 1)
    os.dup2(target, 2)
    os.close(target)


def serve(conn: Any, source: tuple[Any, ...], output_path: str | None) -> None:
    """The worker's main loop: load the candidate, answer "ready" (or why not), then run plans.

    A request is (plan name, the names of the functions it uses, args); each Reply is sent as soon as its call returns
    (``more`` says whether another follows).
    SIGINT is ignored (Ctrl-C is the checker's to handle); a crash dumps the Python stack to the output
    file (faulthandler), which the supervisor quotes.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _quiet(output_path)
    faulthandler.enable()
    try:
        functions = load(source)
    except BaseException as exc:  # noqa: BLE001 - the import failed: say why, once
        conn.send(("failed", str(exc) if isinstance(exc, LoadError) else f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        plan, names, args = request
        for reply in PLANS[plan](tuple(functions[n] for n in names), args):
            conn.send(reply)
