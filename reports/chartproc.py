"""Draw the report's charts on two processes; matplotlib holds the GIL, so threads would not help.

Two ways, one interface (`start_charts(results, dpi)` then `.finish()`):

- **Split after the run** (any run, `Results.save`, `basisbt report`): a fork of this process draws every
  other chart while this one draws the rest (and the tables are written on a thread). The fork sees the
  RunResult without copying them.
- **Warmed before the run** (`basisbt run`, small runs): `prewarm()` forks a helper at the start of the
  command, which imports matplotlib and the report modules while this process loads numba and runs the
  backtest; it is then sent the RunResult (pickled, so only when the timeline is under PICKLE_LIMIT bytes:
  the default 3 weeks of hourly bars are 0.2 MB, a year of minute bars 200 MB) and draws every chart,
  half of them on a fork of its own. This process then never imports matplotlib. A larger run cancels the
  warmed helper and splits after the run.

What a helper draws is byte for byte what this process would draw. Anything that goes wrong in a helper
(an exception, a crash, no answer within its time limit) only means this process draws those charts
itself, so an error surfaces here, as it would without a helper. Linux only (fork after threads is safe
there for what a helper does: matplotlib, numpy, pandas); elsewhere, on one core, or with
BASISBT_CHART_HELPER=0, every chart is drawn here. A helper's stdout and stderr go to /dev/null (a pipe
reading the command's output ends with the command), and it dies with its parent (PR_SET_PDEATHSIG).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import select
import signal
import sys
import time
from typing import Any

from basisbt.data.phases import phase
from basisbt.engine.results import RunResult

_FAILED = "\0failed"          # a chart the helper could not draw: drawn (and its error raised) by the parent
MIN_WAIT_S = 30.0             # a helper's time limit: this, or 4x what this process took for its share
WARM_WAIT_S = 60.0            # the warmed helper's time limit once it has the RunResult
PICKLE_LIMIT = 16 << 20       # timeline bytes up to which the Results are sent to the warmed helper


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def helper_allowed(n_charts: int = 2) -> bool:
    """True when a forked helper can take half of `n_charts` charts (Linux, 2+ cores, not turned off)."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork") and n_charts > 1 and _cores() > 1
            and os.environ.get("BASISBT_CHART_HELPER", "1") != "0")


def _fork() -> tuple[int, int, int] | None:
    """(pid, read fd, write fd) of a pipe shared with a new fork; None when forking fails."""
    r, w = os.pipe()
    try:
        return os.fork(), r, w
    except OSError:
        os.close(r)
        os.close(w)
        return None


def _child_setup() -> None:
    """In a helper: Ctrl-C kills it at once, so does its parent's death; its output goes nowhere."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)      # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)


def _send(fd: int, obj: Any) -> None:
    view = memoryview(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    while view:
        view = view[os.write(fd, view):]
    os.close(fd)


def _receive(fd: int, deadline: float) -> Any:
    """The object pickled into fd until EOF; None when the deadline passes first or it does not unpickle."""
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        block = os.read(fd, 1 << 20)
        if not block:
            break
        chunks.append(block)
    try:
        return pickle.loads(b"".join(chunks))
    except Exception:
        return None


def _reap(pid: int, kill: bool, grace_s: float = 5.0) -> None:
    """Wait for a helper to exit: at once (SIGKILL) when `kill`, else after at most grace_s (it has answered and
    is leaving; a helper stuck on its way out is killed then)."""
    deadline = time.monotonic() + (0.0 if kill else grace_s)
    try:
        while not kill:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.002)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):      # already gone (or reaped elsewhere)
        pass


def _draw(results: RunResult, dpi: int, keys: list[str]) -> dict[str, Any]:
    from basisbt.reports import plots
    out: dict[str, Any] = {}
    for key, _, build in plots.chart_builders(results):
        if key not in keys:
            continue
        try:
            fig = build(results, dpi)
            out[key] = None if fig is None else plots.figure_png(fig, dpi)
        except Exception:
            out[key] = _FAILED
    return out


class ChartHelper:
    """A forked process drawing the charts named `keys`; collect() returns {key: PNG bytes or None}."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self.fd = pid, fd

    @classmethod
    def start(cls, results: RunResult, dpi: int, keys: list[str]) -> ChartHelper | None:
        """Fork the helper; None when forking fails (this process then draws everything)."""
        forked = _fork()
        if forked is None:
            return None
        pid, r, w = forked
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
        _reap(self.pid, kill=True)

    def collect(self, timeout: float) -> dict[str, Any]:
        """The helper's charts ({} when it failed or ran out of time; it is then killed). A complete answer
        counts whatever the helper does next: it may still be on its way out when the pipe closes."""
        got = None
        try:
            got = _receive(self.fd, time.monotonic() + timeout)
        finally:
            os.close(self.fd)
            _reap(self.pid, kill=not isinstance(got, dict))
        return got if isinstance(got, dict) else {}


