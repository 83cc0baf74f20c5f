"""User code under guard: a time limit on every strategy call, and Ctrl-C told apart from a strategy that raises.

A strategy hook (one decision) that runs longer than `RunConfig.timeout` seconds is stopped: `HookTimeout` is
raised inside it, and the engine reports it as a strategy error naming the hook, the time and the limit. The
watch costs one `time.monotonic()` call per hook; what fires is
- in the main thread, a periodic SIGALRM timer (it also interrupts a hook blocked in `time.sleep`);
- elsewhere (a Dask worker thread), a watchdog thread that raises `HookTimeout` in the hook's thread with
  `PyThreadState_SetAsyncExc` (a hook blocked inside one C call is stopped when that call returns).
If the hook swallows `HookTimeout` it is raised again every period, and the call is failed when it returns.

Ctrl-C: `install_sigint()` (the CLI calls it; a watched run installs it for its own duration when the default
handler is in place) marks a real SIGINT before raising KeyboardInterrupt, so `user_interrupt(e)` is True only
for the user's Ctrl-C. A KeyboardInterrupt or SystemExit a strategy raises itself is a strategy error.
"""
from __future__ import annotations

import ctypes
import signal
import threading
import time
from types import FrameType, TracebackType
from typing import Any

DEFAULT_TIMEOUT_S = 60.0      # --timeout default: no sane decision takes a minute; a hung one is stopped
MAX_TIMEOUT_S = 86_400.0


class HookTimeout(BaseException):
    """Raised inside a strategy call that ran past its time limit (a BaseException, so a strategy's own
    `except Exception` does not swallow it)."""


_SIGINT = {"seen": False}


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _SIGINT["seen"] = True
    raise KeyboardInterrupt


def install_sigint() -> None:
    """Mark real Ctrl-C presses (main thread only; a no-op elsewhere)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)


def user_interrupt(e: BaseException) -> bool:
    """True when `e` is the KeyboardInterrupt of a real Ctrl-C (not one a strategy raised itself)."""
    return isinstance(e, KeyboardInterrupt) and _SIGINT["seen"]


class Watch:
    """The time limit of one run's strategy calls. Use as a context manager around the run; set `since` to
    `time.monotonic()` when user code starts and to None when it returns (two attribute writes: this runs at
    every decision); `fired` says the limit was hit. From the watchdog thread the timeout may land just after
    the call returned: it is still a call that ran past the limit, and the engine reports it as one."""

    def __init__(self, limit_s: float) -> None:
        self.limit = float(limit_s)
        self.since: float | None = None
        self.fired = False
        self.period = min(1.0, max(self.limit / 4, 0.01))
        self._saved: dict[int, Any] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._target = 0

    def over(self) -> bool:
        """True while user code has been running for longer than the limit."""
        since = self.since
        return since is not None and time.monotonic() - since > self.limit

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if self.over():
            self.fired = True
            raise HookTimeout

    def _watchdog(self) -> None:
        while not self._stop.wait(self.period):
            if self.over():
                self.fired = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._target), ctypes.py_object(HookTimeout))

    def __enter__(self) -> Watch:
        _SIGINT["seen"] = False                    # a Ctrl-C before this run (a notebook) is not this run's
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                self._saved[signal.SIGINT] = signal.signal(signal.SIGINT, _on_sigint)
            self._saved[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.period, self.period)
        else:
            self._target = threading.get_ident()
            self._thread = threading.Thread(target=self._watchdog, name="basisbt-timeout", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.since = None
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        if signal.SIGALRM in self._saved:
            signal.setitimer(signal.ITIMER_REAL, 0.0, 0.0)
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
