"""``python -m bpcheck``: the ``manual-bp`` command.

``-m`` puts the current directory first on ``sys.path``; a user's file there named like one of our
modules (``references.py``) would shadow it, so that entry goes before anything of ours is imported.
"""

import os
import sys

if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from bpcheck.cli import run  # noqa: E402

run()
