"""Benchmark overlay (issue 16 item 5): an outside series against a run's recorded one. Closed-form cases: a
benchmark that is an affine map of the run series has correlation 1 and a mean difference we can write down.
Files as they come and their scale (issue 25 item 5, issue 26 item 6) are in test_benchmark_files.py."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import basisbt as bb
from basisbt.cli.app import app
from basisbt.data.errors import DataError
from basisbt.engine.config import ConfigError
from basisbt.reports.loader import load_run


@pytest.fixture(scope="module")
def synth():
    return bb.run("synthetic_dollar", "scenario:feb-2025-crash")


def _daily(s: pd.Series) -> pd.Series:
    return s.groupby(s.index.floor("D")).mean()


def _csv(path, days: pd.Series, values: np.ndarray, col: str = "apy") -> str:
    pd.DataFrame({"date": days.index.strftime("%Y-%m-%d"), col: values}).to_csv(path, index=False)
    return str(path)


def test_an_affine_benchmark_has_correlation_one_and_the_written_mean_difference(synth, tmp_path):
    run_daily = _daily(synth.extras["staker_apy"].dropna())
    f = _csv(tmp_path / "b.csv", run_daily, (0.8 * run_daily.to_numpy() + 0.01) * 100.0)   # in percent
    b = synth.with_benchmark(f"{f}:apy", unit="percent").metrics()["benchmark"]
    assert b["series"] == "staker_apy" and b["days"] == len(run_daily)
    assert b["correlation"] == pytest.approx(1.0, abs=1e-12)
    # run - (0.8 run + 0.01) = 0.2 run - 0.01 on every day
    assert b["mean_difference"] == pytest.approx(0.2 * run_daily.mean() - 0.01, abs=1e-12)
    assert b["run_mean"] == pytest.approx(run_daily.mean(), rel=1e-12)
    # an anti-correlated benchmark on half of the days: -1 on the days both have
    half = run_daily.iloc[::2]
    g = _csv(tmp_path / "c.csv", half, -half.to_numpy())
    c = synth.with_benchmark(f"{g}:apy").metrics()["benchmark"]
    assert c["days"] == len(half) and c["correlation"] == pytest.approx(-1.0, abs=1e-12)
    # a constant benchmark has no correlation (zero variance): null, not NaN
    k = _csv(tmp_path / "k.csv", run_daily, np.full(len(run_daily), 0.05))
    assert synth.with_benchmark(f"{k}:apy").metrics()["benchmark"]["correlation"] is None


def test_other_series_and_the_run_directory_round_trip(synth, tmp_path):
    nav = bb.run("perp_short", "scenario:feb-2025-crash")
    d = _daily(nav.equity / nav.initial_equity)
    f = _csv(tmp_path / "n.csv", d, d.to_numpy() + 0.001)
    res = nav.with_benchmark(f"{f}:apy")                         # no staker_apy: NAV by default
    b = res.metrics()["benchmark"]
    assert b["series"] == "nav" and b["mean_difference"] == pytest.approx(-0.001, abs=1e-12)
    fr = synth.timeline["binance:funding_rate"].dropna()
    g = _csv(tmp_path / "f.csv", _daily(fr), _daily(fr).to_numpy())
    assert synth.with_benchmark(f"{g}:apy:binance:funding_rate").metrics()["benchmark"]["correlation"] == \
        pytest.approx(1.0, abs=1e-12)
    out = res.save(tmp_path / "run")
    back = load_run(out)
    assert back.benchmark == res.benchmark
    assert back.metrics()["benchmark"] == pytest.approx(b)
    assert "Against the benchmark" in (out / "report.html").read_text()
    assert "## Benchmark" in (out / "report.md").read_text()


def test_bad_benchmarks_are_one_line(synth, tmp_path):
    f = tmp_path / "b.csv"
    f.write_text("date,apy\n2025-01-28,0.05\nnot a day,0.06\n2025-01-30,x\n")
    with pytest.raises(DataError, match=r"b.csv, row 3: benchmark time not readable"):
        synth.with_benchmark(f"{f}:apy")
    f.write_text("date,apy\n2025-01-28,0.05\n2025-01-30,x\n")
    with pytest.raises(DataError, match=r"row 3: benchmark apy not a number: 'x'"):
        synth.with_benchmark(f"{f}:apy")
    with pytest.raises(DataError, match="no column 'rate'; columns: date, apy"):
        synth.with_benchmark(f"{f}:rate")
    f.write_text("date,apy\n2025-01-28,0.05\n2025-01-30,0.06\n")
    with pytest.raises(ConfigError, match="not recorded by this run; try: backing_ratio"):
        synth.with_benchmark(f"{f}:apy:staker_apr")
    with pytest.raises(ConfigError, match="want FILE.csv:COLUMN"):
        synth.with_benchmark(str(f))


def test_the_cli_prints_it_and_refuses_before_running(tmp_path, synth):
    run_daily = _daily(synth.extras["staker_apy"].dropna())
    f = _csv(tmp_path / "b.csv", run_daily, run_daily.to_numpy() * 100.0)
    r = CliRunner().invoke(app, ["run", "-s", "synthetic_dollar", "--benchmark", f"{f}:apy",
                                 "--benchmark-unit", "percent", "--out", str(tmp_path / "r")])
    assert r.exit_code == 0, r.output
    assert "staker_apy vs apy" in r.output and "correlation 1.00" in r.output
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["benchmark"]["unit"] == "percent"
    r = CliRunner().invoke(app, ["run", "--benchmark", f"{tmp_path}/none.csv:apy", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "benchmark file not found" in r.output and not (tmp_path / "x").exists()
