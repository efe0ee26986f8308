"""Source lines for tracebacks inside a component.

At run time a component has no files (the host gives it no filesystem), so `traceback` cannot
read the pack's source and would print bare `File "app.py", line 12` lines. componentize-py
imports the pack at build time, where the files exist, and snapshots the interpreter: reading a
module's source into `linecache` then, with no modification time, keeps it in the snapshot, and
`linecache.checkcache` leaves such entries alone (it only re-checks entries that have a time).
Natively this does nothing: the files are there.
"""

from __future__ import annotations

import linecache
import sys
from typing import Any

IN_COMPONENT = sys.platform == "wasi"


def keep_source(obj: Any) -> None:
    """Keeps the source of the file defining `obj` (a function or module) for tracebacks."""
    if not IN_COMPONENT:
        return
    code = getattr(obj, "__code__", None)
    filename = code.co_filename if code is not None else getattr(obj, "__file__", None)
    if filename:
        keep_file(filename)


def keep_file(filename: str) -> None:
    if filename in linecache.cache and linecache.cache[filename][1] is None:
        return
    try:
        with open(filename, encoding="utf-8") as f:
            lines = f.readlines()
    except (OSError, UnicodeDecodeError):
        return
    linecache.cache[filename] = (sum(map(len, lines)), None, lines, filename)
