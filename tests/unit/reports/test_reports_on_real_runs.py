"""Reports rendered from real engine Results: every built-in on a gappy window.

A run directory written from a real run must load back to the same metrics byte for byte, show every
chart, and carry what the engine adds on gappy data: data_quality, orders_rejected, the window note.
"""
from __future__ import annotations

from functools import lru_cache

import pandas as pd
import pytest

from basisbt.data.scenarios import load_scenario
from basisbt.reports.loader import load_run
from basisbt.reports.render import render_run
from basisbt.reports.writers import write_run
from basisbt.strategies.registry import builtin_strategies
from tests.runs import run_backtest
from tests.unit.reports.test_reports_writers import DPI, _assert_png_has_content, _imgs
from tests.unit.strategies.test_no_lookahead import make_gappy


@lru_cache(maxsize=1)
def gappy():
    ds = load_scenario("feb-2025-crash").between(None, pd.Timestamp("2025-02-06", tz="UTC"))
    return make_gappy(ds)


@pytest.mark.parametrize("name", sorted(builtin_strategies()))
def test_real_run_dir_renders_and_round_trips(name, tmp_path):
    res = run_backtest(builtin_strategies()[name](), gappy(), data_label="scenario:gappy")
    d = write_run(res, tmp_path / "run", dpi=DPI)
    before = (d / "metrics.json").read_bytes()
    render_run(d, dpi=DPI)                                  # `basisbt report` on it
    assert (d / "metrics.json").read_bytes() == before
    back = load_run(d)
    assert back.data_quality == res.metrics()["data_quality"] and back.orders_rejected == res.orders_rejected
    html = (d / "report.html").read_text()
    for img in _imgs(html):
        _assert_png_has_content(img)
    assert "Data quality" in html and "Short window" in html
    md = (d / "report.md").read_text()
    assert "| bybit | spot | 216 | 0 | 0d 0h | 24 |" in md       # bybit lists a day late
    assert "| okx | perp | 240 | 24 | 1d 0h | 0 |" in md          # okx's data end a day early
