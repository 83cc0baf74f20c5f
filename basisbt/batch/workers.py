"""Worker processes of a local sweep or stress pool: they leave Ctrl-C to the parent and die with it.

Ctrl-C reaches every process of the terminal's foreground group. Workers ignore it, so the parent alone
stops the batch, terminates them and prints one line (no traceback from each worker). A parent killed outright
(kill -9, the OOM killer) cannot clean up, so each worker watches for it twice over: Linux's
PR_SET_PDEATHSIG kills the worker when its own parent (the pool's forkserver, which exits when the batch's
process is gone) dies, and a thread waits on the batch process itself (a pidfd where the kernel has one,
else a poll every half second) and ends the worker the moment it is gone. No orphan outlives the command.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import sys
import threading
import time
from typing import Any

PR_SET_PDEATHSIG = 1          # <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: ignore Ctrl-C, die with the forkserver (prctl) and with `parent_pid` (a thread)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):      # pragma: no cover - no libc prctl
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if not _alive(parent_pid):                 # it died before the watch began
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid,), name="basisbt-parent-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:                    # pragma: no cover - a pid reused by another user
        return True
    return True


def _watch(pid: int) -> None:
    """Exit this process as soon as process `pid` has ended."""
    ppid = os.getppid()
    try:
        fd: Any = os.pidfd_open(pid)           # readable once the process has ended (zombie included)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])
        os._exit(1)
    while _alive(pid) and os.getppid() == ppid:   # a zombie parent still answers kill 0: the forkserver does not
        time.sleep(0.5)
    os._exit(1)


def stop_pool(pool: Any) -> None:
    """Terminate a ProcessPoolExecutor's workers now (they ignore Ctrl-C) and drop its queued work."""
    for p in list(getattr(pool, "_processes", {}).values()):
        with contextlib.suppress(OSError, ValueError):          # pragma: no cover - already gone
            p.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
