"""Errors of the command line, in a module of their own so ``python -m bpcheck.cli`` and the installed
``manual-bp`` script raise and catch the same class."""


class UsageError(Exception):
    """A bad command line or an unusable input: exit 2 with one line."""
