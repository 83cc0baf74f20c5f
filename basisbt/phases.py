"""Where a command's wall time goes, for `make bench` (docs/bench.md); off unless BASISBT_PHASES names a file.

`with phase("write equity.parquet"):` times a block; at exit the phases (name, seconds, thread) are
appended to that file as one JSON line. `started()` records the start-up (interpreter and imports) as the
time since BASISBT_PHASES_T0, the `time.time()` at which the bench launched the process. Costs nothing
when off: `phase` then returns a shared null context.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

_FILE = os.environ.get("BASISBT_PHASES")
_ROWS: list[tuple[str, float, str]] = []
_LAP = [0.0]                      # perf_counter of started() or the last lap()
_OFF = contextlib.nullcontext()


def enabled() -> bool:
    """True when BASISBT_PHASES is set (the bench is measuring this process)."""
    return bool(_FILE)


@contextlib.contextmanager
def _timed(name: str) -> Iterator[None]:
    t = time.perf_counter()
    try:
        yield
    finally:
        _ROWS.append((name, time.perf_counter() - t, threading.current_thread().name))


def phase(name: str) -> contextlib.AbstractContextManager[Any]:
    """A context manager timing the block as phase `name` (a no-op unless enabled)."""
    return _timed(name) if _FILE else _OFF


def started() -> None:
    """Record the start-up: time since the bench launched the process (BASISBT_PHASES_T0)."""
    t0 = os.environ.get("BASISBT_PHASES_T0")
    _LAP[0] = time.perf_counter()
    if _FILE and t0:
        _ROWS.append(("start-up and imports", time.time() - float(t0), threading.current_thread().name))


def lap(name: str) -> None:
    """Record the time since started() or the previous lap() as phase `name` (for code not in one block)."""
    now = time.perf_counter()
    if _FILE and _LAP[0]:
        _ROWS.append((name, now - _LAP[0], threading.current_thread().name))
    _LAP[0] = now


def _dump() -> None:
    if _FILE and _ROWS:
        with open(_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps([{"phase": n, "s": s, "thread": th} for n, s, th in _ROWS]) + "\n")


atexit.register(_dump)
