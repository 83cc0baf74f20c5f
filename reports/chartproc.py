"""Draw the report's charts on two processes: a forked helper draws every other chart while this one draws
the rest (and the tables are written on a thread); matplotlib holds the GIL, so threads would not help.

The helper is a fork of this process: it sees the Results without copying or pickling them, and what it
draws is byte for byte what this process would draw. It sends back base64 PNGs through a pipe. Anything
that goes wrong in it (an exception, a crash, no answer within the time limit) only means this process
draws those charts itself, so an error surfaces here, as it would without a helper. Linux only (fork after
threads are safe there for what the helper does: matplotlib, numpy, pandas); elsewhere, on one core, or
with BASISBT_CHART_HELPER=0, every chart is drawn here. The helper dies with its parent (PR_SET_PDEATHSIG).
"""
from __future__ import annotations

import os
import pickle
import select
import signal
import sys
import time
from typing import Any

from basisbt.engine.results import Results
from basisbt.phases import phase

_FAILED = "\0failed"          # a chart the helper could not draw: drawn (and its error raised) by the parent
MIN_WAIT_S = 30.0             # the helper's time limit: this, or 4x what this process took for its share


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def helper_allowed(n_charts: int) -> bool:
    """True when a forked helper can take half of `n_charts` charts (Linux, 2+ cores, not turned off)."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork") and n_charts > 1 and _cores() > 1
            and os.environ.get("BASISBT_CHART_HELPER", "1") != "0")


class ChartHelper:
    """A forked process drawing the charts named `keys`; collect() returns {key: base64 PNG or None}."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self.fd = pid, fd

    @classmethod
    def start(cls, results: Results, dpi: int, keys: list[str]) -> ChartHelper | None:
        """Fork the helper; None when forking fails (this process then draws everything)."""
        r, w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            return None
        if pid == 0:                                   # the helper: draw, send, vanish (no atexit, no flush)
            code = 1
            try:
                os.close(r)
                _child_setup()
                _send(w, _draw(results, dpi, keys))
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        return cls(pid, r)

    def stop(self) -> None:
        """Kill and reap the helper (its charts are not wanted)."""
        os.close(self.fd)
        _kill(self.pid)
        os.waitpid(self.pid, 0)

    def collect(self, timeout: float) -> dict[str, Any]:
        """The helper's charts ({} when it failed or ran out of time; it is then killed)."""
        chunks, ok = [], False
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    break
                block = os.read(self.fd, 1 << 20)
                if not block:
                    ok = True
                    break
                chunks.append(block)
        finally:
            os.close(self.fd)
            if not ok:
                _kill(self.pid)
            _, status = os.waitpid(self.pid, 0)
        if not ok or status != 0:
            return {}
        try:
            out = pickle.loads(b"".join(chunks))
        except Exception:
            return {}
        return out if isinstance(out, dict) else {}


def _child_setup() -> None:
    """Ctrl-C kills the helper at once; so does its parent's death (Linux prctl PR_SET_PDEATHSIG)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)      # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def _draw(results: Results, dpi: int, keys: list[str]) -> dict[str, Any]:
    from basisbt.reports import html, plots
    out: dict[str, Any] = {}
    for key, _, build in plots.chart_builders(results):
        if key not in keys:
            continue
        try:
            fig = build(results, dpi)
            out[key] = None if fig is None else html.png_b64(fig, dpi)
        except Exception:
            out[key] = _FAILED
    return out


def _send(fd: int, out: dict[str, Any]) -> None:
    view = memoryview(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
    while view:
        view = view[os.write(fd, view):]
    os.close(fd)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class ChartJob:
    """The report's charts being drawn: started (the helper forked) before the caller starts any thread of its
    own, finished when the page is rendered."""

    def __init__(self, results: Results, dpi: int) -> None:
        from basisbt.reports import plots
        self.results, self.dpi = results, dpi
        self.builders = plots.chart_builders(results)
        theirs = [k for i, (k, _, _) in enumerate(self.builders) if i % 2 == 1] \
            if helper_allowed(len(self.builders)) else []
        self.helper = ChartHelper.start(results, dpi, theirs) if theirs else None
        self.theirs = theirs if self.helper is not None else []

    def _draw_here(self, key: str, build: Any, label: str) -> str | None:
        from basisbt.reports import html
        with phase(label):
            fig = build(self.results, self.dpi)
            return None if fig is None else html.png_b64(fig, self.dpi)

    def finish(self) -> list[tuple[str, str, str]]:
        """(anchor id, caption, base64 PNG) in page order; charts with nothing to draw are left out."""
        drawn: dict[str, Any] = {}
        t0 = time.perf_counter()
        for key, _, build in self.builders:
            if key not in self.theirs:
                drawn[key] = self._draw_here(key, build, f"chart {key}")
        if self.helper is not None:
            with phase("wait for the chart helper"):
                got = self.helper.collect(max(MIN_WAIT_S, 4 * (time.perf_counter() - t0)))
            self.helper = None
            for key, _, build in self.builders:     # what the helper did not draw is drawn here
                if key in self.theirs:
                    ok = key in got and got[key] != _FAILED
                    drawn[key] = got[key] if ok else self._draw_here(key, build, f"chart {key} (helper failed)")
        return [(k, c, drawn[k]) for k, c, _ in self.builders if drawn.get(k) is not None]

    def close(self) -> None:
        """Stop the helper if finish() was never reached (an error on the way): no process outlives the job."""
        if self.helper is not None:
            self.helper.stop()
            self.helper = None


def start_charts(results: Results, dpi: int) -> ChartJob:
    """Start drawing the report's charts: half on a forked helper when allowed (module docstring)."""
    return ChartJob(results, dpi)
