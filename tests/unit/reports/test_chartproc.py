"""Charts drawn half on a forked helper are byte for byte the ones drawn here; a failed or unwanted helper
changes nothing but who draws, and never outlives its job."""
from __future__ import annotations

import os
import sys

import pytest

from basisbt.reports import chartproc

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the helper is forked on Linux only")
DPI = 40


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chartproc, "_cores", lambda: 2)
    monkeypatch.delenv("BASISBT_CHART_HELPER", raising=False)


def _serial(results, monkeypatch) -> list:
    monkeypatch.setenv("BASISBT_CHART_HELPER", "0")
    job = chartproc.start_charts(results, DPI)
    assert job.helper is None
    out = job.finish()
    monkeypatch.delenv("BASISBT_CHART_HELPER")
    return out


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_helper_draws_the_same_bytes(synth_run, two_cores, monkeypatch) -> None:
    from basisbt.reports.plots import chart_builders
    keys = [k for k, _, _ in chart_builders(synth_run)]
    job = chartproc.start_charts(synth_run, DPI)
    assert job.helper is not None and job.theirs == keys[1::2]          # every other chart
    pid = job.helper.pid
    both = job.finish()
    assert [k for k, _, _ in both][:7] == ["equity", "attribution", "funding", "basis", "liquidation", "allocation",
                                           "synthetic"]
    assert both == _serial(synth_run, monkeypatch)
    assert _gone(pid)


def test_a_failing_helper_only_means_drawing_here(synth_run, two_cores, monkeypatch) -> None:
    def crash(*_a, **_k):
        os._exit(3)                          # what a segfault in the helper looks like to its parent
    monkeypatch.setattr(chartproc, "_draw", crash)
    job = chartproc.start_charts(synth_run, DPI)
    assert job.helper is not None
    assert job.finish() == _serial(synth_run, monkeypatch)


def test_a_chart_error_in_the_helper_is_raised_here(crash_run, two_cores, monkeypatch) -> None:
    from basisbt.reports import plots

    def broken(results, dpi):
        raise ZeroDivisionError("basis chart")
    builders = plots.chart_builders
    monkeypatch.setattr(plots, "chart_builders",
                        lambda r: [(k, c, broken if k == "basis" else b) for k, c, b in builders(r)])
    job = chartproc.start_charts(crash_run, DPI)
    assert "basis" in job.theirs
    with pytest.raises(ZeroDivisionError, match="basis chart"):
        job.finish()
    job.close()


def test_an_unfinished_job_leaves_no_process(crash_run, two_cores) -> None:
    job = chartproc.start_charts(crash_run, DPI)
    assert job.helper is not None
    pid = job.helper.pid
    job.close()
    assert _gone(pid) and job.helper is None


def test_warmed_helper_draws_every_chart_the_same(synth_run, two_cores, monkeypatch) -> None:
    chartproc.prewarm()                               # what basisbt run does before loading numba
    assert len(chartproc._WARM) == 1
    pid = chartproc._WARM[0].pid
    job = chartproc.start_charts(synth_run, DPI)
    assert job.warm is not None and job.helper is None and not chartproc._WARM
    got = job.finish()
    assert _gone(pid)
    assert got == _serial(synth_run, monkeypatch)


def test_a_large_run_cancels_the_warmed_helper(crash_run, two_cores, monkeypatch) -> None:
    monkeypatch.setattr(chartproc, "PICKLE_LIMIT", 1000)     # the fake timeline is larger than that
    chartproc.prewarm()
    pid = chartproc._WARM[0].pid
    job = chartproc.start_charts(crash_run, DPI)
    assert job.warm is None and job.helper is not None and _gone(pid)     # split after the run instead
    assert job.finish() == _serial(crash_run, monkeypatch)


def test_a_dead_warmed_helper_means_drawing_here(crash_run, two_cores, monkeypatch) -> None:
    import signal
    chartproc.prewarm()
    os.kill(chartproc._WARM[0].pid, signal.SIGKILL)
    job = chartproc.start_charts(crash_run, DPI)
    assert job.finish() == _serial(crash_run, monkeypatch)


def test_an_answer_counts_even_if_the_helper_is_slow_to_exit(crash_run, two_cores, monkeypatch) -> None:
    """The helper closes its pipe, then takes a while to leave (a loaded machine): its charts are used, it is not
    killed as a failure and its charts drawn again here."""
    import time
    send = chartproc._send

    def send_then_linger(fd, obj):
        send(fd, {k: "drawn by the helper" for k in obj})
        time.sleep(0.5)
    monkeypatch.setattr(chartproc, "_send", send_then_linger)
    job = chartproc.start_charts(crash_run, DPI)
    got = dict((k, v) for k, _, v in job.finish())
    assert job.theirs and all(got[k] == "drawn by the helper" for k in job.theirs if k in got)
    assert all(got[k] != "drawn by the helper" for k in got if k not in job.theirs)