class WarmHelper:
    """A helper forked before the backtest (prewarm): it imports the report modules, then waits for the
    RunResult; send() hands them over, collect() returns the finished chart list."""

    def __init__(self, pid: int, job_fd: int, out_fd: int) -> None:
        self.pid, self.job_fd, self.out_fd = pid, job_fd, out_fd

    def send(self, results: RunResult, dpi: int) -> bool:
        """Hand it the RunResult; False when it is gone (then cancel() it and draw elsewhere)."""
        fd, self.job_fd = self.job_fd, -1
        try:
            _send(fd, (dataclasses.replace(results, records=None), dpi))
        except OSError:
            with contextlib.suppress(OSError):
                os.close(fd)
            return False
        return True

    def cancel(self) -> None:
        """No charts wanted: close its job pipe (it exits on the EOF) and reap it."""
        for fd in (self.job_fd, self.out_fd):
            if fd >= 0:
                os.close(fd)
        self.job_fd = self.out_fd = -1
        _reap(self.pid, kill=True)

    def collect(self) -> list[tuple[str, str, bytes]] | None:
        """Its charts, or None when it failed or ran out of time (it is killed then); a complete answer counts
        whatever the helper does next."""
        got = None
        try:
            got = _receive(self.out_fd, time.monotonic() + WARM_WAIT_S)
        finally:
            os.close(self.out_fd)
            self.out_fd = -1
            _reap(self.pid, kill=not isinstance(got, list))
        return got if isinstance(got, list) else None


def _start_warm() -> WarmHelper | None:
    """Fork the warmed helper: two pipes, the RunResult in, the charts out."""
    job_r, job_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        for fd in (job_r, job_w, out_r, out_w):
            os.close(fd)
        return None
    if pid == 0:
        code = 1
        try:
            os.close(job_w)
            os.close(out_r)
            _child_setup()
            from basisbt.reports import build, html, plots  # noqa: F401  (the point: import them now)
            job = _receive(job_r, time.monotonic() + 24 * 3600.0)
            if job is not None:                        # None: cancelled (EOF) or the parent is gone
                results, dpi = job
                chart_job = ChartJob(results, dpi)      # splits with a fork of its own
                try:
                    _send(out_w, chart_job.finish())
                finally:
                    chart_job.close()
            code = 0
        finally:
            os._exit(code)
    os.close(job_r)
    os.close(out_w)
    return WarmHelper(pid, job_w, out_r)


_WARM: list[WarmHelper] = []


def prewarm() -> None:
    """Fork the warmed chart helper now (basisbt run, before loading numba); start_charts() uses it."""
    if not _WARM and helper_allowed():
        helper = _start_warm()
        if helper is not None:
            _WARM.append(helper)


def _timeline_bytes(results: RunResult) -> int:
    tl = results.timeline
    return int(tl.memory_usage(index=True, deep=False).sum()) if results.has_frames else 0


class ChartJob:
    """The report's charts being drawn: started (a helper forked) before the caller starts any thread of
    its own, finished when the page is rendered."""

    def __init__(self, results: RunResult, dpi: int) -> None:
        self.results, self.dpi = results, dpi
        self.warm: WarmHelper | None = _WARM.pop() if _WARM else None
        self.helper: ChartHelper | None = None
        self.theirs: list[str] = []
        if self.warm is not None:
            if _timeline_bytes(results) <= PICKLE_LIMIT and self.warm.send(results, dpi):
                return
            self.warm.cancel()
            self.warm = None
        from basisbt.reports import plots
        builders = plots.chart_builders(results)
        if helper_allowed(len(builders)):
            theirs = [k for i, (k, _, _) in enumerate(builders) if i % 2 == 1]
            self.helper = ChartHelper.start(results, dpi, theirs)
            self.theirs = theirs if self.helper is not None else []

    def _draw_here(self, build: Any, label: str) -> bytes | None:
        from basisbt.reports import plots
        with phase(label):
            fig = build(self.results, self.dpi)
            return None if fig is None else plots.figure_png(fig, self.dpi)

    def finish(self) -> list[tuple[str, str, bytes]]:
        """(anchor id, caption, PNG bytes) in page order; charts with nothing to draw are left out."""
        if self.warm is not None:
            with phase("wait for the chart helper"):
                got = self.warm.collect()
            self.warm = None
            if got is not None:
                return got
        from basisbt.reports import plots  # matplotlib, here only when this process draws
        builders = plots.chart_builders(self.results)
        drawn: dict[str, Any] = {}
        t0 = time.perf_counter()
        for key, _, build in builders:
            if key not in self.theirs:
                drawn[key] = self._draw_here(build, f"chart {key}")
        if self.helper is not None:
            with phase("wait for the chart helper"):
                got = self.helper.collect(max(MIN_WAIT_S, 4 * (time.perf_counter() - t0)))
            self.helper = None
            for key, _, build in builders:            # what the helper did not draw is drawn here
                if key in self.theirs:
                    ok = key in got and got[key] != _FAILED
                    drawn[key] = got[key] if ok else self._draw_here(build, f"chart {key} (helper failed)")
        return [(k, c, drawn[k]) for k, c, _ in builders if drawn.get(k) is not None]

    def close(self) -> None:
        """Stop a helper if finish() was never reached (an error on the way): no process outlives the job."""
        if self.helper is not None:
            self.helper.stop()
            self.helper = None
        if self.warm is not None:
            self.warm.cancel()
            self.warm = None


def start_charts(results: RunResult, dpi: int) -> ChartJob:
    """Start drawing the report's charts on a helper when allowed (module docstring)."""
    return ChartJob(results, dpi)
