"""basisbt stress: Wilson intervals by hand, a path row equals a plain run on the same path, the outcome
probabilities move the right way with the model's knobs, local and Dask backends agree, and the CLI."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from typer.testing import CliRunner

import basisbt as bb
from basisbt.batch.stress import StressPlan, run_path, run_stress
from basisbt.cli.app import app
from basisbt.data.stress.model import StressModel, generate_path
from basisbt.engine.config import RunConfig
from basisbt.reports.stress_summary import summarize, wilson

SHORT = StressModel(days=30)


def test_wilson_interval_by_hand():
    # k = 0: the upper end is z^2 / (n + z^2) = 3.8415 / 13.8415 for n = 10; k = n mirrors it
    z2 = 1.959963984540054 ** 2
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(z2 / (10 + z2), rel=1e-12)
    lo, hi = wilson(10, 10)
    assert hi == 1.0 and lo == pytest.approx(10 / (10 + z2), rel=1e-12)
    # 5 of 10: centre 0.5, half-width z sqrt(0.025 + z^2/400) / (1 + z^2/10) = 0.26340
    lo, hi = wilson(5, 10)
    assert (lo, hi) == (pytest.approx(0.236593, abs=1e-6), pytest.approx(0.763407, abs=1e-6))
    # the interval narrows as 1/sqrt(n): 10x the paths, about 1/sqrt(10) the width
    w50, w500 = (lambda a: a[1] - a[0])(wilson(15, 50)), (lambda a: a[1] - a[0])(wilson(150, 500))
    assert w500 < w50 and w500 / w50 == pytest.approx(1 / math.sqrt(10), rel=0.08)
    assert all(math.isnan(x) for x in wilson(0, 0))


def _job(strategy: str, params: dict, model: StressModel, run: dict | None = None) -> StressPlan:
    return StressPlan(strategy, params, model, paths=1, run=run or {})


def test_a_path_row_is_the_plain_run_on_that_path():
    job = _job("perp_short", {"leverage": 5.0, "collateral": "usdt"}, SHORT, {"initial_capital": 100_000.0})
    row = run_path(job, 3)
    res = bb.run("perp_short", generate_path(SHORT, 0, 3), params={"leverage": 5.0, "collateral": "usdt"},
                 config=RunConfig(initial_capital=100_000.0))
    m = res.metrics()
    assert row["error"] == "" and row["path"] == 3
    assert row["apy"] == m["apy"] and row["liquidations"] == m["liquidations"]
    assert row["negative_yield"] == (m["total_return"] < 0)
    nav = res.equity.resample("1D").last()          # no flows for perp_short: NAV = equity
    assert row["nav_daily"] == pytest.approx((nav / 100_000.0).tolist(), rel=1e-12)
    assert math.isnan(row["reserve_min"]) and not row["reserve_out"]       # perp_short records no reserve


def _p(model_kw: dict, params: dict, n: int = 16) -> dict:
    job = _job("synthetic_dollar", params, StressModel(days=60, **model_kw), {"decide": "24"})
    return summarize(pd.DataFrame([run_path(job, p) for p in range(n)]))


@pytest.mark.slow
def test_probabilities_move_the_right_way():
    short = _p(dict(spells_per_year=2.0, spell_days=3.0), {})
    long_ = _p(dict(spells_per_year=8.0, spell_days=30.0), {})
    padded = _p(dict(spells_per_year=8.0, spell_days=30.0), {"reserve_seed": 0.05})
    # longer negative-funding spells drain the reserve more often; a larger reserve seed protects it
    assert long_["reserve_out"]["p"] > short["reserve_out"]["p"] + 0.15
    assert padded["reserve_out"]["p"] < long_["reserve_out"]["p"]
    assert long_["negative_yield"]["p"] >= short["negative_yield"]["p"]
    assert long_["apy"]["median"] < short["apy"]["median"]
    for s in (short, long_, padded):
        lo, hi = s["reserve_out"]["ci95"]
        assert lo <= s["reserve_out"]["p"] <= hi


def test_local_processes_and_a_dask_local_cluster_give_the_same_rows(tmp_path):
    plan = StressPlan("perp_short", {"leverage": 3.0}, StressModel(days=10), paths=4, chunk=2)
    local = run_stress(plan, jobs=2)
    dask = run_stress(plan, jobs=1, scheduler="local", processes=False)
    assert local["path"].tolist() == [0, 1, 2, 3]
    pd.testing.assert_frame_equal(local, dask)


def test_the_cli_writes_its_files_and_refuses_bad_input(tmp_path):
    r = CliRunner().invoke(app, ["stress", "-s", "perp_short", "-n", "3", "--days", "10", "-j", "1",
                                 "-m", "spell_days=5", "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    for f in ("paths.parquet", "paths.csv", "summary.json", "fan.png", "report.html"):
        assert (tmp_path / "s" / f).is_file()
    doc = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert doc["paths"] == 3 and doc["model"]["spell_days"] == 5.0 and set(doc["liquidated"]) == {"p", "ci95", "paths"}
    assert "95 % interval" in (tmp_path / "s" / "report.html").read_text()
    for args, msg in ((["-m", "spell_dayz=3"], "no parameter 'spell_dayz'"), (["-n", "0"], "--paths 0"),
                      (["--set", "leverage=-2"], "leverage"), (["-m", "venue_corr=2"], "--model venue_corr=2: venue_corr = 2.0 is out of range"),
                      (["--scheduler", "udp://x"], "--scheduler"), (["-m", "days=3"], "use --days"),
                      (["--seed", "-1"], "--seed -1: need 0 or more"),
                      (["--decide", "sometimes"], "decide must be 'bar', 'funding' or a positive number")):
        r = CliRunner().invoke(app, ["stress", "-s", "perp_short", "--days", "5", "--out", str(tmp_path / "x"), *args])
        assert r.exit_code == 2 and msg in r.output, (args, r.output)
        assert len(r.output.strip().splitlines()) == 1


def test_a_strategy_that_fails_on_every_path_is_one_line_and_writes_nothing(tmp_path):
    f = tmp_path / "boom.py"
    f.write_text("from basisbt.strategies.base import Strategy\n\n\nclass Boom(Strategy):\n    name = 'boom'\n\n"
                 "    def on_bar(self, ctx, ev):\n        raise RuntimeError('no')\n")
    r = CliRunner().invoke(app, ["stress", "-s", f"{f}:Boom", "-n", "2", "--days", "3", "-j", "1",
                                 "--out", str(tmp_path / "s")])
    assert r.exit_code == 1 and "all 2 paths failed, nothing written; the first: StrategyError" in r.output, r.output
    assert not (tmp_path / "s" / "summary.json").exists()
