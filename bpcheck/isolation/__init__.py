"""Isolation: a candidate runs in a supervised worker process, so nothing it does takes the checker down.

- ``worker`` (runs in the worker process): loads the candidate, runs calls on fresh copies of their
  arguments, and answers with plain data (arrays, lists, numbers, ``Opaque`` for anything else). It
  imports the standard library and NumPy only, so no module of ours can shadow, or be shadowed by,
  the candidate's.
- ``supervisor`` (runs in the checker): starts the worker (and restarts it after a crash), sends
  requests, and turns a crash, a signal, a hang or memory exhaustion into an answer of its own, a
  ``Crash``.

This package's ``__init__`` imports nothing: the worker process imports ``bpcheck.isolation.worker``
alone.
"""
