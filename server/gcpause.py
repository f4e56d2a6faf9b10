"""Pausing Python's cyclic garbage collector around the big steps of a button.

A 5,000-manager Score keeps millions of objects alive (payload, tables, engine input and
result, plan) while it allocates millions more, none of them in a reference cycle; the
collector's passes would walk that whole heap again and again (~40% of the button's CPU,
issue #3). Reference counting still frees everything at once; the few cycles a request makes
are collected after it.

One counted pause for the whole process: nested pauses (a button around its stages) and
several threads (gthread workers) share it, and the collector comes back when the last one
ends, as it was before the first.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()
_PAUSES = 0
_WAS_ENABLED = True


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    global _PAUSES, _WAS_ENABLED
    with _LOCK:
        if _PAUSES == 0:
            _WAS_ENABLED = gc.isenabled()
            gc.disable()
        _PAUSES += 1
    try:
        yield
    finally:
        with _LOCK:
            _PAUSES -= 1
            if _PAUSES == 0 and _WAS_ENABLED:
                gc.enable()
